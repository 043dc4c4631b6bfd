// torch.nn.Embedding: a row lookup.
import * as tf from '@tensorflow/tfjs-core';
import { ParamSource } from '../models/weights';

export class Embedding {
  /** [num, dim] */
  readonly weight: tf.Tensor2D;

  constructor(src: ParamSource, readonly name: string, readonly num: number, readonly dim: number, std = 0.02) {
    this.weight = src.take({ name: `${name}.weight`, shape: [num, dim], layout: 'same', init: { kind: 'normal', std } }) as tf.Tensor2D;
  }

  /** ids: int32 [...] -> [..., dim]. Ids are checked on the host so a bad id names itself. */
  apply(ids: tf.Tensor | Int32Array, shape?: number[]): tf.Tensor {
    const host = ids instanceof Int32Array ? ids : (ids.dataSync() as Int32Array);
    const s = ids instanceof Int32Array ? shape ?? [ids.length] : ids.shape;
    for (let i = 0; i < host.length; i++) {
      const v = host[i];
      if (!(v >= 0 && v < this.num)) throw new RangeError(`${this.name}: id ${v} at flat index ${i} is outside [0, ${this.num})`);
    }
    return tf.tidy(() => {
      const flat = tf.tensor1d(host, 'int32');
      return tf.reshape(tf.gather(this.weight, flat), [...s, this.dim]);
    });
  }

  dispose(): void {
    this.weight.dispose();
  }
}
