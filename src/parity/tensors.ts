// Moving values between tfjs tensors and the host tensors the case files hold.
import * as tf from '@tensorflow/tfjs-core';
import { HostTensor } from '../io/safetensors';
import { HostIds } from '../models/ids';

export function fromTf(t: tf.Tensor): HostTensor {
  const data = t.dataSync();
  if (t.dtype === 'int32' || t.dtype === 'bool') return { dtype: 'int32', shape: t.shape.slice(), data: Int32Array.from(data as Int32Array) };
  return { dtype: 'float32', shape: t.shape.slice(), data: Float32Array.from(data as Float32Array) };
}

export function toTf(h: HostTensor): tf.Tensor {
  return tf.tensor(h.data, h.shape, h.dtype);
}

export function idsOf(h: HostTensor, what: string): HostIds {
  if (h.dtype !== 'int32' || h.shape.length !== 2) throw new Error(`${what}: expected int32 [batch, length], got ${h.dtype} [${h.shape}]`);
  return { data: h.data as Int32Array, shape: [h.shape[0], h.shape[1]] };
}

export function hostIds(x: HostIds): HostTensor {
  return { dtype: 'int32', shape: [...x.shape], data: x.data };
}
