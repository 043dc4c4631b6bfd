// ClvpModelForConditionalGeneration.generate and the decode loop of ClvpForCausalLM.generate
// (modeling_clvp.py + the parts of GenerationMixin CLVP uses): conditioning, KV-cached decoding
// with the reference's position ids, logits processors, sampling, stopping, then CLVP scoring.
import * as tf from '@tensorflow/tfjs-core';
import { KVCache } from '../layers/kv_cache';
import { padExtraBosEosTokens } from '../models/conditioning_encoder';
import { HostIds, IdsInput, checkSameShape, onesMask, toHostIds } from '../models/ids';
import { ClvpModelForConditionalGeneration, fixSpeechDecoderOutput } from '../models/modeling_clvp';
import { DEFAULT_GENERATION_CONFIG, GenerationConfig, buildLogitsProcessors, makeGenerationConfig } from './generation_config';
import { Sampler, selectNextTokens } from './sampling';
import { EosStoppingTracker } from './stopping_criteria';

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
  /**
   * Index of this call's first batch among all batches of one generation, when the batches are
   * split across calls (worker threads): batch k samples from its own stream derived from the
   * seed and k, so results do not depend on how the batches are distributed. Default 0.
   */
  firstBatchIndex?: number;
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

export class AbortError extends Error {
  override name = 'AbortError';
}

/** Resolve options against the model's generation defaults into a validated config. */
export function resolveGenerationConfig(model: ClvpModelForConditionalGeneration, opts: Partial<GenerationConfig>): GenerationConfig {
  const dc = model.config.decoderConfig;
  // Only GenerationConfig fields: callers pass their whole options object (callbacks, signal...).
  const defined = Object.fromEntries(Object.entries(opts).filter(([k, v]) => v !== undefined && k in DEFAULT_GENERATION_CONFIG)) as Partial<GenerationConfig>;
  return makeGenerationConfig({
    ...model.generationDefaults,
    bosTokenId: dc.bosTokenId,
    eosTokenId: dc.eosTokenId,
    padTokenId: dc.padTokenId ?? dc.eosTokenId,
    ...defined,
  });
}

/** The text with its eos, the conditioning embeddings and the checks the reference makes first. */
export function prepareConditioning(model: ClvpModelForConditionalGeneration, inputs: ClvpGenerateInputs, averageConditioning = false): { ids: HostIds; mask: HostIds; conditioning: tf.Tensor3D } {
  const cfg = model.config;
  const ids0 = toHostIds(inputs.inputIds, 'generate: inputIds');
  const mask0 = inputs.attentionMask !== undefined ? toHostIds(inputs.attentionMask, 'generate: attentionMask') : onesMask(...ids0.shape);
  checkSameShape(ids0, mask0, 'generate: attentionMask');
  const maxText = cfg.decoderConfig.maxTextTokens - 3;
  if (ids0.shape[1] > maxText) {
    throw new RangeError(`generate: the text has ${ids0.shape[1]} tokens; at most max_text_tokens - 3 = ${maxText} fit (bos and two eos are added)`);
  }
  const tc = cfg.textConfig;
  const { ids, mask } = padExtraBosEosTokens(ids0, mask0, { bosTokenId: tc.bosTokenId, eosTokenId: tc.eosTokenId, addBosToken: false });
  let conditioning: tf.Tensor3D;
  if (averageConditioning) {
    const ce = model.conditioning_encoder;
    const withBos = padExtraBosEosTokens(ids, mask, { bosTokenId: tc.bosTokenId, eosTokenId: tc.eosTokenId });
    conditioning = tf.tidy(() => {
      // One voice vector: the mean over clips (Tortoise's get_conditioning_latents), for every text.
      const mel = tf.mean(ce.melVector(inputs.inputFeatures), 0, true);
      const text = ce.textEmbeds(withBos.ids, withBos.mask!);
      return tf.concat([tf.tile(mel, [text.shape[0], 1, 1]), text], 1) as tf.Tensor3D;
    });
  } else {
    conditioning = model.conditioning_encoder.forward({ inputFeatures: inputs.inputFeatures, inputIds: ids, attentionMask: mask! });
  }
  return { ids, mask: mask!, conditioning };
}

