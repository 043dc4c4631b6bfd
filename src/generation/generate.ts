// ClvpModelForConditionalGeneration.generate and the decode loop of ClvpForCausalLM.generate
// (modeling_clvp.py + the parts of GenerationMixin CLVP uses): conditioning, KV-cached decoding
// with the reference's position ids, logits processors, sampling, stopping, then CLVP scoring.
import * as tf from '@tensorflow/tfjs-core';
import type { ClvpConfig } from '../config/configuration_clvp';
import { padExtraBosEosTokens } from '../models/conditioning_encoder';
import { HostIds, IdsInput, checkSameShape, onesMask, toHostIds } from '../models/ids';
import { fixSpeechDecoderOutput } from '../models/modeling_clvp';
import { yieldToEventLoop } from '../runtime/local';
import { ValidationError } from '../config/errors';
import { AbortError } from '../runtime/runtime';
import type { CacheId, ClvpRuntime, HostTensor } from '../runtime/runtime';

export { AbortError };
import { DEFAULT_GENERATION_CONFIG, GenerationConfig, buildLogitsProcessors, makeGenerationConfig } from './generation_config';
import { Sampler, selectNextTokens } from './sampling';
import { EosStoppingTracker } from './stopping_criteria';

/** What generation runs on: a runtime, and the generation settings the model folder came with. */
export interface GenerationTarget {
  readonly runtime: ClvpRuntime;
  readonly generationDefaults: Partial<GenerationConfig>;
}

export interface ClvpGenerateInputs {
  /** text ids [B, L] (ClvpTokenizer output); padding id 0 marks where a text ends */
  inputIds: IdsInput;
  /** log-mel features [B or 1, feature_size, frames] */
  inputFeatures: tf.Tensor3D;
  attentionMask?: IdsInput;
}

export interface ClvpGenerateOptions extends Partial<GenerationConfig> {
  /**
   * Position ids of the first decoder pass. 'v4.44' (default): 0..L-1, which cancels the
   * subtraction in the decoder inputs (what the weights were trained for). 'v4.45': [[0]]
   * broadcast to every position, as transformers >= 4.45 does.
   */
  semantics?: 'v4.44' | 'v4.45';
  /**
   * Original Tortoise / tortoise-tts-fast positions for generated tokens: the first new token at
   * position 1 instead of the reference's 2. Default false (reference behaviour).
   */
  correctedDecodePositions?: boolean;
  /** Pad the sequences with eos to this length before fixing and scoring (Tortoise pads to 500 codes: use 501). */
  padToMaxMelTokens?: number;
  /**
   * Average the voice vectors of all clips into one conditioning (original Tortoise); the
   * reference instead treats each clip as its own row. Default false.
   */
  averageConditioning?: boolean;
  /** Rows decoded together (candidates per batch). Default: all rows at once. */
  batchSize?: number;
  /**
   * Each row of the decoder inputs stands for this many candidates (numReturnSequences): the
   * prefill runs once per distinct row, and its KV cache serves all of that row's candidates.
   */
  repeatEachRow?: number;
  /** Record each step's raw logits, processed scores and position ids. */
  outputScores?: boolean;
  /** Positions per KV-cache chunk (see kv_cache.ts). Default 64. */
  kvChunkSize?: number;
  /** Called after every decode step. */
  onProgress?: (p: GenerateProgress) => void;
  /** Stops generation (the promise rejects with an AbortError). */
  signal?: AbortSignal;
  /**
   * Never pick decoder ids the speech encoder cannot embed (ids >= speech vocab, e.g. the mel start
   * token), except eos. The reference would fail on them when scoring. Default true; it only ever
   * matters when the decoder vocabulary is larger than the speech encoder's (the real checkpoint).
   */
  suppressUnencodable?: boolean;
  /** Teacher forcing: the tokens to take at step k (one per row) instead of the chosen ones. */
  forcedTokens?: (step: number) => Int32Array | undefined;
}

export interface GenerateProgress {
  batch: number;
  numBatches: number;
  /** tokens generated in this batch so far */
  step: number;
  maxNewTokens: number;
  /** rows of this batch still generating */
  unfinished: number;
}

