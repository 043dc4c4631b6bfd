// ClvpFeatureExtractor: the copied synthetic reference cases, HF's padding / truncation rules,
// and the audio_utils building blocks.
import { initBackend } from '../../src/backend';
import { LocalFolder } from '../../src/io/local_files';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { runParity } from '../../src/parity/runner';
import { featureExtractorHandler, melFilterBankHandler } from '../../src/parity/calls/audio';
import { ClvpFeatureExtractor, CLVP_FEATURE_EXTRACTOR_DEFAULTS } from '../../src/audio/feature_extraction_clvp';
import { StftAnalyzer, hertzToMel, linspace, melFilterBank, melToHertz, padSignal, spectrogram, windowFunction } from '../../src/audio/audio_utils';

const FIXTURE_REF = path.join(__dirname, '../fixtures/reference');
const HANDLERS = { feature_extractor: featureExtractorHandler, mel_filter_bank: melFilterBankHandler };

function noise(n: number, seed: number, amp = 0.1): Float32Array {
  // Small LCG: deterministic, no dependency.
  let s = seed >>> 0;
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    x[i] = amp * ((s / 4294967296) * 2 - 1);
  }
  return x;
}

describe('copied synthetic reference cases (test/fixtures/reference)', () => {
  it('features_sine, features_noise and mel_filter_bank pass with their tolerances', async () => {
    const report = await runParity({ reference: new LocalFolder(FIXTURE_REF), handlers: HANDLERS, backend: 'none', filter: ['feature_extractor', 'mel_filter_bank'] });
    expect(report.cases.map((c) => c.name).sort()).toEqual(['features_noise', 'features_sine', 'mel_filter_bank']);
    for (const c of report.cases) {
      expect({ name: c.name, status: c.status, message: c.message }).toEqual({ name: c.name, status: 'pass', message: c.message });
      // The float64 pipeline reproduces the reference to float32 rounding.
      expect(c.maxAbsError).toBeLessThanOrEqual(1e-6);
    }
  });
});

describe('ClvpFeatureExtractor configuration', () => {
  it('has the HF defaults', async () => {
    const fe = new ClvpFeatureExtractor();
    expect(fe.config).toEqual({ ...CLVP_FEATURE_EXTRACTOR_DEFAULTS });
    expect(fe.defaultMaxLength).toBe(132300);
    expect(fe.numFrames(132300)).toBe(517);
    expect(fe.melFilters.numFrequencyBins).toBe(513);
    expect(fe.melFilters.numMelFilters).toBe(80);
  });

  it('reads preprocessor_config.json from a directory or a file; fromConfig takes snake_case', async () => {
    const fromDir = await ClvpFeatureExtractor.fromPretrained(FIXTURE_REF);
    const fromFile = await ClvpFeatureExtractor.fromPretrained(path.join(FIXTURE_REF, 'preprocessor_config.json'));
    expect(fromDir.config.melNorms).toHaveLength(80);
    expect(fromFile.config).toEqual(fromDir.config);
    const fe = ClvpFeatureExtractor.fromConfig({ hop_length: 128, default_audio_length: 2, feature_extractor_type: 'ClvpFeatureExtractor', n_samples: 1 });
    expect(fe.config.hopLength).toBe(128);
    expect(fe.defaultMaxLength).toBe(44100);
    expect((await ClvpFeatureExtractor.fromPretrained(FIXTURE_REF, { melNorms: null })).config.melNorms).toBeNull();
  });

  it('reports missing or broken config files and invalid settings', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'clvp-fe-'));
    await expect(async () => ClvpFeatureExtractor.fromPretrained(dir)).rejects.toThrow(/preprocessor_config\.json: no preprocessor_config\.json found/);
    fs.writeFileSync(path.join(dir, 'preprocessor_config.json'), '{oops');
    await expect(async () => ClvpFeatureExtractor.fromPretrained(dir)).rejects.toThrow(/invalid JSON/);
    fs.rmSync(dir, { recursive: true });
    expect(() => new ClvpFeatureExtractor({ melNorms: [1, 2, 3] })).toThrow(/mel_norms must be 80 numbers/);
    expect(() => new ClvpFeatureExtractor({ hopLength: 0 })).toThrow(/hopLength must be a positive integer/);
  });
});

