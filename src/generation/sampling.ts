// Seeded token selection: a portable PRNG, multinomial sampling by inverse CDF, and greedy argmax.
//
// PRNG: xoshiro128** 1.1 (Blackman & Vigna, https://prng.di.unimi.it/xoshiro128starstar.c), 128-bit
// state, period 2^128 - 1, 32-bit outputs; seeded by expanding the seed with SplitMix64 (Vigna's
// recommended seeding, https://prng.di.unimi.it/splitmix64.c) into the four state words (low word
// then high word of two SplitMix64 outputs). Only 32-bit integer arithmetic (Math.imul, >>>) per
// draw, so the same seed gives the same stream in any JS engine, on any tfjs backend, and in any
// language that implements the two published algorithms. mulberry32 was not chosen: its 2^32 state
// cannot produce every 32-bit output and repeats after 2^32 draws.
//
// Torch's multinomial cannot be reproduced (the reference cases teacher-force the drawn tokens
// instead), so sampling here only has to be correct and deterministic:
//   - probabilities in float64 from the processed float32 scores: w_i = exp(s_i - max) (exactly 0
//     for -inf), u = U[0,1) * sum(w), the token is the first i with w_0 + ... + w_i > u;
//   - uniforms have 53 random bits (two 32-bit draws), one uniform per row;
//   - one Sampler (one stream) per generate call; rows are drawn in order 0..batch-1 every step,
//     finished rows included, so a row's draws do not depend on whether others have stopped.

const MASK64 = (1n << 64n) - 1n;

/** SplitMix64 step: returns [next state, output]. */
function splitmix64(state: bigint): [bigint, bigint] {
  const s = (state + 0x9e3779b97f4a7c15n) & MASK64;
  let z = s;
  z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & MASK64;
  z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & MASK64;
  return [s, z ^ (z >> 31n)];
}

function randomSeed(): bigint {
  const c = (globalThis as { crypto?: { getRandomValues?(a: Uint32Array): Uint32Array } }).crypto;
  const w = new Uint32Array(2);
  if (c?.getRandomValues) c.getRandomValues(w);
  else {
    w[0] = Math.floor(Math.random() * 2 ** 32);
    w[1] = Math.floor(Math.random() * 2 ** 32);
  }
  return (BigInt(w[1]) << 32n) | BigInt(w[0]);
}

function normaliseSeed(seed: number | bigint): bigint {
  if (typeof seed === 'bigint') {
    if (seed < 0n) throw new RangeError(`seed must be non-negative, but is ${seed}`);
    return seed & MASK64;
  }
  if (!Number.isSafeInteger(seed) || seed < 0) throw new RangeError(`seed must be a non-negative safe integer (or a bigint), but is ${seed}`);
  return BigInt(seed);
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/** xoshiro128** generator seeded through SplitMix64. */
export class Xoshiro128ss {
  /** The seed this generator was built from (as a 64-bit unsigned integer). */
  readonly seed: bigint;
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  constructor(seed: number | bigint) {
    this.seed = normaliseSeed(seed);
    let st = this.seed;
    let a: bigint;
    let b: bigint;
    [st, a] = splitmix64(st);
    [st, b] = splitmix64(st);
    this.s0 = Number(a & 0xffffffffn) | 0;
    this.s1 = Number(a >> 32n) | 0;
    this.s2 = Number(b & 0xffffffffn) | 0;
    this.s3 = Number(b >> 32n) | 0;
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1; // never happens for SplitMix64, but the all-zero state is a fixed point
  }

  /** Next 32-bit output, as an unsigned integer in [0, 2^32). */
  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9);
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result >>> 0;
  }

  /** Uniform double in [0, 1) with 53 random bits (the top 27 + 26 bits of two draws). */
  nextFloat64(): number {
    const a = this.nextUint32() >>> 5;
    const b = this.nextUint32() >>> 6;
    return (a * 67108864 + b) / 9007199254740992;
  }
}

/**
 * Index of the largest value of `row[off .. off+n)`, the first one on ties (as torch.argmax); a NaN
 * counts as the largest (as in torch), the first NaN wins.
 */
export function argmaxRow(row: ArrayLike<number>, off = 0, n = row.length - off): number {
  let best = 0;
  let bestV = -Infinity;
  let found = false;
  for (let i = 0; i < n; i++) {
    const v = row[off + i];
    if (v !== v) return i;
    if (!found || v > bestV) {
      best = i;
      bestV = v;
      found = true;
    }
  }
  return best;
}

