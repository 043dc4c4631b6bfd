// ClvpConditioningEncoder (modeling_clvp.py): turns a log-mel spectrogram into one voice vector
// (kernel-1 conv, then GroupNorm + attention residual blocks, keep frame 0) and the text ids into
// embeddings (with the extra bos/eos of _pad_extra_bos_eos_tokens), and concatenates them.
import * as tf from '@tensorflow/tfjs-core';
import { ClvpSelfAttention } from '../layers/attention';
import { Embedding } from '../layers/embedding';
import { GroupNorm } from '../layers/group_norm';
import { Linear } from '../layers/linear';
import { ClvpConfig, groupNormGroups } from '../config/configuration_clvp';
import { HostIds, IdsInput, checkSameShape, onesMask, toHostIds } from './ids';
import { ParamSource } from '../layers/params';

export interface PadBosEosOptions {
  /** the id whose first occurrence marks where the text ends; the reference's default is 0 */
  padTokenId?: number;
  bosTokenId: number;
  eosTokenId: number;
  addBosToken?: boolean;
  addEosToken?: boolean;
}

/**
 * _pad_extra_bos_eos_tokens: optionally prepend bos (mask gets a leading 1), then insert eos at the
 * first pad id, or append it when there is none (mask gets another leading 1, not at the insertion
 * point: that is the reference's behaviour and it shifts the position ids of padded rows).
 */
export function padExtraBosEosTokens(ids: HostIds, mask: HostIds | null, o: PadBosEosOptions): { ids: HostIds; mask: HostIds | null } {
  const pad = o.padTokenId ?? 0;
  let [b, t] = ids.shape;
  let data = ids.data;
  let m = mask?.data ?? null;
  const leftPad = (src: Int32Array, rows: number, cols: number, value: number) => {
    const out = new Int32Array(rows * (cols + 1));
    for (let i = 0; i < rows; i++) {
      out[i * (cols + 1)] = value;
      out.set(src.subarray(i * cols, (i + 1) * cols), i * (cols + 1) + 1);
    }
    return out;
  };
  if (o.addBosToken ?? true) {
    data = leftPad(data, b, t, o.bosTokenId);
    if (m) m = leftPad(m, b, t, 1);
    t += 1;
  }
  if (o.addEosToken ?? true) {
    const out = new Int32Array(b * (t + 1));
    for (let i = 0; i < b; i++) {
      const row = data.subarray(i * t, (i + 1) * t);
      let pos = row.indexOf(pad);
      if (pos < 0) pos = t;
      const dst = i * (t + 1);
      out.set(row.subarray(0, pos), dst);
      out[dst + pos] = o.eosTokenId;
      out.set(row.subarray(pos), dst + pos + 1);
    }
    data = out;
    if (m) m = leftPad(m, b, t, 1);
    t += 1;
  }
  return { ids: { data, shape: [b, t] }, mask: m ? { data: m, shape: [b, t] } : null };
}

export class ClvpConditioningEncoder {
  readonly text_token_embedding: Embedding;
  readonly text_position_embedding: Embedding;
  /** nn.Conv1d(feature_size, hidden, kernel_size=1) as a per-frame linear map */
  readonly mel_conv: Linear;
  readonly group_norms: GroupNorm[];
  readonly mel_attn_blocks: ClvpSelfAttention[];

  constructor(src: ParamSource, readonly name: string, readonly config: ClvpConfig) {
    const dc = config.decoderConfig;
    const f = config.initializerFactor;
    this.text_token_embedding = new Embedding(src, `${name}.text_token_embedding`, config.textConfig.vocabSize, dc.hiddenSize, 0.02 * f);
    this.text_position_embedding = new Embedding(src, `${name}.text_position_embedding`, dc.maxTextTokens, dc.hiddenSize, 0.02 * f);
    this.mel_conv = new Linear(src, `${name}.mel_conv`, dc.featureSize, dc.hiddenSize, { layout: 'conv1d_k1', weightInit: { kind: 'normal', std: f } });
    const groups = groupNormGroups(dc.hiddenSize);
    this.group_norms = Array.from({ length: dc.numMelAttnBlocks }, (_, i) => new GroupNorm(src, `${name}.group_norms.${i}`, groups, dc.hiddenSize, 1e-5));
    this.mel_attn_blocks = Array.from({ length: dc.numMelAttnBlocks }, (_, i) => new ClvpSelfAttention(src, `${name}.mel_attn_blocks.${i}`, dc.hiddenSize, dc.numAttentionHeads, dc.useAttentionBias));
  }