export interface DecodeStep {
  /** raw lm logits [rows, vocab] */
  logits: Float32Array;
  /** after the logits processors [rows, vocab] */
  scores: Float32Array;
  /** the position id fed with this step's input (undefined for the first pass) */
  positionIds?: Int32Array;
}

export interface ClvpGenerateOutput {
  /** [rows, 1 + new tokens]: bos, then the generated ids, finished rows padded */
  sequences: HostIds;
  /** fixed speech ids fed to the speech encoder [rows, N] */
  speechIds: HostIds;
  textEmbeds: tf.Tensor2D;
  speechEmbeds: tf.Tensor2D;
  /** [texts, rows] */
  logitsPerText: tf.Tensor2D;
  logitsPerSpeech: tf.Tensor2D;
  textPoolerOutput: tf.Tensor2D;
  speechPoolerOutput: tf.Tensor2D;
  textInputIdsWithEos: HostIds;
  textAttentionMaskWithEos: HostIds;
  conditioningEmbeds: tf.Tensor3D;
  /** the first pass's decoder inputs, one row per text (each stands for numReturnSequences candidates) */
  decoderInputsEmbeds: tf.Tensor3D;
  prefillPositionIds: HostIds;
  /** per step (batch 0 only when batched), with outputScores */
  steps?: DecodeStep[];
  /** the seed of the sampling stream (to reproduce a run whose seed was random) */
  seed?: bigint;
}


/** Resolve options against the model's generation defaults into a validated config. */
export function resolveGenerationConfig(config: ClvpConfig, defaults: Partial<GenerationConfig>, opts: Partial<GenerationConfig>): GenerationConfig {
  const dc = config.decoderConfig;
  // Only GenerationConfig fields: callers pass their whole options object (callbacks, signal...).
  const defined = Object.fromEntries(Object.entries(opts).filter(([k, v]) => v !== undefined && k in DEFAULT_GENERATION_CONFIG)) as Partial<GenerationConfig>;
  return makeGenerationConfig({
    ...defaults,
    bosTokenId: dc.bosTokenId,
    eosTokenId: dc.eosTokenId,
    padTokenId: dc.padTokenId ?? dc.eosTokenId,
    ...defined,
  });
}

/**
 * The options beside GenerationConfig's, checked before any work: ValidationErrors name the
 * option, its value and what is allowed.
 */
export function checkGenerateOptions(opts: ClvpGenerateOptions, config: GenerationConfig): void {
  const posInt = (v: unknown) => Number.isSafeInteger(v) && (v as number) >= 1;
  if (opts.batchSize !== undefined && !posInt(opts.batchSize)) throw new ValidationError('batchSize', opts.batchSize, 'a positive integer');
  if (opts.kvChunkSize !== undefined && !posInt(opts.kvChunkSize)) throw new ValidationError('kvChunkSize', opts.kvChunkSize, 'a positive integer');
  if (opts.semantics !== undefined && opts.semantics !== 'v4.44' && opts.semantics !== 'v4.45') throw new ValidationError('semantics', opts.semantics, "'v4.44' or 'v4.45'");
  if (opts.padToMaxMelTokens !== undefined) {
    const longest = 1 + (config.maxNewTokens ?? Math.max(config.maxLength - 1, 0));
    if (!posInt(opts.padToMaxMelTokens) || opts.padToMaxMelTokens < longest) {
      throw new ValidationError('padToMaxMelTokens', opts.padToMaxMelTokens, `an integer of at least ${longest} (the longest candidate: the start token and maxNewTokens new ones)`);
    }
  }
}

/**
 * A [B, feature_size, frames] features tensor on the host, checked. Read asynchronously: features
 * computed on a GPU backend would otherwise need a synchronous read (see TensorKVCache).
 */
export async function featuresToHost(features: tf.Tensor3D, config: ClvpConfig, what: string): Promise<HostTensor> {
  const fs = config.decoderConfig.featureSize;
  if (!(features instanceof tf.Tensor) || features.rank !== 3 || features.shape[1] !== fs) {
    throw new RangeError(`${what}: inputFeatures must be a [batch, ${fs}, frames] tensor, got ${features instanceof tf.Tensor ? `[${features.shape}]` : typeof features}`);
  }
  return { dtype: 'float32', shape: features.shape.slice(), data: Float32Array.from((await features.data()) as Float32Array) };
}

