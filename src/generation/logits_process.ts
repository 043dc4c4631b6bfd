// Logits processors for speech-token sampling, on host Float32Arrays, reproducing the float32
// arithmetic of transformers' RepetitionPenaltyLogitsProcessor, TemperatureLogitsWarper,
// TopKLogitsWarper and TopPLogitsWarper as PyTorch (CPU, float32) evaluates them.
//
// Why the host and not tfjs tensors:
//  - The generate loop needs the chosen token ids on the host every step anyway (to stop on eos,
//    to feed the next step and for the repetition penalty's "sequence so far"), so the [batch, vocab]
//    logits come back from the device once per step regardless. Doing the processing there costs
//    one copy of at most 64 x 8194 floats.
//  - Exactness: each step below rounds to float32 with Math.fround exactly where torch rounds, and
//    top-p's sort/softmax/cumsum follows the order of torch's CPU kernels. tfjs backends differ in
//    their reductions (WebGL/WebGPU use half-tree sums, the wasm backend XNNPACK), have no stable
//    sort with indices on every backend, and topk/cumsum would be extra device round trips.
//  - Speed: top-k is an O(vocab) quickselect, top-p sorts only the entries that are still finite
//    (after top-k that is k entries), and the repetition penalty touches only the ids seen so far.
//
// Layout and ownership: `scores` is row-major [batch, vocab] (row b is scores[b*vocab .. (b+1)*vocab)).
// `processInPlace` overwrites `scores`; `process` returns a new array and leaves `scores` untouched.
// `inputIds[b]` is the sequence so far of row b (every id in it, bos included, is penalised).
//
// Filtered entries become -Infinity, as in transformers (filter_value = -inf).
//
// On the reference cases (warpers_synthetic and the 4 model-based logits_warpers cases) every
// output, probs included, is reproduced bit for bit. Where exactness is not guaranteed:
//  - top-p with tied scores straddling the cut: torch.sort(stable=False) may order ties
//    differently from the stable (by index) order used here;
//  - the softmax emulates torch's AVX2 kernels (the build that produced the reference); an AVX-512
//    build of torch sums in 16 lanes, and may differ in the last bit, which matters to top-p only
//    when a cumulative sum is within an ulp of 1 - top_p;
//  - NaN scores: the processors do not fail on them, but only argmax mimics torch's NaN handling.

const f32 = Math.fround;

/** The sequences so far, one per batch row: `Int32Array[]`, `number[][]`, ... */
export type InputIds = ReadonlyArray<ArrayLike<number>>;

export type LogitsProcessorKind = 'repetition_penalty' | 'temperature' | 'top_k' | 'top_p';

function checkShape(scores: Float32Array, batch: number, vocab: number, what: string): void {
  if (!Number.isInteger(batch) || batch < 0 || !Number.isInteger(vocab) || vocab <= 0) {
    throw new RangeError(`${what}: bad dims batch=${batch}, vocab=${vocab}`);
  }
  if (scores.length !== batch * vocab) {
    throw new RangeError(`${what}: scores has ${scores.length} values, expected batch*vocab = ${batch}*${vocab} = ${batch * vocab}`);
  }
}

/** A processor of a [batch, vocab] score matrix (transformers' LogitsProcessor / LogitsWarper). */
export abstract class LogitsProcessor {
  abstract readonly kind: LogitsProcessorKind;

  /** Processes `scores` ([batch*vocab], row-major) in place and returns it. */
  abstract processInPlace(inputIds: InputIds, scores: Float32Array, batch: number, vocab: number): Float32Array;

  /** Functional form: returns a processed copy; `scores` is not modified. */
  process(inputIds: InputIds, scores: Float32Array, batch: number, vocab: number): Float32Array {
    return this.processInPlace(inputIds, scores.slice(), batch, vocab);
  }
}

// ------------------------------------------------------------------ repetition penalty

