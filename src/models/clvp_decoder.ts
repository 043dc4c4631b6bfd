// ClvpDecoder, ClvpModel and ClvpForCausalLM (modeling_clvp.py): a GPT-2 style decoder over speech
// tokens with learned positions, a final LayerNorm, and an extra final_norm + lm_head on top.
import * as tf from '@tensorflow/tfjs-core';
import { ClvpDecoderLayer } from '../layers/decoder_layer';
import { Embedding } from '../layers/embedding';
import { LayerNorm } from '../layers/layer_norm';
import { Linear } from '../layers/linear';
import { causalMask4d } from '../layers/masks';
import { ParallelContext, shardRange } from '../layers/parallel';
import { DeviceResidualStream, ResidualStream } from '../layers/residual';
import { DecoderCache, TensorKVCache } from '../layers/tensor_kv_cache';
import { disposeAll, tidyHost, tidyKeeping } from '../layers/tidy';
import { ClvpDecoderConfig } from '../config/configuration_clvp';
import { IdsInput, toHostIds } from './ids';
import { ParamSource } from '../layers/params';

/** Position ids [B or 1, T or 1] (broadcast like torch), as plain numbers. */
export interface PositionIds {
  data: Int32Array;
  shape: [number, number];
}

export interface DecoderInputs {
  inputIds?: IdsInput;
  /** [B, T, hidden] in place of inputIds */
  inputsEmbeds?: tf.Tensor3D;
  /** 2D padding mask over past + new positions */
  attentionMask?: IdsInput;
  /** default: past_length .. past_length + T - 1 */
  positionIds?: PositionIds;
  /** when given, new keys/values are appended to it and attention covers it */
  cache?: DecoderCache;
  /**
   * Keep the residual stream on the backend's device and read nothing back synchronously (for
   * tfjs-webgpu); the cache, if any, is then a TensorKVCache. Default: the host stream.
   */
  onDevice?: boolean;
  outputHiddenStates?: boolean;
}

export interface DecoderOutput {
  /** [B, T, hidden] after decoder.layer_norm */
  lastHiddenState: tf.Tensor3D;
  /** embeddings + positions, each layer's output, then the final normed state */
  hiddenStates?: tf.Tensor3D[];
}

export class ClvpDecoder {
  readonly input_embeds_layer: Embedding;
  readonly position_embeds_layer: Embedding;
  readonly layers: ClvpDecoderLayer[];
  readonly layer_norm: LayerNorm;

  private readonly parallel: ParallelContext;

  constructor(src: ParamSource, readonly name: string, readonly config: ClvpDecoderConfig) {
    this.parallel = src.parallel;
    const std = config.initializerFactor * 0.02;
    this.input_embeds_layer = new Embedding(src, `${name}.input_embeds_layer`, config.vocabSize, config.hiddenSize, std);
    this.position_embeds_layer = new Embedding(src, `${name}.position_embeds_layer`, config.maxPositionEmbeddings, config.hiddenSize, std);
    this.layers = Array.from({ length: config.numHiddenLayers }, (_, i) => new ClvpDecoderLayer(src, `${name}.layers.${i}`, config));
    this.layer_norm = new LayerNorm(src, `${name}.layer_norm`, config.hiddenSize, config.layerNormEpsilon);
  }

  forward(inputs: DecoderInputs): DecoderOutput {
    const hiddenStates: tf.Tensor3D[] | undefined = inputs.outputHiddenStates ? [] : undefined;
    try {
      const stream = this.runLayers(inputs, hiddenStates);
      let lastHiddenState: tf.Tensor3D;
      try {
        lastHiddenState = stream.normalized(this.layer_norm);
      } finally {
        stream.dispose();
      }
      if (hiddenStates) hiddenStates.push(tf.clone(lastHiddenState));
      return { lastHiddenState, hiddenStates };
    } catch (e) {
      disposeAll(hiddenStates);
      throw e;
    }
  }

