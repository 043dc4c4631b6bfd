// ClvpModelForConditionalGeneration (modeling_clvp.py): conditioning encoder, speech decoder, text
// and speech encoders, and the contrastive head. Generation lives in ../generation/generate.ts.
import * as tf from '@tensorflow/tfjs-core';
import * as fs from 'fs';
import * as path from 'path';
import { SafetensorsCheckpoint } from '../io/safetensors';
import { ClvpForCausalLM } from './clvp_decoder';
import { ClvpEncoder, ClvpEncoderOutput } from './clvp_encoder';
import { ClvpConditioningEncoder } from './conditioning_encoder';
import { ClvpConfig, readConfig, validateConfig } from './configuration_clvp';
import { HostIds, IdsInput, toHostIds } from './ids';
import type { GenerationConfig } from '../generation/generation_config';
import { generationConfigFromJson } from '../generation/generation_config';
import { ClvpGenerateInputs, ClvpGenerateOptions, ClvpGenerateOutput, decodeSpeechTokens, decoderInputsEmbeds, generate, resolveGenerationConfig } from '../generation/generate';
import { RankOptions, RankResult, rankCandidates } from '../generation/rank';
import { CheckpointSource, ParamSource, RandomInitSource } from './weights';

export interface ClvpForwardInputs {
  inputIds: IdsInput;
  /** [B or 1, feature_size, frames] */
  inputFeatures: tf.Tensor3D;
  attentionMask?: IdsInput;
  returnLoss?: boolean;
}

export interface ClvpOutput {
  loss?: tf.Scalar;
  /** fixed speech ids fed to the speech encoder [B, N] */
  speechIds: tf.Tensor2D;
  logitsPerText: tf.Tensor2D;
  logitsPerSpeech: tf.Tensor2D;
  /** L2-normalised [B, projection_dim] */
  textEmbeds: tf.Tensor2D;
  speechEmbeds: tf.Tensor2D;
  textModelOutput: ClvpEncoderOutput;
  speechModelOutput: ClvpEncoderOutput;
  conditioningEmbeds: tf.Tensor3D;
  decoderLogits: tf.Tensor3D;
}

/** Where a model came from: enough to build an identical copy elsewhere (a worker thread). */
export type ModelSource = { kind: 'pretrained'; dir: string; weightsFile?: string } | { kind: 'random'; config: ClvpConfig; seed: number };

export interface FromPretrainedOptions {
  /** weights file inside the folder (default: model.safetensors, or the shard index) */
  weightsFile?: string;
}

/** Dispose every tensor reachable from an output object (arrays and nested objects included). */
export function disposeOutput(x: unknown): void {
  if (x instanceof tf.Tensor) x.dispose();
  else if (Array.isArray(x)) x.forEach(disposeOutput);
  else if (x && typeof x === 'object') Object.values(x).forEach(disposeOutput);
}

export class ClvpModelForConditionalGeneration {
  readonly conditioning_encoder: ClvpConditioningEncoder;
  readonly speech_decoder_model: ClvpForCausalLM;
  readonly text_encoder_model: ClvpEncoder;
  readonly speech_encoder_model: ClvpEncoder;
  /** scalar, stored as [] */
  readonly logit_scale: tf.Scalar;
  /** generation settings from the folder's generation_config.json (token ids, max_new_tokens...) */
  generationDefaults: Partial<GenerationConfig> = {};
  /** how to build this model again (worker threads load their own copy from it) */
  source: ModelSource | undefined;
  private disposed = false;

  constructor(readonly config: ClvpConfig, src: ParamSource = new RandomInitSource(0)) {
    validateConfig(config);
    this.conditioning_encoder = new ClvpConditioningEncoder(src, 'conditioning_encoder', config);
    this.speech_decoder_model = new ClvpForCausalLM(src, 'speech_decoder_model', config.decoderConfig);
    this.text_encoder_model = new ClvpEncoder(src, 'text_encoder_model', config.textConfig);
    this.speech_encoder_model = new ClvpEncoder(src, 'speech_encoder_model', config.speechConfig);
    this.logit_scale = src.take({ name: 'logit_scale', shape: [], layout: 'same', init: { kind: 'const', value: config.logitScaleInitValue } }) as tf.Scalar;
  }

  /** A model with HF's random initialisation (seeded), for tests and benchmarks. */
  static fromConfig(config: ClvpConfig, seed = 0): ClvpModelForConditionalGeneration {
    const model = new ClvpModelForConditionalGeneration(config, new RandomInitSource(seed));
    model.source = { kind: 'random', config, seed };
    return model;
  }

