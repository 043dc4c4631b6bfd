// ClvpFeatureExtractor: transformers models/clvp/feature_extraction_clvp.py, with the padding and
// truncation of feature_extraction_sequence_utils.py (SequenceFeatureExtractor.pad / _pad / _truncate).
import { ModelFolder } from '../io/folder';
import { platform } from '../platform/platform';
import * as tf from '@tensorflow/tfjs-core';
import { requireReadyBackend } from '../backend';
import { MelFilterBank, StftAnalyzer, melFilterBank, numFrames, windowFunction } from './audio_utils';

/** The feature extractor settings, as in preprocessor_config.json (camelCase here). */
export interface ClvpFeatureExtractorConfig {
  /** Mel filters per frame (feature dimension). HF default 80. */
  featureSize: number;
  /** The only sampling rate accepted by `call`, in Hz. HF default 22050. */
  samplingRate: number;
  /** Seconds of audio a call pads or truncates to when no maxLength is given. HF default 6 (132300 samples). */
  defaultAudioLength: number;
  /** STFT hop in samples. HF default 256. */
  hopLength: number;
  /** Whisper-style chunk length in seconds; only used for nSamples / nbMaxFrames, not by `call`. HF default 30. */
  chunkLength: number;
  /** FFT size and window length. HF default 1024. */
  nFft: number;
  /** Value used to pad the audio (silence). HF default 0.0. */
  paddingValue: number;
  /** Per-filter divisors of the log-mel spectrogram (Tortoise's mel_norms); null skips the division. HF default null. */
  melNorms: number[] | null;
  /**
   * Stored for fidelity only: HF's __call__ has its own default return_attention_mask=True, which
   * overrides this, so `call` returns the mask unless told otherwise. HF default false.
   */
  returnAttentionMask: boolean;
  /** Side on which audio is padded. HF default 'right'. */
  paddingSide: 'right' | 'left';
}

export const CLVP_FEATURE_EXTRACTOR_DEFAULTS: Readonly<ClvpFeatureExtractorConfig> = Object.freeze({
  featureSize: 80,
  samplingRate: 22050,
  defaultAudioLength: 6,
  hopLength: 256,
  chunkLength: 30,
  nFft: 1024,
  paddingValue: 0.0,
  melNorms: null,
  returnAttentionMask: false,
  paddingSide: 'right' as const,
});

/** preprocessor_config.json keys -> config fields. Other keys (feature_extractor_type, n_samples, ...) are ignored. */
const JSON_KEYS: Record<string, keyof ClvpFeatureExtractorConfig> = {
  feature_size: 'featureSize',
  sampling_rate: 'samplingRate',
  default_audio_length: 'defaultAudioLength',
  hop_length: 'hopLength',
  chunk_length: 'chunkLength',
  n_fft: 'nFft',
  padding_value: 'paddingValue',
  mel_norms: 'melNorms',
  return_attention_mask: 'returnAttentionMask',
  padding_side: 'paddingSide',
};

export type PaddingOption = boolean | 'longest' | 'max_length' | 'do_not_pad';

export interface ClvpFeatureCallOptions {
  /** Must equal the extractor's sampling rate (22050); resample first (see loadVoice / resample). */
  samplingRate: number;
  /** HF default 'max_length'. true = 'longest' (after truncation), false = 'do_not_pad'. */
  padding?: PaddingOption;
  /** Samples to pad / truncate to; default defaultAudioLength * samplingRate. */
  maxLength?: number | null;
  /** Cut inputs longer than maxLength. HF default true. */
  truncation?: boolean;
  /** Round the padded / truncated length up to a multiple of this. */
  padToMultipleOf?: number | null;
  /** HF default true. */
  returnAttentionMask?: boolean;
  /** 'tf' returns tfjs tensors instead of host arrays. */
  returnTensors?: 'tf' | null;
}

export interface HostArray<T extends Float32Array | Int32Array> {
  shape: number[];
  data: T;
}

export interface ClvpFeatures {
  /** [batch, featureSize, frames] log-mel features, float32. */
  inputFeatures: HostArray<Float32Array>;
  /** [batch, samples] 1 for audio, 0 for padding, int32 (absent when returnAttentionMask is false). */
  attentionMask?: HostArray<Int32Array>;
}

