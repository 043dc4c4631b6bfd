// Attention of a decode step over the KV cache, in a small WebAssembly SIMD module of our own.
//
// Why not tfjs: a decode step attends with one query per (candidate, head) to that candidate's own
// keys. Every (candidate, head) has different keys, so it is a batch of tiny matrix-vector
// products, and tfjs-wasm runs batched products of more than one entry through a scalar loop
// (measured: [128, 1, 64] x [128, 64, 448] in 15 ms, 0.25 GMAC/s; the products themselves are
// 3.7 M multiply-adds). XNNPACK is only reached for batch-1 products, and splitting into 128 of
// them costs 128 dispatches per layer. No npm package offers a batched dot product in wasm, and
// the kernels needed are two loops, so they are written here, directly in the wasm binary format.
//
// The module owns its memory (its own address space, beside tfjs-wasm's 4 GiB heap), where the KV
// caches live (kv_cache.ts). Two products, each in a few size classes, on float32 with f32x4
// arithmetic (fused multiply-adds where the engine has relaxed SIMD), and a softmax:
//   scores(q, k, out, nq, nk, d, qs, ks, os):   out[i*os + j] = sum_t q[i*qs + t] * k[j*ks + t]
//   context(p, v, out, nq, nk, d, ps, vs, os, acc): out[i*os + t] (+)= sum_j p[i*ps + j] * v[j*vs + t]
// Pointers are byte offsets into the module's memory, strides and sizes in floats; d % 4 == 0.
import { HEADER, I32, V128, addr, expF32x4, f32x4, forRange, funcBody, hasRelaxedSimd, i32FnType, madd, name, op, section, uleb, vec } from './wasm_binary';

/**
 * scores(q, k, out, nq, nk, d, qs, ks, os). With `unroll` 4, the dot product takes 16 floats per
 * iteration into four accumulators (d % 16 == 0): fewer loop instructions per multiply, and four
 * independent additions in flight.
 */
function scoresBody(unroll: 1 | 4, fma: boolean): number[] {
  // params 0..8: q k out nq nk d qs ks os; locals 9 i, 10 j, 11 qp, 12 kp, 13 t (i32), 14.. acc, qv, kv (v128)
  const [q, k, out, nq, nk, d, qs, ks, os, i, j, qp, kp, t] = Array.from({ length: 14 }, (_, n) => n);
  const acc = [14, 15, 16, 17].slice(0, unroll);
  const [qv, kv] = [14 + unroll, 15 + unroll];
  const body: number[] = [];
  for (let u = 0; u < unroll; u++) {
    body.push(...loadAt(qp, u * 16), ...op.set(qv), ...loadAt(kp, u * 16), ...op.set(kv), ...madd(fma, qv, kv, acc[u]), ...op.set(acc[u]));
  }
  const dot = [
    ...acc.flatMap((a) => [...op.f32(0), ...op.f32x4Splat, ...op.set(a)]),
    ...addr(q, i, qs), ...op.set(qp),
    ...addr(k, j, ks), ...op.set(kp),
    ...op.get(d), ...op.set(t),
    ...op.loop,
    ...body,
    ...op.get(qp), ...op.i32(16 * unroll), ...op.i32Add, ...op.set(qp),
    ...op.get(kp), ...op.i32(16 * unroll), ...op.i32Add, ...op.set(kp),
    ...op.get(t), ...op.i32(4 * unroll), ...op.i32Sub, ...op.tee(t), ...op.i32Eqz, ...op.i32Eqz, ...op.brIf(0),
    ...op.end,
    // acc = (acc0 + acc1) + (acc2 + acc3); out[i*os + j] = (l0 + l1) + (l2 + l3)
    ...(unroll === 4 ? [...op.get(acc[0]), ...op.get(acc[1]), ...op.f32x4Add, ...op.get(acc[2]), ...op.get(acc[3]), ...op.f32x4Add, ...op.f32x4Add, ...op.set(acc[0])] : []),
    ...addr(out, i, os), ...op.get(j), ...op.i32(2), ...op.i32Shl, ...op.i32Add,
    ...op.get(acc[0]), ...op.f32x4Lane(0), ...op.get(acc[0]), ...op.f32x4Lane(1), ...op.f32Add,
    ...op.get(acc[0]), ...op.f32x4Lane(2), ...op.get(acc[0]), ...op.f32x4Lane(3), ...op.f32Add, ...op.f32Add,
    ...op.f32Store,
  ];
  return [...forRange(i, nq, forRange(j, nk, dot))];
}

