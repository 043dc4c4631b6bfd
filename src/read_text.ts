// Tortoise's read.py for CLVP: a long text is split into chunks (splitText, Tortoise's
// split_and_recombine_text), and each chunk gets its own candidates, ranked. Every chunk is
// tokenised and checked before the first candidate is sampled, so a text that cannot work fails
// at once, naming the chunk.
import * as tf from '@tensorflow/tfjs-core';
import { ValidationError } from './config/errors';
import type { ClvpModelForConditionalGeneration } from './clvp_model';
import type { GenerateProgress } from './generation/generate';
import type { RankOptions, RankResult } from './generation/rank';
import type { ClvpTokenizer } from './tokenizer/tokenization_clvp';
import { SplitTextOptions, splitText } from './tokenizer/split_text';

export interface TextChunk {
  /** position of the chunk in the text */
  index: number;
  text: string;
  /** the chunk's token ids (without the eos that generation adds) */
  ids: number[];
}

export interface ReadTextOptions extends Omit<RankOptions, 'onProgress'> {
  /** how to split (Tortoise's defaults: about 200 characters, at most 300) */
  split?: SplitTextOptions;
  onProgress?: (p: GenerateProgress & { chunk: number; numChunks: number }) => void;
}

export interface ChunkResult extends TextChunk {
  result: RankResult;
}

/**
 * The chunks of `text` with their ids, checked: a text empty (or only whitespace), a chunk that
 * the normaliser reduces to nothing, or one with more tokens than the model's text positions is
 * a ValidationError naming it.
 */
export function chunkText(text: string, tokenizer: ClvpTokenizer, maxTextTokens: number, split: SplitTextOptions = {}): TextChunk[] {
  if (typeof text !== 'string' || text.trim() === '') throw new ValidationError('text', text, 'a non-empty text');
  const pieces = splitText(text, split);
  if (!pieces.length) throw new ValidationError('text', text, 'a text with words in it (it is only punctuation)');
  // bos and two eos are added around a chunk's tokens (see generate.ts)
  const limit = maxTextTokens - 3;
  return pieces.map((piece, index) => {
    const where = pieces.length > 1 ? `text chunk ${index + 1} of ${pieces.length}` : 'text';
    if (tokenizer.normalize(piece).trim() === '') throw new ValidationError(where, piece, 'words the English normaliser keeps (it drops non-ASCII characters)');
    const ids = tokenizer.encode(piece);
    if (ids.length > limit) throw new ValidationError(`${where} (${piece.length} characters, ${ids.length} tokens)`, `${piece.slice(0, 40)}…`, `at most ${limit} tokens (max_text_tokens - 3); split it with a smaller split.maxLength`);
    return { index, text: piece, ids };
  });
}

/**
 * Rank candidates for every chunk of a long text, in one voice (`inputFeatures` of one clip, or of
 * several with averageConditioning). Chunk k samples from the stream of seed + k.
 */
export async function readText(
  model: ClvpModelForConditionalGeneration,
  tokenizer: ClvpTokenizer,
  text: string,
  inputFeatures: tf.Tensor3D,
  opts: ReadTextOptions = {},
): Promise<ChunkResult[]> {
  const chunks = chunkText(text, tokenizer, model.config.decoderConfig.maxTextTokens, opts.split);
  const { split, onProgress, ...rank } = opts;
  void split;
  const out: ChunkResult[] = [];
  for (const c of chunks) {
    const result = await model.rankCandidates(
      { inputIds: { data: Int32Array.from(c.ids), shape: [1, c.ids.length] }, inputFeatures },
      {
        ...rank,
        seed: rank.seed === undefined || rank.seed === null ? rank.seed : rank.seed + c.index,
        onProgress: onProgress && ((p) => onProgress({ ...p, chunk: c.index, numChunks: chunks.length })),
      },
    );
    out.push({ ...c, result });
  }
  return out;
}