describe('ClvpFeatureExtractor.call', () => {
  let fe: ClvpFeatureExtractor;
  beforeAll(async () => {
    fe = await ClvpFeatureExtractor.fromPretrained(FIXTURE_REF);
  });
  const sr = 22050;

  it('insists on the sampling rate, as HF does for a mismatch', async () => {
    const x = noise(1000, 1);
    expect(() => fe.call(x, { samplingRate: 44100 })).toThrow(/sampled at 22050 Hz, but samplingRate is 44100; resample/);
    expect(() => fe.call(x, {} as never)).toThrow(/samplingRate is required/);
  });

  it('pads to 132300 samples by default with a per-sample attention mask', async () => {
    const x = noise(50000, 2);
    const out = fe.call(x, { samplingRate: sr });
    expect(out.inputFeatures.shape).toEqual([1, 80, 517]);
    expect(out.attentionMask!.shape).toEqual([1, 132300]);
    const m = out.attentionMask!.data;
    expect(m[49999]).toBe(1);
    expect(m[50000]).toBe(0);
    expect(m.reduce((a, b) => a + b, 0)).toBe(50000);
    // Frames entirely in the zero padding hit the 1e-5 clamp: log(1e-5) / mel_norms.
    const norms = fe.config.melNorms!;
    for (const mel of [0, 40, 79]) expect(out.inputFeatures.data[mel * 517 + 516]).toBeCloseTo(Math.log(1e-5) / norms[mel], 5);
  });

  it('truncates to max_length by default', async () => {
    const out = fe.call(noise(200000, 3), { samplingRate: sr });
    expect(out.inputFeatures.shape).toEqual([1, 80, 517]);
    expect(out.attentionMask!.data.every((v) => v === 1)).toBe(true);
  });

  it('padding=true pads to the longest clip AFTER truncation (HF / processor_batch_padding_true)', async () => {
    const out = fe.call([noise(103963, 4), noise(275362, 5)], { samplingRate: sr, padding: true });
    expect(out.inputFeatures.shape).toEqual([2, 80, 517]);
    expect(out.attentionMask!.shape).toEqual([2, 132300]);
    const longest = fe.call([noise(103963, 4), noise(120000, 5)], { samplingRate: sr, padding: 'longest' });
    expect(longest.inputFeatures.shape).toEqual([2, 80, 1 + Math.floor(120000 / 256)]);
    expect(longest.attentionMask!.shape).toEqual([2, 120000]);
  });

  it("padding='longest' with truncation=false keeps the longest clip whole", async () => {
    const out = fe.call([noise(1000, 6), noise(140000, 7)], { samplingRate: sr, padding: 'longest', truncation: false });
    expect(out.inputFeatures.shape).toEqual([2, 80, 547]);
    expect(out.attentionMask!.shape).toEqual([2, 140000]);
  });

  it('maxLength sets both the padded and the truncated length', async () => {
    const out = fe.call([noise(60000, 8), noise(10000, 9)], { samplingRate: sr, maxLength: 44100 });
    expect(out.inputFeatures.shape).toEqual([2, 80, 173]);
    expect(out.attentionMask!.shape).toEqual([2, 44100]);
  });

  it('padToMultipleOf rounds the target length up', async () => {
    const out = fe.call([noise(1000, 10), noise(1500, 11)], { samplingRate: sr, padding: 'longest', padToMultipleOf: 1024 });
    expect(out.attentionMask!.shape).toEqual([2, 2048]);
    const trunc = fe.call(noise(5000, 12), { samplingRate: sr, maxLength: 3000, padToMultipleOf: 1024 });
    expect(trunc.attentionMask!.shape).toEqual([1, 3072]);
  });

  it('do_not_pad works for one clip or equal lengths, and refuses ragged batches like HF', async () => {
    expect(fe.call(noise(3000, 13), { samplingRate: sr, padding: false }).inputFeatures.shape).toEqual([1, 80, 12]);
    expect(fe.call([noise(3000, 13), noise(3000, 14)], { samplingRate: sr, padding: 'do_not_pad' }).inputFeatures.shape).toEqual([2, 80, 12]);
    expect(() => fe.call([noise(3000, 13), noise(2000, 14)], { samplingRate: sr, padding: false })).toThrow(/different lengths \(3000, 2000 samples\)/);
    // max_length without truncation: a long clip stays long, a short one is padded: ragged.
    expect(() => fe.call([noise(150000, 13), noise(2000, 14)], { samplingRate: sr, truncation: false })).toThrow(/different lengths/);
    expect(fe.call(noise(150000, 15), { samplingRate: sr, truncation: false }).inputFeatures.shape).toEqual([1, 80, 586]);
    expect(() => fe.call([], { samplingRate: sr })).toThrow(/empty batch/);
    expect(() => fe.call(new Float32Array(0), { samplingRate: sr, padding: false })).toThrow(/0 samples/);
    expect(() => fe.call(noise(10, 1), { samplingRate: sr, padding: 'maximal' as never })).toThrow(/padding must be/);
  });

  it('a batch equals its clips run one by one; plain number arrays are accepted', async () => {
    const a = noise(30000, 16);
    const b = noise(90000, 17);
    const batch = fe.call([a, Array.from(b)], { samplingRate: sr });
    const one = fe.call(b, { samplingRate: sr });
    const n = 80 * 517;
    expect(Array.from(batch.inputFeatures.data.subarray(n, 2 * n))).toEqual(Array.from(one.inputFeatures.data));
    // A plain number[] is one clip, not a batch of scalars.
    const plain = fe.call(Array.from(a), { samplingRate: sr });
    expect(plain.inputFeatures.shape).toEqual([1, 80, 517]);
    expect(Array.from(plain.inputFeatures.data)).toEqual(Array.from(batch.inputFeatures.data.subarray(0, n)));
  });

  it('short clips (shorter than the reflect pad) are reflected like numpy', async () => {
    const out = fe.call(noise(300, 18), { samplingRate: sr, padding: false });
    expect(out.inputFeatures.shape).toEqual([1, 80, 2]);
    expect(out.inputFeatures.data.every(Number.isFinite)).toBe(true);
  });

  it('left padding puts the zeros and the mask zeros first', async () => {
    const left = new ClvpFeatureExtractor({ ...fe.config, paddingSide: 'left' });
    const x = noise(1000, 19);
    const out = left.call(x, { samplingRate: sr, maxLength: 2048 });
    const m = out.attentionMask!.data;
    expect(m[1047]).toBe(0);
    expect(m[1048]).toBe(1);
    const manual = new Float32Array(2048);
    manual.set(x, 1048);
    expect(Array.from(out.inputFeatures.data)).toEqual(Array.from(fe.call(manual, { samplingRate: sr, maxLength: 2048 }).inputFeatures.data));
  });

  it('returnAttentionMask=false drops the mask', async () => {
    const out = fe.call(noise(1000, 20), { samplingRate: sr, returnAttentionMask: false });
    expect(out.attentionMask).toBeUndefined();
  });

  it("returnTensors 'tf' gives float32 [B,80,frames] and int32 [B,samples] tensors", async () => {
    const x = [noise(4000, 21), noise(2000, 22)];
    // No test before this one starts a backend: a call that makes tensors says what to do.
    expect(() => fe.call(x, { samplingRate: sr, returnTensors: 'tf' })).toThrow(/^ClvpFeatureExtractor: returnTensors 'tf' makes tfjs tensors, and no tfjs backend is ready yet: await initBackend\(\) first/);
    await initBackend('cpu');
    const host = fe.call(x, { samplingRate: sr, padding: 'longest' });
    const t = fe.call(x, { samplingRate: sr, padding: 'longest', returnTensors: 'tf' });
    expect(t.inputFeatures.dtype).toBe('float32');
    expect(t.inputFeatures.shape).toEqual([2, 80, 16]);
    expect(t.attentionMask!.dtype).toBe('int32');
    expect(t.attentionMask!.shape).toEqual([2, 4000]);
    expect(Array.from(t.inputFeatures.dataSync())).toEqual(Array.from(host.inputFeatures.data));
    expect(Array.from(t.attentionMask!.dataSync())).toEqual(Array.from(host.attentionMask!.data));
    tf.dispose([t.inputFeatures, t.attentionMask!]);
    expect(() => fe.call(x, { samplingRate: sr, returnTensors: 'pt' as never })).toThrow(/returnTensors must be 'tf'/);
  });
});