/** v128.load at local `base` + `offset` bytes. */
function loadAt(base: number, offset: number): number[] {
  return [...op.get(base), 0xfd, 0x00, 0x04, ...uleb(offset)];
}

/** i8x16.shuffle of two v128 by 32-bit lanes (0..3 from the first, 4..7 from the second). */
const shuffle32 = (lanes: number[]) => [0xfd, 0x0d, ...lanes.flatMap((l) => [0, 1, 2, 3].map((b) => l * 4 + b))];

/** A stride in floats, as bytes (on the stack). */
const rowBytes = (stride: number) => [...op.get(stride), ...op.i32(2), ...op.i32Shl];

/** Leaves on the stack the four horizontal sums of accumulators a..d, as one vector [sum a, sum b, sum c, sum d]. */
function sum4(acc: number[], t0: number, t1: number): number[] {
  // [a0 a1 a2 a3], [b..] -> [a0+a1, b0+b1, a2+a3, b2+b3] (the same for c, d) -> [(a0+a1)+(a2+a3), ...]
  return [
    ...op.get(acc[0]), ...op.get(acc[1]), ...shuffle32([0, 4, 2, 6]), ...op.get(acc[0]), ...op.get(acc[1]), ...shuffle32([1, 5, 3, 7]), ...op.f32x4Add, ...op.set(t0),
    ...op.get(acc[2]), ...op.get(acc[3]), ...shuffle32([0, 4, 2, 6]), ...op.get(acc[2]), ...op.get(acc[3]), ...shuffle32([1, 5, 3, 7]), ...op.f32x4Add, ...op.set(t1),
    ...op.get(t0), ...op.get(t1), ...shuffle32([0, 1, 4, 5]), ...op.get(t0), ...op.get(t1), ...shuffle32([2, 3, 6, 7]), ...op.f32x4Add,
  ];
}

/**
 * scoresQ(q, k, out, nq, nk, d, qs, ks, os) for `queries` (1 or 2) queries at a time and four keys
 * (nq % queries == 0, nk % 4 == 0, d % 16 == 0). Each key vector loaded feeds every query of the
 * tile, and each query vector four keys: with two queries, 8 independent chains of multiply-adds
 * and 6 loads per 8 of them, where one query at a time needs 5 per 4. The shared prefix (every
 * candidate's query against the same keys) takes two; a row's own keys, one. Each score sums
 * lanes t, t+4, .. and then the lanes pairwise, as the single-key kernel does.
 */
function scoresTileBody(queries: 1 | 2, fma: boolean): number[] {
  // params 0..8: q k out nq nk d qs ks os; i32 locals 9 i, 10 j, 11 qp0, 12 qp1, 13 t, 14..17 key pointers;
  // v128 locals from 18: acc [query][key], then qv per query, kv, two temporaries
  const [q, k, out, nq, nk, d, qs, ks, os, i, j, , , t] = Array.from({ length: 14 }, (_, n) => n);
  const qp = [11, 12].slice(0, queries);
  const keys = [14, 15, 16, 17];
  const acc = Array.from({ length: queries }, (_, a) => [0, 1, 2, 3].map((c) => 18 + a * 4 + c));
  const qv = qp.map((_, a) => 18 + queries * 4 + a);
  const kv = 18 + queries * 5;
  const [t0, t1] = [kv + 1, kv + 2];
  const body: number[] = [];
  for (let u = 0; u < 4; u++) {
    qp.forEach((p, a) => body.push(...loadAt(p, u * 16), ...op.set(qv[a])));
    for (let c = 0; c < 4; c++) {
      body.push(...loadAt(keys[c], u * 16), ...op.set(kv));
      for (let a = 0; a < queries; a++) body.push(...madd(fma, qv[a], kv, acc[a][c]), ...op.set(acc[a][c]));
    }
  }
  const step = (x: number) => [...op.get(x), ...op.i32(64), ...op.i32Add, ...op.set(x)];
  const tile = [
    ...acc.flat().flatMap((x) => [...op.v128Zero, ...op.set(x)]),
    ...addr(q, i, qs), ...op.set(qp[0]),
    ...(queries === 2 ? [...op.get(qp[0]), ...rowBytes(qs), ...op.i32Add, ...op.set(qp[1])] : []),
    ...addr(k, j, ks), ...op.set(keys[0]),
    ...keys.slice(1).flatMap((x, c) => [...op.get(keys[c]), ...rowBytes(ks), ...op.i32Add, ...op.set(x)]),
    ...op.get(d), ...op.set(t),
    ...op.loop,
    ...body,
    ...qp.flatMap(step), ...keys.flatMap(step),
    ...op.get(t), ...op.i32(16), ...op.i32Sub, ...op.tee(t), ...op.i32Eqz, ...op.i32Eqz, ...op.brIf(0),
    ...op.end,
    ...acc.flatMap((row, a) => [
      // out + ((i + a) * os + j) * 4; v128.store with 4-byte alignment: a row of scores starts anywhere
      ...addr(out, i, os), ...(a ? [...rowBytes(os), ...op.i32Add] : []), ...op.get(j), ...op.i32(2), ...op.i32Shl, ...op.i32Add,
      ...sum4(row, t0, t1),
      ...op.storeOff(0),
    ]),
  ];
  return forRange(i, nq, forRange(j, nk, tile, 4), queries);
}

