// The wasm dense-product kernel that replaces tfjs-backend-wasm's _FusedMatMul (src/wasm_gemm.ts):
// every output against a float64 product over row counts around its 6-row blocks and its row
// chunks, column counts around its 8-column strips, with and without bias, FMA and not; that
// tf.fused.matMul on wasm is routed to it, that the packed weights go with the weight tensors, and
// that the products it does not take still come out right.
import './helpers/platform';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend, setBackendLogger } from '../src/backend';
import { REPACK_AFTER, WasmBackendLike, WasmGemm, hasRelaxedSimd } from '../src/wasm_gemm';
import { matMulKernelSetting } from '../src/wasm_kernels';
import { isUserError } from '../src/cli/errors';

setBackendLogger(() => {});

/** Deterministic values in [-1, 1) (a small LCG), so every run checks the same products. */
function values(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}

/**
 * The largest error of `got` against the float64 product, in units of the float32 bound for a
 * chain of k multiply-adds (k * 2^-24 * sum |a||b| + |bias| * 2^-24): at most 1 when right.
 */
function worstError(got: Float32Array, a: Float32Array, b: Float32Array, bias: Float32Array | null, m: number, k: number, n: number): number {
  let worst = 0;
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let exact = bias ? bias[j] : 0;
      let mag = bias ? Math.abs(bias[j]) : 0;
      for (let t = 0; t < k; t++) {
        exact += a[i * k + t] * b[t * n + j];
        mag += Math.abs(a[i * k + t] * b[t * n + j]);
      }
      const bound = (k + 1) * 2 ** -24 * mag + 1e-30;
      worst = Math.max(worst, Math.abs(got[i * n + j] - exact) / bound);
    }
  }
  return worst;
}

function gemmOf(): WasmGemm {
  const g = WasmGemm.for(tf.backend() as unknown as WasmBackendLike);
  if (!g) throw new Error('no wasm gemm on this backend');
  return g;
}

const shapes: [number, number, number][] = [
  [1, 1, 1],
  [1, 3, 5],
  [1, 64, 64], // one row: four strips at a time
  [1, 1024, 40], // ... and one strip left over
  [1, 17, 33],
  [5, 17, 8],
  [6, 8, 16],
  [7, 64, 9],
  [12, 33, 24],
  [13, 5, 7],
  [16, 1024, 40],
  [17, 100, 15],
  [130, 1024, 12], // more rows than one chunk (126 rows of k = 1024)
  [3, 2048, 33],
];

test('tf.fused.matMul on wasm (our kernel) matches the float64 product, with and without bias', async () => {
  await initBackend('wasm');
  expect(gemmOf()).toBeDefined();
  for (const [m, k, n] of shapes) {
    for (const withBias of [true, false]) {
      const a = values(m * k, m * 7 + k);
      const b = values(k * n, n * 13 + k);
      const bias = withBias ? values(n, n + 5) : null;
      const got = tf.tidy(() => tf.fused.matMul({ a: tf.tensor2d(a, [m, k]), b: tf.tensor2d(b, [k, n]), bias: bias ? tf.tensor1d(bias) : undefined }).dataSync() as Float32Array);
      expect({ shape: [m, k, n], withBias, worst: worstError(got, a, b, bias, m, k, n) <= 1 }).toEqual({ shape: [m, k, n], withBias, worst: true });
    }
  }
});

