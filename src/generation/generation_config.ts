// Typed generation settings (the subset of transformers' GenerationConfig that speech-token
// generation uses) and the logits processor list transformers builds from them.
import { ValidationError } from '../config/errors';
import {
  LogitsProcessorList,
  RepetitionPenaltyLogitsProcessor,
  TemperatureLogitsWarper,
  TopKLogitsWarper,
  TopPLogitsWarper,
} from './logits_process';

export interface GenerationConfig {
  /**
   * Number of tokens to generate after the prompt (bos). HF default: null (unset), in which case
   * `maxLength` applies. When both are set, maxNewTokens wins (as in transformers).
   */
  maxNewTokens: number | null;
  /** Total length limit including the prompt, used only when maxNewTokens is null. HF default: 20. */
  maxLength: number;
  /** Sample (true) or decode greedily (false). HF default: false. */
  doSample: boolean;
  /** Softmax temperature, applied only when sampling and != 1. HF default: 1.0. Must be > 0 when used. */
  temperature: number;
  /**
   * Keep the k highest scores (ties with the k-th kept), applied only when sampling and not
   * null/0. HF default: 50 -- so sampling without an explicit topK is top-50 sampling (Tortoise
   * relies on this default: it never passes top_k).
   */
  topK: number | null;
  /** Nucleus filtering mass, applied only when sampling and < 1. HF default: 1.0 (off). In [0, 1]. */
  topP: number | null;
  /**
   * Repetition penalty over every id of the sequence so far (bos included), applied (greedy or
   * sampling) when not null and != 1. HF default: 1.0 (off). Must be > 0.
   */
  repetitionPenalty: number | null;
  /** Sequences per input (each input row is repeated this many times). HF default: 1. */
  numReturnSequences: number;
  /** Start token of the speech decoder. HF default: null (taken from the model; CLVP: 8192). */
  bosTokenId: number | null;
  /** End token(s). HF default: null (taken from the model; CLVP: 8193). */
  eosTokenId: number | number[] | null;
  /** Fill for rows that have finished. HF default: null; transformers then uses eosTokenId. */
  padTokenId: number | null;
  /**
   * Seed of the sampling stream (not an HF field: transformers uses torch's global RNG).
   * Default: null = a random seed per generate call.
   */
  seed: number | null;
  /**
   * Least number of tokens top-k / top-p keep per row. HF: 1 for sampling without beams (the
   * only mode here); not a GenerationConfig field in transformers 4.4x, but the warpers' argument.
   */
  minTokensToKeep: number;
}

/** transformers 4.4x GenerationConfig defaults for these fields (plus seed / minTokensToKeep). */
export const DEFAULT_GENERATION_CONFIG: Readonly<GenerationConfig> = Object.freeze({
  maxNewTokens: null,
  maxLength: 20,
  doSample: false,
  temperature: 1.0,
  topK: 50,
  topP: 1.0,
  repetitionPenalty: 1.0,
  numReturnSequences: 1,
  bosTokenId: null,
  eosTokenId: null,
  padTokenId: null,
  seed: null,
  minTokensToKeep: 1,
});

/** One rule a GenerationConfig field must satisfy: the check and how it reads in a message. */
interface FieldRule {
  ok(v: unknown, c: GenerationConfig): boolean;
  allowed: string;
}

const int = (v: unknown) => Number.isInteger(v);
const finite = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/**
 * Every field's rule, checked before any work. temperature must be > 0 only when sampling (it
 * is not used otherwise, as in transformers); top-k and top-p are refused out of range whether
 * or not they are used, since such a value is always a mistake. top-p 0 (HF accepts it and keeps
 * min_tokens_to_keep) is refused: it can only mean a typo for greedy decoding.
 */