/**
 * contextQ(p, v, out, nq, nk, d, ps, vs, os, accumulate) for `queries` (1 or 2) queries at a time,
 * `width` vectors of each output row per pass (d % (4 * width) == 0): the outputs stay in
 * registers over all nk values, where an axpy per value would load and store them nk times, and
 * each value vector loaded feeds every query of the tile. Each output is the same chain as before:
 * (start + p0 v0) + p1 v1 + ..., in the order of the values.
 */
function contextTileBody(queries: 1 | 2, width: number, fma: boolean): number[] {
  // params 0..9: p v out nq nk d ps vs os accumulate; i32 locals 10 i, 11 j, 12 c (byte column),
  // 13 dBytes, 14 vp, 15..16 pp, 17..18 o; v128 locals from 19: acc [query][width], w per query, vv
  const [p, v, out, nq, nk, d, ps, vs, os, accumulate, i, j, c, dBytes, vp] = Array.from({ length: 15 }, (_, n) => n);
  const pp = [15, 16].slice(0, queries);
  const o = [17, 18].slice(0, queries);
  const acc = Array.from({ length: queries }, (_, a) => Array.from({ length: width }, (_, u) => 19 + a * width + u));
  const w = pp.map((_, a) => 19 + queries * width + a);
  const vv = 19 + queries * (width + 1);
  const perValue = [
    ...pp.flatMap((x, a) => [...op.get(x), ...op.loadSplat(0), ...op.set(w[a]), ...op.get(x), ...op.i32(4), ...op.i32Add, ...op.set(x)]),
    ...Array.from({ length: width }, (_, u) => [
      ...loadAt(vp, u * 16), ...op.set(vv),
      ...acc.flatMap((row, a) => [...madd(fma, w[a], vv, row[u]), ...op.set(row[u])]),
    ]).flat(),
    ...op.get(vp), ...rowBytes(vs), ...op.i32Add, ...op.set(vp),
  ];
  const pass = [
    ...o.flatMap((x, a) => [...addr(out, i, os), ...(a ? [...rowBytes(os), ...op.i32Add] : []), ...op.get(c), ...op.i32Add, ...op.set(x)]),
    ...acc.flat().flatMap((x) => [...op.v128Zero, ...op.set(x)]),
    ...op.get(accumulate), ...op.if,
    ...acc.flatMap((row, a) => row.flatMap((x, u) => [...op.get(o[a]), ...op.loadOff(u * 16), ...op.set(x)])),
    ...op.end,
    ...pp.flatMap((x, a) => [...addr(p, i, ps), ...(a ? [...rowBytes(ps), ...op.i32Add] : []), ...op.set(x)]),
    ...op.get(v), ...op.get(c), ...op.i32Add, ...op.set(vp),
    ...forRange(j, nk, perValue),
    ...acc.flatMap((row, a) => row.flatMap((x, u) => [...op.get(o[a]), ...op.get(x), ...op.storeOff(u * 16)])),
  ];
  return [
    ...op.get(d), ...op.i32(2), ...op.i32Shl, ...op.set(dBytes),
    ...forRange(i, nq, forRange(c, dBytes, pass, width * 16), queries),
  ];
}

