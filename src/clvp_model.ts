// ClvpModelForConditionalGeneration, the class users hold (HF's modeling_clvp.py): loading,
// forward, get_text_features / get_speech_features, generate, and Tortoise's candidate ranking.
// Every method is composed from the calls of a runtime (runtime/runtime.ts), so the same model
// runs as one tfjs instance or split over tensor-parallel workers, chosen at load time.
import * as tf from '@tensorflow/tfjs-core';
import { checkBackendAlive, explainBackendFailure, initBackend } from './backend';
import { ClvpConfig, countParameters } from './config/configuration_clvp';
import { ClvpGenerateInputs, ClvpGenerateOptions, ClvpGenerateOutput, decodeSpeechTokens, featuresToHost, generate, normalizeRows, resolveGenerationConfig, similarity, transposeHost } from './generation/generate';
import { GenerationConfig, generationConfigFromJson } from './generation/generation_config';
import { RankOptions, RankResult, rankCandidates } from './generation/rank';
import { ModelFolder } from './io/folder';
import type { ClvpEncoderOutput } from './models/clvp_encoder';
import { toTensor } from './models/host';
import { HostIds, IdsInput, onesMask, toHostIds } from './models/ids';
import { LoadProgress } from './models/weights';
import { ClvpModules, clvpLoss, fixSpeechDecoderOutput } from './models/modeling_clvp';
import { DownloadProgress, log, platform } from './platform/platform';
import type { ClvpRuntime, EncoderResult, InstanceMemory } from './runtime/runtime';
import { LocalRuntime } from './runtime/local';
import { ModelSource, startRuntime } from './runtime/start';

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

export interface RuntimeOptions {
  /** tfjs backend: 'tensorflow' | 'wasm' | 'cpu' (default: CLVP_BACKEND, else the best available) */
  backend?: string;
  /**
   * Tensor-parallel workers: a positive integer, or 'auto' (default: CLVP_TP, else auto: one
   * instance when the model fits one wasm heap or the backend is not wasm, else as many workers as
   * the cores and the attention heads allow).
   */
  tp?: number | 'auto';
}

export interface FromPretrainedOptions extends RuntimeOptions {
  /** weights file inside the folder (default: model.safetensors, its index, pytorch_model.bin, its index) */
  weightsFile?: string;
  /** Hub branch, tag or commit, for model ids (default 'main') */
  revision?: string;
  /** download and load progress */
  onProgress?: (p: { phase: 'download'; download: DownloadProgress } | { phase: 'load'; load: LoadProgress }) => void;
  signal?: AbortSignal;
}

function requestedTp(opts: RuntimeOptions): number | 'auto' | undefined {
  if (opts.tp !== undefined) return opts.tp;
  const env = platform().env('CLVP_TP');
  if (env === undefined || env === '') return undefined;
  if (env.trim().toLowerCase() === 'auto') return 'auto';
  const n = Number(env);
  return Number.isInteger(n) && n >= 1 ? n : (env as unknown as number);
}

/** getSpeechFeatures' input: speech ids, or a text and a voice to generate them from. */
export type SpeechFeaturesInputs = { speechIds: IdsInput; attentionMask?: IdsInput } | { inputIds: IdsInput; inputFeatures: tf.Tensor3D; attentionMask?: IdsInput };

export class ClvpModelForConditionalGeneration {
  private disposed = false;

  private constructor(
    readonly runtime: ClvpRuntime,
    /** generation settings from the folder's generation_config.json (token ids, max_new_tokens...) */
    public generationDefaults: Partial<GenerationConfig>,
    /** where the model came from, for messages */
    readonly label: string,
  ) {}

  /**
   * Load an HF CLVP model: a local folder, a Hugging Face Hub id (through the HF cache), or a URL
   * in the browser; or any ModelFolder. F32/F16/BF16 safetensors (single or sharded) and
   * pytorch_model.bin (Node) are read tensor by tensor, as float32.
   */
  static async fromPretrained(idOrFolder: string | ModelFolder, opts: FromPretrainedOptions = {}): Promise<ClvpModelForConditionalGeneration> {
    const folder = typeof idOrFolder === 'string'
      ? await platform().openModel(idOrFolder, { revision: opts.revision, signal: opts.signal, onProgress: opts.onProgress && ((download) => opts.onProgress!({ phase: 'download', download })) })
      : idOrFolder;
    const source: ModelSource = { kind: 'folder', folder, weightsFile: opts.weightsFile };
    return ClvpModelForConditionalGeneration.start(source, opts, folder.label);
  }

  /** A model over a runtime started elsewhere (a custom pool, a test's fault-injecting workers). */
  static fromRuntime(runtime: ClvpRuntime, generationConfig: Record<string, unknown> | null = null, label = 'model'): ClvpModelForConditionalGeneration {
    return new ClvpModelForConditionalGeneration(runtime, generationConfig ? generationConfigFromJson(generationConfig) : {}, label);
  }