const FIELD_RULES: { [K in keyof GenerationConfig]: FieldRule } = {
  maxNewTokens: { ok: (v) => v === null || (int(v) && (v as number) >= 0), allowed: 'a non-negative integer or null' },
  maxLength: { ok: (v) => int(v) && (v as number) >= 0, allowed: 'a non-negative integer' },
  doSample: { ok: (v) => typeof v === 'boolean', allowed: 'true or false' },
  temperature: { ok: (v, c) => (c.doSample ? finite(v) && v > 0 : typeof v === 'number' && !Number.isNaN(v)), allowed: 'a number > 0 when sampling' },
  topK: { ok: (v) => v === null || (int(v) && (v as number) >= 0), allowed: 'an integer >= 0 (0 = off) or null' },
  topP: { ok: (v) => v === null || (finite(v) && v > 0 && v <= 1), allowed: 'a number in (0, 1] (1 = off) or null' },
  repetitionPenalty: { ok: (v) => v === null || (finite(v) && v > 0), allowed: 'a number > 0 (1 = off) or null' },
  numReturnSequences: { ok: (v) => int(v) && (v as number) >= 1, allowed: 'a positive integer' },
  bosTokenId: { ok: (v) => v === null || (int(v) && (v as number) >= 0), allowed: 'a non-negative integer or null' },
  eosTokenId: { ok: (v) => v === null || (int(v) && (v as number) >= 0) || (Array.isArray(v) && v.length > 0 && v.every((x) => int(x) && x >= 0)), allowed: 'a non-negative integer, a list of them, or null' },
  padTokenId: { ok: (v) => v === null || (int(v) && (v as number) >= 0), allowed: 'a non-negative integer or null' },
  seed: { ok: (v) => v === null || (Number.isSafeInteger(v) && (v as number) >= 0), allowed: 'a non-negative safe integer or null' },
  minTokensToKeep: { ok: (v) => int(v) && (v as number) >= 1, allowed: 'a positive integer' },
};

/** A field of GenerationConfig outside its allowed values. */
export class GenerationConfigError extends ValidationError {
  constructor(readonly configField: keyof GenerationConfig, value: unknown, allowed: string, note = '') {
    super(`GenerationConfig.${configField}`, value, allowed, note);
  }
}

/** Checks every field; throws a GenerationConfigError naming the field, its value and what is allowed. */
export function validateGenerationConfig(c: GenerationConfig): void {
  for (const field of Object.keys(FIELD_RULES) as Array<keyof GenerationConfig>) {
    const rule = FIELD_RULES[field];
    if (!rule.ok(c[field], c)) {
      const note = field === 'temperature' && c.temperature === 0 ? ' (for greedy decoding set doSample: false)' : '';
      throw new GenerationConfigError(field, c[field], rule.allowed, note);
    }
  }
}

/** The defaults with `overrides` spread over them, validated. */
export function makeGenerationConfig(overrides: Partial<GenerationConfig> = {}): GenerationConfig {
  const c: GenerationConfig = { ...DEFAULT_GENERATION_CONFIG, ...overrides };
  validateGenerationConfig(c);
  return c;
}

const JSON_FIELDS: Record<string, keyof GenerationConfig> = {
  max_new_tokens: 'maxNewTokens',
  max_length: 'maxLength',
  do_sample: 'doSample',
  temperature: 'temperature',
  top_k: 'topK',
  top_p: 'topP',
  repetition_penalty: 'repetitionPenalty',
  num_return_sequences: 'numReturnSequences',
  bos_token_id: 'bosTokenId',
  eos_token_id: 'eosTokenId',
  pad_token_id: 'padTokenId',
  seed: 'seed',
  min_tokens_to_keep: 'minTokensToKeep',
};

/**
 * The fields of a transformers `generation_config.json` (snake_case) that this config knows;
 * other keys (return_dict_in_generate, ...) are ignored. Spread the result over defaults or a preset.
 */
export function generationConfigFromJson(json: Record<string, unknown>): Partial<GenerationConfig> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(json)) {
    const field = JSON_FIELDS[k];
    if (field !== undefined) out[field] = v;
  }
  return out as Partial<GenerationConfig>;
}

/**
 * The logits processors transformers 4.4x builds for these settings, in its order:
 * `_get_logits_processor` first (of the processors CLVP can use: RepetitionPenaltyLogitsProcessor
 * when repetitionPenalty is set and != 1), then, only when sampling, `_get_logits_warper`:
 * TemperatureLogitsWarper (temperature != 1), TopKLogitsWarper (topK set and != 0), TopPLogitsWarper
 * (topP set and < 1), the last two with minTokensToKeep.
 * Apply the list to the raw logits of each step, then sample (doSample) or take the argmax.
 */
export function buildLogitsProcessors(config: Partial<GenerationConfig>): LogitsProcessorList {
  const c: GenerationConfig = { ...DEFAULT_GENERATION_CONFIG, ...config };
  validateGenerationConfig(c);
  const list = new LogitsProcessorList();
  if (c.repetitionPenalty !== null && c.repetitionPenalty !== 1.0) list.push(new RepetitionPenaltyLogitsProcessor(c.repetitionPenalty));
  if (c.doSample) {
    if (c.temperature !== 1.0) list.push(new TemperatureLogitsWarper(c.temperature));
    if (c.topK !== null && c.topK !== 0) list.push(new TopKLogitsWarper(c.topK, c.minTokensToKeep));
    if (c.topP !== null && c.topP < 1.0) list.push(new TopPLogitsWarper(c.topP, c.minTokensToKeep));
  }
  return list;
}
