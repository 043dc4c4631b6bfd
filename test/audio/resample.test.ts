// Resampling to 22050 Hz: sine frequency and amplitude survive, and the output matches torchaudio.
import * as path from 'path';
import { readSafetensors } from '../../src/io/safetensors_fs';
import { SincResampler, gcd, resample } from '../../src/audio/resample';

const TARGET = 22050;

function sine(rate: number, freq: number, seconds: number, amp: number): Float32Array {
  const n = Math.round(rate * seconds);
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) x[i] = amp * Math.sin((2 * Math.PI * freq * i) / rate);
  return x;
}

/** Amplitude and phase of `freq` by projection on sin / cos, away from the edges. */
function project(y: Float32Array, rate: number, freq: number): { amp: number; phase: number } {
  const skip = Math.round(0.05 * rate);
  // A whole number of periods keeps the projection unbiased.
  const periods = Math.floor(((y.length - 2 * skip) * freq) / rate);
  const n = Math.round((periods * rate) / freq);
  let s = 0;
  let c = 0;
  for (let i = skip; i < skip + n; i++) {
    const ph = (2 * Math.PI * freq * i) / rate;
    s += y[i] * Math.sin(ph);
    c += y[i] * Math.cos(ph);
  }
  return { amp: (2 * Math.hypot(s, c)) / n, phase: Math.atan2(c, s) };
}

/** Frequency from the spacing of rising zero crossings (linearly interpolated). */
function zeroCrossingFrequency(y: Float32Array, rate: number): number {
  const skip = Math.round(0.05 * rate);
  const crossings: number[] = [];
  for (let i = skip; i < y.length - skip - 1; i++) {
    if (y[i] <= 0 && y[i + 1] > 0) crossings.push(i + y[i] / (y[i] - y[i + 1]));
  }
  return ((crossings.length - 1) * rate) / (crossings[crossings.length - 1] - crossings[0]);
}

describe('resample: sines keep frequency and amplitude', () => {
  for (const rate of [8000, 16000, 24000, 44100, 48000]) {
    for (const freq of [440, 1000, 3000]) {
      it(`${rate} Hz -> 22050 Hz, ${freq} Hz sine`, async () => {
        const seconds = 1;
        const y = resample(sine(rate, freq, seconds, 0.5), rate, TARGET);
        expect(y.length).toBe(Math.ceil((TARGET * seconds * rate) / rate));
        expect(zeroCrossingFrequency(y, TARGET)).toBeCloseTo(freq, 1);
        const { amp, phase } = project(y, TARGET, freq);
        // 3 kHz is at 75 % of the 8 kHz Nyquist, where the filter has started to roll off (0.985).
        const tol = rate === 8000 && freq === 3000 ? 0.02 : 0.002;
        expect(Math.abs(amp / 0.5 - 1)).toBeLessThan(tol);
        // No delay: the resampled sine starts in phase.
        expect(Math.abs(phase)).toBeLessThan(2e-3);
      });
    }
  }

  it('removes content above the new Nyquist when downsampling', async () => {
    const y = resample(sine(44100, 15000, 1, 0.5), 44100, TARGET);
    // 15 kHz would alias to 22050 - 15000 = 7050 Hz; the 6-zero-crossing Hann sinc leaves ~-47 dB.
    expect(project(y, TARGET, 7050).amp).toBeLessThan(0.5 * 0.01);
    let rms = 0;
    for (let i = 2000; i < y.length - 2000; i++) rms += y[i] * y[i];
    expect(Math.sqrt(rms / (y.length - 4000))).toBeLessThan(5e-3);
  });
});

describe('resample: torchaudio compatibility', () => {
  // torchaudio 0.13.1 functional.resample(x, sr, 22050) on float32 input (see test/fixtures/audio/README.md).
  const ref = readSafetensors(path.join(__dirname, '../fixtures/audio/torchaudio_resample.safetensors'));
  for (const rate of [8000, 16000, 24000, 44100, 48000]) {
    it(`${rate} Hz matches torchaudio within 5e-7`, async () => {
      const x = ref.get(`in.${rate}`)!.data as Float32Array;
      const expected = ref.get(`out.${rate}`)!.data as Float32Array;
      const y = resample(x, rate, TARGET);
      expect(y.length).toBe(expected.length);
      let m = 0;
      for (let i = 0; i < y.length; i++) m = Math.max(m, Math.abs(y[i] - expected[i]));
      expect(m).toBeLessThan(5e-7);
      // The double-precision kernel stays within torchaudio's own float32 error.
      const y64 = resample(x, rate, TARGET, { kernelPrecision: 'float64' });
      let m64 = 0;
      for (let i = 0; i < y.length; i++) m64 = Math.max(m64, Math.abs(y64[i] - expected[i]));
      expect(m64).toBeLessThan(5e-5);
    });
  }
});

describe('resample: structure and options', () => {
  it('reduces the rates by their gcd and uses torchaudio output lengths', async () => {
    expect(gcd(44100, 22050)).toBe(22050);
    const r = new SincResampler(48000, 22050);
    expect([r.orig, r.new, r.width]).toEqual([320, 147, 14]);
    expect(r.outputLength(48000)).toBe(22050);
    expect(r.outputLength(1)).toBe(1);
    expect(new SincResampler(44100, 22050).width).toBe(13);
  });

  it('returns a copy for equal rates', async () => {
    const x = sine(22050, 440, 0.1, 0.5);
    const y = resample(x, 22050, 22050);
    expect(y).not.toBe(x);
    expect(Array.from(y)).toEqual(Array.from(x));
  });

  it('handles very short and empty input', async () => {
    expect(resample(new Float32Array(0), 44100, TARGET).length).toBe(0);
    expect(resample(Float32Array.from([0.5]), 8000, TARGET).length).toBe(3);
  });

  it('upsamples a DC level to the same level in the interior', async () => {
    const y = resample(new Float32Array(16000).fill(0.25), 16000, TARGET);
    for (let i = 500; i < y.length - 500; i += 97) expect(y[i]).toBeCloseTo(0.25, 3);
  });

  it('supports the Kaiser window', async () => {
    const y = resample(sine(48000, 1000, 0.5, 0.5), 48000, TARGET, { method: 'kaiser_window' });
    expect(project(y, TARGET, 1000).amp).toBeCloseTo(0.5, 3);
  });

  it('rejects invalid rates and options', async () => {
    expect(() => resample(new Float32Array(4), 0, TARGET)).toThrow(/positive integers/);
    expect(() => resample(new Float32Array(4), 44100.5, TARGET)).toThrow(/positive integers/);
    expect(() => new SincResampler(8000, TARGET, { lowpassFilterWidth: 0 })).toThrow(/lowpassFilterWidth/);
  });
});