  /**
   * Embeddings, positions and every layer, on the host residual stream (before the final
   * layer_norm). With `hiddenStates`, the stream before each layer is appended to it as a tensor.
   */
  runLayers(inputs: DecoderInputs, hiddenStates?: tf.Tensor3D[]): ResidualStream | DeviceResidualStream {
    if ((inputs.inputIds === undefined) === (inputs.inputsEmbeds === undefined)) throw new Error(`${this.name}: pass exactly one of inputIds and inputsEmbeds`);
    if (inputs.cache && inputs.cache instanceof TensorKVCache !== !!inputs.onDevice) throw new Error(`${this.name}: a TensorKVCache goes with onDevice, a KVCache with the host stream`);
    const past = inputs.cache?.length ?? 0;
    let mask: tf.Tensor4D | null = null;
    let stream: ResidualStream | DeviceResidualStream | undefined;
    tidyKeeping(() => mask, () => {
      let x: tf.Tensor3D;
      if (inputs.inputIds !== undefined) {
        const ids = toHostIds(inputs.inputIds, `${this.name}: inputIds`);
        x = this.input_embeds_layer.apply(ids.data, ids.shape) as tf.Tensor3D;
      } else {
        x = inputs.inputsEmbeds!;
        if (x.rank !== 3 || x.shape[2] !== this.config.hiddenSize) throw new Error(`${this.name}: inputsEmbeds must be [batch, length, ${this.config.hiddenSize}], got [${x.shape}]`);
      }
      const [b, t] = x.shape;
      let pos = inputs.positionIds;
      if (!pos) {
        const data = new Int32Array(t);
        for (let i = 0; i < t; i++) data[i] = past + i;
        pos = { data, shape: [1, t] };
      }
      const [pb, pt] = pos.shape;
      if ((pb !== 1 && pb !== b) || (pt !== 1 && pt !== t)) throw new Error(`${this.name}: positionIds of shape [${pos.shape}] do not broadcast to [${b}, ${t}]`);
      x = tf.add(x, this.position_embeds_layer.apply(pos.data, pos.shape)) as tf.Tensor3D;

      let mask2d: Int32Array | null = null;
      if (inputs.attentionMask !== undefined) {
        const m = toHostIds(inputs.attentionMask, `${this.name}: attentionMask`);
        if (m.shape[0] !== b || m.shape[1] !== past + t) throw new Error(`${this.name}: attentionMask must be [${b}, ${past + t}] (past + new positions), got [${m.shape}]`);
        mask2d = m.data;
      }
      mask = causalMask4d(mask2d, b, t, past);
      if (mask) tf.keep(mask);
      stream = inputs.onDevice ? DeviceResidualStream.fromTensor(x, this.parallel) : ResidualStream.fromTensor(x, this.parallel);
    });
    try {
      for (let i = 0; i < this.layers.length; i++) {
        if (hiddenStates) hiddenStates.push(stream!.toTensor());
        this.layers[i].forward(stream!, mask, inputs.cache ? { cache: inputs.cache, layer: i } : undefined);
      }
    } catch (e) {
      stream!.dispose();
      throw e;
    } finally {
      (mask as tf.Tensor4D | null)?.dispose();
    }
    return stream!;
  }

  dispose(): void {
    this.input_embeds_layer.dispose();
    this.position_embeds_layer.dispose();
    for (const l of this.layers) l.dispose();
    this.layer_norm.dispose();
  }
}

/** ClvpModel: a wrapper that only adds the `.decoder` level to parameter names. */
export class ClvpModel {
  readonly decoder: ClvpDecoder;
  constructor(src: ParamSource, readonly name: string, config: ClvpDecoderConfig) {
    this.decoder = new ClvpDecoder(src, `${name}.decoder`, config);
  }
  dispose(): void {
    this.decoder.dispose();
  }
}

export interface CausalLMOutput extends DecoderOutput {
  /** [B, T, vocab] */
  logits: tf.Tensor3D;
}

export class ClvpForCausalLM {
  readonly model: ClvpModel;
  readonly final_norm: LayerNorm;
  readonly lm_head: Linear;
  private readonly parallel: ParallelContext;

  constructor(src: ParamSource, readonly name: string, readonly config: ClvpDecoderConfig) {
    this.parallel = src.parallel;
    this.model = new ClvpModel(src, `${name}.model`, config);
    // HF builds final_norm with nn.LayerNorm's default eps (1e-5), not layer_norm_epsilon.
    this.final_norm = new LayerNorm(src, `${name}.final_norm`, config.hiddenSize, 1e-5);
    this.lm_head = new Linear(src, `${name}.lm_head`, config.hiddenSize, config.vocabSize, { weightInit: { kind: 'normal', std: config.initializerFactor * 0.02 } });
  }

  forward(inputs: DecoderInputs): CausalLMOutput {
    const out = this.model.decoder.forward(inputs);
    try {
      const logits = tf.tidy(() => this.lm_head.apply(this.final_norm.apply(out.lastHiddenState)) as tf.Tensor3D);
      return { ...out, logits };
    } catch (e) {
      disposeAll([out.lastHiddenState, out.hiddenStates]);
      throw e;
    }
  }

  /**
   * Logits of the last position only [B, vocab], on the host: what a prefill or a decode step
   * needs. The two final LayerNorms run on the host rows, and the vocabulary slices of lm_head
   * are gathered straight to the host.
   */
  lastLogits(inputs: DecoderInputs): Float32Array {
    if (inputs.onDevice) throw new Error(`${this.name}.lastLogits reads the host stream: use lastLogitsOnDevice`);
    const dec = this.model.decoder;
    const stream = dec.runLayers(inputs) as ResidualStream;
    const [b, t, h] = stream.shape;
    const last = new Float32Array(b * h);
    for (let i = 0; i < b; i++) last.set(stream.data.subarray((i * t + t - 1) * h, (i * t + t) * h), i * h);
    const normed = this.final_norm.applyHost(dec.layer_norm.applyHost(last));
    const size = this.parallel.size;
    const columns = Array.from({ length: size }, (_, r) => shardRange(this.config.vocabSize, r, size).count);
    return tidyHost(() => this.parallel.gatherColumns(this.lm_head.applyPartial(tf.tensor2d(normed, [b, h])) as tf.Tensor2D, columns));
  }

  /** lastLogits without a synchronous read: the logits [B, vocab] as a tensor the caller reads (and disposes). */
  lastLogitsOnDevice(inputs: DecoderInputs): tf.Tensor2D {
    const dec = this.model.decoder;
    const stream = dec.runLayers({ ...inputs, onDevice: true }) as DeviceResidualStream;
    try {
      return tf.tidy(() => this.lm_head.apply(this.final_norm.apply(dec.layer_norm.apply(stream.lastRows()))) as tf.Tensor2D);
    } finally {
      stream.dispose();
    }
  }

  dispose(): void {
    this.model.dispose();
    this.final_norm.dispose();
    this.lm_head.dispose();
  }
}
