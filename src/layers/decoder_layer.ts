// ClvpDecoderLayer (modeling_clvp.py): GPT-2 block, pre-LayerNorm attention (no rotary) and MLP.
import * as tf from '@tensorflow/tfjs-core';
import { ClvpDecoderConfig, decoderInnerDim } from '../config/configuration_clvp';
import { ParamSource } from './params';
import { ClvpSelfAttention } from './attention';
import { ClvpDecoderMLP } from './decoder_mlp';
import { KVCache } from './kv_cache';
import { LayerNorm } from './layer_norm';

export class ClvpDecoderLayer {
  readonly input_layernorm: LayerNorm;
  readonly attn: ClvpSelfAttention;
  readonly post_attention_layernorm: LayerNorm;
  readonly mlp: ClvpDecoderMLP;

  constructor(src: ParamSource, readonly name: string, config: ClvpDecoderConfig) {
    this.input_layernorm = new LayerNorm(src, `${name}.input_layernorm`, config.hiddenSize, config.layerNormEpsilon);
    this.attn = new ClvpSelfAttention(src, `${name}.attn`, config.hiddenSize, config.numAttentionHeads, config.useAttentionBias);
    this.post_attention_layernorm = new LayerNorm(src, `${name}.post_attention_layernorm`, config.hiddenSize, config.layerNormEpsilon);
    this.mlp = new ClvpDecoderMLP(src, `${name}.mlp`, decoderInnerDim(config), config);
  }

  /** x [B, T, E] -> [B, T, E]; appends this layer's keys/values to `cache` when given. */
  forward(x: tf.Tensor3D, mask: tf.Tensor4D | null, cache?: { cache: KVCache; layer: number }, outputAttentions = false): { hidden: tf.Tensor3D; attentions?: tf.Tensor4D } {
    let attentions: tf.Tensor4D | undefined;
    const hidden = tf.tidy(() => {
      const a = this.attn.forward(this.input_layernorm.apply(x) as tf.Tensor3D, { mask, cache, outputAttentions });
      if (a.attentions) attentions = tf.keep(a.attentions);
      const h = tf.add(a.output, x);
      return tf.add(h, this.mlp.apply(this.post_attention_layernorm.apply(h))) as tf.Tensor3D;
    });
    return { hidden, attentions };
  }

  dispose(): void {
    this.input_layernorm.dispose();
    this.attn.dispose();
    this.post_attention_layernorm.dispose();
    this.mlp.dispose();
  }
}
