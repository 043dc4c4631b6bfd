// ClvpDecoderLayer (modeling_clvp.py): GPT-2 block, pre-LayerNorm attention (no rotary) and MLP,
// on the residual stream (residual.ts): on the host, or on the device where nothing may be read
// back synchronously (webgpu).
import * as tf from '@tensorflow/tfjs-core';
import { ClvpDecoderConfig, decoderInnerDim } from '../config/configuration_clvp';
import { ParamSource } from './params';
import { ClvpSelfAttention } from './attention';
import { ClvpDecoderMLP } from './decoder_mlp';
import { KVCache } from './kv_cache';
import { LayerNorm } from './layer_norm';
import { DeviceResidualStream, ResidualStream } from './residual';
import { DecoderCache } from './tensor_kv_cache';

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

  /**
   * One block on the residual stream (in place): stream += attn(ln1(stream)), then
   * stream += mlp(ln2(stream)); appends this layer's keys/values to `cache` when given.
   */
  forward(stream: ResidualStream | DeviceResidualStream, mask: tf.Tensor4D | null, cache?: { cache: DecoderCache; layer: number }): void {
    tf.tidy(() => {
      // A decode step (one new position, a cache, no mask) takes the kernels' path (attention.step).
      if (cache && cache.cache instanceof KVCache && stream.shape[1] === 1 && !mask) stream.add(this.attn.step(stream.normalizedRows(this.input_layernorm), cache.cache, cache.layer));
      else stream.add(this.attn.forward(stream.normalized(this.input_layernorm), { mask, cache, partial: true }).output);
      stream.add(this.mlp.applyPartial(stream.normalizedRows(this.post_attention_layernorm)));
    });
  }

  dispose(): void {
    this.input_layernorm.dispose();
    this.attn.dispose();
    this.post_attention_layernorm.dispose();
    this.mlp.dispose();
  }
}