  /** input_features [B, feature_size, frames] -> one voice vector per clip [B, 1, hidden]. */
  melVector(inputFeatures: tf.Tensor3D): tf.Tensor3D {
    const fs = this.config.decoderConfig.featureSize;
    if (inputFeatures.rank !== 3 || inputFeatures.shape[1] !== fs) {
      throw new Error(`${this.name}: inputFeatures must be [batch, ${fs}, frames], got [${inputFeatures.shape}]`);
    }
    return tf.tidy(() => {
      // Frames stay time-major [B, T, C] throughout: no transposes around each attention block.
      let mel = this.mel_conv.apply(tf.transpose(inputFeatures, [0, 2, 1])) as tf.Tensor3D;
      const n = this.mel_attn_blocks.length;
      for (let i = 0; i < n; i++) {
        const normed = this.group_norms[i].apply(mel);
        if (i === n - 1) {
          // Only frame 0 of the last block is used: compute that one query row.
          const first = this.mel_attn_blocks[i].forward(normed, { firstQueryOnly: true }).output;
          return tf.add(first, tf.slice(mel, [0, 0, 0], [-1, 1, -1])) as tf.Tensor3D;
        }
        mel = tf.add(this.mel_attn_blocks[i].forward(normed).output, mel) as tf.Tensor3D;
      }
      return tf.slice(mel, [0, 0, 0], [-1, 1, -1]) as tf.Tensor3D;
    });
  }

  /** The text half: ids (already bos/eos-padded) -> token + position embeddings [B, T, hidden]. */
  textEmbeds(ids: HostIds, mask: HostIds): tf.Tensor3D {
    const [b, t] = ids.shape;
    const pos = new Int32Array(b * t);
    for (let i = 0; i < b; i++) {
      let c = 0;
      for (let j = 0; j < t; j++) {
        c += mask.data[i * t + j];
        pos[i * t + j] = c - 1;
      }
    }
    return tf.tidy(() => tf.add(this.text_token_embedding.apply(ids.data, ids.shape), this.text_position_embedding.apply(pos, [b, t])) as tf.Tensor3D);
  }

  /**
   * forward(input_features, input_ids, attention_mask) -> [B, 1 + T + 2, hidden]. One text with N
   * clips, or N texts with one clip, are broadcast; N texts with M != N clips is an error.
   */
  forward(inputs: { inputFeatures: tf.Tensor3D; inputIds: IdsInput; attentionMask?: IdsInput }): tf.Tensor3D {
    const ids0 = toHostIds(inputs.inputIds, `${this.name}: inputIds`);
    const mask0 = inputs.attentionMask !== undefined ? toHostIds(inputs.attentionMask, `${this.name}: attentionMask`) : onesMask(...ids0.shape);
    checkSameShape(ids0, mask0, `${this.name}: attentionMask`);
    const nText = ids0.shape[0];
    const nAudio = inputs.inputFeatures.shape[0];
    if (nText !== 1 && nAudio !== 1 && nText !== nAudio) {
      throw new Error(`${this.name}: the number of texts and number of audios must be the same, found ${nText} texts vs ${nAudio} audios`);
    }
    const tc = this.config.textConfig;
    const { ids, mask } = padExtraBosEosTokens(ids0, mask0, { bosTokenId: tc.bosTokenId, eosTokenId: tc.eosTokenId });
    if (ids.shape[1] > this.config.decoderConfig.maxTextTokens) {
      throw new Error(`${this.name}: ${ids.shape[1]} text positions (with bos/eos) exceed max_text_tokens ${this.config.decoderConfig.maxTextTokens}`);
    }
    return tf.tidy(() => {
      let text = this.textEmbeds(ids, mask!);
      let mel = this.melVector(inputs.inputFeatures);
      if (nText === 1 && nAudio !== 1) text = tf.tile(text, [nAudio, 1, 1]);
      else if (nText !== 1 && nAudio === 1) mel = tf.tile(mel, [nText, 1, 1]);
      return tf.concat([mel, text], 1) as tf.Tensor3D;
    });
  }

  dispose(): void {
    this.text_token_embedding.dispose();
    this.text_position_embedding.dispose();
    this.mel_conv.dispose();
    for (const g of this.group_norms) g.dispose();
    for (const a of this.mel_attn_blocks) a.dispose();
  }
}
