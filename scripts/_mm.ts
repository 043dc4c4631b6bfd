import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../src/backend';
(async () => {
  await initBackend('wasm');
  for (const [m, k, n] of [[1, 1024, 4096], [16, 1024, 4096], [1, 4096, 1024], [517, 80, 1024]]) {
    const x = tf.randomNormal([m, k]);
    const w = tf.randomNormal([k, n]);
    const wt = tf.randomNormal([n, k]);
    const b = tf.randomNormal([n]);
    for (const [label, f] of [
      ['x@W', () => tf.matMul(x, w)],
      ['x@Wt^T', () => tf.matMul(x, wt, false, true)],
      ['fused x@W+b', () => tf.fused.matMul({ a: x, b: w, bias: b })],
      ['fused x@Wt^T+b', () => tf.fused.matMul({ a: x, b: wt, transposeB: true, bias: b })],
    ] as [string, () => tf.Tensor][]) {
      for (let i = 0; i < 3; i++) f().dispose();
      const t0 = performance.now();
      const N = 20;
      for (let i = 0; i < N; i++) { const c = f(); c.dataSync(); c.dispose(); }
      const ms = (performance.now() - t0) / N;
      console.log(`${m}x${k}x${n} ${label}: ${ms.toFixed(2)} ms  ${(k * n * 4 / ms / 1e6).toFixed(1)} GB/s  ${(2 * m * k * n / ms / 1e6).toFixed(1)} GFLOP/s`);
    }
  }
  // op overhead
  const a = tf.zeros([1, 16, 1, 64]);
  let t0 = performance.now();
  for (let i = 0; i < 2000; i++) { const c = tf.add(a, a); c.dispose(); }
  console.log('add overhead us', (performance.now() - t0) / 2000 * 1000);
})();
