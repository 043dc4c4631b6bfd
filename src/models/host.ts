// Host tensors (plain typed arrays and a shape) are what crosses the runtime interface and the
// worker boundary; these move values between them and tfjs tensors.
import * as tf from '@tensorflow/tfjs-core';
import { HostTensor } from '../io/safetensors';

/** A copy of `t` on the host (the tensor is left alone). */
export async function toHost(t: tf.Tensor): Promise<HostTensor> {
  const data = await t.data();
  // data() may hand out the backend's own buffer (cpu): copy so the caller owns what it gets.
  if (t.dtype === 'int32' || t.dtype === 'bool') return { dtype: 'int32', shape: t.shape.slice(), data: data instanceof Int32Array ? data.slice() : Int32Array.from(data as ArrayLike<number>) };
  return { dtype: 'float32', shape: t.shape.slice(), data: (data as Float32Array).slice() };
}

export function toTensor(h: HostTensor): tf.Tensor {
  return tf.tensor(h.data, h.shape, h.dtype);
}
