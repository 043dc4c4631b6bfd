// Additive attention masks as transformers builds them (modeling_attn_mask_utils.py): 0 where
// attention is allowed, float32 min where it is not. Using min (not -inf) matters: a row whose
// keys are all masked becomes uniform, as in the reference, instead of NaN.
import * as tf from '@tensorflow/tfjs-core';

export const F32_MIN = -3.4028234663852886e38;

/** _prepare_4d_attention_mask: [B, S] 0/1 -> [B, 1, T, S] (key padding only). */
export function paddingMask4d(mask: Int32Array, batch: number, tgtLen: number, srcLen: number): tf.Tensor4D {
  const out = new Float32Array(batch * tgtLen * srcLen);
  for (let b = 0; b < batch; b++) {
    for (let t = 0; t < tgtLen; t++) {
      const row = (b * tgtLen + t) * srcLen;
      for (let s = 0; s < srcLen; s++) if (mask[b * srcLen + s] === 0) out[row + s] = F32_MIN;
    }
  }
  return tf.tensor4d(out, [batch, 1, tgtLen, srcLen]);
}

/**
 * _prepare_4d_causal_attention_mask for `tgtLen` new positions after `pastLen` cached ones, with an
 * optional 2D padding mask [B, pastLen + tgtLen]. Returns null when nothing is masked (one new
 * token and no padding mask), as the reference does.
 */
export function causalMask4d(mask: Int32Array | null, batch: number, tgtLen: number, pastLen: number): tf.Tensor4D | null {
  const srcLen = pastLen + tgtLen;
  if (!mask && tgtLen === 1) return null;
  const b0 = mask ? batch : 1;
  const out = new Float32Array(b0 * tgtLen * srcLen);
  for (let b = 0; b < b0; b++) {
    for (let t = 0; t < tgtLen; t++) {
      const row = (b * tgtLen + t) * srcLen;
      for (let s = 0; s < srcLen; s++) {
        const future = s > pastLen + t;
        const padded = mask !== null && mask[b * srcLen + s] === 0;
        if (future || padded) out[row + s] = F32_MIN;
      }
    }
  }
  return tf.tensor4d(out, [b0, 1, tgtLen, srcLen]);
}