  /** A model with HF's random initialisation (seeded), for tests and benchmarks. */
  static async fromConfig(config: ClvpConfig, seed = 0, opts: RuntimeOptions = {}): Promise<ClvpModelForConditionalGeneration> {
    return ClvpModelForConditionalGeneration.start({ kind: 'random', config, seed }, opts, `random model (seed ${seed})`);
  }

  private static async start(source: ModelSource, opts: FromPretrainedOptions, label: string): Promise<ClvpModelForConditionalGeneration> {
    const backend = await initBackend(opts.backend);
    const started = await startRuntime(source, {
      backend,
      tp: requestedTp(opts),
      onProgress: opts.onProgress && ((load) => opts.onProgress!({ phase: 'load', load })),
      log,
    });
    return new ClvpModelForConditionalGeneration(started.runtime, started.generationConfig ? generationConfigFromJson(started.generationConfig) : {}, label);
  }

  get config(): ClvpConfig {
    return this.runtime.config;
  }

  /** Tensor-parallel ranks the model runs on (1: one instance in this thread). */
  get tp(): number {
    return this.runtime.tp;
  }

  /** The module tree, with HF's attribute names; only for a model in this thread (tp = 1). */
  get modules(): ClvpModules {
    if (this.runtime instanceof LocalRuntime) return this.runtime.modules;
    throw new Error(`${this.label}: the modules live in ${this.runtime.tp} tensor-parallel workers; call the model's methods instead, or load with tp: 1`);
  }

  get conditioning_encoder() {
    return this.modules.conditioning_encoder;
  }
  get speech_decoder_model() {
    return this.modules.speech_decoder_model;
  }
  get text_encoder_model() {
    return this.modules.text_encoder_model;
  }
  get speech_encoder_model() {
    return this.modules.speech_encoder_model;
  }

  private check(): void {
    if (this.disposed) throw new Error('ClvpModelForConditionalGeneration: used after dispose()');
    checkBackendAlive(this.runtime.backend, this.label);
  }

  /** A call's result; if the GPU device was lost under it, an error that says so. */
  private async explained<T>(call: Promise<T>): Promise<T> {
    try {
      return await call;
    } catch (e) {
      throw explainBackendFailure(e);
    }
  }

  /** get_text_features: the text encoder's projection (not normalised) [B, projection_dim]. */
  async getTextFeatures(inputs: { inputIds: IdsInput; attentionMask?: IdsInput }): Promise<tf.Tensor2D> {
    this.check();
    return this.explained(this.getTextFeaturesOnce(inputs));
  }

  private async getTextFeaturesOnce(inputs: { inputIds: IdsInput; attentionMask?: IdsInput }): Promise<tf.Tensor2D> {
    const ids = toHostIds(inputs.inputIds, 'getTextFeatures: inputIds');
    const mask = inputs.attentionMask !== undefined ? toHostIds(inputs.attentionMask, 'getTextFeatures: attentionMask') : undefined;
    return toTensor((await this.runtime.encoder({ which: 'text', ids, mask })).embeds) as tf.Tensor2D;
  }

  /**
   * get_speech_features: the speech encoder's projection [B, projection_dim] of `speechIds`.
   * Given text ids and features instead, it first generates the speech ids as the reference does
   * (conditioning encoder without the extra eos, the decoder's generate, fix).
   */
  async getSpeechFeatures(inputs: SpeechFeaturesInputs, options: ClvpGenerateOptions = {}): Promise<tf.Tensor2D> {
    this.check();
    return this.explained(this.getSpeechFeaturesOnce(inputs, options));
  }

  private async getSpeechFeaturesOnce(inputs: SpeechFeaturesInputs, options: ClvpGenerateOptions): Promise<tf.Tensor2D> {
    let speechIds: HostIds;
    let mask: HostIds | undefined;
    if ('speechIds' in inputs) {
      speechIds = toHostIds(inputs.speechIds, 'getSpeechFeatures: speechIds');
      mask = inputs.attentionMask !== undefined ? toHostIds(inputs.attentionMask, 'getSpeechFeatures: attentionMask') : undefined;
    } else {
      const ids = toHostIds(inputs.inputIds, 'getSpeechFeatures: inputIds');
      const m = inputs.attentionMask !== undefined ? toHostIds(inputs.attentionMask, 'getSpeechFeatures: attentionMask') : onesMask(...ids.shape);
      const features = await featuresToHost(inputs.inputFeatures, this.config, 'getSpeechFeatures');
      const { decoderInputs } = await this.runtime.condition({ features, ids, mask: m, averageClips: false });
      const dec = await decodeSpeechTokens(this.runtime, decoderInputs, resolveGenerationConfig(this.config, this.generationDefaults, options), options);
      const dc = this.config.decoderConfig;
      speechIds = fixSpeechDecoderOutput(dec.sequences, dc.eosTokenId, dc.decoderFixingCodes);
    }
    return toTensor((await this.runtime.encoder({ which: 'speech', ids: speechIds, mask })).embeds) as tf.Tensor2D;
  }

