// gelu_new in one wasm kernel (src/wasm_gelu.ts): within a few float32 ulps of the function in
// float64, at every length (the vector loop and the tail of n % 4), at the edges of float32, and
// what the model's activation runs on wasm; the composition of tfjs ops stays for the other
// backends.
import './helpers/platform';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend, setBackendLogger } from '../src/backend';
import { GELU_NEW_KERNEL, geluNew, geluNewComposed } from '../src/layers/activations';

setBackendLogger(() => {});

/** 0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3))) in float64: HF's NewGELUActivation. */
const exact = (x: number) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));

/** The spacing of float32 values at |v|. */
function ulp(v: number): number {
  const a = Math.abs(v);
  if (a < 2 ** -126) return 2 ** -149;
  return 2 ** (Math.floor(Math.log2(a)) - 23);
}

/**
 * Errors in ulps of the result, scaled by the conditioning of float32 arithmetic: x sigmoid(2u)
 * with 2u rounded to float32 is off by up to |2u| ulps of itself wherever it is computed (for
 * x < 0 the result is x times a small exp(2u)), and an absolute floor for results near 0.
 */
function worstError(xs: Float32Array, ys: ArrayLike<number>): { ulps: number; at: number } {
  let worst = { ulps: 0, at: NaN };
  xs.forEach((x, i) => {
    const want = exact(x);
    const twoU = 2 * Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3);
    const u = Math.max(ulp(want) * Math.max(1, Math.abs(twoU)), ulp(Math.abs(x)) * 2 ** -12);
    const e = Math.abs(ys[i] - want) / u;
    if (e > worst.ulps) worst = { ulps: e, at: x };
  });
  return worst;
}

beforeAll(async () => {
  await initBackend('wasm');
});

test('wasm registers the kernel, and the activation runs it (one op, not six)', () => {
  expect(tf.getKernel(GELU_NEW_KERNEL, 'wasm')).toBeDefined();
  const x = tf.randomNormal([3, 8]);
  const spy = jest.spyOn(tf.engine(), 'runKernel');
  try {
    tf.tidy(() => {
      geluNew(x);
    });
    expect(spy.mock.calls.map((c) => c[0])).toEqual([GELU_NEW_KERNEL]);
  } finally {
    spy.mockRestore();
    x.dispose();
  }
});

test('within 3 ulps of gelu_new in float64 over [-12, 12], as close as the composition of tfjs ops', () => {
  const xs = Float32Array.from({ length: 24001 }, (_, i) => -12 + i * 0.001);
  const x = tf.tensor1d(xs);
  const kernel = worstError(xs, tf.tidy(() => geluNew(x).dataSync()));
  const composed = worstError(xs, tf.tidy(() => geluNewComposed(x).dataSync()));
  x.dispose();
  expect(kernel.ulps).toBeLessThan(3);
  // the composition rounds at each of its six ops: the kernel is no worse than it, within an ulp
  expect(kernel.ulps).toBeLessThan(composed.ulps + 1);
});

test.each([1, 2, 3, 4, 5, 7, 8, 9, 2048, 2051])('every length: the tail of n %% 4 equals the vector loop (n = %i)', (n) => {
  // the same values at every position: any lane computed otherwise, or any value past the end written, shows
  const xs = Float32Array.from({ length: n }, (_, i) => [0.75, -1.25, 3.5, -0.02][i % 4]);
  const guard = tf.tensor1d(new Float32Array(16).fill(7));
  const x = tf.tensor1d(xs);
  const y = tf.tidy(() => geluNew(x).dataSync());
  const ref = tf.tidy(() => geluNew(tf.tensor1d(Float32Array.from([0.75, -1.25, 3.5, -0.02]))).dataSync());
  expect(Array.from(y)).toEqual(Array.from(xs, (_, i) => ref[i % 4]));
  expect(worstError(xs, y).ulps).toBeLessThan(3);
  expect(Array.from(guard.dataSync())).toEqual(new Array(16).fill(7));
  tf.dispose([x, guard]);
});

