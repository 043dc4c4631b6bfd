import { Sampler, Xoshiro128ss, argmaxRow, greedyTokens, selectNextTokens } from '../../src/generation/sampling';
import { softmaxF32 } from '../../src/generation/logits_process';

describe('Xoshiro128ss', () => {
  // Expected outputs from an independent implementation of SplitMix64 seeding + xoshiro128** 1.1
  // (SplitMix64(0) first output 0xe220a8397b1dcdaf, the published value).
  it.each([
    [0, [3737715805, 2584255861, 2876756834, 3286328325, 1553311962, 1625202774]],
    [1, [1695105466, 1423115009, 634581793, 1068227753, 716759206, 4186505319]],
    [1234, [2745262699, 2527431456, 130831659, 1562225585, 1027419069, 3797507520]],
    [2 ** 53 - 1, [1233166643, 1287031142, 661813442, 2960669951, 2601079046, 1036114921]],
  ])('seed %p gives the reference stream', (seed, want) => {
    const g = new Xoshiro128ss(seed);
    expect(want.map(() => g.nextUint32())).toEqual(want);
  });

  it('accepts bigint seeds equal to number seeds', () => {
    const a = new Xoshiro128ss(42);
    const b = new Xoshiro128ss(42n);
    for (let i = 0; i < 10; i++) expect(a.nextUint32()).toBe(b.nextUint32());
  });

  it('rejects negative or fractional seeds', () => {
    expect(() => new Xoshiro128ss(-1)).toThrow(/seed/);
    expect(() => new Xoshiro128ss(1.5)).toThrow(/seed/);
  });

  it('nextFloat64 is in [0, 1) with a mean near 1/2', () => {
    const g = new Xoshiro128ss(9);
    let s = 0;
    for (let i = 0; i < 100000; i++) {
      const u = g.nextFloat64();
      expect(u >= 0 && u < 1).toBe(true);
      s += u;
    }
    expect(Math.abs(s / 100000 - 0.5)).toBeLessThan(0.005);
  });
});

describe('Sampler', () => {
  const vocab = 10;
  const batch = 3;
  const scores = Float32Array.from({ length: batch * vocab }, (_, i) => Math.sin(i) * 3);
  scores[4] = -Infinity;
  scores[vocab + 7] = -Infinity;

  it('same seed, same draws; different seed, different draws', () => {
    const draw = (seed: number) => {
      const s = new Sampler(seed);
      return Array.from({ length: 20 }, () => Array.from(s.sampleScores(scores, batch, vocab))).flat();
    };
    expect(draw(123)).toEqual(draw(123));
    expect(draw(123)).not.toEqual(draw(124));
  });

  it('a random seed is reported and reproduces the run', () => {
    const s = new Sampler();
    const first = Array.from(s.sampleScores(scores, batch, vocab));
    const again = new Sampler(s.seed);
    expect(Array.from(again.sampleScores(scores, batch, vocab))).toEqual(first);
  });

  it('draws rows in order from one stream', () => {
    const s = new Sampler(5);
    const all = s.sampleScores(scores, batch, vocab);
    const t = new Sampler(5);
    const one = [0, 1, 2].map((b) => t.sampleScoresRow(scores, b * vocab, vocab));
    expect(Array.from(all)).toEqual(one);
  });

  it('follows softmax(scores) empirically (chi-square) and never draws filtered tokens', () => {
    const row = Float32Array.from([2, 1, 0.5, -Infinity, 0, -1, 1.5, -Infinity, 0.25, -0.5]);
    const probs = softmaxF32(row, 1, vocab);
    const s = new Sampler(2024);
    const n = 200000;
    const counts = new Array(vocab).fill(0);
    for (let i = 0; i < n; i++) counts[s.sampleScoresRow(row, 0, vocab)]++;
    expect(counts[3]).toBe(0);
    expect(counts[7]).toBe(0);
    let chi2 = 0;
    for (let i = 0; i < vocab; i++) if (probs[i] > 0) chi2 += (counts[i] - n * probs[i]) ** 2 / (n * probs[i]);
    // 7 degrees of freedom: the 99.9% quantile is 24.3
    expect(chi2).toBeLessThan(24.3);
  });

  it('sampleProbs follows given probabilities', () => {
    const p = [0.1, 0, 0.6, 0.3];
    const s = new Sampler(77);
    const counts = [0, 0, 0, 0];
    const n = 100000;
    for (let i = 0; i < n; i++) counts[s.sampleProbs(p)]++;
    expect(counts[1]).toBe(0);
    let chi2 = 0;
    for (const i of [0, 2, 3]) chi2 += (counts[i] - n * p[i]) ** 2 / (n * p[i]);
    expect(chi2).toBeLessThan(13.8); // 2 dof, 99.9%
  });

  it('a row with a single finite score always draws it', () => {
    const row = new Float32Array(vocab).fill(-Infinity);
    row[6] = -3;
    const s = new Sampler(1);
    for (let i = 0; i < 100; i++) expect(s.sampleScoresRow(row, 0, vocab)).toBe(6);
  });

  it('rejects an all -inf row, NaN scores and bad probabilities', () => {
    const s = new Sampler(1);
    expect(() => s.sampleScoresRow(new Float32Array(4).fill(-Infinity), 0, 4)).toThrow(/every score is -inf/);
    expect(() => s.sampleScoresRow(Float32Array.from([0, NaN]), 0, 2)).toThrow(/NaN/);
    expect(() => s.sampleProbs([0.5, -0.1])).toThrow(/invalid probability/);
    expect(() => s.sampleProbs([0, 0])).toThrow(/sum to 0/);
  });
});

describe('greedy', () => {
  it('argmax takes the first of tied maxima, like torch.argmax', () => {
    expect(argmaxRow([1, 3, 3, 2])).toBe(1);
    expect(argmaxRow(Float32Array.from([-Infinity, -Infinity]))).toBe(0);
    expect(argmaxRow([1, NaN, 5])).toBe(1);
  });

  it('greedyTokens works per row', () => {
    expect(Array.from(greedyTokens(Float32Array.from([0, 2, 1, 5, 5, -1]), 2, 3))).toEqual([1, 0]);
  });

  it('selectNextTokens dispatches on doSample', () => {
    const s = Float32Array.from([0, 9, 1, 0]);
    expect(Array.from(selectNextTokens(s, 1, 4, false))).toEqual([1]);
    expect(() => selectNextTokens(s, 1, 4, true)).toThrow(/needs a Sampler/);
    const x = selectNextTokens(s, 1, 4, true, new Sampler(3));
    expect(x[0]).toBeGreaterThanOrEqual(0);
    expect(x[0]).toBeLessThan(4);
  });
});
