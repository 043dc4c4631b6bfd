// Voice clips for CLVP in a web page, from a picked file or the microphone, ready for the
// processor: one channel at the feature extractor's rate. WAV is read by the library's decoder
// (src/audio/wav.ts), every other format by the browser at the file's own rate; either way the
// library's resampler (prepareVoice) makes the 22050 Hz clip, as loadVoice does in Node.
import { BrowserAudioError, decodeAudioBytes, recordMicrophone, RecordMicrophoneOptions } from './browser_audio';
import { LoadedVoice, LoadVoiceOptions, prepareVoice } from './load_voice';
import { AudioContainer } from './sniff_rate';
import { decodeWav } from './wav';

export type VoiceInput = File | Blob | ArrayBuffer | Uint8Array;

export interface BrowserVoice extends LoadedVoice {
  /** the file's name (or 'microphone'), as errors and notes name it */
  source: string;
  /** what the file was ('microphone' for a recording) */
  container: AudioContainer | 'unknown' | 'microphone';
  /** a sentence for the user when something was assumed (a rate the header did not give) */
  note?: string;
}

export interface VoiceFromFileOptions extends Omit<LoadVoiceOptions, 'channel'> {
  /** the name used in messages (default: the File's name, else 'audio') */
  name?: string;
}

/**
 * A voice clip from a picked file (WAV, MP3, Ogg Vorbis/Opus, FLAC, M4A/AAC, WebM: what the
 * browser decodes), its first channel resampled to `targetRate` (default 22050). Bytes that are
 * not audio reject with a BrowserAudioError naming the file.
 */
export async function voiceFromFile(input: VoiceInput, opts: VoiceFromFileOptions = {}): Promise<BrowserVoice> {
  const name = opts.name ?? (typeof File !== 'undefined' && input instanceof File ? input.name : undefined) ?? 'audio';
  const mimeType = input instanceof Blob && input.type ? input.type : undefined;
  let bytes: Uint8Array;
  if (input instanceof Uint8Array) bytes = input;
  else if (input instanceof ArrayBuffer) bytes = new Uint8Array(input);
  else {
    try {
      bytes = new Uint8Array(await input.arrayBuffer());
    } catch (e) {
      throw new BrowserAudioError(`${name}: the file could not be read (${(e as Error).name}: ${(e as Error).message})`);
    }
  }
  if (bytes.length === 0) throw new BrowserAudioError(`${name}: the file is empty`);
  const decoded = await decodeAudioBytes(bytes, {
    fileName: name,
    ...(mimeType ? { mimeType } : {}),
    decodeWav: (b, o) => decodeWav(b, { source: o.source, channel: 'first' }),
  });
  const voice = prepareVoice(decoded.samples, decoded.sampleRate, name, opts, decoded.channels);
  return { ...voice, source: name, container: decoded.container, ...(decoded.note ? { note: decoded.note } : {}) };
}

export type VoiceFromMicrophoneOptions = RecordMicrophoneOptions & Omit<LoadVoiceOptions, 'channel'>;

/** Record a voice clip from the microphone (see recordMicrophone) and resample it to `targetRate`. */
export async function voiceFromMicrophone(opts: VoiceFromMicrophoneOptions = {}): Promise<BrowserVoice> {
  const rec = await recordMicrophone(opts);
  if (rec.samples.length === 0) throw new BrowserAudioError('microphone: nothing was recorded');
  const voice = prepareVoice(rec.samples, rec.sampleRate, 'microphone', opts);
  return { ...voice, source: 'microphone', container: 'microphone' };
}