/** Greedy decoding: the argmax of each row of [batch, vocab] scores (lowest index on ties). */
export function greedyTokens(scores: Float32Array, batch: number, vocab: number): Int32Array {
  if (scores.length !== batch * vocab) throw new RangeError(`greedyTokens: scores has ${scores.length} values, expected ${batch}*${vocab}`);
  const out = new Int32Array(batch);
  for (let b = 0; b < batch; b++) out[b] = argmaxRow(scores, b * vocab, vocab);
  return out;
}

/** Multinomial sampler with its own seeded stream (one per generate call). */
export class Sampler {
  readonly rng: Xoshiro128ss;
  private weights: Float64Array = new Float64Array(0);

  /** `seed` omitted: a random one (read it back from `seed` to reproduce the run). */
  constructor(seed?: number | bigint | null) {
    this.rng = new Xoshiro128ss(seed === undefined || seed === null ? randomSeed() : seed);
  }

  get seed(): bigint {
    return this.rng.seed;
  }

  /**
   * Draws one index from non-negative weights `w[off .. off+n)` (need not be normalised) by inverse
   * CDF in float64. Zero-weight entries are never drawn. Consumes one uniform.
   */
  sampleWeights(w: ArrayLike<number>, off = 0, n = w.length - off): number {
    let total = 0;
    for (let i = 0; i < n; i++) {
      const x = w[off + i];
      if (!(x >= 0) || x === Infinity) throw new RangeError(`sampleWeights: invalid probability ${x} at index ${i}`);
      total += x;
    }
    if (!(total > 0)) throw new RangeError('sampleWeights: the probabilities sum to 0 (every token filtered?)');
    const u = this.rng.nextFloat64() * total;
    let c = 0;
    let last = -1;
    for (let i = 0; i < n; i++) {
      const x = w[off + i];
      if (x > 0) {
        c += x;
        last = i;
        if (u < c) return i;
      }
    }
    return last; // u rounded up to the total: the last token with a non-zero weight
  }

  /** Draws one token from a probability row (e.g. softmax output); same as sampleWeights. */
  sampleProbs(probs: ArrayLike<number>, off = 0, n = probs.length - off): number {
    return this.sampleWeights(probs, off, n);
  }

  /**
   * Draws one token from one row of processed scores: weights exp(s - max) in float64 (0 for -inf).
   * Consumes one uniform.
   */
  sampleScoresRow(scores: ArrayLike<number>, off: number, vocab: number): number {
    if (this.weights.length < vocab) this.weights = new Float64Array(vocab);
    const w = this.weights;
    let m = -Infinity;
    for (let i = 0; i < vocab; i++) {
      const x = scores[off + i];
      if (x !== x) throw new RangeError(`sampleScoresRow: NaN score at index ${i}`);
      if (x > m) m = x;
    }
    if (m === -Infinity) throw new RangeError('sampleScoresRow: every score is -inf (nothing left to sample)');
    if (m === Infinity) throw new RangeError('sampleScoresRow: +inf score');
    // After top-k nearly every score is -inf, whose weight is exactly exp(-inf) = 0 without the call.
    for (let i = 0; i < vocab; i++) {
      const x = scores[off + i];
      w[i] = x === -Infinity ? 0 : Math.exp(x - m);
    }
    return this.sampleWeights(w, 0, vocab);
  }

  /** One token per row of [batch, vocab] processed scores, rows drawn in order. */
  sampleScores(scores: Float32Array, batch: number, vocab: number): Int32Array {
    if (scores.length !== batch * vocab) throw new RangeError(`sampleScores: scores has ${scores.length} values, expected ${batch}*${vocab}`);
    const out = new Int32Array(batch);
    for (let b = 0; b < batch; b++) out[b] = this.sampleScoresRow(scores, b * vocab, vocab);
    return out;
  }
}

/**
 * The next tokens of one decode step from processed scores: multinomial draws from `sampler` when
 * `doSample`, else the argmax.
 */
export function selectNextTokens(scores: Float32Array, batch: number, vocab: number, doSample: boolean, sampler?: Sampler): Int32Array {
  if (!doSample) return greedyTokens(scores, batch, vocab);
  if (!sampler) throw new Error('selectNextTokens: doSample needs a Sampler');
  return sampler.sampleScores(scores, batch, vocab);
}