/**
 * transformers' RepetitionPenaltyLogitsProcessor: for every distinct id in row b's sequence so far,
 * score = score < 0 ? score * penalty : score / penalty (float32, penalty rounded to float32 as
 * torch does for a Python scalar). An id that occurs several times is penalised once (torch gathers
 * the original values and scatters them back).
 * penalty > 1 discourages repetition, 0 < penalty < 1 encourages it, 1 is a no-op.
 */
export class RepetitionPenaltyLogitsProcessor extends LogitsProcessor {
  readonly kind = 'repetition_penalty' as const;
  readonly penalty: number;
  private mark: Uint8Array = new Uint8Array(0);

  constructor(penalty: number) {
    super();
    if (typeof penalty !== 'number' || !Number.isFinite(penalty) || !(penalty > 0)) {
      throw new RangeError(`repetitionPenalty has to be a strictly positive finite number, but is ${penalty}`);
    }
    this.penalty = penalty;
  }

  processInPlace(inputIds: InputIds, scores: Float32Array, batch: number, vocab: number): Float32Array {
    checkShape(scores, batch, vocab, 'RepetitionPenaltyLogitsProcessor');
    if (inputIds.length !== batch) throw new RangeError(`RepetitionPenaltyLogitsProcessor: ${inputIds.length} input id rows for batch ${batch}`);
    if (this.mark.length < vocab) this.mark = new Uint8Array(vocab);
    const mark = this.mark;
    const p = f32(this.penalty);
    for (let b = 0; b < batch; b++) {
      const ids = inputIds[b];
      const base = b * vocab;
      const n = ids.length;
      for (let t = 0; t < n; t++) {
        const id = ids[t];
        if (!Number.isInteger(id) || id < 0 || id >= vocab) {
          for (let u = 0; u < t; u++) mark[ids[u]] = 0;
          throw new RangeError(`RepetitionPenaltyLogitsProcessor: input id ${id} (row ${b}, position ${t}) is outside the vocabulary [0, ${vocab})`);
        }
        if (mark[id]) continue;
        mark[id] = 1;
        const s = scores[base + id];
        scores[base + id] = s < 0 ? f32(s * p) : f32(s / p);
      }
      for (let t = 0; t < n; t++) mark[ids[t]] = 0;
    }
    return scores;
  }
}

// ------------------------------------------------------------------ temperature

/** transformers' TemperatureLogitsWarper: scores / temperature (float32). temperature > 0. */
export class TemperatureLogitsWarper extends LogitsProcessor {
  readonly kind = 'temperature' as const;
  readonly temperature: number;

  constructor(temperature: number) {
    super();
    if (typeof temperature !== 'number' || !Number.isFinite(temperature) || !(temperature > 0)) {
      const hint = temperature === 0 ? ' For greedy decoding set doSample=false instead of temperature=0.' : '';
      throw new RangeError(`temperature has to be a strictly positive finite number, but is ${temperature}.${hint}`);
    }
    this.temperature = temperature;
  }

  processInPlace(_inputIds: InputIds, scores: Float32Array, batch: number, vocab: number): Float32Array {
    checkShape(scores, batch, vocab, 'TemperatureLogitsWarper');
    const t = f32(this.temperature);
    // torch's CPU div kernel divides by the scalar (no reciprocal multiply); Float32Array stores round.
    for (let i = 0; i < scores.length; i++) scores[i] = scores[i] / t;
    return scores;
  }
}

// ------------------------------------------------------------------ top-k

function checkMinTokensToKeep(m: number): void {
  if (!Number.isInteger(m) || m < 1) throw new RangeError(`minTokensToKeep has to be a positive integer, but is ${m}`);
}

/** a ranks above b in descending order, NaN above everything (as torch.topk orders NaN). */
const above = (a: number, b: number) => (a !== a ? b === b : a > b);

/**
 * The k-th largest (1-based) of row[off .. off+n), k <= n, through a min-heap of the k largest
 * seen so far. For Tortoise's top-50 of 8194 almost every entry is turned away by one comparison
 * with the heap's root, where a quickselect moved most of a copy of the row: the warper takes
 * 1.5 ms instead of 3.0 for 16 rows (its -inf marking pass included).
 */
