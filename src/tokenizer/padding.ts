// Follows transformers tokenization_utils_base.py (4.4x): _get_padding_truncation_strategies,
// truncate_sequences (single sequence) and _pad.

export type PaddingStrategy = 'longest' | 'max_length' | 'do_not_pad';
export type TruncationStrategy = 'longest_first' | 'only_first' | 'only_second' | 'do_not_truncate';
/** What callers may pass, as in HF: a boolean or a strategy name. */
export type PaddingOption = boolean | PaddingStrategy;
export type TruncationOption = boolean | TruncationStrategy;
export type Side = 'left' | 'right';

const PADDING_STRATEGIES: readonly PaddingStrategy[] = ['longest', 'max_length', 'do_not_pad'];
const TRUNCATION_STRATEGIES: readonly TruncationStrategy[] = ['longest_first', 'only_first', 'only_second', 'do_not_truncate'];

/** HF treats a model_max_length above this as "no limit" (LARGE_INTEGER = int(1e20)). */
export const LARGE_INTEGER = 1e20;
/** The model_max_length of a tokenizer config that names none (VERY_LARGE_INTEGER = int(1e30)). */
export const VERY_LARGE_INTEGER = 1e30;

export interface PaddingTruncationRequest {
  padding?: PaddingOption;
  truncation?: TruncationOption;
  maxLength?: number;
  padToMultipleOf?: number;
}

export interface ResolvedStrategies {
  padding: PaddingStrategy;
  truncation: TruncationStrategy;
  maxLength: number | undefined;
}

function checkCount(name: string, v: number | undefined, min: number): void {
  if (v !== undefined && (typeof v !== 'number' || !Number.isInteger(v) || v < min)) {
    throw new Error(`${name} must be an integer >= ${min}, got ${JSON.stringify(v)}`);
  }
}

/**
 * The padding / truncation strategies and length HF derives from a call's arguments, with its
 * quirks: max_length alone turns truncation on; padding=true means 'longest' and ignores
 * max_length; with no max_length, 'max_length' padding and truncation fall back to the model
 * limit, and are switched off when that limit is the 'unlimited' sentinel.
 */
export function resolvePaddingTruncation(req: PaddingTruncationRequest, modelMaxLength: number, padTokenId: number | undefined): ResolvedStrategies {
  const { padding = false, padToMultipleOf } = req;
  let { truncation, maxLength } = req;
  checkCount('maxLength', maxLength, 0);
  checkCount('padToMultipleOf', padToMultipleOf, 1);
  if (typeof padding !== 'boolean' && !PADDING_STRATEGIES.includes(padding)) {
    throw new Error(`padding: ${JSON.stringify(padding)} is not a valid padding strategy (expected true, false, ${PADDING_STRATEGIES.map((s) => `'${s}'`).join(', ')})`);
  }
  if (truncation !== undefined && typeof truncation !== 'boolean' && !TRUNCATION_STRATEGIES.includes(truncation)) {
    throw new Error(`truncation: ${JSON.stringify(truncation)} is not a valid truncation strategy (expected true, false, ${TRUNCATION_STRATEGIES.map((s) => `'${s}'`).join(', ')})`);
  }
  if (maxLength !== undefined && padding === false && truncation === undefined) truncation = 'longest_first';

  let paddingStrategy: PaddingStrategy = padding === true ? 'longest' : padding === false ? 'do_not_pad' : padding;
  let truncationStrategy: TruncationStrategy = truncation === true ? 'longest_first' : truncation === false || truncation === undefined ? 'do_not_truncate' : truncation;

  if (maxLength === undefined) {
    if (paddingStrategy === 'max_length') {
      if (modelMaxLength > LARGE_INTEGER) paddingStrategy = 'do_not_pad';
      else maxLength = modelMaxLength;
    }
    if (truncationStrategy !== 'do_not_truncate') {
      if (modelMaxLength > LARGE_INTEGER) truncationStrategy = 'do_not_truncate';
      else maxLength = modelMaxLength;
    }
  }
  if (paddingStrategy !== 'do_not_pad' && (padTokenId === undefined || padTokenId < 0)) {
    throw new Error('padding was requested but the tokenizer has no pad token');
  }
  if (truncationStrategy !== 'do_not_truncate' && paddingStrategy !== 'do_not_pad' && padToMultipleOf !== undefined && maxLength !== undefined && maxLength % padToMultipleOf !== 0) {
    throw new Error(`truncation and padding are both on but the truncation length (${maxLength}) is not a multiple of padToMultipleOf (${padToMultipleOf})`);
  }
  return { padding: paddingStrategy, truncation: truncationStrategy, maxLength };
}

/**
 * Truncation of one sequence (no pair) by `numToRemove` ids. When the sequence is not longer
 * than that (only possible when bos/eos alone exceed max_length) HF logs an error and keeps it
 * whole; so does this. 'only_second' has nothing to cut without a pair.
 */
export function truncateIds(ids: number[], numToRemove: number, strategy: TruncationStrategy, side: Side): number[] {
  if (numToRemove <= 0 || strategy === 'do_not_truncate' || strategy === 'only_second') return ids;
  if (ids.length <= numToRemove) return ids;
  return side === 'left' ? ids.slice(numToRemove) : ids.slice(0, ids.length - numToRemove);
}

/** One encoded sequence: ids and (when requested) its attention mask. */
export interface EncodedIds {
  inputIds: number[];
  attentionMask?: number[];
}

/** HF's _pad for one sequence. */
export function padEncoded(
  enc: EncodedIds,
  strategy: PaddingStrategy,
  maxLength: number | undefined,
  padToMultipleOf: number | undefined,
  padTokenId: number,
  side: Side,
  returnAttentionMask: boolean,
): EncodedIds {
  const ids = enc.inputIds;
  let target = strategy === 'longest' ? ids.length : maxLength;
  if (target !== undefined && padToMultipleOf !== undefined && target % padToMultipleOf !== 0) {
    target = (Math.floor(target / padToMultipleOf) + 1) * padToMultipleOf;
  }
  let mask = enc.attentionMask;
  if (returnAttentionMask && !mask) mask = new Array<number>(ids.length).fill(1);
  const out: EncodedIds = { inputIds: ids };
  if (returnAttentionMask) out.attentionMask = mask;
  // A sequence already longer than the target is left alone (Python's [0] * negative is []).
  if (strategy === 'do_not_pad' || target === undefined || target <= ids.length) return out;
  const n = target - ids.length;
  const pads = new Array<number>(n).fill(padTokenId);
  const zeros = new Array<number>(n).fill(0);
  out.inputIds = side === 'right' ? ids.concat(pads) : pads.concat(ids);
  if (returnAttentionMask && mask) out.attentionMask = side === 'right' ? mask.concat(zeros) : zeros.concat(mask);
  return out;
}