export interface PreparedConditioning {
  /** the text ids with their eos, and mask (what the text encoder scores against) */
  ids: HostIds;
  mask: HostIds;
  conditioning: HostTensor;
  decoderInputs: HostTensor;
}

/** The text with its eos, the conditioning embeddings and the decoder's first inputs, after the reference's checks. */
export async function prepareConditioning(runtime: ClvpRuntime, inputs: ClvpGenerateInputs, averageConditioning = false): Promise<PreparedConditioning> {
  const cfg = runtime.config;
  const ids0 = toHostIds(inputs.inputIds, 'generate: inputIds');
  const mask0 = inputs.attentionMask !== undefined ? toHostIds(inputs.attentionMask, 'generate: attentionMask') : onesMask(...ids0.shape);
  checkSameShape(ids0, mask0, 'generate: attentionMask');
  if (ids0.shape[1] === 0) throw new ValidationError('generate: inputIds', '[]', 'at least one text token (an empty text cannot be spoken)');
  const maxText = cfg.decoderConfig.maxTextTokens - 3;
  if (ids0.shape[1] > maxText) {
    throw new RangeError(`generate: the text has ${ids0.shape[1]} tokens; at most max_text_tokens - 3 = ${maxText} fit (bos and two eos are added)`);
  }
  const tc = cfg.textConfig;
  const { ids, mask } = padExtraBosEosTokens(ids0, mask0, { bosTokenId: tc.bosTokenId, eosTokenId: tc.eosTokenId, addBosToken: false });
  const features = await featuresToHost(inputs.inputFeatures, cfg, 'generate');
  const r = await runtime.condition({ features, ids, mask: mask!, averageClips: averageConditioning });
  return { ids, mask: mask!, ...r };
}

function throwIfAborted(signal?: AbortSignal): void {
  if (signal?.aborted) throw new AbortError('generation aborted');
}

/**
 * The decode loop over decoder input embeddings [rows, L, H]: returns sequences [rows, 1 + T].
 * Rows are decoded in batches of `batchSize`, each with its own KV cache.
 */
