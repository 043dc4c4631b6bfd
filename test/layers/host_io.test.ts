// host_io: tensor values read and written without a new ArrayBuffer on wasm, the same results
// everywhere, and a decode step whose copies back to the host do not grow with the layers.
import '../helpers/platform';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend, setBackendLogger } from '../../src/backend';
import { makeConfig } from '../../src/config/configuration_clvp';
import { hostTensor, viewOf } from '../../src/layers/host_io';
import { SINGLE_RANK } from '../../src/layers/parallel';
import { ClvpModules } from '../../src/models/modeling_clvp';
import { RandomInitSource } from '../../src/models/weights';
import { LocalRuntime } from '../../src/runtime/local';
import { TEST_BACKENDS } from '../helpers/env';

setBackendLogger(() => {});

describe.each(TEST_BACKENDS)('host_io on %s', (backend) => {
  beforeAll(async () => {
    await initBackend(backend);
  });

  it('viewOf reads what dataSync reads', () => {
    const t = tf.tidy(() => tf.mul(tf.reshape(tf.range(0, 12, 1, 'float32'), [3, 4]), 0.5));
    expect(Array.from(viewOf(t))).toEqual(Array.from(t.dataSync()));
    t.dispose();
  });

  it('viewOf names a non-float32 tensor', () => {
    const t = tf.tensor1d([1, 2], 'int32');
    expect(() => viewOf(t)).toThrow(/int32 tensor, expected float32/);
    t.dispose();
  });

  it('hostTensor holds what fill wrote, is tracked by tidy, and is freed when fill throws', () => {
    const before = tf.memory().numTensors;
    const sum = tf.tidy(() => {
      const t = hostTensor<tf.Rank.R2>([2, 3], (out) => out.forEach((_, i) => (out[i] = i * i)));
      expect(t.shape).toEqual([2, 3]);
      return tf.sum(t);
    });
    expect(sum.dataSync()[0]).toBe(0 + 1 + 4 + 9 + 16 + 25);
    sum.dispose();
    expect(() => hostTensor([4], () => { throw new Error('fill failed'); })).toThrow('fill failed');
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('host_io on wasm', () => {
  beforeAll(async () => {
    await initBackend('wasm');
  });

  it('viewOf is a view on the heap, not a copy', () => {
    const t = tf.tensor1d([1, 2, 3]);
    viewOf(t)[1] = 7;
    expect(Array.from(t.dataSync())).toEqual([1, 7, 3]);
    t.dispose();
  });

  it('a decode step copies the same few tensors back to the host whatever the number of layers', async () => {
    const readbacks = async (layers: number) => {
      const config = makeConfig({
        decoderConfig: { numHiddenLayers: layers, numMelAttnBlocks: 1, hiddenSize: 64, numAttentionHeads: 4 },
        textConfig: { hiddenSize: 64, intermediateSize: 64, numHiddenLayers: 1, numAttentionHeads: 2, projectionDim: 64 },
        speechConfig: { hiddenSize: 64, intermediateSize: 64, numHiddenLayers: 1, numAttentionHeads: 2, projectionDim: 64 },
        projectionDim: 64,
      });
      const rt = new LocalRuntime(new ClvpModules(config, new RandomInitSource(1, undefined, SINGLE_RANK)), 'wasm');
      const L = 5;
      const embeds = { dtype: 'float32' as const, shape: [1, L, 64], data: Float32Array.from({ length: L * 64 }, (_, i) => Math.sin(i) * 0.1) };
      const positionIds = { data: Int32Array.from({ length: L }, (_, i) => i), shape: [1, L] as [number, number] };
      const pre = await rt.prefill({ embeds, positionIds, share: true, chunkSize: 4 });
      const fork = await rt.fork(pre.cache);
      await rt.step(fork, Int32Array.of(3, 4), L);
      const dataSync = tf.Tensor.prototype.dataSync;
      let calls = 0;
      tf.Tensor.prototype.dataSync = function (this: tf.Tensor) {
        calls++;
        return dataSync.call(this);
      } as typeof dataSync;
      const tensors = tf.memory().numTensors;
      try {
        await rt.step(fork, Int32Array.of(5, 6), L + 1);
      } finally {
        tf.Tensor.prototype.dataSync = dataSync;
      }
      expect(tf.memory().numTensors).toBe(tensors);
      await rt.releaseCache(fork);
      await rt.releaseCache(pre.cache);
      await rt.dispose();
      return calls;
    };
    const two = await readbacks(2);
    const six = await readbacks(6);
    expect(six).toBe(two);
    expect(two).toBeLessThanOrEqual(2);
  });
});
