// torch.nn.LayerNorm over the last axis (biased variance, eps inside the square root).
import * as tf from '@tensorflow/tfjs-core';
import { ParamSource } from './params';

export class LayerNorm {
  readonly weight: tf.Tensor1D;
  readonly bias: tf.Tensor1D;

  constructor(src: ParamSource, readonly name: string, readonly dim: number, readonly eps = 1e-5) {
    this.weight = src.take({ name: `${name}.weight`, shape: [dim], layout: 'same', init: { kind: 'ones' } }) as tf.Tensor1D;
    this.bias = src.take({ name: `${name}.bias`, shape: [dim], layout: 'same', init: { kind: 'zeros' } }) as tf.Tensor1D;
  }

  apply(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const mean = tf.mean(x, -1, true);
      const xc = tf.sub(x, mean);
      const variance = tf.mean(tf.square(xc), -1, true);
      return tf.add(tf.mul(tf.mul(xc, tf.rsqrt(tf.add(variance, this.eps))), this.weight), this.bias);
    });
  }

  dispose(): void {
    this.weight.dispose();
    this.bias.dispose();
  }
}