function kthLargest(row: Float32Array, off: number, n: number, k: number, heap: Float32Array): number {
  for (let i = 0; i < k; i++) {
    // sift up
    let c = i;
    const x = row[off + i];
    while (c > 0) {
      const p = (c - 1) >> 1;
      if (!above(heap[p], x)) break;
      heap[c] = heap[p];
      c = p;
    }
    heap[c] = x;
  }
  for (let i = k; i < n; i++) {
    const x = row[off + i];
    if (!above(x, heap[0])) continue;
    // replace the root, sift down
    let c = 0;
    for (;;) {
      let m = 2 * c + 1;
      if (m >= k) break;
      if (m + 1 < k && above(heap[m], heap[m + 1])) m++;
      if (!above(x, heap[m])) break;
      heap[c] = heap[m];
      c = m;
    }
    heap[c] = x;
  }
  return heap[0];
}

/**
 * transformers' TopKLogitsWarper: with k = min(max(topK, minTokensToKeep), vocab), every score
 * strictly below the k-th largest of its row becomes -inf. Ties with the k-th largest are kept, so
 * a row can keep more than k entries.
 */
export class TopKLogitsWarper extends LogitsProcessor {
  readonly kind = 'top_k' as const;
  readonly topK: number;
  readonly minTokensToKeep: number;
  private scratch: Float32Array = new Float32Array(0);

  constructor(topK: number, minTokensToKeep = 1) {
    super();
    if (!Number.isInteger(topK) || topK <= 0) throw new RangeError(`topK has to be a strictly positive integer, but is ${topK}`);
    checkMinTokensToKeep(minTokensToKeep);
    this.topK = topK;
    this.minTokensToKeep = minTokensToKeep;
  }

  processInPlace(_inputIds: InputIds, scores: Float32Array, batch: number, vocab: number): Float32Array {
    checkShape(scores, batch, vocab, 'TopKLogitsWarper');
    const k = Math.min(Math.max(this.topK, this.minTokensToKeep), vocab);
    if (k >= vocab) return scores; // the k-th largest is the minimum: nothing is strictly below it
    if (this.scratch.length < k) this.scratch = new Float32Array(k);
    for (let b = 0; b < batch; b++) {
      const base = b * vocab;
      const kth = kthLargest(scores, base, vocab, k, this.scratch);
      for (let i = base; i < base + vocab; i++) if (scores[i] < kth) scores[i] = -Infinity;
    }
    return scores;
  }
}

// ------------------------------------------------------------------ float32 softmax as torch's CPU kernel
//
// torch.softmax(x, -1) on a CPU float32 tensor (aten/src/ATen/native/cpu/SoftMaxKernel.cpp,
// _vec_softmax_lastdim, AVX2 build) computes per row:
//   m = max(x);  e_i = Sleef_expf8_u10(x_i - m);  s = vec::reduce_all(+, e);  p_i = e_i * (1 / s)
// with every operation in float32. Reproduced here operation by operation:
//   - Sleef's expf (u10, the FMA variant of the AVX2 build) is emulated below; it differs from the
//     correctly rounded exp by 1 ulp on ~9% of inputs, so Math.exp would not do;
//   - vec::reduce_all sums lane l of an 8-wide accumulator over elements l, l+8, ... and then folds
//     the lanes as a tree: ((a0+a4) + (a2+a6)) + ((a1+a5) + (a3+a7)); rows shorter than 8 are
//     summed sequentially;
//   - the reciprocal is rounded, then each product.
// On the reference's 4 model warper cases this reproduces every one of the 1728 `probs` values bit
// for bit (Math.exp with a sequential sum misses ~7%), and top-p's cumulative sums with them.

const F32_BITS = new Float32Array(1);
const U32_OF_F32 = new Uint32Array(F32_BITS.buffer);

