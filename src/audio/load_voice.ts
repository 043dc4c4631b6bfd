// Loading a voice clip for conditioning, as Tortoise's tortoise/utils/audio.py load_audio:
// read the WAV, keep one channel, resample to 22050 Hz with torchaudio's sinc resampler, clip to [-1, 1].
import { platform } from '../platform/platform';
import { ChannelMode, WavError, decodeWav } from './wav';
import { ResampleOptions, resample } from './resample';

export interface LoadVoiceOptions {
  /** Output sample rate. Default 22050 (CLVP / Tortoise conditioning audio). */
  targetRate?: number;
  /** 'first' channel (default, as Tortoise), 'average' of all channels, or a channel index. */
  channel?: ChannelMode;
  /** Clip to [-1, 1] after resampling, as Tortoise's check_audio does. Default true. */
  clip?: boolean;
  /** Resampler settings (torchaudio defaults). */
  resample?: ResampleOptions;
}

export interface LoadedVoice {
  /** Mono float32 samples at `sampleRate`. */
  samples: Float32Array;
  sampleRate: number;
  /** Rate and channel count of the file. */
  originalRate: number;
  channels: number;
}

/** Read a WAV voice clip (a path in Node, a URL in pages) and prepare it (voiceFromWav). */
export async function loadVoice(file: string, opts: LoadVoiceOptions = {}): Promise<LoadedVoice> {
  checkTargetRate(opts);
  let bytes: Uint8Array;
  try {
    bytes = await platform().readFile(file);
  } catch (e) {
    throw new WavError((e as Error).message);
  }
  return voiceFromWav(bytes, file, opts);
}

/** Decode WAV bytes, reduce them to one channel and resample them; errors name `source`. */
export function voiceFromWav(bytes: Uint8Array, source: string, opts: LoadVoiceOptions = {}): LoadedVoice {
  const wav = decodeWav(bytes, { source, channel: opts.channel ?? 'first' });
  return prepareVoice(wav.samples, wav.sampleRate, source, opts, wav.channels);
}

/**
 * Samples of one channel at `rate` (from any decoder: ours, or the browser's decodeAudioData at
 * the file's own rate) made into a voice clip: finite check, our resampler, clipping.
 */
export function prepareVoice(samples: Float32Array, rate: number, source: string, opts: LoadVoiceOptions = {}, channels = 1): LoadedVoice {
  const targetRate = checkTargetRate(opts);
  const file = source;
  const wav = { samples, sampleRate: rate, channels };
  if (wav.samples.length === 0) throw new WavError(`${file}: the file holds zero samples`);
  const x = wav.samples;
  for (let i = 0; i < x.length; i++) {
    if (!Number.isFinite(x[i])) {
      throw new WavError(`${file}: sample ${i} is ${Number.isNaN(x[i]) ? 'NaN' : x[i] > 0 ? '+Inf' : '-Inf'}; the audio must be finite`);
    }
  }
  const y = wav.sampleRate === targetRate ? x : resample(x, wav.sampleRate, targetRate, opts.resample);
  if (opts.clip ?? true) {
    for (let i = 0; i < y.length; i++) y[i] = y[i] > 1 ? 1 : y[i] < -1 ? -1 : y[i];
  }
  return { samples: y, sampleRate: targetRate, originalRate: wav.sampleRate, channels: wav.channels };
}

function checkTargetRate(opts: LoadVoiceOptions): number {
  const targetRate = opts.targetRate ?? 22050;
  if (!(Number.isInteger(targetRate) && targetRate > 0)) throw new RangeError(`loadVoice: targetRate must be a positive integer, got ${targetRate}`);
  return targetRate;
}