export interface ClvpFeaturesTf {
  inputFeatures: tf.Tensor3D;
  attentionMask?: tf.Tensor2D;
}

type Strategy = 'longest' | 'max_length' | 'do_not_pad';

function strategyOf(p: PaddingOption): Strategy {
  if (p === true) return 'longest';
  if (p === false) return 'do_not_pad';
  if (p === 'longest' || p === 'max_length' || p === 'do_not_pad') return p;
  throw new RangeError(`padding must be true, false, 'longest', 'max_length' or 'do_not_pad', got ${JSON.stringify(p)}`);
}

function roundUp(n: number, multiple: number | null | undefined): number {
  return multiple && n % multiple !== 0 ? (Math.floor(n / multiple) + 1) * multiple : n;
}

function checkPositiveInt(name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) throw new RangeError(`ClvpFeatureExtractor: ${name} must be a positive integer, got ${JSON.stringify(v)}`);
  return v;
}

export class ClvpFeatureExtractor {
  readonly config: Readonly<ClvpFeatureExtractorConfig>;
  /** Dense mel filter bank [nFft/2 + 1, featureSize], float64, as HF's `mel_filters`. */
  readonly melFilters: MelFilterBank;
  /** Periodic Hann window of nFft samples, float64. */
  readonly window: Float64Array;
  private readonly analyzer: StftAnalyzer;
  private readonly norms: Float64Array | null;
  /** Reused float64 mel spectrogram buffer (the analysis is synchronous, so one per extractor suffices). */
  private specBuffer = new Float64Array(0);

  constructor(config: Partial<ClvpFeatureExtractorConfig> = {}) {
    const c: ClvpFeatureExtractorConfig = { ...CLVP_FEATURE_EXTRACTOR_DEFAULTS, ...config };
    for (const k of ['featureSize', 'samplingRate', 'hopLength', 'nFft', 'chunkLength'] as const) checkPositiveInt(k, c[k]);
    if (!(typeof c.defaultAudioLength === 'number' && c.defaultAudioLength > 0)) throw new RangeError(`ClvpFeatureExtractor: defaultAudioLength must be > 0, got ${c.defaultAudioLength}`);
    if (c.paddingSide !== 'right' && c.paddingSide !== 'left') throw new RangeError(`ClvpFeatureExtractor: paddingSide must be 'right' or 'left', got ${JSON.stringify(c.paddingSide)}`);
    if (c.melNorms !== null) {
      if (!Array.isArray(c.melNorms) || c.melNorms.length !== c.featureSize || c.melNorms.some((x) => typeof x !== 'number')) {
        throw new RangeError(`ClvpFeatureExtractor: mel_norms must be ${c.featureSize} numbers`);
      }
    }
    this.config = Object.freeze({ ...c, melNorms: c.melNorms ? [...c.melNorms] : null });
    this.melFilters = melFilterBank({
      numFrequencyBins: 1 + Math.floor(c.nFft / 2),
      numMelFilters: c.featureSize,
      minFrequency: 0.0,
      maxFrequency: 8000.0,
      samplingRate: c.samplingRate,
      norm: 'slaney',
      melScale: 'htk',
    });
    this.window = windowFunction(c.nFft, 'hann');
    this.analyzer = new StftAnalyzer(this.window, c.nFft, c.hopLength, { power: 2.0, melFilters: this.melFilters, center: true, padMode: 'reflect', melFloor: 1e-10 });
    this.norms = c.melNorms ? Float64Array.from(c.melNorms) : null;
  }

  /** From a parsed preprocessor_config.json (snake_case keys); `overrides` are camelCase. */
  static fromConfig(json: Record<string, unknown>, overrides: Partial<ClvpFeatureExtractorConfig> = {}): ClvpFeatureExtractor {
    const c: Partial<ClvpFeatureExtractorConfig> = {};
    for (const [k, v] of Object.entries(json)) {
      const field = JSON_KEYS[k] ?? (k in CLVP_FEATURE_EXTRACTOR_DEFAULTS ? (k as keyof ClvpFeatureExtractorConfig) : undefined);
      if (field) (c as Record<string, unknown>)[field] = v;
    }
    return new ClvpFeatureExtractor({ ...c, ...overrides });
  }

