import '../helpers/platform';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/backend';
import { batchedMatMul, batchedProductsNativeTest, perEntryIsFaster, setBatchedProductsNative } from '../../src/layers/batched_matmul';

let nativeTest: () => boolean;

/** Deterministic values in [-1, 1). */
function values(shape: number[], seed: number): tf.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  let s = seed >>> 0;
  const data = Float32Array.from({ length: n }, () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 31) - 1);
  return tf.tensor(data, shape);
}

describe('batchedMatMul on wasm', () => {
  beforeAll(async () => {
    await initBackend('wasm');
    nativeTest = batchedProductsNativeTest();
  });

  it('with our batched kernel (the default on wasm in Node) every batch is one call', () => {
    expect(perEntryIsFaster(96, 501, 64, 501)).toBe(false);
    expect(perEntryIsFaster(40, 48, 32, 64)).toBe(false);
  });

  it('with tfjs-wasm\'s own kernel: many large entries one by one (the ranking of 16 candidates: 96 heads of 501 x 64 x 501), tiny ones batched', () => {
    setBatchedProductsNative(() => false);
    try {
      expect(perEntryIsFaster(96, 501, 64, 501)).toBe(true);
      expect(perEntryIsFaster(256, 100, 64, 100)).toBe(true);
      expect(perEntryIsFaster(96, 1, 64, 501)).toBe(false);
      expect(perEntryIsFaster(1, 501, 64, 501)).toBe(false);
      expect(perEntryIsFaster(40, 48, 32, 64)).toBe(true);
      expect(perEntryIsFaster(12, 2, 8, 5)).toBe(false);
    } finally {
      setBatchedProductsNative(nativeTest);
    }
  });

  it.each([
    { what: '40 entries one by one, transposed b', a: [2, 20, 48, 32], b: [2, 20, 64, 32], transposeB: true },
    { what: '40 entries one by one', a: [40, 48, 64], b: [40, 64, 32], transposeB: false },
    { what: 'tiny entries batched', a: [3, 4, 2, 8], b: [3, 4, 8, 5], transposeB: false },
  ])('equals tf.matMul, tensors disposed: $what', ({ a, b, transposeB }) => {
    const x = values(a, 1);
    const y = values(b, 2);
    const before = tf.memory().numTensors;
    const got = batchedMatMul(x, y, transposeB);
    const want = tf.matMul(x, y, false, transposeB);
    expect(got.shape).toEqual(want.shape);
    const g = got.dataSync() as Float32Array;
    const w = want.dataSync() as Float32Array;
    let worst = 0;
    for (let i = 0; i < w.length; i++) worst = Math.max(worst, Math.abs(g[i] - w[i]));
    expect(worst).toBeLessThan(1e-5);
    tf.dispose([got, want]);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, y]);
  });
});