  /**
   * Load an HF CLVP folder (config.json + model.safetensors, or shards with
   * model.safetensors.index.json; F32/F16/BF16 weights are read as float32).
   */
  static async fromPretrained(dir: string, options: FromPretrainedOptions = {}): Promise<ClvpModelForConditionalGeneration> {
    const configFile = path.join(dir, 'config.json');
    if (!fs.existsSync(configFile)) throw new Error(`${dir}: no config.json (is this a Hugging Face CLVP folder?)`);
    const config = readConfig(configFile);
    const weights = options.weightsFile ? path.join(dir, options.weightsFile) : dir;
    if (!options.weightsFile && !fs.existsSync(path.join(dir, 'model.safetensors')) && !fs.existsSync(path.join(dir, 'model.safetensors.index.json'))) {
      if (fs.existsSync(path.join(dir, 'pytorch_model.bin'))) {
        throw new Error(`${dir}: only pytorch_model.bin found; convert it first: clvp convert ${path.join(dir, 'pytorch_model.bin')} <out-dir>`);
      }
    }
    const ckpt = SafetensorsCheckpoint.open(weights);
    try {
      const src = new CheckpointSource(ckpt, weights);
      let model: ClvpModelForConditionalGeneration;
      try {
        model = new ClvpModelForConditionalGeneration(config, src);
      } catch (e) {
        src.finish();
        throw e;
      }
      src.finish();
      model.source = { kind: 'pretrained', dir, weightsFile: options.weightsFile };
      const genFile = path.join(dir, 'generation_config.json');
      if (fs.existsSync(genFile)) {
        try {
          model.generationDefaults = generationConfigFromJson(JSON.parse(fs.readFileSync(genFile, 'utf8')));
        } catch (e) {
          model.dispose();
          throw new Error(`${genFile}: cannot read generation config: ${(e as Error).message}`);
        }
      }
      return model;
    } finally {
      ckpt.close();
    }
  }

  private check(): void {
    if (this.disposed) throw new Error('ClvpModelForConditionalGeneration: used after dispose()');
  }

  /** get_text_features: the text encoder's projection (not normalised) [B, projection_dim]. */
  getTextFeatures(inputs: { inputIds: IdsInput; attentionMask?: IdsInput }): tf.Tensor2D {
    this.check();
    const out = this.text_encoder_model.forward({ inputIds: inputs.inputIds, attentionMask: inputs.attentionMask });
    out.lastHiddenState.dispose();
    out.poolerOutput.dispose();
    return out.embeds;
  }

  /**
   * get_speech_features: the speech encoder's projection [B, projection_dim] of `speechIds`.
   * Given text ids and features instead, it first generates the speech ids as the reference does
   * (conditioning encoder without the extra eos, the decoder's generate, fix) and returns a Promise.
   */
  getSpeechFeatures(inputs: { speechIds: IdsInput; attentionMask?: IdsInput }): tf.Tensor2D;
  getSpeechFeatures(inputs: { inputIds: IdsInput; inputFeatures: tf.Tensor3D; attentionMask?: IdsInput }, options?: ClvpGenerateOptions): Promise<tf.Tensor2D>;
  getSpeechFeatures(
    inputs: { speechIds: IdsInput; attentionMask?: IdsInput } | { inputIds: IdsInput; inputFeatures: tf.Tensor3D; attentionMask?: IdsInput },
    options: ClvpGenerateOptions = {},
  ): tf.Tensor2D | Promise<tf.Tensor2D> {
    this.check();
    if ('speechIds' in inputs) {
      const out = this.speech_encoder_model.forward({ inputIds: inputs.speechIds, attentionMask: inputs.attentionMask });
      out.lastHiddenState.dispose();
      out.poolerOutput.dispose();
      return out.embeds;
    }
    return (async () => {
      const cond = this.conditioning_encoder.forward(inputs);
      const decIn = decoderInputsEmbeds(this, cond);
      cond.dispose();
      try {
        const dec = await decodeSpeechTokens(this, decIn, resolveGenerationConfig(this, options), options);
        const dc = this.config.decoderConfig;
        return this.getSpeechFeatures({ speechIds: fixSpeechDecoderOutput(dec.sequences, dc.eosTokenId, dc.decoderFixingCodes) });
      } finally {
        decIn.dispose();
      }
    })();
  }

  /** generate: candidates per text, fixed and scored (see generation/generate.ts for the options). */
  generate(inputs: ClvpGenerateInputs, options: ClvpGenerateOptions = {}): Promise<ClvpGenerateOutput> {
    this.check();
    return generate(this, inputs, options);
  }

  /** Sample candidates for one text in one voice, in batches, sorted by CLVP score (best first). */
  rankCandidates(inputs: { inputIds: IdsInput; inputFeatures: tf.Tensor3D; attentionMask?: IdsInput }, options: RankOptions = {}): Promise<RankResult> {
    this.check();
    return rankCandidates(this, inputs, options);
  }

  /**
   * fix_speech_decoder_output: drop column 0 (bos); every eos becomes fixing_codes[0]; in a row with
   * an eos, everything from the first eos on becomes fixing_codes[0] and the last three positions
   * fixing_codes[1..3]. Unlike the reference (which fails), rows shorter than 3 after bos get the
   * trailing codes that fit: the last min(3, length) of fixing_codes[1..3].
   */
  fixSpeechDecoderOutput(sequences: IdsInput): HostIds {
    const s = toHostIds(sequences, 'fixSpeechDecoderOutput: speechIds');
    return fixSpeechDecoderOutput(s, this.config.decoderConfig.eosTokenId, this.config.decoderConfig.decoderFixingCodes);
  }

