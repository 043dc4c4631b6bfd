// Loading a voice clip for conditioning, as Tortoise's tortoise/utils/audio.py load_audio:
// read the WAV, keep one channel, resample to 22050 Hz with torchaudio's sinc resampler, clip to [-1, 1].
import { ChannelMode, WavError, readWav } from './wav';
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

/** Decode a WAV voice clip, reduce it to one channel and resample it; errors name the file. */
export function loadVoice(file: string, opts: LoadVoiceOptions = {}): LoadedVoice {
  const targetRate = opts.targetRate ?? 22050;
  if (!(Number.isInteger(targetRate) && targetRate > 0)) throw new RangeError(`loadVoice: targetRate must be a positive integer, got ${targetRate}`);
  const wav = readWav(file, { channel: opts.channel ?? 'first' });
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
