// Candidate ranking, the job CLVP does inside Tortoise: sample many speech-token candidates for one
// text in one voice, in bounded batches, and sort them by CLVP similarity to the text.
import * as tf from '@tensorflow/tfjs-core';
import { WASM_HEAP_BYTES, wasmFootprintBytes } from '../backend';
import { fixSpeechDecoderOutput, ClvpModelForConditionalGeneration } from '../models/modeling_clvp';
import { HostIds, IdsInput, toHostIds } from '../models/ids';
import { decodeInWorkers } from './parallel';
import { ClvpGenerateOptions, decodeSpeechTokens, decoderInputsEmbeds, padRight, prepareConditioning, resolveGenerationConfig } from './generate';

export interface RankedCandidate {
  /** position in generation order */
  index: number;
  /** CLVP score: cosine similarity x exp(logit_scale) */
  score: number;
  /** fixed speech ids (what the speech encoder saw) */
  speechIds: number[];
  /** tokens generated before eos (or all of them when no eos came) */
  length: number;
  /** whether the candidate ended with eos */
  finished: boolean;
}

/**
 * Candidates per batch when none is given: 16, or fewer where the KV caches (~150 MB per
 * candidate at 600 positions for the real decoder) would not fit the wasm heap beside the weights.
 */
export function defaultBatchSize(model: ClvpModelForConditionalGeneration, positions: number, backend = tf.getBackend()): number {
  if (backend !== 'wasm') return 16;
  const dc = model.config.decoderConfig;
  const perCandidate = dc.numHiddenLayers * 2 * dc.hiddenSize * positions * 4;
  const free = WASM_HEAP_BYTES - wasmFootprintBytes(model.numParameters());
  return Math.max(1, Math.min(16, Math.floor(free / perCandidate)));
}

export interface RankOptions extends ClvpGenerateOptions {
  /**
   * Worker threads decoding candidate batches at the same time, each with its own copy of the
   * model (memory x threads). The candidates are the same as with one thread for the same seed
   * and batch size. Default 1.
   */
  threads?: number;
  /** candidates to generate (default: numReturnSequences, else 16) */
  numCandidates?: number;
}

export interface RankResult {
  /** best first */
  candidates: RankedCandidate[];
  /** the seed of the sampling stream */
  seed?: bigint;
  /** candidates decoded together */
  batchSize: number;
}

/**
 * Generate `numCandidates` candidates for one text (in the voice of `inputFeatures`; several clips
 * need `averageConditioning`, or give one clip), batch by batch, and rank them.
 * Memory is bounded by `batchSize` (default 16): one batch's KV cache at a time.
 */
export async function rankCandidates(
  model: ClvpModelForConditionalGeneration,
  inputs: { inputIds: IdsInput; inputFeatures: tf.Tensor3D; attentionMask?: IdsInput },
  opts: RankOptions = {},
): Promise<RankResult> {
  const ids0 = toHostIds(inputs.inputIds, 'rankCandidates: inputIds');
  if (ids0.shape[0] !== 1) throw new Error(`rankCandidates: expected one text, got ${ids0.shape[0]} (rank each text separately)`);
  if (inputs.inputFeatures.shape[0] !== 1 && !opts.averageConditioning) {
    throw new Error(`rankCandidates: ${inputs.inputFeatures.shape[0]} clips given: pass averageConditioning: true to combine them into one voice, or pass one clip`);
  }
  const numCandidates = opts.numCandidates ?? opts.numReturnSequences ?? 16;
  if (!(Number.isInteger(numCandidates) && numCandidates >= 1)) throw new RangeError(`rankCandidates: numCandidates must be a positive integer, got ${numCandidates}`);
  const config = resolveGenerationConfig(model, { ...opts, numReturnSequences: 1 });
  const dc = model.config.decoderConfig;
  const { ids, mask, conditioning } = prepareConditioning(model, inputs, opts.averageConditioning);
  const positions = conditioning.shape[1] + 1 + (config.maxNewTokens ?? config.maxLength);
  const threads = Math.max(1, Math.floor(opts.threads ?? 1));
  const batchSize = Math.max(1, Math.min(opts.batchSize ?? Math.min(defaultBatchSize(model, positions), Math.ceil(numCandidates / threads)), numCandidates));
  let decIn: tf.Tensor3D | undefined;
  let textEmbeds: tf.Tensor2D | undefined;
  try {
    decIn = decoderInputsEmbeds(model, conditioning);
    conditioning.dispose();
    const dec = threads > 1
      ? await decodeInWorkers(model.source, decIn, numCandidates, config, { ...opts, batchSize, threads })
      : await decodeSpeechTokens(model, decIn, config, { ...opts, batchSize, repeatEachRow: numCandidates });
    decIn.dispose();
    decIn = undefined;
    let seq = dec.sequences;
    if (opts.padToMaxMelTokens !== undefined && opts.padToMaxMelTokens > seq.shape[1]) seq = padRight(seq, opts.padToMaxMelTokens, dc.eosTokenId);
    const fixed = fixSpeechDecoderOutput(seq, dc.eosTokenId, dc.decoderFixingCodes);

    textEmbeds = tf.tidy(() => {
      const t = model.text_encoder_model.forward({ inputIds: ids, attentionMask: mask });
      const n = tf.div(t.embeds, tf.norm(t.embeds, 2, -1, true)) as tf.Tensor2D;
      return n;
    });
    const scores: number[] = [];
    for (let r0 = 0; r0 < numCandidates; r0 += batchSize) {
      const nb = Math.min(batchSize, numCandidates - r0);
      const width = fixed.shape[1];
      const part: HostIds = { data: fixed.data.subarray(r0 * width, (r0 + nb) * width), shape: [nb, width] };
      const s = tf.tidy(() => {
        const out = model.speech_encoder_model.forward({ inputIds: part });
        const sn = tf.div(out.embeds, tf.norm(out.embeds, 2, -1, true));
        return tf.mul(tf.matMul(textEmbeds!, sn as tf.Tensor2D, false, true), tf.exp(model.logit_scale));
      });
      scores.push(...(s.dataSync() as Float32Array));
      s.dispose();
    }
    const width = dec.sequences.shape[1];
    const candidates: RankedCandidate[] = scores.map((score, i) => {
      const row = dec.sequences.data.subarray(i * width + 1, (i + 1) * width);
      const stop = row.indexOf(dc.eosTokenId);
      return {
        index: i,
        score,
        speechIds: Array.from(fixed.data.subarray(i * fixed.shape[1], (i + 1) * fixed.shape[1])),
        length: stop < 0 ? row.length : stop,
        finished: stop >= 0,
      };
    });
    candidates.sort((a, b) => b.score - a.score || a.index - b.index);
    return { candidates, seed: dec.seed, batchSize };
  } finally {
    if (!conditioning.isDisposed) conditioning.dispose();
    decIn?.dispose();
    textEmbeds?.dispose();
  }
}
