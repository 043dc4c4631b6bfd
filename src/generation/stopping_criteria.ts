// Stopping for batched generation, as transformers 4.4x's _sample / _greedy_search loop does it:
//  - after each step, a row that has already finished gets pad_token_id instead of its new token
//    (next = next * unfinished + pad * (1 - unfinished)); with no pad id set, transformers uses eos;
//  - a row finishes when its newest token is an eos id (EosTokenCriteria);
//  - the loop ends when every row has finished or maxNewTokens tokens have been generated
//    (MaxLengthCriteria with max_length = prompt length + max_new_tokens).
import type { GenerationConfig } from './generation_config';

export interface EosStoppingOptions {
  /** End token(s); null: rows never finish early. */
  eosTokenId: number | readonly number[] | null;
  /** Fill for finished rows; null: the first eos id (transformers' fallback). */
  padTokenId: number | null;
  /** Steps after which generation stops regardless. */
  maxNewTokens: number;
}

/** Tracks which rows are still generating and when the loop must stop. */
export class EosStoppingTracker {
  readonly batch: number;
  readonly eosIds: readonly number[];
  readonly padTokenId: number | null;
  readonly maxNewTokens: number;
  /** 1 while row b is still generating, 0 once it has produced eos. */
  readonly unfinished: Uint8Array;
  private generated = 0;

  constructor(batch: number, opts: EosStoppingOptions) {
    if (!Number.isInteger(batch) || batch < 0) throw new RangeError(`EosStoppingTracker: bad batch ${batch}`);
    if (!Number.isInteger(opts.maxNewTokens) || opts.maxNewTokens < 0) throw new RangeError(`EosStoppingTracker: maxNewTokens has to be a non-negative integer, but is ${opts.maxNewTokens}`);
    this.batch = batch;
    const eos = opts.eosTokenId;
    this.eosIds = eos === null ? [] : typeof eos === 'number' ? [eos] : [...eos];
    this.padTokenId = opts.padTokenId ?? (this.eosIds.length ? this.eosIds[0] : null);
    this.maxNewTokens = opts.maxNewTokens;
    this.unfinished = new Uint8Array(batch).fill(1);
  }

  /** From a GenerationConfig; maxNewTokens must be resolved (not null) by the caller. */
  static fromConfig(batch: number, config: Pick<GenerationConfig, 'eosTokenId' | 'padTokenId'>, maxNewTokens: number): EosStoppingTracker {
    return new EosStoppingTracker(batch, { eosTokenId: config.eosTokenId, padTokenId: config.padTokenId, maxNewTokens });
  }

  /** Tokens generated so far (steps taken). */
  get numGenerated(): number {
    return this.generated;
  }

  /** True when every row has finished or maxNewTokens steps were taken. */
  get done(): boolean {
    return this.generated >= this.maxNewTokens || this.unfinished.every((u) => u === 0);
  }

  /**
   * Records one step: replaces the tokens of rows that had already finished by the pad id (in
   * place), marks rows whose token is eos as finished, and returns `tokens`.
   */
  step(tokens: Int32Array): Int32Array {
    if (tokens.length !== this.batch) throw new RangeError(`EosStoppingTracker.step: ${tokens.length} tokens for batch ${this.batch}`);
    if (this.generated >= this.maxNewTokens) throw new Error('EosStoppingTracker.step: maxNewTokens already reached');
    for (let b = 0; b < this.batch; b++) {
      if (!this.unfinished[b]) {
        if (this.padTokenId === null) throw new Error('EosStoppingTracker: a finished row needs a pad or eos token id');
        tokens[b] = this.padTokenId;
      } else if (this.eosIds.includes(tokens[b])) {
        this.unfinished[b] = 0;
      }
    }
    this.generated++;
    return tokens;
  }
}
