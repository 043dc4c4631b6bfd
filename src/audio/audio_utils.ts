// The parts of transformers' audio_utils.py (hertz_to_mel, mel_to_hertz, mel_filter_bank,
// window_function, spectrogram) that ClvpFeatureExtractor uses, in float64 like the NumPy original.
import FFT = require('fft.js');

export type MelScale = 'htk' | 'kaldi' | 'slaney';

export function hertzToMel(freq: number, melScale: MelScale = 'htk'): number {
  switch (melScale) {
    case 'htk':
      return 2595.0 * Math.log10(1.0 + freq / 700.0);
    case 'kaldi':
      return 1127.0 * Math.log(1.0 + freq / 700.0);
    case 'slaney': {
      // Linear below 1 kHz, logarithmic above (Slaney's Auditory Toolbox).
      const logstep = 27.0 / Math.log(6.4);
      return freq >= 1000.0 ? 15.0 + Math.log(freq / 1000.0) * logstep : (3.0 * freq) / 200.0;
    }
    default:
      throw new RangeError(`mel_scale should be one of "htk", "slaney" or "kaldi", got '${String(melScale)}'`);
  }
}

export function melToHertz(mel: number, melScale: MelScale = 'htk'): number {
  switch (melScale) {
    case 'htk':
      return 700.0 * (Math.pow(10, mel / 2595.0) - 1.0);
    case 'kaldi':
      return 700.0 * (Math.exp(mel / 1127.0) - 1.0);
    case 'slaney': {
      const logstep = Math.log(6.4) / 27.0;
      return mel >= 15.0 ? 1000.0 * Math.exp(logstep * (mel - 15.0)) : (200.0 * mel) / 3.0;
    }
    default:
      throw new RangeError(`mel_scale should be one of "htk", "slaney" or "kaldi", got '${String(melScale)}'`);
  }
}

/** numpy.linspace(start, stop, num) with endpoint: i * step + start, last value exactly `stop`. */
export function linspace(start: number, stop: number, num: number): Float64Array {
  const out = new Float64Array(num);
  if (num === 0) return out;
  const div = num - 1;
  const step = div > 0 ? (stop - start) / div : 0;
  for (let i = 0; i < num; i++) out[i] = i * step + start;
  if (num > 1) out[num - 1] = stop;
  return out;
}

export interface MelFilterBankOptions {
  /** n_fft // 2 + 1. */
  numFrequencyBins: number;
  numMelFilters: number;
  minFrequency: number;
  maxFrequency: number;
  samplingRate: number;
  /** 'slaney': divide each triangle by its width in Hz (area normalisation); null: none. */
  norm?: 'slaney' | null;
  /** Default 'htk'. */
  melScale?: MelScale;
  /** Build the triangles on the mel axis instead of the Hz axis (torchaudio compatibility). Default false. */
  triangularizeInMelSpace?: boolean;
}

/** A dense filter bank, row-major [numFrequencyBins, numMelFilters] as in transformers. */
export interface MelFilterBank {
  numFrequencyBins: number;
  numMelFilters: number;
  data: Float64Array;
}

/** Triangular mel filters, as transformers' mel_filter_bank (float64). */
export function melFilterBank(o: MelFilterBankOptions): MelFilterBank {
  const norm = o.norm ?? null;
  const melScale = o.melScale ?? 'htk';
  if (norm !== null && norm !== 'slaney') throw new RangeError(`norm must be one of None or "slaney", got '${String(norm)}'`);
  if (o.numFrequencyBins < 2) throw new RangeError(`Require num_frequency_bins: ${o.numFrequencyBins} >= 2`);
  if (o.minFrequency > o.maxFrequency) throw new RangeError(`Require min_frequency: ${o.minFrequency} <= max_frequency: ${o.maxFrequency}`);
  const nb = o.numFrequencyBins;
  const nm = o.numMelFilters;
  const melFreqs = linspace(hertzToMel(o.minFrequency, melScale), hertzToMel(o.maxFrequency, melScale), nm + 2);
  let filterFreqs: Float64Array = melFreqs.map((m) => melToHertz(m, melScale));
  let fftFreqs: Float64Array;
  if (o.triangularizeInMelSpace) {
    const binWidth = o.samplingRate / ((nb - 1) * 2);
    fftFreqs = new Float64Array(nb);
    for (let i = 0; i < nb; i++) fftFreqs[i] = hertzToMel(binWidth * i, melScale);
    // Slaney's enorm below still uses the Hz edges.
    const hzEdges = filterFreqs;
    filterFreqs = melFreqs;
    return finish(triangles(fftFreqs, filterFreqs, nm), hzEdges);
  }
  // Python's sampling_rate // 2: integer division.
  fftFreqs = linspace(0, Math.floor(o.samplingRate / 2), nb);
  return finish(triangles(fftFreqs, filterFreqs, nm), filterFreqs);

  function finish(data: Float64Array, hzEdges: Float64Array): MelFilterBank {
    if (norm === 'slaney') {
      for (let m = 0; m < nm; m++) {
        const enorm = 2.0 / (hzEdges[m + 2] - hzEdges[m]);
        for (let f = 0; f < nb; f++) data[f * nm + m] *= enorm;
      }
    }
    return { numFrequencyBins: nb, numMelFilters: nm, data };
  }
}