describe('audio_utils', () => {
  it('numpy-compatible reflect / edge / constant padding, including pads longer than the signal', async () => {
    expect(Array.from(padSignal([0, 1, 2], 7))).toEqual([1, 2, 1, 0, 1, 2, 1, 0, 1, 2, 1, 0, 1, 2, 1, 0, 1]);
    expect(Array.from(padSignal([0, 1, 2, 3, 4], 7))).toEqual([1, 2, 3, 4, 3, 2, 1, 0, 1, 2, 3, 4, 3, 2, 1, 0, 1, 2, 3]);
    expect(Array.from(padSignal([5], 2))).toEqual([5, 5, 5, 5, 5]);
    expect(Array.from(padSignal([1, 2], 2, 'edge'))).toEqual([1, 1, 1, 2, 2, 2]);
    expect(Array.from(padSignal([1, 2], 1, 'constant'))).toEqual([0, 1, 2, 0]);
    expect(() => padSignal([], 2)).toThrow(/empty/);
  });

  it('periodic and symmetric Hann windows', async () => {
    expect(Array.from(windowFunction(4, 'hann'))).toEqual([0, 0.5, 1, 0.5].map((v, i) => (i === 1 || i === 3 ? expect.closeTo(v, 15) : v)) as never);
    const sym = windowFunction(5, 'hann', false);
    expect(sym[2]).toBe(1);
    expect(sym[0]).toBeCloseTo(0, 15);
    expect(Array.from(windowFunction(2, 'boxcar', true, 4))).toEqual([0, 1, 1, 0]);
    expect(() => windowFunction(8, 'blackman' as never)).toThrow(/Unknown window/);
  });

  it('mel scales round-trip and linspace ends exactly on its stop value', async () => {
    for (const scale of ['htk', 'kaldi', 'slaney'] as const) {
      for (const f of [0, 300, 1000, 4321, 8000]) expect(melToHertz(hertzToMel(f, scale), scale)).toBeCloseTo(f, 8);
    }
    expect(hertzToMel(1000, 'slaney')).toBeCloseTo(15, 12);
    const l = linspace(0, 0.3, 4);
    expect(l[3]).toBe(0.3);
    // i * step + start, as numpy.linspace computes it (np.linspace(0, 0.3, 4)[1] is 0.09999999999999999).
    expect(l[1]).toBe(0.09999999999999999);
  });

  it('mel filters: slaney-normalised HTK triangles peaking in order', async () => {
    const bank = melFilterBank({ numFrequencyBins: 513, numMelFilters: 80, minFrequency: 0, maxFrequency: 8000, samplingRate: 22050, norm: 'slaney', melScale: 'htk' });
    let prevPeak = -1;
    for (let m = 0; m < 80; m++) {
      let best = 0;
      for (let f = 1; f < 513; f++) if (bank.data[f * 80 + m] > bank.data[best * 80 + m]) best = f;
      expect(best).toBeGreaterThanOrEqual(prevPeak);
      prevPeak = best;
    }
    // Nothing above 8 kHz (bin 8000 / (22050 / 1024) = 371.5).
    for (let f = 372; f < 513; f++) for (let m = 0; m < 80; m++) expect(bank.data[f * 80 + m]).toBe(0);
    expect(() => melFilterBank({ numFrequencyBins: 1, numMelFilters: 4, minFrequency: 0, maxFrequency: 100, samplingRate: 1000 })).toThrow(/>= 2/);
    expect(() => melFilterBank({ numFrequencyBins: 9, numMelFilters: 4, minFrequency: 200, maxFrequency: 100, samplingRate: 1000 })).toThrow(/min_frequency/);
  });

  it('the FFT power spectrum equals a direct DFT', async () => {
    const n = 64;
    const x = noise(n * 3, 23, 1);
    const win = windowFunction(n, 'hann');
    const spec = spectrogram(x, win, n, 16, { power: 2, center: false });
    expect(spec.rows).toBe(33);
    expect(spec.frames).toBe(1 + Math.floor((3 * n - n) / 16));
    const t = 5;
    for (let k = 0; k <= n / 2; k++) {
      let re = 0;
      let im = 0;
      for (let i = 0; i < n; i++) {
        const v = x[t * 16 + i] * win[i];
        re += v * Math.cos((2 * Math.PI * k * i) / n);
        im -= v * Math.sin((2 * Math.PI * k * i) / n);
      }
      expect(spec.data[k * spec.frames + t]).toBeCloseTo(Math.fround(re) ** 2 + Math.fround(im) ** 2, 5);
    }
    const mag = spectrogram(x, win, n, 16, { power: 1, center: false, logMel: 'log10' });
    expect(mag.data[3 * mag.frames + t]).toBeCloseTo(Math.log10(Math.sqrt(spec.data[3 * spec.frames + t])), 6);
    expect(() => new StftAnalyzer(win, n, 16, { fftLength: 48 })).toThrow(/frame_length \(64\) may not be larger/);
    expect(() => new StftAnalyzer(win, n, 0)).toThrow(/hop_length/);
  });
});