export async function decodeSpeechTokens(
  runtime: ClvpRuntime,
  inputsEmbeds: HostTensor,
  config: GenerationConfig,
  opts: ClvpGenerateOptions = {},
): Promise<{ sequences: HostIds; steps?: DecodeStep[]; prefillPositionIds: HostIds; seed?: bigint }> {
  const cfg = runtime.config;
  const dc = cfg.decoderConfig;
  const [unique, l, hidden] = inputsEmbeds.shape;
  const repeat = opts.repeatEachRow ?? 1;
  const rows = unique * repeat;
  const maxNew = config.maxNewTokens ?? Math.max(config.maxLength - 1, 0);
  const bos = config.bosTokenId ?? dc.bosTokenId;
  // Check the position table before any work: the last fed token sits at position maxNew (maxNew - 1 corrected).
  const lastPos = opts.correctedDecodePositions ? maxNew - 1 : maxNew;
  if (Math.max(lastPos, l - 1) >= dc.maxPositionEmbeddings) {
    throw new RangeError(`generate: maxNewTokens ${maxNew} needs decoder position ${Math.max(lastPos, l - 1)}, but max_position_embeddings is ${dc.maxPositionEmbeddings}`);
  }
  const semantics = opts.semantics ?? 'v4.44';
  const prefillPositionIds: HostIds = semantics === 'v4.45' ? { data: new Int32Array(1), shape: [1, 1] } : { data: Int32Array.from({ length: l }, (_, i) => i), shape: [1, l] };
  const processors = buildLogitsProcessors(config);
  const eosIds = new Set(Array.isArray(config.eosTokenId) ? config.eosTokenId : [config.eosTokenId ?? dc.eosTokenId]);
  const banned: number[] = [];
  if (opts.suppressUnencodable ?? true) for (let id = cfg.speechConfig.vocabSize; id < dc.vocabSize; id++) if (!eosIds.has(id)) banned.push(id);
  // One sampling stream per batch, derived from the seed (a random one when none is given), so the
  // candidates do not depend on how rows are batched beyond the batch size.
  const baseSeed = config.doSample ? new Sampler(config.seed).seed : undefined;
  const batchSize = Math.max(1, Math.min(opts.batchSize ?? rows, rows));
  const numBatches = Math.ceil(rows / batchSize);
  const vocab = dc.vocabSize;
  const width = 1 + maxNew;
  const chunkSize = opts.kvChunkSize ?? 64;
  const pad = config.padTokenId ?? (Array.isArray(config.eosTokenId) ? config.eosTokenId[0] : config.eosTokenId) ?? dc.eosTokenId;
  // Slots a batch never reached (it stopped early) read as padding, as they would in one big batch.
  const out = new Int32Array(rows * width).fill(pad);
  let used = 1;
  let steps: DecodeStep[] | undefined;
  const rowsOf = (u0: number, u1: number): HostTensor => ({
    dtype: 'float32', shape: [u1 - u0 + 1, l, hidden], data: (inputsEmbeds.data as Float32Array).subarray(u0 * l * hidden, (u1 + 1) * l * hidden),
  });
  // Prefills of a distinct row shared by all its candidates, kept across batches: one per text.
  const prefixes = new Map<number, { cache: CacheId; logits: Float32Array }>();

  try {
    for (let bi = 0; bi < numBatches; bi++) {
      const r0 = bi * batchSize;
      const nb = Math.min(batchSize, rows - r0);
      const recordSteps = opts.outputScores && bi === 0 ? (steps = [] as DecodeStep[]) : undefined;
      const seqs: Int32Array[] = Array.from({ length: nb }, () => {
        const s = new Int32Array(width).fill(pad);
        s[0] = bos;
        return s;
      });
      const views = seqs.map((s) => s.subarray(0, 1));
      const tracker = EosStoppingTracker.fromConfig(nb, config, maxNew);
      const sampler = baseSeed === undefined ? undefined : new Sampler(batchSeed(baseSeed, bi));
      let cache: CacheId | undefined;
      try {
        throwIfAborted(opts.signal);
        const u0 = Math.floor(r0 / repeat);
        const u1 = Math.floor((r0 + nb - 1) / repeat);
        let logits: Float32Array;
        if (repeat > 1 && u0 === u1) {
          // One distinct row: prefill it once (batch 1) and let every candidate attend to it.
          let prefix = prefixes.get(u0);
          if (!prefix) {
            prefix = await runtime.prefill({ embeds: rowsOf(u0, u0), positionIds: prefillPositionIds, share: true, chunkSize });
            prefixes.set(u0, prefix);
          }
          cache = await runtime.fork(prefix.cache);
          logits = new Float32Array(nb * vocab);
          for (let r = 0; r < nb; r++) logits.set(prefix.logits, r * vocab);
        } else {
          // Prefill the distinct rows this batch covers, then copy each to its candidates.
          const p = await runtime.prefill({ embeds: rowsOf(u0, u1), positionIds: prefillPositionIds, share: false, chunkSize });
          cache = p.cache;
          logits = p.logits;
          if (repeat > 1) {
            const pick = Int32Array.from({ length: nb }, (_, j) => Math.floor((r0 + j) / repeat) - u0);
            await runtime.gatherRows(cache, pick);
            const expanded = new Float32Array(nb * vocab);
            pick.forEach((u, j) => expanded.set(p.logits.subarray(u * vocab, (u + 1) * vocab), j * vocab));
            logits = expanded;
          }
        }
        let positionIds: Int32Array | undefined;
        while (!tracker.done) {
          const scores = processors.length ? processors.process(views, logits, nb, vocab) : logits;
          recordSteps?.push({ logits: logits.slice(), scores: scores === logits ? logits.slice() : scores.slice(), positionIds });
          const forced = opts.forcedTokens?.(tracker.numGenerated);
          let pickFrom = scores;
          if (banned.length) {
            pickFrom = scores === logits ? scores.slice() : scores;
            for (let r = 0; r < nb; r++) for (const id of banned) pickFrom[r * vocab + id] = -Infinity;
          }
          const next = tracker.step(forced ? Int32Array.from(forced.subarray(r0, r0 + nb)) : selectNextTokens(pickFrom, nb, vocab, config.doSample, sampler));
          const len = tracker.numGenerated + 1;
          for (let r = 0; r < nb; r++) {
            seqs[r][len - 1] = next[r];
            views[r] = seqs[r].subarray(0, len);
          }
          used = Math.max(used, len);
          opts.onProgress?.({ batch: bi, numBatches, step: tracker.numGenerated, maxNewTokens: maxNew, unfinished: tracker.unfinished.reduce((a, u) => a + u, 0) });
          if (tracker.done) break;
          throwIfAborted(opts.signal);
          // The reference feeds the newest token at position len (bos + tokens so far); Tortoise at len - 1.
          positionIds = Int32Array.of(opts.correctedDecodePositions ? len - 1 : len);
          logits = await runtime.step(cache, next, positionIds[0], opts.signal);
          // Let the event loop breathe so abort signals and progress bars get a chance to run.
          await yieldToEventLoop();
        }
      } finally {
        if (cache !== undefined && ![...prefixes.values()].some((p) => p.cache === cache)) await runtime.releaseCache(cache);
      }
      for (let r = 0; r < nb; r++) out.set(seqs[r], (r0 + r) * width);
    }
  } finally {
    for (const p of prefixes.values()) await runtime.releaseCache(p.cache);
  }
  const seqOut = new Int32Array(rows * used);
  for (let r = 0; r < rows; r++) seqOut.set(out.subarray(r * width, r * width + used), r * used);
  return { sequences: { data: seqOut, shape: [rows, used] }, steps, prefillPositionIds, seed: baseSeed };
}