/** decoder inputs = concat(conditioning, embed(bos) + pos(0)) - pos(0..L-1) (ClvpForCausalLM._prepare_model_inputs). */
export function decoderInputsEmbeds(model: ClvpModelForConditionalGeneration, conditioning: tf.Tensor3D): tf.Tensor3D {
  const dec = model.speech_decoder_model.model.decoder;
  const [b, l] = conditioning.shape;
  const bos = model.config.decoderConfig.bosTokenId;
  return tf.tidy(() => {
    const start = tf.add(dec.input_embeds_layer.apply(new Int32Array(b).fill(bos), [b, 1]), dec.position_embeds_layer.apply(new Int32Array(1), [1, 1]));
    const all = tf.concat([conditioning, start], 1);
    const pos = Int32Array.from({ length: l + 1 }, (_, i) => i);
    return tf.sub(all, dec.position_embeds_layer.apply(pos, [1, l + 1])) as tf.Tensor3D;
  });
}

function throwIfAborted(signal?: AbortSignal): void {
  if (signal?.aborted) throw new AbortError('generation aborted');
}

/**
 * The decode loop over decoder input embeddings [rows, L, H]: returns sequences [rows, 1 + T].
 * Rows are decoded in batches of `batchSize`, each with its own KV cache.
 */
export async function decodeSpeechTokens(
  model: ClvpModelForConditionalGeneration,
  inputsEmbeds: tf.Tensor3D,
  config: GenerationConfig,
  opts: ClvpGenerateOptions = {},
): Promise<{ sequences: HostIds; steps?: DecodeStep[]; prefillPositionIds: HostIds; seed?: bigint }> {
  const lm = model.speech_decoder_model;
  const dc = model.config.decoderConfig;
  const [unique, l] = inputsEmbeds.shape;
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
  if (opts.suppressUnencodable ?? true) for (let id = model.config.speechConfig.vocabSize; id < dc.vocabSize; id++) if (!eosIds.has(id)) banned.push(id);
  // One sampling stream per batch, derived from the seed (a random one when none is given).
  const baseSeed = config.doSample ? new Sampler(config.seed).seed : undefined;
  const firstBatch = opts.firstBatchIndex ?? 0;
  const batchSize = Math.max(1, Math.min(opts.batchSize ?? rows, rows));
  const numBatches = Math.ceil(rows / batchSize);
  const vocab = dc.vocabSize;
  const width = 1 + maxNew;
  const pad = config.padTokenId ?? (Array.isArray(config.eosTokenId) ? config.eosTokenId[0] : config.eosTokenId) ?? dc.eosTokenId;
  // Slots a batch never reached (it stopped early) read as padding, as they would in one big batch.
  const out = new Int32Array(rows * width).fill(pad);
  let used = 1;
  let steps: DecodeStep[] | undefined;
  // Prefills of a distinct row shared by all its candidates, kept across batches: one per text.
  const prefixes = new Map<number, { cache: KVCache; logits: tf.Tensor2D }>();

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
      const sampler = baseSeed === undefined ? undefined : new Sampler(batchSeed(baseSeed, firstBatch + bi));
      let cache: KVCache | undefined;
      try {
        throwIfAborted(opts.signal);
        const u0 = Math.floor(r0 / repeat);
        const u1 = Math.floor((r0 + nb - 1) / repeat);
        let logitsT: tf.Tensor2D;
        if (repeat > 1 && u0 === u1) {
          // One distinct row: prefill it once (batch 1) and let every candidate attend to it.
          let prefix = prefixes.get(u0);
          if (!prefix) {
            const own = new KVCache(dc.numHiddenLayers, opts.kvChunkSize ?? 64);
            const row = unique === 1 ? inputsEmbeds : tf.slice(inputsEmbeds, [u0, 0, 0], [1, -1, -1]);
            const logits = lm.forwardLast({ inputsEmbeds: row, positionIds: prefillPositionIds, cache: own });
            if (row !== inputsEmbeds) row.dispose();
            own.shareAsPrefix();
            prefix = { cache: own, logits };
            prefixes.set(u0, prefix);
          }
          cache = prefix.cache.forkSharedPrefix();
          logitsT = tf.tile(prefix.logits, [nb, 1]) as tf.Tensor2D;
        } else {
          // Prefill the distinct rows this batch covers, then copy each to its candidates.
          cache = new KVCache(dc.numHiddenLayers, opts.kvChunkSize ?? 64);
          const embeds = u0 === 0 && u1 === unique - 1 ? inputsEmbeds : tf.slice(inputsEmbeds, [u0, 0, 0], [u1 - u0 + 1, -1, -1]);
          logitsT = lm.forwardLast({ inputsEmbeds: embeds, positionIds: prefillPositionIds, cache });
          if (embeds !== inputsEmbeds) embeds.dispose();
          if (repeat > 1) {
            const pick = Int32Array.from({ length: nb }, (_, j) => Math.floor((r0 + j) / repeat) - u0);
            cache.gatherRows(pick);
            const expanded = tf.gather(logitsT, pick, 0) as tf.Tensor2D;
            logitsT.dispose();
            logitsT = expanded;
          }
        }
        let positionIds: Int32Array | undefined;
        while (!tracker.done) {
          const logits = (await logitsT.data()) as Float32Array;
          logitsT.dispose();
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
          logitsT = lm.forwardLast({ inputIds: { data: next, shape: [nb, 1] }, positionIds: { data: positionIds, shape: [1, 1] }, cache });
          // Let the event loop breathe so abort signals and progress bars get a chance to run.
          await new Promise((r) => setImmediate(r));
        }
      } finally {
        cache?.dispose();
      }
      for (let r = 0; r < nb; r++) out.set(seqs[r], (r0 + r) * width);
    }
  } finally {
    for (const p of prefixes.values()) {
      p.cache.dispose();
      p.logits.dispose();
    }
  }
  const seqOut = new Int32Array(rows * used);
  for (let r = 0; r < rows; r++) seqOut.set(out.subarray(r * width, r * width + used), r * used);
  return { sequences: { data: seqOut, shape: [rows, used] }, steps, prefillPositionIds, seed: baseSeed };
}

