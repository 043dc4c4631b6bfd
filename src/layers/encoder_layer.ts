// ClvpEncoderLayer (modeling_clvp.py): pre-RMSNorm attention and gated MLP, both residual.
import * as tf from '@tensorflow/tfjs-core';
import { ClvpEncoderConfig } from '../config/configuration_clvp';
import { ParamSource } from './params';
import { ClvpSelfAttention } from './attention';
import { ClvpEncoderMLP } from './encoder_mlp';
import { RMSNorm } from './rms_norm';
import { tidyKeeping } from './tidy';

export class ClvpEncoderLayer {
  readonly input_rmsnorm: RMSNorm;
  readonly self_attn: ClvpSelfAttention;
  readonly post_attention_rmsnorm: RMSNorm;
  readonly mlp: ClvpEncoderMLP;

  constructor(src: ParamSource, readonly name: string, config: ClvpEncoderConfig) {
    this.self_attn = new ClvpSelfAttention(src, `${name}.self_attn`, config.hiddenSize, config.numAttentionHeads, config.useAttentionBias);
    this.mlp = new ClvpEncoderMLP(src, `${name}.mlp`, config);
    this.input_rmsnorm = new RMSNorm(src, `${name}.input_rmsnorm`, config.hiddenSize, config.layerNormEps);
    this.post_attention_rmsnorm = new RMSNorm(src, `${name}.post_attention_rmsnorm`, config.hiddenSize, config.layerNormEps);
  }

  /** x [B, T, E] -> [B, T, E] */
  forward(x: tf.Tensor3D, rotary: { cos: tf.Tensor; sin: tf.Tensor } | undefined, mask: tf.Tensor4D | null, outputAttentions = false): { hidden: tf.Tensor3D; attentions?: tf.Tensor4D } {
    let attentions: tf.Tensor4D | undefined;
    const hidden = tidyKeeping(() => attentions, () => {
      const a = this.self_attn.forward(this.input_rmsnorm.apply(x) as tf.Tensor3D, { rotary, mask, outputAttentions });
      if (a.attentions) attentions = tf.keep(a.attentions);
      const h = tf.add(x, a.output);
      return tf.add(h, this.mlp.apply(this.post_attention_rmsnorm.apply(h))) as tf.Tensor3D;
    });
    return { hidden, attentions };
  }

  dispose(): void {
    this.input_rmsnorm.dispose();
    this.self_attn.dispose();
    this.post_attention_rmsnorm.dispose();
    this.mlp.dispose();
  }
}
