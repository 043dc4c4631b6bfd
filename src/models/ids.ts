// Token ids and masks cross the API as tf int32 tensors or nested arrays; inside we work on host
// Int32Arrays, because every id-level step (eos insertion, position ids, fixing codes) is tiny.
import * as tf from '@tensorflow/tfjs-core';

export type IdsInput = tf.Tensor | number[][] | { data: Int32Array; shape: [number, number] };

export interface HostIds {
  data: Int32Array;
  shape: [number, number];
}

export function toHostIds(x: IdsInput, what: string): HostIds {
  if (x instanceof tf.Tensor) {
    if (x.rank !== 2) throw new Error(`${what}: expected a 2-D [batch, length] tensor, got shape [${x.shape}]`);
    if (x.dtype !== 'int32') throw new Error(`${what}: expected an int32 tensor, got ${x.dtype}`);
    return { data: Int32Array.from(x.dataSync() as Int32Array), shape: [x.shape[0], x.shape[1]] as [number, number] };
  }
  if (Array.isArray(x)) {
    const b = x.length;
    if (b === 0) throw new Error(`${what}: empty batch`);
    const t = x[0].length;
    const data = new Int32Array(b * t);
    x.forEach((row, i) => {
      if (!Array.isArray(row) || row.length !== t) throw new Error(`${what}: row ${i} has length ${row?.length}, expected ${t} (pad the batch)`);
      row.forEach((v, j) => {
        if (!Number.isInteger(v)) throw new Error(`${what}: value ${v} at [${i}, ${j}] is not an integer`);
        data[i * t + j] = v;
      });
    });
    return { data, shape: [b, t] };
  }
  if (x && x.data instanceof Int32Array && Array.isArray(x.shape) && x.shape.length === 2 && x.data.length === x.shape[0] * x.shape[1]) return x;
  throw new Error(`${what}: expected an int32 tf.Tensor2D, a number[][] or {data: Int32Array, shape: [batch, length]}`);
}

export function hostIdsToTensor(x: HostIds): tf.Tensor2D {
  return tf.tensor2d(x.data, x.shape, 'int32');
}

export function onesMask(b: number, t: number): HostIds {
  return { data: new Int32Array(b * t).fill(1), shape: [b, t] };
}

export function checkSameShape(a: HostIds, b: HostIds, what: string): void {
  if (a.shape[0] !== b.shape[0] || a.shape[1] !== b.shape[1]) throw new Error(`${what}: shape [${b.shape}] does not match input_ids [${a.shape}]`);
}