/**
 * softmax(at, rows, n): each of `rows` rows of n floats (n % 4 == 0, 16-byte aligned) becomes
 * softmax(row) in place, max subtracted as torch does. The JS loop this replaces took ~35 ms of a
 * 30-layer batch-16 step at 500 positions, most of it in Math.exp (expF32x4 says how exp is
 * computed here). Its clamp at -87.3 gives padding lanes of -Infinity a tiny value, nothing
 * against a sum of at least 1.
 */
function softmaxBody(): number[] {
  // params 0..2: at rows n; locals 3 r, 4 p, 5 end, 6 x (i32); 7 v, 8 m, 9 sum, 10 k, 11 j (v128)
  const [at, rows, n, r, p, end, x] = Array.from({ length: 7 }, (_, i) => i);
  const [v, m, sum, k, j] = [7, 8, 9, 10, 11];
  const { f32x4Mul: mul, f32x4Add: add, f32x4Sub: sub, f32x4Max: fmax } = op;
  const scalarMax = [0x97];
  const lanes = (local: number, combine: number[]) => [
    ...op.get(local), ...op.f32x4Lane(0), ...op.get(local), ...op.f32x4Lane(1), ...combine,
    ...op.get(local), ...op.f32x4Lane(2), ...op.get(local), ...op.f32x4Lane(3), ...combine, ...combine,
  ];
  // for (x = p; x < end; x += 16) body
  const sweep = (body: number[]) => [
    ...op.get(p), ...op.set(x),
    ...op.loop,
    ...body,
    ...op.get(x), ...op.i32(16), ...op.i32Add, ...op.tee(x), ...op.get(end), ...op.i32GeU, ...op.i32Eqz, ...op.brIf(0),
    ...op.end,
  ];
  const exp = expF32x4(v, k, j);
  const row = [
    ...op.get(at), ...op.get(r), ...op.get(n), ...op.i32Mul, ...op.i32(2), ...op.i32Shl, ...op.i32Add, ...op.tee(p),
    ...op.get(n), ...op.i32(2), ...op.i32Shl, ...op.i32Add, ...op.set(end),
    ...f32x4(-Infinity), ...op.set(m),
    ...sweep([...op.get(m), ...op.get(x), ...op.v128Load, ...fmax, ...op.set(m)]),
    ...lanes(m, scalarMax), ...op.f32x4Splat, ...op.set(m),
    ...f32x4(0), ...op.set(sum),
    ...sweep([...op.get(x), ...op.v128Load, ...op.get(m), ...sub, ...op.set(v), ...exp, ...op.get(x), ...op.get(v), ...op.v128Store, ...op.get(sum), ...op.get(v), ...add, ...op.set(sum)]),
    ...op.f32(1), ...lanes(sum, op.f32Add), 0x95, ...op.f32x4Splat, ...op.set(sum), // f32.div: 1 / sum
    ...sweep([...op.get(x), ...op.get(x), ...op.v128Load, ...op.get(sum), ...mul, ...op.v128Store]),
  ];
  return forRange(r, rows, row);
}

/** The kernels a module exports: name and body (params as their type says). */
function kernelBodies(fma: boolean): Array<{ name: string; type: 0 | 1 | 2; locals: number[][]; code: number[] }> {
  const scores = (name: string, code: number[], i32s: number, v128s: number) => ({ name, type: 0 as const, locals: [[i32s, I32], [v128s, V128]], code });
  const context = (queries: 1 | 2, width: number) => ({
    name: `context_q${queries}w${width}`, type: 1 as const, locals: [[9, I32], [queries * (width + 1) + 1, V128]], code: contextTileBody(queries, width, fma),
  });
  return [
    scores('scores', scoresBody(1, fma), 5, 3),
    scores('scores16', scoresBody(4, fma), 5, 6),
    scores('scores_q1', scoresTileBody(1, fma), 9, 1 * 5 + 3),
    scores('scores_q2', scoresTileBody(2, fma), 9, 2 * 5 + 3),
    context(2, 4), context(2, 1), context(1, 8), context(1, 4), context(1, 1),
    { name: 'softmax', type: 2, locals: [[4, I32], [5, V128]], code: softmaxBody() },
  ];
}

