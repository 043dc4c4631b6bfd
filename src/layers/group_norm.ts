// torch.nn.GroupNorm(num_groups, channels, eps, affine=True), applied to [batch, time, channels]
// (we keep mel frames time-major so the attention blocks need no transposes).
import * as tf from '@tensorflow/tfjs-core';
import { ParamSource } from './params';

export class GroupNorm {
  readonly weight: tf.Tensor1D;
  readonly bias: tf.Tensor1D;

  constructor(src: ParamSource, readonly name: string, readonly groups: number, readonly channels: number, readonly eps = 1e-5) {
    if (channels % groups !== 0) throw new Error(`${name}: ${channels} channels are not divisible into ${groups} groups`);
    this.weight = src.take({ name: `${name}.weight`, shape: [channels], layout: 'same', init: { kind: 'ones' } }) as tf.Tensor1D;
    this.bias = src.take({ name: `${name}.bias`, shape: [channels], layout: 'same', init: { kind: 'zeros' } }) as tf.Tensor1D;
  }

  /** x: [B, T, C] -> [B, T, C], statistics per (batch, group) over time and the group's channels. */
  apply(x: tf.Tensor3D): tf.Tensor3D {
    return tf.tidy(() => {
      const [b, t, c] = x.shape;
      const g = tf.reshape(x, [b, t, this.groups, c / this.groups]);
      const mean = tf.mean(g, [1, 3], true);
      const xc = tf.sub(g, mean);
      const variance = tf.mean(tf.square(xc), [1, 3], true);
      const normed = tf.reshape(tf.mul(xc, tf.rsqrt(tf.add(variance, this.eps))), [b, t, c]);
      return tf.add(tf.mul(normed, this.weight), this.bias) as tf.Tensor3D;
    });
  }

  dispose(): void {
    this.weight.dispose();
    this.bias.dispose();
  }
}
