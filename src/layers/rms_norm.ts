// ClvpRMSNorm (= LlamaRMSNorm): x * rsqrt(mean(x^2) + eps) * weight, no centring, no bias.
import * as tf from '@tensorflow/tfjs-core';
import { ParamSource } from './params';

export class RMSNorm {
  readonly weight: tf.Tensor1D;

  constructor(src: ParamSource, readonly name: string, readonly dim: number, readonly eps = 1e-6) {
    this.weight = src.take({ name: `${name}.weight`, shape: [dim], layout: 'same', init: { kind: 'ones' } }) as tf.Tensor1D;
  }

  apply(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const variance = tf.mean(tf.square(x), -1, true);
      return tf.mul(this.weight, tf.mul(x, tf.rsqrt(tf.add(variance, this.eps))));
    });
  }

  dispose(): void {
    this.weight.dispose();
  }
}