/** The seed of batch k's stream: batch 0 uses the seed itself; others step by 2^64 / golden ratio. */
export function batchSeed(seed: bigint, k: number): bigint {
  return (seed + BigInt(k) * 0x9e3779b97f4a7c15n) & 0xffffffffffffffffn;
}

const tensorOf = (h: HostTensor) => tf.tensor(h.data, h.shape, h.dtype);

/**
 * ClvpModelForConditionalGeneration.generate: speech-token candidates for each text (in the
 * voice of the matching clip), fixed, then scored against the texts.
 */
export async function generate(model: GenerationTarget, inputs: ClvpGenerateInputs, opts: ClvpGenerateOptions = {}): Promise<ClvpGenerateOutput> {
  const runtime = model.runtime;
  const dc = runtime.config.decoderConfig;
  const config = resolveGenerationConfig(runtime.config, model.generationDefaults, opts);
  checkGenerateOptions(opts, config);
  const prep = await prepareConditioning(runtime, inputs, opts.averageConditioning);
  const dec = await decodeSpeechTokens(runtime, prep.decoderInputs, config, { ...opts, repeatEachRow: config.numReturnSequences });
  let seq = dec.sequences;
  if (opts.padToMaxMelTokens !== undefined && opts.padToMaxMelTokens > seq.shape[1]) seq = padRight(seq, opts.padToMaxMelTokens, dc.eosTokenId);
  const speechIds = fixSpeechDecoderOutput(seq, dc.eosTokenId, dc.decoderFixingCodes);
  const scored = await scoreCandidates(runtime, { ids: prep.ids, mask: prep.mask }, speechIds, opts.signal);
  // One tidy: a failure part-way (a lost GPU device) takes the tensors made so far with it. (Not
  // over the whole output: tidy would walk every element of the host arrays in it.)
  const [textEmbeds, speechEmbeds, logitsPerText, logitsPerSpeech, textPoolerOutput, speechPoolerOutput, conditioningEmbeds, decoderInputsEmbeds] = tf.tidy(() => [
    tensorOf(scored.textEmbeds), tensorOf(scored.speechEmbeds), tensorOf(scored.logitsPerText), tensorOf(transposeHost(scored.logitsPerText)),
    tensorOf(scored.textPoolerOutput), tensorOf(scored.speechPoolerOutput), tensorOf(prep.conditioning), tensorOf(prep.decoderInputs),
  ]);
  return {
    sequences: dec.sequences,
    speechIds,
    textEmbeds: textEmbeds as tf.Tensor2D,
    speechEmbeds: speechEmbeds as tf.Tensor2D,
    logitsPerText: logitsPerText as tf.Tensor2D,
    logitsPerSpeech: logitsPerSpeech as tf.Tensor2D,
    textPoolerOutput: textPoolerOutput as tf.Tensor2D,
    speechPoolerOutput: speechPoolerOutput as tf.Tensor2D,
    textInputIdsWithEos: prep.ids,
    textAttentionMaskWithEos: prep.mask,
    conditioningEmbeds: conditioningEmbeds as tf.Tensor3D,
    decoderInputsEmbeds: decoderInputsEmbeds as tf.Tensor3D,
    prefillPositionIds: dec.prefillPositionIds,
    steps: dec.steps,
    seed: dec.seed,
  };
}