/** max(0, min(down, up)) with the same operation order as _create_triangular_filter_bank. */
function triangles(fftFreqs: Float64Array, filterFreqs: Float64Array, nm: number): Float64Array {
  const nb = fftFreqs.length;
  const out = new Float64Array(nb * nm);
  for (let f = 0; f < nb; f++) {
    for (let m = 0; m < nm; m++) {
      const down = -(filterFreqs[m] - fftFreqs[f]) / (filterFreqs[m + 1] - filterFreqs[m]);
      const up = (filterFreqs[m + 2] - fftFreqs[f]) / (filterFreqs[m + 2] - filterFreqs[m + 1]);
      out[f * nm + m] = Math.max(0, Math.min(down, up));
    }
  }
  return out;
}

/** One mel filter's non-zero run: weights for frequency bins [start, start + weights.length). */
export interface SparseFilter {
  start: number;
  weights: Float64Array;
}

/** Per-filter non-zero runs of a dense bank; the projection then skips the zeros. */
export function sparseFilters(bank: MelFilterBank): SparseFilter[] {
  const { numFrequencyBins: nb, numMelFilters: nm, data } = bank;
  const out: SparseFilter[] = [];
  for (let m = 0; m < nm; m++) {
    let first = -1;
    let last = -1;
    for (let f = 0; f < nb; f++) {
      if (data[f * nm + m] !== 0) {
        if (first < 0) first = f;
        last = f;
      }
    }
    const weights = new Float64Array(first < 0 ? 0 : last - first + 1);
    for (let k = 0; k < weights.length; k++) weights[k] = data[(first + k) * nm + m];
    out.push({ start: Math.max(first, 0), weights });
  }
  return out;
}

export type WindowName = 'hann' | 'hann_window' | 'hamming' | 'hamming_window' | 'boxcar' | 'povey';

/** numpy.hanning / numpy.hamming: evaluated on n = 1-M, 3-M, ..., M-1 like NumPy, for bit parity. */
function cosineWindow(m: number, a: number): Float64Array {
  const out = new Float64Array(m);
  if (m === 1) {
    out[0] = 1;
    return out;
  }
  for (let i = 0; i < m; i++) {
    const n = 1 - m + 2 * i;
    out[i] = a + (1 - a) * Math.cos((Math.PI * n) / (m - 1));
  }
  return out;
}

/**
 * transformers' window_function: a periodic window (default) is the symmetric one of length + 1
 * without its last sample. With `frameLength`, the window is zero-padded (centred by default).
 */
export function windowFunction(windowLength: number, name: WindowName = 'hann', periodic = true, frameLength?: number, center = true): Float64Array {
  const length = periodic ? windowLength + 1 : windowLength;
  let w: Float64Array;
  switch (name) {
    case 'boxcar':
      w = new Float64Array(length).fill(1);
      break;
    case 'hamming':
    case 'hamming_window':
      w = cosineWindow(length, 0.54);
      break;
    case 'hann':
    case 'hann_window':
      w = cosineWindow(length, 0.5);
      break;
    case 'povey':
      w = cosineWindow(length, 0.5).map((x) => Math.pow(x, 0.85));
      break;
    default:
      throw new RangeError(`Unknown window function '${String(name)}'`);
  }
  if (periodic) w = w.slice(0, windowLength);
  if (frameLength === undefined) return w;
  if (windowLength > frameLength) throw new RangeError(`Length of the window (${windowLength}) may not be larger than frame_length (${frameLength})`);
  const padded = new Float64Array(frameLength);
  padded.set(w, center ? Math.floor((frameLength - windowLength) / 2) : 0);
  return padded;
}

