// Follows the file formats read by transformers tokenization_utils_base.py (4.4x)
// PreTrainedTokenizerBase.from_pretrained for a slow tokenizer (tokenizer_config.json,
// special_tokens_map.json, added_tokens.json) and the `tokenizers` library's tokenizer.json.
import { AddedToken, makeAddedToken } from './added_tokens';

/** An AddedToken as serialised by transformers (`AddedToken.__getstate__`). */
export interface AddedTokenJson {
  content: string;
  lstrip?: boolean;
  rstrip?: boolean;
  single_word?: boolean;
  normalized?: boolean;
  special?: boolean;
  __type?: 'AddedToken';
}

/** A special token in a config: a bare string or a serialised AddedToken. */
export type SpecialTokenJson = string | AddedTokenJson;

/** The special-token attributes of HF's SpecialTokensMixin, in its order (which fixes added-token ids). */
export const SPECIAL_TOKEN_ATTRIBUTES = ['bos_token', 'eos_token', 'unk_token', 'sep_token', 'pad_token', 'cls_token', 'mask_token'] as const;
export type SpecialTokenAttribute = (typeof SPECIAL_TOKEN_ATTRIBUTES)[number];

/** special_tokens_map.json. */
export type SpecialTokensMapJson = Partial<Record<SpecialTokenAttribute, SpecialTokenJson | null>> & {
  additional_special_tokens?: SpecialTokenJson[];
};

/** tokenizer_config.json, the fields a ClvpTokenizer reads. */
export interface TokenizerConfigJson extends SpecialTokensMapJson {
  add_bos_token?: boolean;
  add_eos_token?: boolean;
  add_prefix_space?: boolean;
  added_tokens_decoder?: Record<string, AddedTokenJson>;
  clean_up_tokenization_spaces?: boolean;
  errors?: string;
  model_max_length?: number;
  padding_side?: 'left' | 'right';
  truncation_side?: 'left' | 'right';
  split_special_tokens?: boolean;
  tokenizer_class?: string;
  processor_class?: string;
}

/** One entry of tokenizer.json's `added_tokens`. */
export interface TokenizersAddedTokenJson extends AddedTokenJson {
  id: number;
}

/** The parts of a `tokenizers` tokenizer.json (Tortoise's data/tokenizer.json) that matter here. */
export interface TokenizersJson {
  version?: string;
  added_tokens?: TokenizersAddedTokenJson[];
  model: {
    type?: string;
    unk_token?: string | null;
    vocab: Record<string, number>;
    /** "a b" strings (tokenizers < 0.20) or ["a", "b"] pairs (newer files). */
    merges: (string | [string, string])[];
  };
}

const isObject = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);

function checkBool(file: string, key: string, v: unknown): void {
  if (v !== undefined && typeof v !== 'boolean') throw new Error(`${file}: '${key}' must be true or false, got ${JSON.stringify(v)}`);
}

/** A serialised AddedToken or string, checked, as an AddedToken with HF's defaults. */
export function parseAddedToken(file: string, where: string, v: unknown, special: boolean): AddedToken {
  if (typeof v === 'string') return makeAddedToken(v, { special });
  if (!isObject(v) || typeof v.content !== 'string') throw new Error(`${file}: ${where} must be a string or an object with a string 'content'`);
  for (const k of ['lstrip', 'rstrip', 'single_word', 'normalized', 'special']) checkBool(file, `${where}.${k}`, v[k]);
  return makeAddedToken(v.content, {
    lstrip: v.lstrip as boolean | undefined,
    rstrip: v.rstrip as boolean | undefined,
    singleWord: v.single_word as boolean | undefined,
    normalized: v.normalized as boolean | undefined,
    special: (v.special as boolean | undefined) ?? special,
  });
}

/** Structural check of tokenizer_config.json / special_tokens_map.json contents. */
export function validateTokenizerConfig(file: string, raw: unknown): TokenizerConfigJson {
  if (!isObject(raw)) throw new Error(`${file}: expected a JSON object`);
  for (const k of ['add_bos_token', 'add_eos_token', 'add_prefix_space', 'clean_up_tokenization_spaces', 'split_special_tokens']) checkBool(file, k, raw[k]);
  for (const k of SPECIAL_TOKEN_ATTRIBUTES) {
    const v = raw[k];
    if (v !== undefined && v !== null) parseAddedToken(file, `'${k}'`, v, true);
  }
  if (raw.additional_special_tokens !== undefined) {
    if (!Array.isArray(raw.additional_special_tokens)) throw new Error(`${file}: 'additional_special_tokens' must be a list`);
    raw.additional_special_tokens.forEach((t, i) => parseAddedToken(file, `additional_special_tokens[${i}]`, t, true));
  }
  if (raw.added_tokens_decoder !== undefined) {
    if (!isObject(raw.added_tokens_decoder)) throw new Error(`${file}: 'added_tokens_decoder' must be an object of id -> token`);
    for (const [id, t] of Object.entries(raw.added_tokens_decoder)) {
      if (!/^[0-9]+$/.test(id)) throw new Error(`${file}: added_tokens_decoder key '${id}' is not a token id`);
      parseAddedToken(file, `added_tokens_decoder['${id}']`, t, false);
    }
  }
  if (raw.model_max_length !== undefined && typeof raw.model_max_length !== 'number') throw new Error(`${file}: 'model_max_length' must be a number`);
  if (raw.errors !== undefined && typeof raw.errors !== 'string') throw new Error(`${file}: 'errors' must be a string`);
  for (const k of ['padding_side', 'truncation_side']) {
    if (raw[k] !== undefined && raw[k] !== 'left' && raw[k] !== 'right') throw new Error(`${file}: '${k}' must be 'left' or 'right', got ${JSON.stringify(raw[k])}`);
  }
  return raw as TokenizerConfigJson;
}

/** Structural check of a `tokenizers` tokenizer.json. */
export function validateTokenizersJson(file: string, raw: unknown): TokenizersJson {
  if (!isObject(raw)) throw new Error(`${file}: expected a JSON object`);
  const model = raw.model;
  if (!isObject(model)) throw new Error(`${file}: no 'model' object`);
  if (model.type !== undefined && model.type !== 'BPE') throw new Error(`${file}: model.type is '${String(model.type)}', only 'BPE' is supported`);
  if (!isObject(model.vocab)) throw new Error(`${file}: model.vocab must be an object of token -> id`);
  if (!Array.isArray(model.merges)) throw new Error(`${file}: model.merges must be a list`);
  if (raw.added_tokens !== undefined) {
    if (!Array.isArray(raw.added_tokens)) throw new Error(`${file}: 'added_tokens' must be a list`);
    raw.added_tokens.forEach((t, i) => {
      if (!isObject(t) || !Number.isInteger(t.id) || typeof t.content !== 'string') throw new Error(`${file}: added_tokens[${i}] needs an integer 'id' and a string 'content'`);
    });
  }
  return raw as unknown as TokenizersJson;
}