function moduleBytes(fma: boolean): Uint8Array {
  const kernels = kernelBodies(fma);
  const bytes = [
    ...HEADER,
    ...section(1, vec([i32FnType(9), i32FnType(10), i32FnType(3)])),
    ...section(3, vec(kernels.map((k) => [k.type]))),
    // one memory, 16 pages to start, growable to 65536 pages (4 GiB)
    ...section(5, vec([[0x01, ...uleb(16), ...uleb(65536)]])),
    ...section(7, vec([[...name('memory'), 0x02, 0x00], ...kernels.map((k, i) => [...name(k.name), 0x00, ...uleb(i)])])),
    ...section(10, vec(kernels.map((k) => funcBody(k.locals, k.code)))),
  ];
  return Uint8Array.from(bytes);
}

type ScoresFn = (q: number, k: number, out: number, nq: number, nk: number, d: number, qs: number, ks: number, os: number) => void;
type ContextFn = (p: number, v: number, out: number, nq: number, nk: number, d: number, ps: number, vs: number, os: number, accumulate: number) => void;

interface KernelExports {
  memory: WebAssembly.Memory;
  /** one key at a time, 4 floats per iteration (d % 4 == 0) */
  scores: ScoresFn;
  /** the same, 16 floats per iteration (d % 16 == 0) */
  scores16: ScoresFn;
  /** one or two queries against four keys at a time (nk % 4 == 0, d % 16 == 0) */
  scores_q1: ScoresFn;
  scores_q2: ScoresFn;
  /** queries q at a time, w vectors of the output per pass (d % 4w == 0) */
  context_q2w4: ContextFn;
  context_q2w1: ContextFn;
  context_q1w8: ContextFn;
  context_q1w4: ContextFn;
  context_q1w1: ContextFn;
  /** softmax of rows in place (n % 4 == 0) */
  softmax: (at: number, rows: number, n: number) => void;
}

/** A block of floats in the kernels' memory: `ptr` in bytes, `size` in floats. */
export interface Block {
  ptr: number;
  size: number;
}

/**
 * The kernels and the memory they work in, one per thread (each tensor-parallel rank has its own).
 * Blocks are handed out first-fit from a free list and merged when returned.
 */
export class AttentionKernels {
  private readonly k: KernelExports;
  private free: Block[] = [];
  private top = 0;
  /** the highest `top` reached: memory above it was never touched, so it is not resident */
  private highWater = 0;
  private view: Float32Array;

  /** @param fma whether the products multiply-add in one rounding (relaxed SIMD), as the dense products do */
  private constructor(readonly fma: boolean) {
    // Compiled synchronously: the module is a few KB.
    const instance = new WebAssembly.Instance(new WebAssembly.Module(moduleBytes(fma) as Uint8Array<ArrayBuffer>), {});
    this.k = instance.exports as unknown as KernelExports;
    this.view = new Float32Array(this.k.memory.buffer);
  }

  private static instance: AttentionKernels | undefined;

  /** This thread's kernels if anything made them (so that asking about memory makes none). */
  static existing(): AttentionKernels | undefined {
    return AttentionKernels.instance;
  }

  /** This thread's kernels (with FMA where the engine has relaxed SIMD). */
  static get(): AttentionKernels {
    return (AttentionKernels.instance ??= new AttentionKernels(hasRelaxedSimd()));
  }

  /** Kernels with a memory of their own, FMA or not (for tests and comparisons). */
  static create(fma: boolean): AttentionKernels {
    return new AttentionKernels(fma);
  }

  /** The memory as floats (a new view after the memory grew). */
  floats(): Float32Array {
    if (this.view.buffer !== this.k.memory.buffer) this.view = new Float32Array(this.k.memory.buffer);
    return this.view;
  }

