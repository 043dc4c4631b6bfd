// Follows transformers/activations.py (ACT2FN): the activations CLVP configs name.
import * as tf from '@tensorflow/tfjs-core';

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

/** Exact GELU, x * Phi(x), as torch.nn.functional.gelu. */
export function gelu(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.mul(tf.mul(x, 0.5), tf.add(1, tf.erf(tf.mul(x, Math.SQRT1_2)))));
}

/**
 * GPT-2's tanh approximation of GELU ("gelu_new"), 0.5 x (1 + tanh(u)) with
 * u = sqrt(2/pi) (x + 0.044715 x^3), computed as x * sigmoid(2u): the same function, but
 * tfjs-wasm's sigmoid is XNNPACK's vectorised kernel and its tanh a scalar loop (measured on
 * [16, 4096]: 118 us vs 2.4 ms, which was a tenth of a batch-16 decode step). Pow is avoided too.
 */
export function geluNew(x: tf.Tensor): tf.Tensor {
  // On wasm one kernel of ours computes the same (src/wasm_gelu.ts), where the backend has it.
  if (x.dtype === 'float32' && tf.getKernel(GELU_NEW_KERNEL, tf.getBackend())) return tf.engine().runKernel(GELU_NEW_KERNEL, { x });
  return geluNewComposed(x);
}

/** 2u = x (a x^2 + b): the cubic's and the linear term's coefficients */
export const GELU_NEW_CUBIC = 2 * SQRT_2_OVER_PI * 0.044715;
export const GELU_NEW_LINEAR = 2 * SQRT_2_OVER_PI;

/** The name a backend registers a gelu_new kernel under. */
export const GELU_NEW_KERNEL = 'ClvpGeluNew';

/** gelu_new in tfjs ops, on every backend (and the reference the wasm kernel is tested against). */
export function geluNewComposed(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const twoU = tf.mul(x, tf.add(tf.mul(tf.square(x), GELU_NEW_CUBIC), GELU_NEW_LINEAR));
    return tf.mul(x, tf.sigmoid(twoU));
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
