// Follows transformers/activations.py (ACT2FN): the activations CLVP configs name.
import * as tf from '@tensorflow/tfjs-core';

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

/** Exact GELU, x * Phi(x), as torch.nn.functional.gelu. */
export function gelu(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.mul(tf.mul(x, 0.5), tf.add(1, tf.erf(tf.mul(x, Math.SQRT1_2)))));
}

/** GPT-2's tanh approximation of GELU ("gelu_new"). */
export function geluNew(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    // x + 0.044715 x^3 as x * (1 + 0.044715 x^2): the generic Pow kernel is several times slower.
    const inner = tf.mul(tf.mul(x, tf.add(tf.mul(tf.square(x), 0.044715), 1)), SQRT_2_OVER_PI);
    return tf.mul(tf.mul(x, 0.5), tf.add(1, tf.tanh(inner)));
  });
}

export type Activation = (x: tf.Tensor) => tf.Tensor;

export function getActivation(name: string): Activation {
  switch (name) {
    case 'gelu':
      return gelu;
    case 'gelu_new':
      return geluNew;
    case 'relu':
      return (x) => tf.relu(x);
    case 'silu':
    case 'swish':
      return (x) => tf.tidy(() => tf.mul(x, tf.sigmoid(x)));
    default:
      throw new Error(`unsupported activation '${name}'`);
  }
}
