// Batched matrix products for attention, routed by shape. On the wasm backend a batched matmul
// with more than one batch entry runs a plain loop (~1 GFLOP/s), while a batch-1 matmul goes to
// XNNPACK (~8-25 GFLOP/s, by machine). Once an entry is big enough for its dispatch (and its
// slice) not to matter, one batch-1 matmul per entry wins, however many entries there are.
// Measured on wasm (Xeon 2 GHz, 2 cores), batched vs per entry:
//   96 x [501,64]@[64,501] (the published speech encoder ranking 16 candidates, per rank of 2):
//     3647 vs 261 ms;  256 x [100,64]@[64,100]: 269 vs 45 ms;  192 x [20,64]@[64,20]: 9.6 vs 7.6 ms;
//   below ~64k multiply-adds per entry dispatch dominates: 96 x [1,64]@[64,501]: 10 vs 21 ms.
// (Entries used to be capped at 32, from measurements taken while tfjs-wasm's Slice still copied
// its whole input per slice: that cap sent the ranking's 96 heads down the plain loop, 125 s of a
// 190 s speech encoder call.)
import * as tf from '@tensorflow/tfjs-core';

const MIN_SPLIT_WORK = 64 * 64 * 16;

/**
 * Whether the backend's batched product runs every entry fast in one call (set by the wasm
 * kernels of our own, which replace tfjs-wasm's BatchMatMul; layers cannot import them).
 */
let batchedProductsNative: () => boolean = () => false;

export function setBatchedProductsNative(test: () => boolean): void {
  batchedProductsNative = test;
}

/** The test in place (for tests that swap it and put it back). */
export function batchedProductsNativeTest(): () => boolean {
  return batchedProductsNative;
}

/** Whether `n` products of [m, k] @ [k, cols] run faster one by one (see the measurements above). */
export function perEntryIsFaster(n: number, m: number, k: number, cols: number): boolean {
  return tf.getBackend() === 'wasm' && n > 1 && m * k * cols >= MIN_SPLIT_WORK && !batchedProductsNative();
}

/** a [..., M, K] @ b [..., K, N] (or b [..., N, K] with transposeB); batch dims must match. */
export function batchedMatMul(a: tf.Tensor, b: tf.Tensor, transposeB = false): tf.Tensor {
  return tf.tidy(() => {
    const r = a.rank;
    const batchShape = a.shape.slice(0, r - 2);
    const n = batchShape.reduce((x, y) => x * y, 1);
    const [m, k] = a.shape.slice(r - 2);
    const cols = transposeB ? b.shape[b.rank - 2] : b.shape[b.rank - 1];
    if (!perEntryIsFaster(n, m, k, cols)) {
      return tf.matMul(a, b, false, transposeB);
    }
    const as = tf.split(tf.reshape(a, [n, m, k]), n, 0);
    let b3 = tf.reshape(b, [n, ...b.shape.slice(b.rank - 2)]);
    // XNNPACK's fast path wants b as [K, N]: transpose once rather than per entry.
    if (transposeB) b3 = tf.transpose(b3, [0, 2, 1]);
    const bs = tf.split(b3, n, 0);
    return tf.reshape(tf.concat(as.map((x, i) => tf.matMul(x, bs[i])), 0), [...batchShape, m, cols]);
  });
}