export type PadMode = 'reflect' | 'constant' | 'edge';

/**
 * numpy.pad(x, (pad, pad), mode) for 1-D input, including pads longer than the signal.
 * Writes into `into` (at least n + 2 * pad long) when given.
 */
export function padSignal(x: ArrayLike<number>, pad: number, mode: PadMode = 'reflect', into?: Float64Array): Float64Array {
  const n = x.length;
  const out = into ? into.subarray(0, n + 2 * pad) : new Float64Array(n + 2 * pad);
  if (into) out.fill(0, 0, pad).fill(0, pad + n);
  for (let i = 0; i < n; i++) out[pad + i] = x[i];
  if (pad === 0) return out;
  if (mode === 'constant') return out;
  if (n === 0) throw new RangeError(`cannot ${mode}-pad an empty signal`);
  const src = (i: number): number => {
    if (mode === 'edge' || n === 1) return x[i < 0 ? 0 : n - 1];
    // Reflection without repeating the edge sample is periodic with period 2(n-1).
    const p = 2 * (n - 1);
    let k = i % p;
    if (k < 0) k += p;
    return x[k < n ? k : p - k];
  };
  for (let i = 0; i < pad; i++) {
    out[i] = src(i - pad);
    out[pad + n + i] = src(n + i);
  }
  return out;
}

export interface SpectrogramOptions {
  /** FFT size (a power of two >= frameLength); default frameLength. */
  fftLength?: number;
  /** 1 magnitude, 2 power (default 1, as transformers). Complex output is not ported. */
  power?: number;
  /** Pad frameLength / 2 on both sides so that frame t is centred on sample t * hop. Default true. */
  center?: boolean;
  padMode?: PadMode;
  /** Dense filter bank [bins, mels]; when given the result is a mel spectrogram. */
  melFilters?: MelFilterBank;
  /** Floor applied after the mel projection; transformers default 1e-10. */
  melFloor?: number;
  /** null (default), 'log' or 'log10'; dB conversion is not ported. */
  logMel?: null | 'log' | 'log10';
}

/** A spectrogram [rows, frames] row-major, float64. Rows are frequency bins or mel filters. */
export interface Spectrogram {
  rows: number;
  frames: number;
  data: Float64Array;
}

/** Frames transformers' spectrogram produces for `length` samples. */
export function numFrames(length: number, frameLength: number, hopLength: number, center = true): number {
  const padded = center ? length + 2 * Math.floor(frameLength / 2) : length;
  return padded < frameLength ? 0 : 1 + Math.floor((padded - frameLength) / hopLength);
}

/**
 * Short-time Fourier analysis with the behaviour of transformers' `spectrogram`: float64 frames,
 * the one-sided FFT stored as complex64 (so real and imaginary parts are rounded to float32, as
 * NumPy does when it writes into that array), |X|^power in float64, then the optional mel projection.
 * The window, FFT plan, buffers and sparse filters are built once and reused for every call.
 */
export class StftAnalyzer {
  readonly frameLength: number;
  readonly hopLength: number;
  readonly fftLength: number;
  readonly numFrequencyBins: number;
  private readonly window: Float64Array;
  private readonly fft: FFT;
  private readonly frame: Float64Array;
  private readonly spectrum: Float64Array;
  private readonly bins: Float64Array;
  private readonly filters: SparseFilter[] | null;
  /** Only bins below this index are needed when a mel bank is used. */
  private readonly binLimit: number;
  private scratch = new Float64Array(0);

