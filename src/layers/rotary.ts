// ClvpRotaryPositionalEmbedding and apply_rotary_pos_emb (modeling_clvp.py). CLVP rotates queries,
// keys AND values, and only the first `dim` features of each head ("partial rotary").
import * as tf from '@tensorflow/tfjs-core';
import { ClvpEncoderConfig, rotaryDim } from '../config/configuration_clvp';
import { hostTensor, onHostHeap, viewOf } from './host_io';
import { ParamSource } from './params';

/** inv_freq = 1 / 10000^(arange(0, dim, 2) / dim), computed in float32 as torch does. */
export function rotaryInvFreq(dim: number): Float32Array {
  const out = new Float32Array(dim / 2);
  for (let i = 0; i < dim / 2; i++) out[i] = 1 / Math.fround(10000 ** Math.fround((2 * i) / dim));
  return out;
}

export class RotaryEmbedding {
  readonly dim: number;
  readonly invFreq: Float32Array;
  private cache: { length: number; cos: tf.Tensor; sin: tf.Tensor } | undefined;

  constructor(src: ParamSource, readonly name: string, config: ClvpEncoderConfig) {
    this.dim = rotaryDim(config);
    // inv_freq is a persisted buffer in HF checkpoints: the loader checks it against this value.
    const buf = src.take({ name: `${name}.inv_freq`, shape: [this.dim / 2], layout: 'same', init: { kind: 'buffer', values: rotaryInvFreq(this.dim) } });
    this.invFreq = buf.dataSync() as Float32Array;
    buf.dispose();
  }

  /** cos and sin tables [T, 1, dim] (broadcast over heads of [B, T, heads, headDim]). */
  tables(length: number): { cos: tf.Tensor; sin: tf.Tensor } {
    if (this.cache && this.cache.length === length) return this.cache;
    this.disposeCache();
    const half = this.dim / 2;
    const cos = new Float32Array(length * this.dim);
    const sin = new Float32Array(length * this.dim);
    for (let t = 0; t < length; t++) {
      for (let j = 0; j < half; j++) {
        const f = Math.fround(t * this.invFreq[j]);
        const c = Math.cos(f);
        const s = Math.sin(f);
        cos[t * this.dim + j] = c;
        cos[t * this.dim + j + half] = c;
        sin[t * this.dim + j] = s;
        sin[t * this.dim + j + half] = s;
      }
    }
    // kept: the tables outlive the tidy scope of the forward pass that first asks for them
    const cosT = tf.keep(tf.tensor(cos, [length, 1, this.dim]));
    let sinT: tf.Tensor;
    try {
      sinT = tf.keep(tf.tensor(sin, [length, 1, this.dim]));
    } catch (e) {
      cosT.dispose();
      throw e;
    }
    this.cache = { length, cos: cosT, sin: sinT };
    return this.cache;
  }

  private disposeCache(): void {
    this.cache?.cos.dispose();
    this.cache?.sin.dispose();
    this.cache = undefined;
  }

  dispose(): void {
    this.disposeCache();
  }
}

/** rotate_half: concat(-x2, x1) over the last axis. */
function rotateHalf(x: tf.Tensor): tf.Tensor {
  const d = x.shape[x.shape.length - 1];
  const [x1, x2] = tf.split(x, [d / 2, d / 2], -1);
  return tf.concat([tf.neg(x2), x1], -1);
}

/** x: [B, T, heads, headDim]; rotates the first `cos.shape[-1]` features, passes the rest through. */
export function applyRotary(x: tf.Tensor, cos: tf.Tensor, sin: tf.Tensor): tf.Tensor {
  if (onHostHeap() && x.dtype === 'float32') return applyRotaryHost(x as tf.Tensor4D, cos, sin);
  return applyRotaryComposed(x, cos, sin);
}

/** The same in tfjs ops, on every backend (and the reference the host pass is tested against). */
export function applyRotaryComposed(x: tf.Tensor, cos: tf.Tensor, sin: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const rd = cos.shape[cos.shape.length - 1];
    const hd = x.shape[x.shape.length - 1];
    const rot = rd === hd ? x : tf.slice(x, [0, 0, 0, 0], [-1, -1, -1, rd]);
    const rotated = tf.add(tf.mul(rot, cos), tf.mul(rotateHalf(rot), sin));
    if (rd === hd) return rotated;
    return tf.concat([rotated, tf.slice(x, [0, 0, 0, rd], [-1, -1, -1, hd - rd])], -1);
  });
}

/**
 * The same in one pass over wasm's heap. The ops above are nine tfjs kernels (slices, a split, a
 * negation, two concats, two products and a sum), each a pass over q, k or v: 1.3 s of a rank's
 * 33-s ranking of 16 candidates at the published size. The arithmetic is theirs, each product
 * and the sum rounded to float32 (a float64 sum of two float32 values rounds to the same float32),
 * so the result is the same to the bit.
 */
function applyRotaryHost(x: tf.Tensor4D, cos: tf.Tensor, sin: tf.Tensor): tf.Tensor4D {
  const [b, t, h, hd] = x.shape;
  const rd = cos.shape[cos.shape.length - 1];
  if (cos.size !== t * rd || sin.size !== t * rd || rd > hd || rd % 2) throw new Error(`applyRotary: tables of [${cos.shape}] and [${sin.shape}] for x of [${x.shape}]`);
  const half = rd / 2;
  const f = Math.fround;
  return hostTensor<tf.Rank.R4>([b, t, h, hd], (out) => {
    // views read here, with no tfjs op between them and their use
    const xs = viewOf(x);
    const c = viewOf(cos);
    const s = viewOf(sin);
    for (let bt = 0; bt < b * t; bt++) {
      const at = (bt % t) * rd;
      for (let head = 0; head < h; head++) {
        const o = (bt * h + head) * hd;
        for (let j = 0; j < half; j++) out[o + j] = f(f(xs[o + j] * c[at + j]) - f(xs[o + j + half] * s[at + j]));
        for (let j = half; j < rd; j++) out[o + j] = f(f(xs[o + j] * c[at + j]) + f(xs[o + j - half] * s[at + j]));
        for (let j = rd; j < hd; j++) out[o + j] = xs[o + j];
      }
    }
  });
}