  /** From a model folder (its preprocessor_config.json), a Hub id, or the path of the JSON file itself. */
  static async fromPretrained(source: string | ModelFolder, overrides: Partial<ClvpFeatureExtractorConfig> = {}): Promise<ClvpFeatureExtractor> {
    let file: string;
    let text: string;
    if (typeof source === 'string' && source.endsWith('.json')) {
      file = source;
      text = new TextDecoder().decode(await platform().readFile(source).catch((e: Error) => {
        throw new Error(`${e.message} (no preprocessor_config.json found)`);
      }));
    } else {
      const folder = typeof source === 'string' ? await platform().openModel(source) : source;
      file = `${folder.label}/preprocessor_config.json`;
      if (!(await folder.has('preprocessor_config.json'))) throw new Error(`${file}: no preprocessor_config.json found`);
      text = await folder.readText('preprocessor_config.json');
    }
    let json: unknown;
    try {
      json = JSON.parse(text.replace(/^\uFEFF/, ''));
    } catch (e) {
      throw new Error(`${file}: invalid JSON: ${(e as Error).message}`);
    }
    if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new Error(`${file}: expected a JSON object`);
    return ClvpFeatureExtractor.fromConfig(json as Record<string, unknown>, overrides);
  }

  /** Samples a call pads / truncates to by default (132300 for 6 s at 22050 Hz). */
  get defaultMaxLength(): number {
    return this.config.defaultAudioLength * this.config.samplingRate;
  }

  /** Frames the features have for `samples` padded samples: 1 + samples // hop. */
  numFrames(samples: number): number {
    return numFrames(samples, this.config.nFft, this.config.hopLength, true);
  }

  /**
   * Log-mel features of one (already padded) waveform into `out` at `offset`, [featureSize, frames]:
   * log(max(mel, 1e-5)) / mel_norms, computed in float64 and stored as float32.
   */
  extractInto(waveform: ArrayLike<number>, out: Float32Array, offset: number): number {
    const frames = this.numFrames(waveform.length);
    const rows = this.config.featureSize;
    if (this.specBuffer.length < rows * frames) this.specBuffer = new Float64Array(rows * frames);
    const spec = this.analyzer.analyse(waveform, this.specBuffer, frames);
    const norms = this.norms;
    for (let m = 0; m < rows; m++) {
      const norm = norms ? norms[m] : 1;
      const src = m * frames;
      const dst = offset + m * frames;
      for (let t = 0; t < frames; t++) {
        const v = spec.data[src + t];
        const l = Math.log(v > 1e-5 ? v : 1e-5);
        out[dst + t] = norms ? l / norm : l;
      }
    }
    return frames;
  }

  /** Features of one waveform without padding: [featureSize, frames]. */
  extract(waveform: ArrayLike<number>): HostArray<Float32Array> {
    const frames = this.numFrames(waveform.length);
    const out = new Float32Array(this.config.featureSize * frames);
    this.extractInto(waveform, out, 0);
    return { shape: [this.config.featureSize, frames], data: out };
  }