  alloc(size: number): Block {
    // 16-byte alignment for the vector loads: sizes in multiples of 4 floats.
    const n = Math.max(4, Math.ceil(size / 4) * 4);
    const i = this.free.findIndex((b) => b.size >= n);
    if (i >= 0) {
      const b = this.free[i];
      if (b.size === n) this.free.splice(i, 1);
      else this.free[i] = { ptr: b.ptr + n * 4, size: b.size - n };
      return { ptr: b.ptr, size: n };
    }
    const ptr = this.top;
    const end = ptr + n * 4;
    const have = this.k.memory.buffer.byteLength;
    if (end > have) {
      const pages = Math.ceil((end - have) / 65536);
      try {
        this.k.memory.grow(Math.max(pages, Math.ceil(have / 65536 / 4)));
      } catch {
        try {
          this.k.memory.grow(pages);
        } catch (e) {
          throw new RangeError(`the KV caches need ${(end / 1e9).toFixed(2)} GB, more than the attention kernels' memory can grow to (4 GiB): use a smaller batch or fewer new tokens (${(e as Error).message})`);
        }
      }
    }
    this.top = end;
    this.highWater = Math.max(this.highWater, end);
    return { ptr, size: n };
  }

  release(b: Block): void {
    this.free.push({ ptr: b.ptr, size: b.size });
    this.free.sort((a, c) => a.ptr - c.ptr);
    const merged: Block[] = [];
    for (const f of this.free) {
      const last = merged[merged.length - 1];
      if (last && last.ptr + last.size * 4 === f.ptr) last.size += f.size;
      else merged.push({ ...f });
    }
    // The block at the top goes back to the untouched region.
    const last = merged[merged.length - 1];
    if (last && last.ptr + last.size * 4 === this.top) {
      this.top = last.ptr;
      merged.pop();
    }
    this.free = merged;
  }

  /**
   * Bytes of the memory ever handed out (its high-water mark): what the KV caches have made
   * resident at their largest. A wasm memory never shrinks, and freed blocks stay mapped.
   */
  get highWaterBytes(): number {
    return this.highWater;
  }

  /** Floats handed out (for tests: caches must give everything back). */
  get used(): number {
    return this.top / 4 - this.free.reduce((n, b) => n + b.size, 0);
  }

  /** out[i*os + j] = sum_t q[i*qs + t] * k[j*ks + t] for i < nq, j < nk (byte pointers, strides in floats, d % 4 == 0). */
  scores(q: number, k: number, out: number, nq: number, nk: number, d: number, qs: number, ks: number, os: number): void {
    if (nq === 0 || nk === 0) return;
    let done = 0;
    if (d % 16 === 0) {
      done = nk - (nk % 4);
      const pairs = nq - (nq % 2);
      if (done > 0 && pairs > 0) this.k.scores_q2(q, k, out, pairs, done, d, qs, ks, os);
      if (done > 0 && pairs < nq) this.k.scores_q1(q + pairs * qs * 4, k, out + pairs * os * 4, 1, done, d, qs, ks, os);
    }
    if (done < nk) (d % 16 === 0 ? this.k.scores16 : this.k.scores)(q, k + done * ks * 4, out + done * 4, nq, nk - done, d, qs, ks, os);
  }

  /** out[i*os + t] (+)= sum_j p[i*ps + j] * v[j*vs + t] for i < nq, t < d (d % 4 == 0), in the order of j. */
  context(p: number, v: number, out: number, nq: number, nk: number, d: number, ps: number, vs: number, os: number, accumulate: boolean): void {
    if (nq === 0) return;
    const acc = accumulate ? 1 : 0;
    const pairs = nq - (nq % 2);
    if (pairs > 0) (d % 16 === 0 ? this.k.context_q2w4 : this.k.context_q2w1)(p, v, out, pairs, nk, d, ps, vs, os, acc);
    if (pairs < nq) {
      const single = d % 32 === 0 ? this.k.context_q1w8 : d % 16 === 0 ? this.k.context_q1w4 : this.k.context_q1w1;
      single(p + pairs * ps * 4, v, out + pairs * os * 4, 1, nk, d, ps, vs, os, acc);
    }
  }

  /** Rows of n floats at byte offset `at` (16-byte aligned, n % 4 == 0) each become their softmax, in place. */
  softmax(at: number, rows: number, n: number): void {
    if (n % 4 !== 0 || at % 16 !== 0) throw new Error(`softmax: rows must be 16-byte aligned multiples of 4 floats (at ${at}, n ${n})`);
    if (rows > 0 && n > 0) this.k.softmax(at, rows, n);
  }
}
