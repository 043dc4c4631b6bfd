// Parity of the text front-end against cases/tokenizer.json, produced by transformers'
// models/clvp/tokenization_clvp.py (ClvpTokenizer, 4.4x) on the reference tokenizer folder.
import { subFolder } from '../../io/folder';
import { LoadedCase } from '../cases';
import { Comparison } from '../compare';
import type { CallHandler, HandlerResult } from '../runner';
import { CallOptions, ClvpTokenizer } from '../../tokenizer';

/** One `single` row: tokenizer(text) with default arguments, plus tokenize/normalise/decode. */
interface SingleRow {
  text: string;
  normalized: string;
  tokens: string[];
  input_ids: number[];
  attention_mask: number[];
  decoded: string;
  decoded_skip_special_tokens: string;
}

/** One `batches` row: tokenizer(texts, **kwargs) and batch_decode of the expected ids. */
interface BatchRow {
  name: string;
  texts: string | string[];
  kwargs: Record<string, unknown>;
  input_ids: number[] | number[][];
  attention_mask: number[] | number[][];
  batch_decode: string | string[];
  batch_decode_skip_special_tokens: string | string[];
}

/** One `decodes` row: decode of hand-made ids. */
interface DecodeRow {
  ids: number[];
  decode: string;
  decode_skip_special_tokens: string;
  decode_no_cleanup: string;
  tokens: string[];
}

export interface TokenizerCasesJson {
  description?: string;
  special_tokens: Record<string, [string, number]>;
  single: SingleRow[];
  batches: BatchRow[];
  decodes: DecodeRow[];
}

const clip = (s: string, n = 160) => (s.length > n ? s.slice(0, n) + '…' : s);

function firstDifference(got: unknown, want: unknown, at = ''): string | null {
  if (Array.isArray(want) && Array.isArray(got)) {
    for (let i = 0; i < Math.max(got.length, want.length); i++) {
      if (i >= got.length || i >= want.length) return `length ${got.length} != expected ${want.length}${at}`;
      const d = firstDifference(got[i], want[i], `${at}[${i}]`);
      if (d) return d;
    }
    return null;
  }
  return JSON.stringify(got) === JSON.stringify(want) ? null : `at ${at || 'value'}: got ${clip(JSON.stringify(got))}, expected ${clip(JSON.stringify(want))}`;
}

function compareValue(name: string, compute: () => unknown, want: unknown): Comparison {
  let got: unknown;
  try {
    got = compute();
  } catch (e) {
    return { name, ok: false, maxAbsError: Infinity, maxRelError: Infinity, message: `${name}: threw ${(e as Error).message}` };
  }
  const diff = firstDifference(got, want);
  return diff === null
    ? { name, ok: true, maxAbsError: 0, maxRelError: 0, message: `${name}: equal` }
    : { name, ok: false, maxAbsError: Infinity, maxRelError: Infinity, message: `${name}: ${diff}` };
}

const KWARGS: Record<string, keyof CallOptions> = {
  padding: 'padding',
  truncation: 'truncation',
  max_length: 'maxLength',
  pad_to_multiple_of: 'padToMultipleOf',
  add_special_tokens: 'addSpecialTokens',
  return_attention_mask: 'returnAttentionMask',
};

/** The case's Python keyword arguments as call() options; unknown ones are an error. */
export function kwargsToOptions(kwargs: Record<string, unknown>): CallOptions {
  const opts: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(kwargs)) {
    const field = KWARGS[k];
    if (!field) throw new Error(`unsupported tokenizer keyword argument '${k}'`);
    opts[field] = v;
  }
  return opts as CallOptions;
}

/** Every comparison of the tokenizer cases against `tok`. */
export function compareTokenizerCases(tok: ClvpTokenizer, cases: TokenizerCasesJson): Comparison[] {
  const out: Comparison[] = [];
  for (const [role, [content, id]] of Object.entries(cases.special_tokens ?? {})) {
    const pick = { bos: [tok.bosToken, tok.bosTokenId], eos: [tok.eosToken, tok.eosTokenId], pad: [tok.padToken, tok.padTokenId], unk: [tok.unkToken, tok.unkTokenId] }[role];
    out.push(compareValue(`special_tokens.${role}`, () => pick ?? `unknown role '${role}'`, [content, id]));
  }
  cases.single.forEach((row, i) => {
    const p = `single[${i}] ${clip(JSON.stringify(row.text), 40)}`;
    out.push(compareValue(`${p}.normalized`, () => tok.normalize(row.text), row.normalized));
    out.push(compareValue(`${p}.tokens`, () => tok.tokenize(row.text), row.tokens));
    let enc: { inputIds: number[]; attentionMask: number[] } | undefined;
    const encode = () => (enc ??= tok.call(row.text));
    out.push(compareValue(`${p}.input_ids`, () => encode().inputIds, row.input_ids));
    out.push(compareValue(`${p}.attention_mask`, () => encode().attentionMask, row.attention_mask));
    out.push(compareValue(`${p}.decoded`, () => tok.decode(row.input_ids), row.decoded));
    out.push(compareValue(`${p}.decoded_skip_special_tokens`, () => tok.decode(row.input_ids, { skipSpecialTokens: true }), row.decoded_skip_special_tokens));
  });
  cases.batches.forEach((row, i) => {
    const p = `batches[${i}] ${row.name} ${JSON.stringify(row.kwargs)}`;
    let enc: { inputIds: unknown; attentionMask?: unknown } | undefined;
    const encode = () => (enc ??= tok.call(row.texts, kwargsToOptions(row.kwargs)));
    out.push(compareValue(`${p}.input_ids`, () => encode().inputIds, row.input_ids));
    out.push(compareValue(`${p}.attention_mask`, () => encode().attentionMask, row.attention_mask));
    const decodeAll = (skipSpecialTokens: boolean) =>
      typeof row.texts === 'string' ? tok.decode(row.input_ids as number[], { skipSpecialTokens }) : tok.batchDecode(row.input_ids as number[][], { skipSpecialTokens });
    out.push(compareValue(`${p}.batch_decode`, () => decodeAll(false), row.batch_decode));
    out.push(compareValue(`${p}.batch_decode_skip_special_tokens`, () => decodeAll(true), row.batch_decode_skip_special_tokens));
  });
  cases.decodes.forEach((row, i) => {
    const p = `decodes[${i}] ${JSON.stringify(row.ids)}`;
    out.push(compareValue(`${p}.decode`, () => tok.decode(row.ids), row.decode));
    out.push(compareValue(`${p}.decode_skip_special_tokens`, () => tok.decode(row.ids, { skipSpecialTokens: true }), row.decode_skip_special_tokens));
    out.push(compareValue(`${p}.decode_no_cleanup`, () => tok.decode(row.ids, { cleanUpTokenizationSpaces: false }), row.decode_no_cleanup));
    out.push(compareValue(`${p}.tokens`, () => tok.convertIdsToTokens(row.ids), row.tokens));
  });
  return out;
}

/** Loads the reference tokenizer folder and compares every row and field of the case file. */
export const tokenizerHandler: CallHandler = async (c: LoadedCase): Promise<HandlerResult> => {
  const raw = c.spec.raw as unknown as TokenizerCasesJson;
  for (const key of ['single', 'batches', 'decodes'] as const) {
    if (!Array.isArray(raw[key])) throw new Error(`${c.entry.file ?? c.entry.name}: no '${key}' list`);
  }
  const tok = await ClvpTokenizer.fromPretrained(subFolder(c.reference, 'tokenizer'));
  return { comparisons: compareTokenizerCases(tok, raw) };
};