test('a weight takes the layout of its products: groups of strips for single rows, strips for more, repacked after REPACK_AFTER misfits, the same values in both', async () => {
  await initBackend('wasm');
  const g = gemmOf();
  const before = g.packedFloats;
  const [k, n] = [64, 44]; // five whole strips and a partial one: two groups
  const wData = values(k * n, 41);
  const biasData = values(n, 42);
  const xData = values(5 * k, 43);
  const w = tf.tensor2d(wData, [k, n]);
  const bias = tf.tensor1d(biasData);
  const x5 = tf.tensor2d(xData, [5, k]);
  const x1 = tf.tensor2d(xData.slice(0, k), [1, k]); // x5's first row
  const product = (x: tf.Tensor2D) => tf.tidy(() => tf.fused.matMul({ a: x, b: w, bias }).dataSync() as Float32Array);
  const one = product(x1);
  expect(g.layoutOf(w as never)).toEqual([4]);
  expect(g.packedFloats - before).toBe(k * 64);
  expect(worstError(one, xData.slice(0, k), wData, biasData, 1, k, n)).toBeLessThanOrEqual(1);
  const firstRows: Float32Array[] = [];
  for (let i = 0; i < REPACK_AFTER; i++) {
    const five = product(x5);
    expect(worstError(five, xData, wData, biasData, 5, k, n)).toBeLessThanOrEqual(1);
    firstRows.push(five.slice(0, n));
    expect(g.layoutOf(w as never)).toEqual([i < REPACK_AFTER - 1 ? 4 : 1]);
  }
  expect(g.packedFloats - before).toBe(k * 48);
  // every output is the same chain of multiply-adds whichever the layout and the tile
  for (const row of firstRows) expect(Array.from(row)).toEqual(Array.from(one));
  for (let i = 0; i < REPACK_AFTER; i++) expect(Array.from(product(x1))).toEqual(Array.from(one));
  expect(g.layoutOf(w as never)).toEqual([4]);
  tf.dispose([w, bias, x5, x1]);
  expect(g.packedFloats).toBe(before);
  expect(g.layoutOf(w as never)).toEqual([]);
});

test('the products are ours, and a weight\'s packed copy goes when the weight is disposed', async () => {
  await initBackend('wasm');
  const g = gemmOf();
  const before = { tensors: tf.memory().numTensors, packed: g.packedFloats };
  const w = tf.tensor2d(values(64 * 20, 3), [64, 20]);
  const x = tf.tensor2d(values(4 * 64, 4), [4, 64]);
  tf.fused.matMul({ a: x, b: w }).dispose();
  expect(g.packedFloats - before.packed).toBe(64 * 24); // three strips of 8 columns
  tf.fused.matMul({ a: x, b: w }).dispose(); // the same weight: packed once
  expect(g.packedFloats - before.packed).toBe(64 * 24);
  w.dispose();
  x.dispose();
  expect({ tensors: tf.memory().numTensors, packed: g.packedFloats }).toEqual(before);
});

test('a weight shared by a reshape keeps its packed copy until its last reference goes', async () => {
  await initBackend('wasm');
  const g = gemmOf();
  const before = g.packedFloats;
  const wData = values(8 * 8, 9);
  const w = tf.tensor2d(wData, [8, 8]);
  const same = tf.reshape(w, [8, 8]) as tf.Tensor2D;
  const x = tf.ones([2, 8]) as tf.Tensor2D;
  tf.fused.matMul({ a: x, b: w }).dispose();
  w.dispose();
  expect(g.packedFloats - before).toBe(64);
  const y = tf.fused.matMul({ a: x, b: same });
  const got = Array.from(y.dataSync());
  const colSums = Array.from({ length: 8 }, (_, j) => wData.filter((_, i) => i % 8 === j));
  got.forEach((v, i) => expect(v).toBeCloseTo(colSums[i % 8].reduce((s, t) => s + t, 0), 5));
  tf.dispose([y, same, x]);
  expect(g.packedFloats).toBe(before);
});

test('a weight reshaped to another [K, N] is packed again for that shape, not read through the first', async () => {
  await initBackend('wasm');
  const g = gemmOf();
  const before = g.packedFloats;
  const wData = values(6 * 10, 31);
  const w = tf.tensor2d(wData, [6, 10]);
  const other = tf.reshape(w, [10, 6]) as tf.Tensor2D; // the same data
  const a6 = values(3 * 6, 32);
  const a10 = values(3 * 10, 33);
  const y1 = tf.tidy(() => tf.fused.matMul({ a: tf.tensor2d(a6, [3, 6]), b: w }).dataSync() as Float32Array);
  const y2 = tf.tidy(() => tf.fused.matMul({ a: tf.tensor2d(a10, [3, 10]), b: other }).dataSync() as Float32Array);
  expect(worstError(y1, a6, wData, null, 3, 6, 10)).toBeLessThanOrEqual(1);
  expect(worstError(y2, a10, wData, null, 3, 10, 6)).toBeLessThanOrEqual(1);
  expect(g.packedFloats - before).toBe(6 * 16 + 10 * 8);
  tf.dispose([w, other]);
  expect(g.packedFloats).toBe(before);
});

