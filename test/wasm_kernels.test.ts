// The wasm Slice, SplitV and GatherV2 that replace tfjs-backend-wasm's (src/wasm_kernels.ts): the
// same values as the cpu backend's kernels for every rank, dtype and kind of slice or gather, and
// no tensors left.
import './helpers/platform';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend, setBackendLogger } from '../src/backend';

setBackendLogger(() => {});

/** Deterministic values of every dtype the kernels take. */
function values(shape: number[], dtype: 'float32' | 'int32' | 'bool'): tf.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const data = Array.from({ length: n }, (_, i) => (dtype === 'bool' ? i % 3 === 0 : dtype === 'int32' ? (i * 7919) % 1000 - 500 : Math.sin(i) * 100));
  return tf.tensor(data as number[], shape, dtype);
}

interface Case {
  shape: number[];
  begin: number[];
  size: number[];
}

const sliceCases: Case[] = [
  { shape: [10], begin: [3], size: [4] },
  { shape: [6, 7], begin: [1, 0], size: [3, -1] }, // contiguous rows
  { shape: [6, 7], begin: [2, 3], size: [2, 3] }, // a column block
  { shape: [4, 5, 6], begin: [1, 2, 0], size: [2, 2, -1] },
  { shape: [4, 5, 6], begin: [0, 0, 2], size: [-1, -1, 3] }, // innermost only
  { shape: [3, 4, 5, 8], begin: [0, 1, 2, 4], size: [3, 2, 3, 4] },
  { shape: [2, 3, 4, 5, 6], begin: [1, 0, 1, 2, 0], size: [1, 3, 2, 2, 6] }, // rank 5
  { shape: [5, 6], begin: [2, 2], size: [0, 3] }, // empty
];

async function onBackend<T>(name: 'wasm' | 'cpu', f: () => T): Promise<T> {
  await initBackend(name);
  return f();
}

/** `run` (which makes its own inputs) gives the same values on wasm as on cpu, and leaves no tensor on wasm. */
async function expectWasmLikeCpu(c: object, run: () => unknown): Promise<void> {
  const want = await onBackend('cpu', run);
  const before = await onBackend('wasm', () => tf.memory().numTensors);
  const got = await onBackend('wasm', run);
  expect({ case: c, values: got }).toEqual({ case: c, values: want });
  expect(tf.memory().numTensors).toBe(before);
}

test.each(['float32', 'int32', 'bool'] as const)('Slice on wasm equals the cpu kernel (%s)', async (dtype) => {
  for (const c of sliceCases) {
    await expectWasmLikeCpu(c, () => tf.tidy(() => tf.slice(values(c.shape, dtype), c.begin, c.size).arraySync()));
  }
});

test('the replacements are the ones running: no slice reads its whole input out of the heap', async () => {
  await initBackend('wasm');
  const x = values([24, 50, 64], 'float32');
  const spy = jest.spyOn(tf.backend(), 'readSync');
  try {
    tf.dispose([tf.slice(x, [2, 0, 0], [3, -1, -1]), ...tf.split(x, 24, 0)]);
    expect(spy).not.toHaveBeenCalled();
  } finally {
    spy.mockRestore();
    x.dispose();
  }
});

test('SplitV on wasm equals the cpu kernel, on every axis, even and uneven', async () => {
  const cases: Array<{ shape: number[]; splits: number | number[]; axis: number }> = [
    { shape: [24, 5, 8], splits: 24, axis: 0 },
    { shape: [4, 5, 6, 8], splits: [3, 5], axis: -1 },
    { shape: [4, 5, 6, 8], splits: [1, 4, 1], axis: 2 },
    { shape: [3, 7], splits: [2, -1], axis: 1 },
  ];
  for (const c of cases) {
    await expectWasmLikeCpu(c, () => tf.tidy(() => tf.split(values(c.shape, 'float32'), c.splits, c.axis).map((t) => t.arraySync())));
  }
});

test('slices stay right when allocating the output grows the wasm heap', async () => {
  await initBackend('wasm');
  const heap = () => (tf.backend() as unknown as { wasm: { HEAPU8: Uint8Array } }).wasm.HEAPU8.length;
  const x = values([8, 1024, 1024], 'float32');
  try {
    const before = heap();
    // The 8 outputs need as much again as x: the heap grows while they are made.
    const parts = tf.split(x, 8, 0);
    expect(heap()).toBeGreaterThan(before);
    const firsts = parts.map((p) => p.dataSync()[5]);
    const want = Array.from({ length: 8 }, (_, i) => Math.fround(Math.sin(i * 1024 * 1024 + 5) * 100));
    expect(firsts).toEqual(want);
    tf.dispose(parts);
  } finally {
    x.dispose();
  }
});

test.each(['float32', 'int32', 'bool'] as const)('GatherV2 on wasm equals the cpu kernel (%s): rows, repeats, any index shape, other axes', async (dtype) => {
  const cases: Array<{ shape: number[]; indices: number[] | number[][]; axis: number; batchDims?: number }> = [
    { shape: [10, 6], indices: [3, 0, 9, 3], axis: 0 }, // an embedding lookup, a row twice
    { shape: [5, 3, 4], indices: [[4, 1], [0, 0]], axis: 0 }, // [2, 2] ids of [3, 4] rows
    { shape: [5, 3], indices: [], axis: 0 },
    { shape: [4, 5, 6], indices: [4, 0], axis: 1 }, // the kernel replaced
    { shape: [2, 5, 6], indices: [[1, 0], [4, 2]], axis: 1, batchDims: 1 }, // the kernel replaced
  ];
  for (const c of cases) {
    await expectWasmLikeCpu(c, () => tf.tidy(() => tf.gather(values(c.shape, dtype), tf.tensor(c.indices, undefined, 'int32'), c.axis, c.batchDims ?? 0).arraySync()));
  }
});

test('GatherV2 rows: an index out of range is named, nothing leaks, and no input is read out of the heap', async () => {
  await initBackend('wasm');
  const x = values([6, 4], 'float32');
  const before = tf.memory().numTensors;
  const heapBefore = tf.memory().numBytes;
  try {
    for (const bad of [6, -1]) {
      expect(() => tf.tidy(() => tf.gather(x, tf.tensor1d([0, bad], 'int32')))).toThrow(`GatherV2: the index value ${bad} is not in [0, 5]`);
    }
    expect(tf.memory().numTensors).toBe(before);
    expect(tf.memory().numBytes).toBe(heapBefore);
    const spy = jest.spyOn(tf.backend(), 'readSync');
    try {
      tf.gather(x, tf.tensor1d([5, 1], 'int32')).dispose();
      expect(spy).not.toHaveBeenCalled();
    } finally {
      spy.mockRestore();
    }
  } finally {
    x.dispose();
  }
});
