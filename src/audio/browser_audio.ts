// Voice clips in a web page: files the user picked (any format the browser decodes) and the
// microphone. Both keep the audio's own sample rate: files are decoded at the rate their header
// gives, so decodeAudioData does not resample, and the microphone is captured at the audio
// context's native rate. The library resamples once, with its own resampler, to what CLVP wants.
// WAV is not decoded by the browser: the library's decoder (src/audio/wav.ts) reads every PCM and
// float layout exactly, as the Node path does, and is plugged in with setWavDecoder.
import { AudioContainer, sniffAudio } from './sniff_rate';

export class BrowserAudioError extends Error {
  override name = 'BrowserAudioError';
}

export interface DecodedAudio {
  /** mono: the first channel, as Tortoise's loader takes it */
  samples: Float32Array;
  sampleRate: number;
  /** channels in the file */
  channels: number;
  /** what the header says the file is, or 'unknown' */
  container: AudioContainer | 'unknown';
  /**
   * 'header': the rate came from the file and nothing was resampled; 'default': the header did
   * not give it, so the browser decoded (and resampled if needed) to `sampleRate`
   */
  sampleRateFrom: 'header' | 'default';
  /** a sentence for the user when something was assumed */
  note?: string;
}

/** The library's WAV reader, reduced to what is needed here (src/audio/wav.ts decodeWav fits). */
export type WavDecoder = (bytes: Uint8Array, opts: { source: string }) => { samples: Float32Array; sampleRate: number; channels: number };

export interface DecodeAudioOptions {
  /** the file's MIME type if known (used in messages) */
  mimeType?: string;
  /** the file's name (used in messages) (default 'audio') */
  fileName?: string;
  /** the WAV decoder for this call (default: the one installed with setWavDecoder) */
  decodeWav?: WavDecoder;
  /** the rate to decode at when the header does not give one (default 48000) */
  fallbackRate?: number;
}

let installedWavDecoder: WavDecoder | undefined;

/** Install the WAV decoder (the browser entry does this once wav.ts is free of Node built-ins). */
export function setWavDecoder(decoder: WavDecoder | undefined): void {
  installedWavDecoder = decoder;
}

/** OfflineAudioContext's range of rates in Chromium and Firefox. */
const MIN_RATE = 3000;
const MAX_RATE = 768000;

function firstBytes(b: Uint8Array): string {
  return Array.from(b.subarray(0, 8), (x) => x.toString(16).padStart(2, '0')).join(' ');
}

/** Decode a clip the user picked; `bytes` is not modified or detached. */
export async function decodeAudioBytes(bytes: ArrayBuffer | Uint8Array, opts: DecodeAudioOptions = {}): Promise<DecodedAudio> {
  const view = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  const file = opts.fileName ?? 'audio';
  const sniffed = sniffAudio(view);
  if (sniffed?.container === 'wav') {
    const decode = opts.decodeWav ?? installedWavDecoder;
    if (!decode) throw new BrowserAudioError(`${file}: a WAV file, and no WAV decoder is installed (setWavDecoder); WAV is read by the library's decoder, not the browser's`);
    const w = decode(view, { source: file });
    return { samples: w.samples, sampleRate: w.sampleRate, channels: w.channels, container: 'wav', sampleRateFrom: 'header' };
  }

  let rate = sniffed?.sampleRate;
  let note: string | undefined;
  if (rate !== undefined && (rate < MIN_RATE || rate > MAX_RATE)) {
    note = `${file}: its ${rate} Hz cannot be decoded at that rate here; decoded at ${opts.fallbackRate ?? 48000} Hz instead`;
    rate = undefined;
  } else if (rate === undefined) {
    note = `${file}: the sample rate is not in the ${sniffed ? sniffed.container : 'file'} header; decoded at ${opts.fallbackRate ?? 48000} Hz (the browser may have resampled it)`;
  }
  const decodeRate = rate ?? opts.fallbackRate ?? 48000;
  let buffer: AudioBuffer;
  try {
    const ctx = new OfflineAudioContext(1, 1, decodeRate);
    // decodeAudioData detaches what it is given: hand it a copy.
    buffer = await ctx.decodeAudioData(view.slice().buffer);
  } catch (e) {
    const what = sniffed
      ? `${sniffed.container}${sniffed.codec && !sniffed.container.includes(sniffed.codec) ? ` (${sniffed.codec})` : ''}`
      : `no known audio header, first bytes ${firstBytes(view)}${opts.mimeType ? `, type ${opts.mimeType}` : ''}`;
    throw new BrowserAudioError(`${file}: not an audio file the browser can decode (${what}; ${(e as Error).name}: ${(e as Error).message})`);
  }
  return {
    samples: buffer.getChannelData(0),
    sampleRate: buffer.sampleRate,
    channels: buffer.numberOfChannels,
    container: sniffed?.container ?? 'unknown',
    sampleRateFrom: rate !== undefined ? 'header' : 'default',
    ...(note ? { note } : {}),
  };
}