test('tf.matMul on wasm (attention\'s batched products) is ours for every entry, B^T and a broadcast b included', async () => {
  await initBackend('wasm');
  const g = gemmOf();
  // [lead, m, k, n, transposeB, b's lead]: entries around the 6-row blocks and 8-column strips,
  // q k^T as attention asks for it, one b for every entry, and plain 2-D products
  const cases: [number[], number, number, number, boolean, number[]][] = [
    [[2, 3], 13, 16, 21, true, [2, 3]],
    [[4], 7, 33, 8, false, [4]],
    [[3], 6, 64, 64, true, [3]],
    [[5], 1, 24, 40, false, [5]],
    [[2, 2], 9, 10, 17, false, [1, 1]],
    [[], 11, 12, 9, true, []],
  ];
  for (const [lead, m, k, n, transposeB, bLead] of cases) {
    const batch = lead.reduce((x, y) => x * y, 1);
    const bBatch = bLead.reduce((x, y) => x * y, 1);
    const a = values(batch * m * k, m + k);
    const b = values(bBatch * k * n, n + k);
    const stored = transposeB ? new Float32Array(b.length) : b;
    if (transposeB) for (let e = 0; e < bBatch; e++) for (let t = 0; t < k; t++) for (let j = 0; j < n; j++) stored[e * k * n + j * k + t] = b[e * k * n + t * n + j];
    const ours = g.products;
    const y = tf.tidy(() => {
      const out = tf.matMul(tf.tensor(a, [...lead, m, k]), tf.tensor(stored, [...bLead, ...(transposeB ? [n, k] : [k, n])]), false, transposeB);
      return { shape: out.shape, data: out.dataSync() as Float32Array };
    });
    expect(y.shape).toEqual([...lead, m, n]);
    expect(g.products).toBe(ours + 1); // one call for all the entries
    let worst = 0;
    for (let e = 0; e < batch; e++) {
      const be = bBatch === 1 ? 0 : e;
      worst = Math.max(worst, worstError(y.data.subarray(e * m * n, (e + 1) * m * n), a.subarray(e * m * k, (e + 1) * m * k), b.subarray(be * k * n, (be + 1) * k * n), null, m, k, n));
    }
    expect({ lead, m, k, n, transposeB, ok: worst <= 1 }).toEqual({ lead, m, k, n, transposeB, ok: true });
  }
  // A broadcast it does not take, and a shape error, still go to tfjs-wasm, which explains the latter.
  const before = g.products;
  expect(tf.tidy(() => tf.matMul(tf.ones([1, 2, 3]), tf.ones([4, 3, 5])).shape)).toEqual([4, 2, 5]);
  expect(() => tf.tidy(() => tf.matMul(tf.ones([2, 2, 3]), tf.ones([2, 4, 5])))).toThrow(/inner shapes/);
  expect(g.products).toBe(before);
});

test('products it does not take (transposes, activations, batches of weights) go to tfjs-wasm and are right', async () => {
  await initBackend('wasm');
  const g = gemmOf();
  const [m, k, n] = [5, 12, 7];
  const a = values(m * k, 1);
  const b = values(k * n, 2);
  const bT = new Float32Array(n * k);
  for (let t = 0; t < k; t++) for (let j = 0; j < n; j++) bT[j * k + t] = b[t * n + j];
  const ours = g.products;
  const got = tf.tidy(() => tf.fused.matMul({ a: tf.tensor2d(a, [m, k]), b: tf.tensor2d(bT, [n, k]), transposeB: true }).dataSync() as Float32Array);
  expect(worstError(got, a, b, null, m, k, n)).toBeLessThanOrEqual(1);
  const relu = tf.tidy(() => tf.fused.matMul({ a: tf.tensor2d(a, [m, k]), b: tf.tensor2d(b, [k, n]), activation: 'relu' }).dataSync() as Float32Array);
  const batched = tf.tidy(() => tf.fused.matMul({ a: tf.tensor3d(values(2 * m * k, 5), [2, m, k]), b: tf.tensor3d(values(2 * k * n, 6), [2, k, n]) }).shape);
  expect(batched).toEqual([2, m, n]);
  expect(g.products).toBe(ours);
  const plain = tf.tidy(() => tf.fused.matMul({ a: tf.tensor2d(a, [m, k]), b: tf.tensor2d(b, [k, n]) }).dataSync() as Float32Array);
  expect(g.products).toBe(ours + 1);
  // tfjs-wasm's product rounds each multiply-add twice, ours once with FMA: equal to ~1e-6
  relu.forEach((v, i) => expect(v).toBeCloseTo(Math.max(plain[i], 0), 5));
});