  /**
   * Features of one clip or a batch, as HF's __call__: pad / truncate to maxLength (default
   * defaultAudioLength * samplingRate samples), then log-mel features per clip. Always batched.
   */
  call(rawSpeech: ArrayLike<number> | ArrayLike<number>[], opts: ClvpFeatureCallOptions & { returnTensors: 'tf' }): ClvpFeaturesTf;
  call(rawSpeech: ArrayLike<number> | ArrayLike<number>[], opts: ClvpFeatureCallOptions & { returnTensors?: null }): ClvpFeatures;
  call(rawSpeech: ArrayLike<number> | ArrayLike<number>[], opts: ClvpFeatureCallOptions): ClvpFeatures | ClvpFeaturesTf;
  call(rawSpeech: ArrayLike<number> | ArrayLike<number>[], opts: ClvpFeatureCallOptions): ClvpFeatures | ClvpFeaturesTf {
    const sr = this.config.samplingRate;
    if (opts === undefined || opts.samplingRate === undefined || opts.samplingRate === null) {
      throw new Error(`ClvpFeatureExtractor: samplingRate is required; pass samplingRate: ${sr} for audio at ${sr} Hz (resample other rates first, e.g. with loadVoice or resample())`);
    }
    if (opts.samplingRate !== sr) {
      throw new Error(`ClvpFeatureExtractor: the model was trained on audio sampled at ${sr} Hz, but samplingRate is ${opts.samplingRate}; resample the audio to ${sr} Hz first (loadVoice / resample())`);
    }
    if (opts.returnTensors !== undefined && opts.returnTensors !== null && opts.returnTensors !== 'tf') {
      throw new RangeError(`ClvpFeatureExtractor: returnTensors must be 'tf' or omitted, got ${JSON.stringify(opts.returnTensors)}`);
    }
    // As HF: a list is a batch when its first item is itself a sequence; a plain list of numbers is one clip.
    const isBatch = Array.isArray(rawSpeech) && (rawSpeech.length === 0 || (typeof rawSpeech[0] === 'object' && rawSpeech[0] !== null));
    const batch = (isBatch ? rawSpeech : [rawSpeech]) as ArrayLike<number>[];
    if (batch.length === 0) throw new RangeError('ClvpFeatureExtractor: empty batch');
    const clips = batch.map((x, i) => {
      if (x === null || typeof x !== 'object' || typeof (x as ArrayLike<number>).length !== 'number') throw new TypeError(`ClvpFeatureExtractor: batch item ${i} is not an array of samples`);
      // HF casts inputs to float32 before padding.
      return x instanceof Float32Array ? x : Float32Array.from(x);
    });

    const strategy = strategyOf(opts.padding ?? 'max_length');
    const truncation = opts.truncation ?? true;
    const maxLengthArg = opts.maxLength ?? this.defaultMaxLength;
    checkPositiveInt('maxLength', maxLengthArg);
    const multiple = opts.padToMultipleOf ?? null;
    if (multiple !== null) checkPositiveInt('padToMultipleOf', multiple);
    const wantMask = opts.returnAttentionMask ?? true;

    // _truncate: cut to maxLength (rounded up to the multiple) when truncation is on.
    const truncLimit = roundUp(maxLengthArg, multiple);
    const kept = clips.map((c) => (truncation && c.length > truncLimit ? c.subarray(0, truncLimit) : c));
    // 'longest' pads to the longest clip after truncation.
    let target: number | null = strategy === 'do_not_pad' ? null : strategy === 'longest' ? Math.max(...kept.map((c) => c.length)) : maxLengthArg;
    if (target !== null) target = roundUp(target, multiple);
    const lengths = kept.map((c) => (target !== null && c.length < target ? target : c.length));
    const total = lengths[0];
    if (lengths.some((l) => l !== total)) {
      throw new RangeError(
        `ClvpFeatureExtractor: the clips end up with different lengths (${lengths.join(', ')} samples) with padding=${JSON.stringify(opts.padding ?? 'max_length')} ` +
          `and truncation=${truncation}; HF cannot stack them either. Use padding 'longest' or 'max_length' (with truncation).`,
      );
    }
    if (total === 0) throw new RangeError('ClvpFeatureExtractor: the clips are empty (0 samples), nothing to analyse');

    const B = kept.length;
    const frames = this.numFrames(total);
    const rows = this.config.featureSize;
    const features = new Float32Array(B * rows * frames);
    const mask = wantMask ? new Int32Array(B * total) : null;
    const padded = new Float32Array(total);
    const left = this.config.paddingSide === 'left';
    for (let b = 0; b < B; b++) {
      const c = kept[b];
      const diff = total - c.length;
      padded.fill(this.config.paddingValue);
      padded.set(c, left ? diff : 0);
      if (mask) mask.fill(1, b * total + (left ? diff : 0), b * total + (left ? total : c.length));
      this.extractInto(padded, features, b * rows * frames);
    }
    const inputFeatures: HostArray<Float32Array> = { shape: [B, rows, frames], data: features };
    const attentionMask: HostArray<Int32Array> | undefined = mask ? { shape: [B, total], data: mask } : undefined;
    if (opts.returnTensors === 'tf') {
      requireReadyBackend("ClvpFeatureExtractor: returnTensors 'tf'");
      return {
        inputFeatures: tf.tensor3d(features, [B, rows, frames], 'float32'),
        ...(attentionMask ? { attentionMask: tf.tensor2d(attentionMask.data, [B, total], 'int32') } : {}),
      };
    }
    return attentionMask ? { inputFeatures, attentionMask } : { inputFeatures };
  }
}