/** float32 fused multiply-add: a*b + c rounded once to float32 (a, b, c float32 values). */
export function fmaf(a: number, b: number, c: number): number {
  const p = a * b; // exact: 24-bit x 24-bit significands fit a double
  const s = p + c; // p + c rounded to double
  const r = f32(s);
  if (r === s || !Number.isFinite(r)) return r;
  // Rounding s again to float32 can differ from rounding p + c once only when s lies exactly half-way
  // between two float32 values. Then t = s + (s - r) is the other neighbour (exact); otherwise t lies
  // strictly between r and that neighbour and is no float32.
  const t = s + (s - r);
  if (f32(t) !== t) return r;
  const bb = s - p;
  const err = p - (s - bb) + (c - bb); // p + c = s + err exactly (TwoSum)
  if (err === 0) return r; // a true tie: f32 already rounded it to even
  return (err > 0) === (t > r) ? t : r;
}

/** Round half to even (vcvtps2dq with the default rounding mode). */
function rintEven(x: number): number {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

const SLEEF_R_LN2F = f32(1.442695040888963407359924681001892137426645954152985934135449406931);
const SLEEF_L2UF = f32(0.693145751953125);
const SLEEF_L2LF = f32(1.428606765330187045e-6);
const SLEEF_EXP_POLY = [
  0.000198527617612853646278381, 0.00139304355252534151077271, 0.00833336077630519866943359,
  0.0416664853692054748535156, 0.166666671633720397949219, 0.5,
].map(f32);
const POW2_BIAS = 80;
/** 2^k for k in [-80, 80] (the scaling steps of sleefExpf stay in [-75, 64]). */
const POW2 = Float64Array.from({ length: 2 * POW2_BIAS + 1 }, (_, i) => 2 ** (i - POW2_BIAS));

/**
 * exp of a float32 as SLEEF's xexpf (Sleef_expf8_u10 with FMA, which torch's Vectorized<float>::exp
 * calls): q = rint(d / ln2), Cody-Waite reduction s = d - q ln2 (two FMAs), a degree-6 polynomial
 * by FMAs, 1 + (s^2 u + s), scaled by 2^q in two multiplications; 0 below -104, +inf above 1e38.
 */
export function sleefExpf(d: number): number {
  if (d !== d) return NaN;
  if (d < -104) return 0;
  if (d > 1e38) return Infinity;
  const q = rintEven(f32(d * SLEEF_R_LN2F));
  let s = fmaf(q, -SLEEF_L2UF, d);
  s = fmaf(q, -SLEEF_L2LF, s);
  const c = SLEEF_EXP_POLY;
  let u = c[0];
  u = fmaf(u, s, c[1]);
  u = fmaf(u, s, c[2]);
  u = fmaf(u, s, c[3]);
  u = fmaf(u, s, c[4]);
  u = fmaf(u, s, c[5]);
  u = f32(1 + fmaf(f32(s * s), u, s));
  const h = q >> 1;
  return f32(f32(u * POW2[h + POW2_BIAS]) * POW2[q - h + POW2_BIAS]);
}

/** Lanes of torch's vectorised float reduction (Vectorized<float>::size() on an AVX2 build). */
export const TORCH_VEC_LANES = 8;

/**
 * Float32 sum in the order of torch's `vec::reduce_all` (see above) of a row of `rowLength`
 * values whose first `offset` entries are zeros and whose others are `v[0..rowLength-offset)`
 * (adding 0 changes no lane: top-p uses this to skip the -inf head of its sorted row).
 */
function torchSumF32(v: Float32Array, offset: number, rowLength: number, acc: Float32Array): number {
  const n = rowLength - offset;
  if (rowLength < TORCH_VEC_LANES) {
    let s = 0;
    for (let i = 0; i < n; i++) s = f32(s + v[i]);
    return s;
  }
  acc.fill(0);
  let lane = offset % TORCH_VEC_LANES;
  for (let i = 0; i < n; i++) {
    acc[lane] += v[i]; // Float32Array store rounds to float32
    if (++lane === TORCH_VEC_LANES) lane = 0;
  }
  const a0 = f32(acc[0] + acc[4]);
  const a1 = f32(acc[1] + acc[5]);
  const a2 = f32(acc[2] + acc[6]);
  const a3 = f32(acc[3] + acc[7]);
  return f32(f32(a0 + a2) + f32(a1 + a3));
}

/** Softmax of one row in float32 as torch's CPU kernel (see above). All -inf gives NaN, as torch. */
function softmaxRowF32(src: Float32Array, srcOff: number, n: number, dst: Float32Array, dstOff: number, acc: Float32Array): void {
  let m = -Infinity;
  for (let i = 0; i < n; i++) {
    const x = src[srcOff + i];
    if (x > m || x !== x) m = x;
  }
  for (let i = 0; i < n; i++) dst[dstOff + i] = sleefExpf(f32(src[srcOff + i] - m));
  const s = torchSumF32(dst.subarray(dstOff, dstOff + n), 0, n, acc);
  const inv = f32(1 / s);
  for (let i = 0; i < n; i++) dst[dstOff + i] = dst[dstOff + i] * inv;
}

/**
 * Row-wise softmax of [batch, vocab] float32 scores, reproducing torch.softmax(scores, -1) on CPU
 * (see softmaxRowF32). -inf scores get probability 0. Returns a new array.
 */
export function softmaxF32(scores: Float32Array, batch: number, vocab: number): Float32Array {
  checkShape(scores, batch, vocab, 'softmaxF32');
  const out = new Float32Array(scores.length);
  const acc = new Float32Array(TORCH_VEC_LANES);
  for (let b = 0; b < batch; b++) softmaxRowF32(scores, b * vocab, vocab, out, b * vocab, acc);
  return out;
}

// ------------------------------------------------------------------ top-p

/** Largest vocabulary for which (order key of a float32) * 2^21 + index is an exact double. */
const PACK_INDEX_BITS = 21;
const PACK_SCALE = 2 ** PACK_INDEX_BITS;

/** Maps a non-NaN float32 to an unsigned 32-bit key with the same order. */
function orderKeyF32(x: number): number {
  F32_BITS[0] = x;
  const u = U32_OF_F32[0];
  return u & 0x80000000 ? (~u >>> 0) : (u | 0x80000000) >>> 0;
}

/**
 * transformers' TopPLogitsWarper (nucleus filtering), per row:
 * sort the scores ascending; p = softmax(sorted) in float32 exactly as torch's CPU kernel (see
 * softmaxF32: Sleef exp, AVX2 lane-tree sum, reciprocal multiply); c = cumsum(p) (torch accumulates a
 * float cumsum in double and rounds each output to float32); remove every sorted position with
 * c <= 1 - topP (the threshold is the double 1 - topP rounded to float32, as torch casts the
 * scalar to the tensor's dtype), except the last `minTokensToKeep` positions (the largest scores);
 * removed scores become -inf.
 *
 * Ties are sorted by index (stable sort). Entries that are already -inf sort first and have
 * probability 0, so only the finite ones are sorted; their positions in the full row are kept for
 * the softmax lane order. topP = 1 removes nothing; topP = 0 keeps exactly `minTokensToKeep`.
 */
export class TopPLogitsWarper extends LogitsProcessor {
  readonly kind = 'top_p' as const;
  readonly topP: number;
  readonly minTokensToKeep: number;
  private keys: Float64Array = new Float64Array(0);
  private idx: Int32Array = new Int32Array(0);
  private vals: Float32Array = new Float32Array(0);
  private readonly acc = new Float32Array(TORCH_VEC_LANES);

  constructor(topP: number, minTokensToKeep = 1) {
    super();
    if (typeof topP !== 'number' || !(topP >= 0 && topP <= 1)) throw new RangeError(`topP has to be a number in [0, 1], but is ${topP}`);
    checkMinTokensToKeep(minTokensToKeep);
    this.topP = topP;
    this.minTokensToKeep = minTokensToKeep;
  }

  processInPlace(_inputIds: InputIds, scores: Float32Array, batch: number, vocab: number): Float32Array {
    checkShape(scores, batch, vocab, 'TopPLogitsWarper');
    if (this.keys.length < vocab) {
      this.keys = new Float64Array(vocab);
      this.idx = new Int32Array(vocab);
      this.vals = new Float32Array(vocab);
    }
    const threshold = f32(1 - this.topP);
    const keep = Math.min(this.minTokensToKeep, vocab);
    for (let b = 0; b < batch; b++) this.row(scores, b * vocab, vocab, threshold, keep);
    return scores;
  }

  private row(scores: Float32Array, base: number, vocab: number, threshold: number, keep: number): void {
    const { idx, vals } = this;
    // 1. ascending stable sort of the entries that are not -inf
    let m = 0;
    let hasNaN = false;
    for (let i = 0; i < vocab; i++) {
      const x = scores[base + i];
      if (x === -Infinity) continue;
      if (x !== x) hasNaN = true;
      idx[m++] = i;
    }
    if (m === 0) return; // all -inf: torch's softmax is NaN, nothing compares <= threshold
    if (hasNaN) return; // softmax is NaN everywhere: nothing is removed (as in torch)
    const negInf = vocab - m;
    if (vocab <= PACK_SCALE) {
      const keys = this.keys;
      for (let j = 0; j < m; j++) keys[j] = orderKeyF32(scores[base + idx[j]]) * PACK_SCALE + idx[j];
      const sorted = keys.subarray(0, m).sort();
      for (let j = 0; j < m; j++) idx[j] = sorted[j] % PACK_SCALE;
    } else {
      const sub = Array.from(idx.subarray(0, m));
      sub.sort((a, c) => scores[base + a] - scores[base + c] || a - c);
      idx.set(sub);
    }
    // 2. float32 softmax over the full sorted row (the -inf head contributes exp(-inf) = 0)
    const max = scores[base + idx[m - 1]];
    for (let j = 0; j < m; j++) vals[j] = sleefExpf(f32(scores[base + idx[j]] - max));
    const sum = torchSumF32(vals, negInf, vocab, this.acc);
    const inv = f32(1 / sum);
    // 3. cumsum (double accumulator, float32 outputs) and removal; the -inf head stays -inf
    const lastRemovable = vocab - keep; // sorted positions >= this are always kept
    let c = 0;
    for (let j = 0; j < m; j++) {
      const pos = negInf + j;
      if (pos >= lastRemovable) break;
      c += f32(vals[j] * inv);
      if (f32(c) <= threshold) scores[base + idx[j]] = -Infinity;
    }
  }
}

// ------------------------------------------------------------------ list

/** An ordered list of processors applied one after the other (transformers' LogitsProcessorList). */
export class LogitsProcessorList {
  readonly processors: LogitsProcessor[];

  constructor(processors: Iterable<LogitsProcessor> = []) {
    this.processors = [...processors];
  }

  get length(): number {
    return this.processors.length;
  }

  push(...p: LogitsProcessor[]): this {
    this.processors.push(...p);
    return this;
  }

  /** Applies every processor in order to `scores`, in place; returns `scores`. */
  processInPlace(inputIds: InputIds, scores: Float32Array, batch: number, vocab: number): Float32Array {
    checkShape(scores, batch, vocab, 'LogitsProcessorList');
    for (const p of this.processors) p.processInPlace(inputIds, scores, batch, vocab);
    return scores;
  }

  /** Returns the processed scores as a new array; `scores` is not modified. */
  process(inputIds: InputIds, scores: Float32Array, batch: number, vocab: number): Float32Array {
    return this.processInPlace(inputIds, scores.slice(), batch, vocab);
  }

  /** Like `process`, also returning a copy of the scores after each processor (for checks and debugging). */
  processWithTrace(inputIds: InputIds, scores: Float32Array, batch: number, vocab: number): { scores: Float32Array; trace: { kind: LogitsProcessorKind; scores: Float32Array }[] } {
    checkShape(scores, batch, vocab, 'LogitsProcessorList');
    const cur = scores.slice();
    const trace: { kind: LogitsProcessorKind; scores: Float32Array }[] = [];
    for (const p of this.processors) {
      p.processInPlace(inputIds, cur, batch, vocab);
      trace.push({ kind: p.kind, scores: cur.slice() });
    }
    return { scores: cur, trace };
  }
}