test('with and without FMA the kernel gives products within the float32 bound', async () => {
  await initBackend('wasm');
  const backend = tf.backend() as unknown as WasmBackendLike;
  const g = gemmOf();
  for (const fma of hasRelaxedSimd() ? [true, false] : [false]) {
    for (const [m, k, n] of [[16, 256, 20], [7, 31, 9]] as const) {
      const a = values(m * k, 11);
      const b = values(k * n, 12);
      const bias = values(n, 13);
      const [ta, tb, tbias] = [tf.tensor3d(a, [1, m, k]), tf.tensor3d(b, [1, k, n]), tf.tensor1d(bias)];
      const info = g.matMul(ta, tb, tbias, m, k, n, [1, m, n], fma);
      const got = Float32Array.from(backend.typedArrayFromHeap(info) as Float32Array);
      backend.disposeData(info.dataId);
      expect({ fma, shape: [m, k, n], ok: worstError(got, a, b, bias, m, k, n) <= 1 }).toEqual({ fma, shape: [m, k, n], ok: true });
      tf.dispose([ta, tb, tbias]);
    }
  }
});

test('CLVP_MATMUL: auto by default, simd or xnnpack when set, and a clear error otherwise', () => {
  const saved = process.env.CLVP_MATMUL;
  try {
    delete process.env.CLVP_MATMUL;
    expect(matMulKernelSetting()).toBe('auto');
    process.env.CLVP_MATMUL = 'xnnpack';
    expect(matMulKernelSetting()).toBe('xnnpack');
    process.env.CLVP_MATMUL = 'fast';
    expect(() => matMulKernelSetting()).toThrow(/CLVP_MATMUL must be auto, simd or xnnpack, got 'fast'/);
    let err: unknown;
    try {
      matMulKernelSetting();
    } catch (e) {
      err = e;
    }
    expect(isUserError(err)).toBe(true); // the CLI prints it as the user's to fix, not as an internal error
  } finally {
    if (saved === undefined) delete process.env.CLVP_MATMUL;
    else process.env.CLVP_MATMUL = saved;
  }
});

test('products on tensors past 2 GiB of heap (the published model\'s) are right', async () => {
  await initBackend('wasm');
  // Fill the heap past 2 GiB, so that what is allocated next has addresses with the top bit set.
  const filler = tf.zeros([560_000_000]);
  try {
    const [m, k, n] = [7, 40, 13];
    const a = values(m * k, 21);
    const b = values(k * n, 22);
    const bias = values(n, 23);
    const heapAt = (t: tf.Tensor) => (tf.backend() as unknown as WasmBackendLike).typedArrayFromHeap(t as never).byteOffset;
    // Earlier tests leave free holes below the filler: fill those that the inputs would land in.
    const holes: tf.Tensor[] = [];
    const high = <T extends tf.Tensor>(make: () => T): T => {
      let t = make();
      while (heapAt(t) < 2 ** 31 && holes.length < 100_000) {
        holes.push(t);
        t = make();
      }
      return t;
    };
    const ta = high(() => tf.tensor2d(a, [m, k]));
    const tb = high(() => tf.tensor2d(b, [k, n]));
    const tbias = high(() => tf.tensor1d(bias));
    tf.dispose(holes);
    for (const t of [ta, tb, tbias]) expect(heapAt(t)).toBeGreaterThan(2 ** 31);
    const got = tf.tidy(() => tf.fused.matMul({ a: ta, b: tb, bias: tbias }).dataSync() as Float32Array);
    expect(worstError(got, a, b, bias, m, k, n)).toBeLessThanOrEqual(1);
    tf.dispose([ta, tb, tbias]);
  } finally {
    filler.dispose();
  }
});
