// tf.tidy disposes what a function made when it throws, except what it kept: tensors handed out
// through tf.keep (hidden states, attention probabilities) outlive the scope by design, so on an
// error (a GPU device lost, an allocation refused) they are the ones left behind.
import * as tf from '@tensorflow/tfjs-core';

type Kept = tf.Tensor | null | undefined | Kept[];

/** tf.tidy(fn); if fn throws, the tensors `kept()` lists (what fn handed out by tf.keep) are disposed too. */
export function tidyKeeping<T extends tf.TensorContainer>(kept: () => Kept, fn: () => T): T {
  try {
    return tf.tidy(fn);
  } catch (e) {
    disposeAll(kept());
    throw e;
  }
}

/**
 * tf.tidy for a function that returns host data (typed arrays, objects of them). tf.tidy looks
 * for tensors to keep in whatever its function returns, element by element: handed a batch-16
 * logits array it walked 131k numbers, 24 ms of every decode step. The result here passes around it.
 */
export function tidyHost<T>(fn: () => T): T {
  let out: { value: T } | undefined;
  tf.tidy(() => {
    out = { value: fn() };
  });
  return out!.value;
}

/** Dispose every tensor in a nested list (nulls and undefined skipped). */
export function disposeAll(ts: Kept): void {
  if (!ts) return;
  if (Array.isArray(ts)) ts.forEach(disposeAll);
  else ts.dispose();
}