test('the edges of float32: overflow gives the limit 0, NaN stays NaN, large x stays x, subnormals', () => {
  const xs = Float32Array.from([NaN, Infinity, -Infinity, 1e30, -1e30, 100, -100, -20, 20, 0, -0, 1e-40, -1e-40, 1e-7, -1e-7]);
  const y = Array.from(tf.tidy(() => geluNew(tf.tensor1d(xs)).dataSync()));
  expect(y[0]).toBeNaN();
  expect(y[1]).toBe(Infinity);
  expect([Math.abs(y[2]), y[3], Math.abs(y[4])]).toEqual([0, Math.fround(1e30), 0]);
  expect(y[5]).toBe(100);
  // exp(-u) overflows float32 here: the true values are below 1e-300
  expect(Math.abs(y[6])).toBe(0);
  expect(Math.abs(y[7])).toBe(0);
  expect(y[8]).toBe(20);
  expect(Math.abs(y[9])).toBe(0);
  expect(Math.abs(y[10])).toBe(0);
  // gelu(x) ~ x / 2 near 0
  expect(y[11]).toBeCloseTo(Math.fround(1e-40) / 2, 45);
  expect(worstError(xs.subarray(13), y.slice(13)).ulps).toBeLessThan(3);
});

test('other backends compose it of tfjs ops, with the same values', async () => {
  const xs = Float32Array.from({ length: 1001 }, (_, i) => -6 + i * 0.012);
  const onWasm = Array.from(tf.tidy(() => geluNew(tf.tensor1d(xs)).dataSync()));
  await initBackend('cpu');
  try {
    expect(tf.getKernel(GELU_NEW_KERNEL, 'cpu')).toBeUndefined();
    const onCpu = Array.from(tf.tidy(() => geluNew(tf.tensor1d(xs)).dataSync()));
    onCpu.forEach((v, i) => expect(Math.abs(v - onWasm[i])).toBeLessThanOrEqual(4 * ulp(exact(xs[i])) + 1e-12));
  } finally {
    await initBackend('wasm');
  }
});

test('no tensors left, and a non-float32 input is refused by name', () => {
  const before = tf.memory().numTensors;
  const x = tf.randomNormal([16, 2048]);
  for (let i = 0; i < 5; i++) tf.tidy(() => {
    geluNew(x);
  });
  x.dispose();
  expect(tf.memory().numTensors).toBe(before);
  const ints = tf.tensor1d([1, 2], 'int32');
  // the activation itself composes for other dtypes; the kernel, asked directly, names the dtype
  expect(() => tf.engine().runKernel(GELU_NEW_KERNEL, { x: ints })).toThrow(/ClvpGeluNew: a int32 tensor, expected float32/);
  ints.dispose();
});

test('a tfjs-wasm build that does not show its heap as a WebAssembly.Memory gets the same values from JS', () => {
  const backend = tf.backend() as unknown as { makeOutput: (...a: unknown[]) => tf.TensorInfo; typedArrayFromHeap: (t: tf.TensorInfo) => Float32Array };
  // the backend's own allocation and views, but no memory to import (as a build that hides it)
  const hidden = { wasm: {}, makeOutput: backend.makeOutput.bind(backend), typedArrayFromHeap: backend.typedArrayFromHeap.bind(backend) };
  const xs = Float32Array.from({ length: 4003 }, (_, i) => -10 + i * 0.005);
  const x = tf.tensor1d(xs);
  const info = tf.getKernel(GELU_NEW_KERNEL, 'wasm')!.kernelFunc({ inputs: { x }, attrs: {}, backend: hidden as unknown as tf.KernelBackend }) as tf.TensorInfo;
  const y = tf.engine().makeTensorFromTensorInfo(info);
  const fromJs = Array.from(y.dataSync());
  tf.dispose([x, y]);
  expect(worstError(xs, fromJs).ulps).toBeLessThan(3);
});
