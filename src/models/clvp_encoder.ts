// ClvpEncoder (modeling_clvp.py): token embedding, rotary layers, final LayerNorm, mean pooling
// over all positions (SequenceSummary 'mean': padding included), projection without bias.
import * as tf from '@tensorflow/tfjs-core';
import { ClvpEncoderLayer } from '../layers/encoder_layer';
import { Embedding } from '../layers/embedding';
import { LayerNorm } from '../layers/layer_norm';
import { Linear } from '../layers/linear';
import { paddingMask4d } from '../layers/masks';
import { RotaryEmbedding } from '../layers/rotary';
import { tidyKeeping } from '../layers/tidy';
import { ClvpEncoderConfig } from '../config/configuration_clvp';
import { IdsInput, checkSameShape, toHostIds } from './ids';
import { ParamSource } from '../layers/params';

export interface ClvpEncoderInputs {
  inputIds?: IdsInput;
  /** [B, T, hidden] in place of inputIds */
  inputsEmbeds?: tf.Tensor3D;
  attentionMask?: IdsInput;
  outputHiddenStates?: boolean;
  outputAttentions?: boolean;
}

export interface ClvpEncoderOutput {
  /** projection of the pooled output [B, projection_dim] (not normalised) */
  embeds: tf.Tensor2D;
  /** after final_layer_norm [B, T, hidden] */
  lastHiddenState: tf.Tensor3D;
  /** mean over positions [B, hidden] */
  poolerOutput: tf.Tensor2D;
  /** embedding output, then each layer's output (before the final LayerNorm) */
  hiddenStates?: tf.Tensor3D[];
  /** softmax probabilities per layer [B, heads, T, T] */
  attentions?: tf.Tensor4D[];
}

export class ClvpEncoder {
  readonly token_embedding: Embedding;
  readonly rotary_pos_emb: RotaryEmbedding | null;
  readonly layers: ClvpEncoderLayer[];
  readonly final_layer_norm: LayerNorm;
  readonly projection: Linear;

  constructor(src: ParamSource, readonly name: string, readonly config: ClvpEncoderConfig) {
    const f = config.initializerFactor;
    this.token_embedding = new Embedding(src, `${name}.token_embedding`, config.vocabSize, config.hiddenSize, 0.02 * f);
    this.rotary_pos_emb = config.useRotaryEmbedding ? new RotaryEmbedding(src, `${name}.rotary_pos_emb`, config) : null;
    this.layers = Array.from({ length: config.numHiddenLayers }, (_, i) => new ClvpEncoderLayer(src, `${name}.layers.${i}`, config));
    this.final_layer_norm = new LayerNorm(src, `${name}.final_layer_norm`, config.hiddenSize, config.layerNormEps);
    this.projection = new Linear(src, `${name}.projection`, config.hiddenSize, config.projectionDim, { bias: false, weightInit: { kind: 'normal', std: f * config.hiddenSize ** -0.5 } });
  }

  forward(inputs: ClvpEncoderInputs): ClvpEncoderOutput {
    if ((inputs.inputIds === undefined) === (inputs.inputsEmbeds === undefined)) throw new Error(`${this.name}: pass exactly one of inputIds and inputsEmbeds`);
    const hiddenStates: tf.Tensor3D[] | undefined = inputs.outputHiddenStates ? [] : undefined;
    const attentions: tf.Tensor4D[] | undefined = inputs.outputAttentions ? [] : undefined;
    const result = tidyKeeping(() => [hiddenStates, attentions], () => {
      let x: tf.Tensor3D;
      if (inputs.inputIds !== undefined) {
        const ids = toHostIds(inputs.inputIds, `${this.name}: inputIds`);
        x = this.token_embedding.apply(ids.data, ids.shape) as tf.Tensor3D;
      } else {
        x = inputs.inputsEmbeds!;
        if (x.rank !== 3 || x.shape[2] !== this.config.hiddenSize) throw new Error(`${this.name}: inputsEmbeds must be [batch, length, ${this.config.hiddenSize}], got [${x.shape}]`);
      }
      const [b, t] = x.shape;
      let mask: tf.Tensor4D | null = null;
      if (inputs.attentionMask !== undefined) {
        const m = toHostIds(inputs.attentionMask, `${this.name}: attentionMask`);
        checkSameShape({ data: new Int32Array(0), shape: [b, t] }, m, `${this.name}: attentionMask`);
        mask = paddingMask4d(m.data, b, t, t);
      }
      const rotary = this.rotary_pos_emb?.tables(t);
      for (const layer of this.layers) {
        if (hiddenStates) hiddenStates.push(tf.keep(tf.clone(x)));
        const out = layer.forward(x, rotary, mask, !!attentions);
        if (out.attentions) attentions!.push(tf.keep(out.attentions));
        x = out.hidden;
      }
      if (hiddenStates) hiddenStates.push(tf.keep(tf.clone(x)));
      const lastHiddenState = this.final_layer_norm.apply(x) as tf.Tensor3D;
      const poolerOutput = tf.mean(lastHiddenState, 1) as tf.Tensor2D;
      const embeds = this.projection.apply(poolerOutput) as tf.Tensor2D;
      return { embeds, lastHiddenState, poolerOutput };
    });
    return { ...result, hiddenStates, attentions };
  }

  dispose(): void {
    this.token_embedding.dispose();
    this.rotary_pos_emb?.dispose();
    for (const l of this.layers) l.dispose();
    this.final_layer_norm.dispose();
    this.projection.dispose();
  }
}