/** The seed of batch k's stream: batch 0 uses the seed itself; others step by 2^64 / golden ratio. */
export function batchSeed(seed: bigint, k: number): bigint {
  return (seed + BigInt(k) * 0x9e3779b97f4a7c15n) & 0xffffffffffffffffn;
}

/**
 * ClvpModelForConditionalGeneration.generate: speech-token candidates for each text (in the
 * voice of the matching clip), fixed, then scored against the texts.
 */
export async function generate(model: ClvpModelForConditionalGeneration, inputs: ClvpGenerateInputs, opts: ClvpGenerateOptions = {}): Promise<ClvpGenerateOutput> {
  const config = resolveGenerationConfig(model, opts);
  const { ids, mask, conditioning } = prepareConditioning(model, inputs, opts.averageConditioning);
  let decIn: tf.Tensor3D | undefined;
  try {
    decIn = decoderInputsEmbeds(model, conditioning);
    const dec = await decodeSpeechTokens(model, decIn, config, { ...opts, repeatEachRow: config.numReturnSequences });
    let seq = dec.sequences;
    if (opts.padToMaxMelTokens !== undefined && opts.padToMaxMelTokens > seq.shape[1]) {
      seq = padRight(seq, opts.padToMaxMelTokens, model.config.decoderConfig.eosTokenId);
    }
    const speechIds = fixSpeechDecoderOutput(seq, model.config.decoderConfig.eosTokenId, model.config.decoderConfig.decoderFixingCodes);
    const scored = scoreCandidates(model, { ids, mask }, speechIds);
    return {
      sequences: dec.sequences,
      speechIds,
      ...scored,
      textInputIdsWithEos: ids,
      textAttentionMaskWithEos: mask,
      conditioningEmbeds: conditioning,
      decoderInputsEmbeds: decIn,
      prefillPositionIds: dec.prefillPositionIds,
      steps: dec.steps,
      seed: dec.seed,
    };
  } catch (e) {
    conditioning.dispose();
    decIn?.dispose();
    throw e;
  }
}

/** Pad sequences on the right with `value` to `length` columns. */
export function padRight(s: HostIds, length: number, value: number): HostIds {
  const [b, t] = s.shape;
  const out = new Int32Array(b * length).fill(value);
  for (let i = 0; i < b; i++) out.set(s.data.subarray(i * t, (i + 1) * t), i * length);
  return { data: out, shape: [b, length] };
}

/** Text embeddings (with the eos-padded ids and mask) against speech embeddings of fixed ids. */
export function scoreCandidates(model: ClvpModelForConditionalGeneration, text: { ids: HostIds; mask: HostIds }, speechIds: HostIds) {
  const s = model.speech_encoder_model.forward({ inputIds: speechIds });
  const t = model.text_encoder_model.forward({ inputIds: text.ids, attentionMask: text.mask });
  const sim = model.similarity(t.embeds, s.embeds);
  for (const x of [s.embeds, s.lastHiddenState, t.embeds, t.lastHiddenState]) x.dispose();
  return {
    textEmbeds: sim.textEmbeds,
    speechEmbeds: sim.speechEmbeds,
    logitsPerText: sim.logitsPerText,
    logitsPerSpeech: tf.transpose(sim.logitsPerText) as tf.Tensor2D,
    textPoolerOutput: t.poolerOutput,
    speechPoolerOutput: s.poolerOutput,
  };
}