  constructor(
    window: Float64Array,
    frameLength: number,
    hopLength: number,
    private readonly opts: SpectrogramOptions = {},
  ) {
    const fftLength = opts.fftLength ?? frameLength;
    if (frameLength > fftLength) throw new RangeError(`frame_length (${frameLength}) may not be larger than fft_length (${fftLength})`);
    if (window.length !== frameLength) throw new RangeError(`Length of the window (${window.length}) must equal frame_length (${frameLength})`);
    if (!(hopLength > 0)) throw new RangeError('hop_length must be greater than zero');
    if (fftLength < 2 || (fftLength & (fftLength - 1)) !== 0) throw new RangeError(`fft_length must be a power of two here, got ${fftLength}`);
    const power = opts.power ?? 1;
    if (power === null || !Number.isFinite(power)) throw new RangeError('complex spectrograms (power=None) are not ported');
    this.frameLength = frameLength;
    this.hopLength = hopLength;
    this.fftLength = fftLength;
    this.numFrequencyBins = fftLength / 2 + 1;
    this.window = Float64Array.from(window);
    this.fft = new FFT(fftLength);
    this.frame = new Float64Array(fftLength);
    this.spectrum = new Float64Array(2 * fftLength);
    this.bins = new Float64Array(this.numFrequencyBins);
    if (opts.melFilters) {
      if (opts.melFilters.numFrequencyBins !== this.numFrequencyBins) {
        throw new RangeError(`mel filters have ${opts.melFilters.numFrequencyBins} frequency bins, the FFT gives ${this.numFrequencyBins}`);
      }
      this.filters = sparseFilters(opts.melFilters);
      this.binLimit = Math.max(0, ...this.filters.map((f) => f.start + f.weights.length));
    } else {
      this.filters = null;
      this.binLimit = this.numFrequencyBins;
    }
  }

  get rows(): number {
    return this.filters ? this.filters.length : this.numFrequencyBins;
  }

  /**
   * Analyse one waveform. Writes into `out` (rows x frames, row-major with `outStride` between
   * rows, default frames) when given, so a batch can share one output buffer.
   */
  analyse(waveform: ArrayLike<number>, out?: Float64Array, outStride?: number): Spectrogram {
    const center = this.opts.center ?? true;
    const half = center ? Math.floor(this.frameLength / 2) : 0;
    // One float64 copy of the (padded) signal, reused across calls to spare the allocator.
    if (this.scratch.length < waveform.length + 2 * half) this.scratch = new Float64Array(waveform.length + 2 * half);
    const x = padSignal(waveform, half, this.opts.padMode ?? 'reflect', this.scratch);
    const frames = x.length < this.frameLength ? 0 : 1 + Math.floor((x.length - this.frameLength) / this.hopLength);
    const rows = this.rows;
    const stride = outStride ?? frames;
    const data = out ?? new Float64Array(rows * stride);
    const power = this.opts.power ?? 1;
    const melFloor = this.opts.melFloor ?? 1e-10;
    const logMel = this.opts.logMel ?? null;
    const { frame, spectrum, bins, window, filters } = this;
    const fl = this.frameLength;
    const limit = this.binLimit;
    const f32 = Math.fround;
    for (let t = 0; t < frames; t++) {
      const off = t * this.hopLength;
      for (let i = 0; i < fl; i++) frame[i] = x[off + i] * window[i];
      this.fft.realTransform(spectrum, frame);
      for (let k = 0; k < limit; k++) {
        const re = f32(spectrum[2 * k]);
        const im = f32(spectrum[2 * k + 1]);
        const p = re * re + im * im;
        bins[k] = power === 2 ? p : Math.pow(Math.sqrt(p), power);
      }
      if (filters) {
        for (let m = 0; m < filters.length; m++) {
          const { start, weights } = filters[m];
          let s = 0;
          for (let k = 0; k < weights.length; k++) s += bins[start + k] * weights[k];
          let v = s > melFloor ? s : melFloor;
          if (logMel === 'log') v = Math.log(v);
          else if (logMel === 'log10') v = Math.log10(v);
          data[m * stride + t] = v;
        }
      } else {
        for (let k = 0; k < limit; k++) {
          let v = bins[k];
          if (logMel === 'log') v = Math.log(v);
          else if (logMel === 'log10') v = Math.log10(v);
          data[k * stride + t] = v;
        }
      }
    }
    return { rows, frames, data };
  }
}

/** transformers' `spectrogram` for one waveform: [bins or mels, frames], float64. */
export function spectrogram(waveform: ArrayLike<number>, window: Float64Array, frameLength: number, hopLength: number, opts: SpectrogramOptions = {}): Spectrogram {
  return new StftAnalyzer(window, frameLength, hopLength, opts).analyse(waveform);
}
