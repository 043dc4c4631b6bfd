// Candidate ranking, the job CLVP does inside Tortoise: sample many speech-token candidates for one
// text in one voice, in bounded batches, and sort them by CLVP similarity to the text.
import * as tf from '@tensorflow/tfjs-core';
import { ValidationError } from '../config/errors';
import { fixSpeechDecoderOutput } from '../models/modeling_clvp';
import { HostIds, IdsInput, toHostIds } from '../models/ids';
import type { ClvpRuntime } from '../runtime/runtime';
import { ClvpGenerateOptions, GenerationTarget, checkGenerateOptions, decodeSpeechTokens, normalizeRows, padRight, prepareConditioning, resolveGenerationConfig, similarity } from './generate';

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
 * Candidates per batch when none is given: 16, or fewer where the KV caches would not fit the
 * instances' heaps beside their weights. Each of `tp` ranks caches its share of the heads.
 */
export function defaultBatchSize(runtime: ClvpRuntime, positions: number, freeBytesPerRank: number | null): number {
  if (freeBytesPerRank === null) return 16;
  const dc = runtime.config.decoderConfig;
  const perCandidate = (dc.numHiddenLayers * 2 * dc.hiddenSize * positions * 4) / runtime.tp;
  return Math.max(1, Math.min(16, Math.floor(freeBytesPerRank / perCandidate)));
}

export interface RankOptions extends ClvpGenerateOptions {
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
 * Candidates the speech encoder scores at once. Its attention holds [rows, heads, T, T] scores, and
 * at the published size (12 heads, 500-token candidates) 16 rows make ≈ 0.4 GB of transient tensors
 * per rank in a wasm heap that already holds the weights twice; the rows are independent, so
 * fewer at a time give the same scores in less memory.
 */
const SCORE_ROWS = 4;

/**
 * Generate `numCandidates` candidates for one text (in the voice of `inputFeatures`; several clips
 * need `averageConditioning`, or give one clip), batch by batch, and rank them.
 * Memory is bounded by `batchSize` (default 16): one batch's KV cache at a time.
 */
export async function rankCandidates(
  model: GenerationTarget,
  inputs: { inputIds: IdsInput; inputFeatures: tf.Tensor3D; attentionMask?: IdsInput },
  opts: RankOptions = {},
): Promise<RankResult> {
  const runtime = model.runtime;
  const ids0 = toHostIds(inputs.inputIds, 'rankCandidates: inputIds');
  if (ids0.shape[0] !== 1) throw new ValidationError('rankCandidates: inputIds', `${ids0.shape[0]} texts`, 'one text (rank each text separately)');
  if (inputs.inputFeatures.shape[0] !== 1 && !opts.averageConditioning) {
    throw new RangeError(`rankCandidates: ${inputs.inputFeatures.shape[0]} clips given: pass averageConditioning: true to combine them into one voice, or pass one clip`);
  }
  const numCandidates = opts.numCandidates ?? opts.numReturnSequences ?? 16;
  if (!(Number.isSafeInteger(numCandidates) && numCandidates >= 1)) throw new ValidationError('rankCandidates: numCandidates', numCandidates, 'a positive integer');
  const config = resolveGenerationConfig(runtime.config, model.generationDefaults, { ...opts, numReturnSequences: 1 });
  checkGenerateOptions(opts, config);
  const dc = runtime.config.decoderConfig;
  const prep = await prepareConditioning(runtime, inputs, opts.averageConditioning);
  const batchSize = Math.max(1, Math.min(opts.batchSize ?? 16, numCandidates));
  const dec = await decodeSpeechTokens(runtime, prep.decoderInputs, config, { ...opts, batchSize, repeatEachRow: numCandidates });
  let seq = dec.sequences;
  if (opts.padToMaxMelTokens !== undefined && opts.padToMaxMelTokens > seq.shape[1]) seq = padRight(seq, opts.padToMaxMelTokens, dc.eosTokenId);
  const fixed = fixSpeechDecoderOutput(seq, dc.eosTokenId, dc.decoderFixingCodes);

  const text = await runtime.encoder({ which: 'text', ids: prep.ids, mask: prep.mask }, opts.signal);
  const textNorm = normalizeRows(text.embeds);
  const scores: number[] = [];
  const width = fixed.shape[1];
  const scoreRows = Math.min(batchSize, SCORE_ROWS);
  for (let r0 = 0; r0 < numCandidates; r0 += scoreRows) {
    const nb = Math.min(scoreRows, numCandidates - r0);
    const part: HostIds = { data: fixed.data.subarray(r0 * width, (r0 + nb) * width), shape: [nb, width] };
    const speech = await runtime.encoder({ which: 'speech', ids: part }, opts.signal);
    scores.push(...similarity(textNorm, normalizeRows(speech.embeds), runtime.logitScale).data);
  }
  const seqWidth = dec.sequences.shape[1];
  const candidates: RankedCandidate[] = scores.map((score, i) => {
    const row = dec.sequences.data.subarray(i * seqWidth + 1, (i + 1) * seqWidth);
    const stop = row.indexOf(dc.eosTokenId);
    return {
      index: i,
      score,
      speechIds: Array.from(fixed.data.subarray(i * width, (i + 1) * width)),
      length: stop < 0 ? row.length : stop,
      finished: stop >= 0,
    };
  });
  candidates.sort((a, b) => b.score - a.score || a.index - b.index);
  return { candidates, seed: dec.seed, batchSize };
}