export interface RecordMicrophoneOptions {
  /** ends the recording early; the promise then resolves with what was captured so far */
  signal?: AbortSignal;
  /** the longest recording, in seconds (default 30) */
  maxSeconds?: number;
  /**
   * constraints merged over the defaults, which turn off echo cancellation, noise suppression and
   * automatic gain (they reshape the voice the model is meant to hear)
   */
  constraints?: MediaTrackConstraints;
  /** the peak level (0..1) of each captured block, for a level meter */
  onLevel?: (peak: number) => void;
}

export interface Recording {
  /** mono: the first channel of the microphone */
  samples: Float32Array;
  /** the audio context's native rate (no resampling here) */
  sampleRate: number;
}

// Copies each 128-sample block of the first input channel to the page; runs on the audio thread.
const CAPTURE_PROCESSOR = `
class ClvpCapture extends AudioWorkletProcessor {
  process(inputs) {
    const ch = inputs[0] && inputs[0][0];
    if (ch) this.port.postMessage(ch.slice(0));
    return true;
  }
}
registerProcessor('clvp-capture', ClvpCapture);
`;

/** Record from the microphone (asks for permission) until maxSeconds or the signal. */
export async function recordMicrophone(opts: RecordMicrophoneOptions = {}): Promise<Recording> {
  const maxSeconds = opts.maxSeconds ?? 30;
  if (!(maxSeconds > 0)) throw new BrowserAudioError(`recordMicrophone: maxSeconds must be positive, got ${maxSeconds}`);
  const media = (globalThis as { navigator?: Navigator }).navigator?.mediaDevices;
  if (!media?.getUserMedia) throw new BrowserAudioError('microphone: this page cannot use a microphone (no mediaDevices; pages need https or localhost)');
  let stream: MediaStream;
  try {
    stream = await media.getUserMedia({ audio: { echoCancellation: false, noiseSuppression: false, autoGainControl: false, ...opts.constraints } });
  } catch (e) {
    const name = (e as Error).name;
    const why = name === 'NotAllowedError' ? 'permission was refused' : name === 'NotFoundError' ? 'no microphone was found' : 'it could not be opened';
    throw new BrowserAudioError(`microphone: ${why} (${name}: ${(e as Error).message})`);
  }
  const ctx = new AudioContext();
  const chunks: Float32Array[] = [];
  let captured = 0;
  const limit = Math.round(maxSeconds * ctx.sampleRate);
  let source: MediaStreamAudioSourceNode | undefined;
  let sink: AudioNode | undefined;
  let url: string | undefined;
  try {
    await ctx.resume();
    source = ctx.createMediaStreamSource(stream);
    // Silent output keeps the capture node pulled by the graph without playing the voice back.
    const mute = ctx.createGain();
    mute.gain.value = 0;
    mute.connect(ctx.destination);
    await new Promise<void>((resolve, reject) => {
      let done = false;
      const finish = () => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        opts.signal?.removeEventListener('abort', finish);
        resolve();
      };
      const take = (block: Float32Array) => {
        if (done) return;
        const room = limit - captured;
        const part = block.length > room ? block.subarray(0, room) : block;
        chunks.push(part);
        captured += part.length;
        if (opts.onLevel) {
          let peak = 0;
          for (let i = 0; i < part.length; i++) peak = Math.max(peak, Math.abs(part[i]));
          opts.onLevel(peak);
        }
        if (captured >= limit) finish();
      };
      // A device that delivers nothing would otherwise hang the promise forever.
      const timer = setTimeout(() => (captured > 0 ? finish() : reject(new BrowserAudioError('microphone: no audio arrived'))), (maxSeconds + 5) * 1000);
      if (opts.signal?.aborted) return finish();
      opts.signal?.addEventListener('abort', finish);
      const connect = async () => {
        if (ctx.audioWorklet) {
          url = URL.createObjectURL(new Blob([CAPTURE_PROCESSOR], { type: 'text/javascript' }));
          await ctx.audioWorklet.addModule(url);
          const node = new AudioWorkletNode(ctx, 'clvp-capture', { numberOfInputs: 1, numberOfOutputs: 1, channelCount: 1, channelCountMode: 'explicit', channelInterpretation: 'discrete' });
          node.port.onmessage = (e: MessageEvent<Float32Array>) => take(e.data);
          sink = node;
        } else {
          // Older browsers: the deprecated ScriptProcessor does the same on the main thread.
          const node = ctx.createScriptProcessor(4096, 1, 1);
          node.onaudioprocess = (e) => take(e.inputBuffer.getChannelData(0).slice());
          sink = node;
        }
        source!.connect(sink);
        sink.connect(mute);
      };
      connect().catch(reject);
    });
  } finally {
    for (const t of stream.getTracks()) t.stop();
    source?.disconnect();
    sink?.disconnect();
    if (url) URL.revokeObjectURL(url);
    await ctx.close().catch(() => {});
  }
  const samples = new Float32Array(captured);
  let at = 0;
  for (const c of chunks) {
    samples.set(c, at);
    at += c.length;
  }
  return { samples, sampleRate: ctx.sampleRate };
}