  /** Contrastive scores of normalised text and speech embeddings: [texts, speeches]. */
  similarity(textEmbeds: tf.Tensor2D, speechEmbeds: tf.Tensor2D): { logitsPerText: tf.Tensor2D; textEmbeds: tf.Tensor2D; speechEmbeds: tf.Tensor2D } {
    return tf.tidy(() => {
      const tn = tf.div(textEmbeds, tf.norm(textEmbeds, 2, -1, true)) as tf.Tensor2D;
      const sn = tf.div(speechEmbeds, tf.norm(speechEmbeds, 2, -1, true)) as tf.Tensor2D;
      const logitsPerText = tf.mul(tf.matMul(tn, sn, false, true), tf.exp(this.logit_scale)) as tf.Tensor2D;
      return { logitsPerText, textEmbeds: tn, speechEmbeds: sn };
    });
  }

  /**
   * forward: the decoder runs once over the conditioning embeddings, its argmax (fixed) is the
   * speech ids, and text and speech are compared. With returnLoss, CLIP's symmetric cross-entropy.
   */
  forward(inputs: ClvpForwardInputs): ClvpOutput {
    this.check();
    const conditioningEmbeds = this.conditioning_encoder.forward(inputs);
    const dec = this.speech_decoder_model.forward({ inputsEmbeds: conditioningEmbeds });
    const [b, t, v] = dec.logits.shape;
    const argmax = tf.tidy(() => tf.argMax(dec.logits, 2).dataSync() as Int32Array);
    dec.lastHiddenState.dispose();
    const fixed = fixSpeechDecoderOutput({ data: Int32Array.from(argmax), shape: [b, t] }, this.config.decoderConfig.eosTokenId, this.config.decoderConfig.decoderFixingCodes);
    void v;
    const speechModelOutput = this.speech_encoder_model.forward({ inputIds: fixed });
    const textModelOutput = this.text_encoder_model.forward({ inputIds: inputs.inputIds, attentionMask: inputs.attentionMask });
    const sim = this.similarity(textModelOutput.embeds, speechModelOutput.embeds);
    const logitsPerSpeech = tf.transpose(sim.logitsPerText) as tf.Tensor2D;
    const loss = inputs.returnLoss ? clvpLoss(sim.logitsPerText) : undefined;
    return {
      loss,
      speechIds: tf.tensor2d(fixed.data, fixed.shape, 'int32'),
      logitsPerText: sim.logitsPerText,
      logitsPerSpeech,
      textEmbeds: sim.textEmbeds,
      speechEmbeds: sim.speechEmbeds,
      textModelOutput,
      speechModelOutput,
      conditioningEmbeds,
      decoderLogits: dec.logits,
    };
  }

  /** Number of parameters (logit_scale included). */
  numParameters(): number {
    let n = 0;
    const visit = (x: unknown, seen: Set<unknown>) => {
      if (seen.has(x)) return;
      seen.add(x);
      if (x instanceof tf.Tensor) n += x.size;
      else if (Array.isArray(x)) x.forEach((y) => visit(y, seen));
      else if (x && typeof x === 'object' && !(x instanceof Float32Array)) Object.values(x).forEach((y) => visit(y, seen));
    };
    visit([this.conditioning_encoder, this.speech_decoder_model, this.text_encoder_model, this.speech_encoder_model, this.logit_scale], new Set());
    return n;
  }

  dispose(): void {
    if (this.disposed) return;
    this.conditioning_encoder.dispose();
    this.speech_decoder_model.dispose();
    this.text_encoder_model.dispose();
    this.speech_encoder_model.dispose();
    this.logit_scale.dispose();
    this.disposed = true;
  }
}

export function fixSpeechDecoderOutput(s: HostIds, eos: number, codes: number[]): HostIds {
  const [b, t] = s.shape;
  const n = Math.max(t - 1, 0);
  const out = new Int32Array(b * n);
  for (let i = 0; i < b; i++) {
    const row = out.subarray(i * n, (i + 1) * n);
    row.set(s.data.subarray(i * t + 1, (i + 1) * t));
    const stop = row.indexOf(eos);
    if (stop < 0) continue;
    row.fill(codes[0], stop);
    const tail = codes.slice(1);
    const k = Math.min(3, n);
    for (let j = 0; j < k; j++) row[n - k + j] = tail[3 - k + j];
  }
  return { data: out, shape: [b, n] };
}

/** clvp_loss: mean of the cross-entropies of logits_per_text and its transpose against the diagonal. */
export function clvpLoss(logitsPerText: tf.Tensor2D): tf.Scalar {
  return tf.tidy(() => {
    const ce = (l: tf.Tensor2D) => {
      const n = l.shape[0];
      const logp = tf.logSoftmax(l, -1);
      const diag = tf.sum(tf.mul(logp, tf.eye(n, l.shape[1])), -1);
      return tf.neg(tf.mean(diag));
    };
    return tf.div(tf.add(ce(logitsPerText), ce(tf.transpose(logitsPerText) as tf.Tensor2D)), 2) as tf.Scalar;
  });
}