/** Pad sequences on the right with `value` to `length` columns. */
export function padRight(s: HostIds, length: number, value: number): HostIds {
  const [b, t] = s.shape;
  const out = new Int32Array(b * length).fill(value);
  for (let i = 0; i < b; i++) out.set(s.data.subarray(i * t, (i + 1) * t), i * length);
  return { data: out, shape: [b, length] };
}

/** Rows scaled to unit L2 norm (x / ||x||, in float32 as torch does). */
export function normalizeRows(h: HostTensor): HostTensor {
  const [n, d] = h.shape;
  const src = h.data as Float32Array;
  const out = new Float32Array(n * d);
  for (let i = 0; i < n; i++) {
    let ss = 0;
    for (let j = 0; j < d; j++) ss += src[i * d + j] * src[i * d + j];
    const norm = Math.fround(Math.sqrt(ss));
    for (let j = 0; j < d; j++) out[i * d + j] = src[i * d + j] / norm;
  }
  return { dtype: 'float32', shape: [n, d], data: out };
}

/** CLVP's logits_per_text: normalised text [T, P] against normalised speech [S, P], times exp(logit_scale). */
export function similarity(textNorm: HostTensor, speechNorm: HostTensor, logitScale: number): HostTensor {
  const [t, p] = textNorm.shape;
  const s = speechNorm.shape[0];
  const scale = Math.fround(Math.exp(logitScale));
  const a = textNorm.data as Float32Array;
  const b = speechNorm.data as Float32Array;
  const out = new Float32Array(t * s);
  for (let i = 0; i < t; i++) {
    for (let j = 0; j < s; j++) {
      let dot = 0;
      for (let k = 0; k < p; k++) dot += a[i * p + k] * b[j * p + k];
      out[i * s + j] = Math.fround(dot) * scale;
    }
  }
  return { dtype: 'float32', shape: [t, s], data: out };
}

export function transposeHost(h: HostTensor): HostTensor {
  const [r, c] = h.shape;
  const out = new Float32Array(r * c);
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) out[j * r + i] = h.data[i * c + j];
  return { dtype: 'float32', shape: [c, r], data: out };
}

export interface ScoredCandidates {
  textEmbeds: HostTensor;
  speechEmbeds: HostTensor;
  /** [texts, speeches] */
  logitsPerText: HostTensor;
  textPoolerOutput: HostTensor;
  speechPoolerOutput: HostTensor;
}

/** Text embeddings (with the eos-padded ids and mask) against speech embeddings of fixed ids. */
export async function scoreCandidates(runtime: ClvpRuntime, text: { ids: HostIds; mask: HostIds }, speechIds: HostIds, signal?: AbortSignal): Promise<ScoredCandidates> {
  const s = await runtime.encoder({ which: 'speech', ids: speechIds }, signal);
  const t = await runtime.encoder({ which: 'text', ids: text.ids, mask: text.mask }, signal);
  const textEmbeds = normalizeRows(t.embeds);
  const speechEmbeds = normalizeRows(s.embeds);
  return { textEmbeds, speechEmbeds, logitsPerText: similarity(textEmbeds, speechEmbeds, runtime.logitScale), textPoolerOutput: t.poolerOutput, speechPoolerOutput: s.poolerOutput };
}
