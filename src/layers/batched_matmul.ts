// Batched matrix products for attention, routed by shape. On the wasm backend a batched matmul
// with more than one batch entry runs a plain loop (~1-2 GFLOP/s), while a batch-1 matmul goes
// to XNNPACK (~20+ GFLOP/s). With few batch entries (heads of one sequence) and large matrices,
// one batch-1 matmul per entry wins by far; with many small entries the single batched call does.
// Measured on wasm, 2 cores: 16 x [400,64]@[64,400]: 154 ms batched vs 57 ms per entry;
// 192 x [100,64]@[64,100]: 116 ms batched vs 307 ms per entry.
import * as tf from '@tensorflow/tfjs-core';

const MAX_SPLIT_BATCH = 32;
const MIN_SPLIT_WORK = 64 * 64 * 16;

/** Whether `n` products of [m, k] @ [k, cols] run faster one by one (see the measurements above). */
export function perEntryIsFaster(n: number, m: number, k: number, cols: number): boolean {
  return tf.getBackend() === 'wasm' && n > 1 && n <= MAX_SPLIT_BATCH && m * k * cols >= MIN_SPLIT_WORK;
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