  /**
   * forward: the decoder runs once over the conditioning embeddings, its argmax (fixed) is the
   * speech ids, and text and speech are compared. With returnLoss, CLIP's symmetric cross-entropy.
   */
  async forward(inputs: ClvpForwardInputs): Promise<ClvpOutput> {
    this.check();
    return this.explained(this.forwardOnce(inputs));
  }

  private async forwardOnce(inputs: ClvpForwardInputs): Promise<ClvpOutput> {
    const rt = this.runtime;
    const dc = this.config.decoderConfig;
    const ids = toHostIds(inputs.inputIds, 'forward: inputIds');
    const mask = inputs.attentionMask !== undefined ? toHostIds(inputs.attentionMask, 'forward: attentionMask') : undefined;
    const conditioning = await rt.conditioningEncoder({ features: await featuresToHost(inputs.inputFeatures, this.config, 'forward'), ids, mask });
    const dec = await rt.decoder({ embeds: conditioning });
    const [b, t, v] = dec.logits.shape;
    const argmax = new Int32Array(b * t);
    const logits = dec.logits.data as Float32Array;
    for (let i = 0; i < b * t; i++) {
      let best = 0;
      for (let j = 1; j < v; j++) if (logits[i * v + j] > logits[i * v + best]) best = j;
      argmax[i] = best;
    }
    const fixed = fixSpeechDecoderOutput({ data: argmax, shape: [b, t] }, dc.eosTokenId, dc.decoderFixingCodes);
    const speech = await rt.encoder({ which: 'speech', ids: fixed, lastHiddenState: true });
    const text = await rt.encoder({ which: 'text', ids, mask, lastHiddenState: true });
    const textNorm = normalizeRows(text.embeds);
    const speechNorm = normalizeRows(speech.embeds);
    const perText = similarity(textNorm, speechNorm, rt.logitScale);
    const encoderOutput = (r: EncoderResult): ClvpEncoderOutput => ({
      embeds: toTensor(r.embeds) as tf.Tensor2D,
      lastHiddenState: toTensor(r.lastHiddenState!) as tf.Tensor3D,
      poolerOutput: toTensor(r.poolerOutput) as tf.Tensor2D,
    });
    // One tidy: a failure part-way (a lost GPU device) takes the outputs made so far with it.
    return tf.tidy(() => {
      const logitsPerText = toTensor(perText) as tf.Tensor2D;
      return {
        loss: inputs.returnLoss ? clvpLoss(logitsPerText) : undefined,
        speechIds: tf.tensor2d(fixed.data, fixed.shape, 'int32'),
        logitsPerText,
        logitsPerSpeech: toTensor(transposeHost(perText)) as tf.Tensor2D,
        textEmbeds: toTensor(textNorm) as tf.Tensor2D,
        speechEmbeds: toTensor(speechNorm) as tf.Tensor2D,
        textModelOutput: encoderOutput(text),
        speechModelOutput: encoderOutput(speech),
        conditioningEmbeds: toTensor(conditioning) as tf.Tensor3D,
        decoderLogits: toTensor(dec.logits) as tf.Tensor3D,
      } as ClvpOutput & tf.TensorContainerObject;
    });
  }

  /** generate: candidates per text, fixed and scored (see generation/generate.ts for the options). */
  async generate(inputs: ClvpGenerateInputs, options: ClvpGenerateOptions = {}): Promise<ClvpGenerateOutput> {
    this.check();
    return this.explained(generate(this, inputs, options));
  }

  /** Sample candidates for one text in one voice, in batches, sorted by CLVP score (best first). */
  async rankCandidates(inputs: { inputIds: IdsInput; inputFeatures: tf.Tensor3D; attentionMask?: IdsInput }, options: RankOptions = {}): Promise<RankResult> {
    this.check();
    return this.explained(rankCandidates(this, inputs, options));
  }

  /** fix_speech_decoder_output (see models/modeling_clvp.ts). */
  fixSpeechDecoderOutput(sequences: IdsInput): HostIds {
    const s = toHostIds(sequences, 'fixSpeechDecoderOutput: speechIds');
    return fixSpeechDecoderOutput(s, this.config.decoderConfig.eosTokenId, this.config.decoderConfig.decoderFixingCodes);
  }

  /** Parameters of the whole model (logit_scale included). */
  numParameters(): number {
    return countParameters(this.config);
  }

  /** Tensors and heap of each instance (one per tensor-parallel rank). */
  memory(): Promise<InstanceMemory[]> {
    return this.runtime.memory();
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    await this.runtime.dispose();
  }
}
