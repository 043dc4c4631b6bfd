// Follows transformers models/clvp/tokenization_clvp.py (ClvpTokenizer, 4.4x) together with the
// slow-tokenizer behaviour it inherits from tokenization_utils.py / tokenization_utils_base.py
// (added-token splitting, special-token registration, prepare_for_model, pad, decode).
import * as tf from '@tensorflow/tfjs-core';
import { requireReadyBackend } from '../backend';
import { ModelFolder } from '../io/folder';
import { platform } from '../platform/platform';
import { AddedToken, AddedTokenSplitter, makeAddedToken } from './added_tokens';
import { BytePairEncoding, MergePair } from './bpe';
import { bytesToUnicodeString, decodeUtf8, DecodeErrors, unicodeStringToBytes } from './byte_encoder';
import {
  SPECIAL_TOKEN_ATTRIBUTES,
  SpecialTokenAttribute,
  TokenizerConfigJson,
  parseAddedToken,
  validateTokenizerConfig,
  validateTokenizersJson,
} from './config';
import { EnglishNormalizer } from './english_normalizer';
import { openTokenizerSource, parseJsonText, parseMerges, parseTokenizersMerges, parseVocab, readFolderJson, readFolderText } from './files';
import { compareCodePoints } from './python_text';
import {
  EncodedIds,
  PaddingTruncationRequest,
  ResolvedStrategies,
  Side,
  VERY_LARGE_INTEGER,
  padEncoded,
  resolvePaddingTruncation,
  truncateIds,
} from './padding';

/** File names of a transformers tokenizer folder (VOCAB_FILES_NAMES and the base class's files). */
export const VOCAB_FILES_NAMES = { vocabFile: 'vocab.json', mergesFile: 'merges.txt' } as const;
export const TOKENIZER_CONFIG_FILE = 'tokenizer_config.json';
export const SPECIAL_TOKENS_MAP_FILE = 'special_tokens_map.json';
export const ADDED_TOKENS_FILE = 'added_tokens.json';

/** A special token given to the constructor: its text, or an AddedToken with its flags. */
export type SpecialTokenInput = string | AddedToken | null;

export interface ClvpTokenizerOptions {
  /** Token -> id (vocab.json). */
  vocab: ReadonlyMap<string, number> | Readonly<Record<string, number>>;
  /** Merge rules in rank order (merges.txt without its header); null keeps a blank line's rank slot. */
  merges: readonly (MergePair | null)[];
  /** How invalid UTF-8 is decoded (bytes.decode errors=); 'replace' as in the reference. */
  errors?: DecodeErrors;
  unkToken?: SpecialTokenInput;
  bosToken?: SpecialTokenInput;
  eosToken?: SpecialTokenInput;
  padToken?: SpecialTokenInput;
  sepToken?: SpecialTokenInput;
  clsToken?: SpecialTokenInput;
  maskToken?: SpecialTokenInput;
  additionalSpecialTokens?: readonly (string | AddedToken)[];
  /**
   * Stored for round trips only: the 4.4x ClvpTokenizer accepts it but never prepends the space
   * (it has no prepare_for_tokenization), and the reference ids reflect that.
   */
  addPrefixSpace?: boolean;
  addBosToken?: boolean;
  addEosToken?: boolean;
  /** Tokens never split by BPE, by id (tokenizer_config.json's added_tokens_decoder). */
  addedTokensDecoder?: ReadonlyMap<number, AddedToken>;
  cleanUpTokenizationSpaces?: boolean;
  modelMaxLength?: number;
  paddingSide?: Side;
  truncationSide?: Side;
  /** Tokenise literal special tokens as ordinary text instead of splitting them out. */
  splitSpecialTokens?: boolean;
}

/** Options of call() / encode(), HF's tokenizer(...) keyword arguments in camelCase. */
export interface CallOptions extends PaddingTruncationRequest {
  addSpecialTokens?: boolean;
  returnTensors?: 'tf';
  returnAttentionMask?: boolean;
}

export interface DecodeOptions {
  skipSpecialTokens?: boolean;
  /** Defaults to the tokenizer's cleanUpTokenizationSpaces (true for CLVP). */
  cleanUpTokenizationSpaces?: boolean;
  spacesBetweenSpecialTokens?: boolean;
}

export type TextInput = string | readonly string[];
type IdsOf<T extends TextInput, O> = O extends { returnTensors: 'tf' } ? tf.Tensor2D : T extends string ? number[] : number[][];
/** What call() returns: ids and attention mask, shaped like the input (tensors: [batch, length]). */
export type BatchEncoding<T extends TextInput = TextInput, O extends CallOptions = CallOptions> = O extends { returnAttentionMask: false }
  ? { inputIds: IdsOf<T, O> }
  : { inputIds: IdsOf<T, O>; attentionMask: IdsOf<T, O> };

/** Ids accepted by decode(): a list, a single id or a 1-D int tensor. */
export type IdsInput = number | readonly number[] | tf.Tensor;

// Python `regex` pattern of the reference, with \p classes via the u flag. \s differs from the
// `regex` module only outside ASCII, and the normaliser leaves nothing but ASCII.
const PRE_TOKENIZE = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;
const SPACE_SYMBOL = '\u0120';
const SPACE_TOKEN = '[SPACE]';
const STOP_TOKEN = '[STOP]';

interface WordEncoding {
  tokens: readonly string[];
  ids: readonly number[];
}

/** A short description of a wrong argument for error messages. */
function describe(x: unknown): string {
  if (x === null || x === undefined) return String(x);
  if (Array.isArray(x)) return 'an array';
  if (typeof x === 'function') return 'a function';
  if (typeof x === 'object') return `an object (${(x as object).constructor?.name ?? 'Object'})`;
  if (typeof x === 'bigint' || typeof x === 'symbol') return `${typeof x} ${String(x)}`;
  return `${typeof x} ${JSON.stringify(x)}`;
}

function toSpecial(v: SpecialTokenInput | undefined): AddedToken | null {
  if (v === undefined || v === null) return null;
  return typeof v === 'string' ? makeAddedToken(v, { special: true }) : v;
}

/**
 * CLVP's text tokenizer: EnglishNormalizer, GPT-2 style pre-tokenisation and byte-level BPE,
 * with 'Ġ' written as the [SPACE] token. Port of HF's slow ClvpTokenizer, quirks included.
 */
export class ClvpTokenizer {
  readonly normalizer = new EnglishNormalizer();
  readonly errors: DecodeErrors;
  readonly addPrefixSpace: boolean;
  readonly addBosToken: boolean;
  readonly addEosToken: boolean;
  readonly cleanUpTokenizationSpaces: boolean;
  readonly modelMaxLength: number;
  readonly paddingSide: Side;
  readonly truncationSide: Side;
  readonly splitSpecialTokens: boolean;

  private readonly encoder: Map<string, number>;
  private readonly decoder = new Map<number, string>();
  private readonly bpe: BytePairEncoding;
  private readonly special = new Map<SpecialTokenAttribute, AddedToken>();
  private readonly additionalSpecial: AddedToken[] = [];
  private readonly addedDecoder = new Map<number, AddedToken>();
  private readonly addedEncoder = new Map<string, number>();
  private readonly splitter: AddedTokenSplitter;
  private readonly spaceInVocab: boolean;
  private readonly wordCache = new Map<string, WordEncoding>();
  private readonly bytesCache = new Map<string, Uint8Array>();
  // Dense id -> token / bytes tables: decoding looks up every id, and arrays beat Maps there.
  private readonly idTokens: (string | undefined)[] = [];
  private readonly idBytes: (Uint8Array | undefined)[] = [];
  // Added tokens that are not special ("legacy added tokens" in HF's _decode).
  private readonly legacyAdded: ReadonlySet<string>;

  constructor(options: ClvpTokenizerOptions) {
    const errors = options.errors ?? 'replace';
    if (errors !== 'replace' && errors !== 'strict') throw new Error(`errors: '${String(errors)}' is not supported (expected 'replace' or 'strict')`);
    this.errors = errors;
    this.addPrefixSpace = options.addPrefixSpace ?? false;
    this.addBosToken = options.addBosToken ?? false;
    this.addEosToken = options.addEosToken ?? false;
    this.cleanUpTokenizationSpaces = options.cleanUpTokenizationSpaces ?? true;
    this.modelMaxLength = options.modelMaxLength ?? VERY_LARGE_INTEGER;
    this.paddingSide = options.paddingSide ?? 'right';
    this.truncationSide = options.truncationSide ?? 'right';
    this.splitSpecialTokens = options.splitSpecialTokens ?? false;

    this.encoder = options.vocab instanceof Map ? new Map(options.vocab) : new Map(Object.entries(options.vocab));
    for (const [token, id] of this.encoder) this.decoder.set(id, token);
    this.bpe = new BytePairEncoding(options.merges);
    this.spaceInVocab = this.encoder.has(SPACE_TOKEN);

    const given: Record<SpecialTokenAttribute, SpecialTokenInput | undefined> = {
      bos_token: options.bosToken === undefined ? '<|endoftext|>' : options.bosToken,
      eos_token: options.eosToken === undefined ? STOP_TOKEN : options.eosToken,
      unk_token: options.unkToken === undefined ? '[UNK]' : options.unkToken,
      sep_token: options.sepToken,
      pad_token: options.padToken === undefined ? STOP_TOKEN : options.padToken,
      cls_token: options.clsToken,
      mask_token: options.maskToken,
    };
    for (const attr of SPECIAL_TOKEN_ATTRIBUTES) {
      const tok = toSpecial(given[attr]);
      if (tok) this.special.set(attr, tok);
    }
    for (const t of options.additionalSpecialTokens ?? []) this.additionalSpecial.push(toSpecial(t)!);

    for (const [id, tok] of options.addedTokensDecoder ?? []) {
      this.addedDecoder.set(id, tok);
      this.addedEncoder.set(tok.content, id);
    }
    this.registerSpecialTokens();
    this.splitter = new AddedTokenSplitter(new Map([...this.addedEncoder].map(([content, id]) => [content, this.addedDecoder.get(id)!])));
    for (const [id, token] of this.decoder) this.idTokens[id] = token;
    for (const [id, tok] of this.addedDecoder) this.idTokens[id] = tok.content;
    const specialContents = new Set(this.allSpecialTokens);
    const legacy = new Set([...this.addedEncoder.keys()].filter((c) => !specialContents.has(c)));
    for (const t of this.additionalSpecial) {
      const id = this.tokenToId(t.content);
      if (id !== undefined && id >= this.vocabSize) legacy.add(t.content);
    }
    this.legacyAdded = legacy;
  }

  // PreTrainedTokenizer.__init__ step 4 (_add_tokens with special_tokens=True): every special
  // token is (re)registered as an added token, at its existing id when its text already has one
  // (vocabulary or added), else at the next free id, so '<|endoftext|>' gets 255. An existing
  // added-token entry takes the special token's flags, as HF overwrites it with that object.
  private registerSpecialTokens(): void {
    const current = new Map(this.encoder);
    for (const [c, id] of this.addedEncoder) current.set(c, id);
    const nextId = current.size;
    let added = 0;
    for (const tok of this.allSpecialTokensExtended()) {
      if (tok.content === '') continue;
      let id = current.get(tok.content);
      if (id === undefined) {
        id = nextId + added++;
        current.set(tok.content, id);
      }
      this.addedDecoder.set(id, { ...tok, special: true });
      this.addedEncoder.set(tok.content, id);
    }
  }

  private allSpecialTokensExtended(): AddedToken[] {
    const seen = new Set<string>();
    const out: AddedToken[] = [];
    for (const tok of [...this.special.values(), ...this.additionalSpecial]) {
      if (seen.has(tok.content)) continue;
      seen.add(tok.content);
      out.push(tok);
    }
    return out;
  }

  // ---------------------------------------------------------------- loading and saving

  /**
   * Load from a transformers tokenizer folder: vocab.json and merges.txt, plus (when present)
   * tokenizer_config.json, special_tokens_map.json and added_tokens.json, read the way 4.4x
   * from_pretrained reads them. `overrides` win over the files.
   */
  static async fromPretrained(source: string | ModelFolder, overrides: Partial<ClvpTokenizerOptions> = {}): Promise<ClvpTokenizer> {
    const folder = typeof source === 'string' ? await openTokenizerSource(source) : source;
    const at = (name: string) => `${folder.label}/${name}`;
    const vocab = parseVocab(at(VOCAB_FILES_NAMES.vocabFile), await readFolderJson(folder, VOCAB_FILES_NAMES.vocabFile, 'the BPE vocabulary, vocab.json'));
    const merges = parseMerges(at(VOCAB_FILES_NAMES.mergesFile), await readFolderText(folder, VOCAB_FILES_NAMES.mergesFile, 'the BPE merge rules, merges.txt'));
    const cfgFile = at(TOKENIZER_CONFIG_FILE);
    const config: TokenizerConfigJson = (await folder.has(TOKENIZER_CONFIG_FILE)) ? validateTokenizerConfig(cfgFile, await readFolderJson(folder, TOKENIZER_CONFIG_FILE, 'the tokenizer settings')) : {};
    const specials: Partial<Record<SpecialTokenAttribute, AddedToken | null>> = {};
    let additional: AddedToken[] | undefined;
    const addedDecoder = new Map<number, AddedToken>();

    const takeSpecials = (file: string, src: TokenizerConfigJson) => {
      for (const attr of SPECIAL_TOKEN_ATTRIBUTES) {
        const v = src[attr];
        if (v === undefined) continue;
        specials[attr] = v === null ? null : parseAddedToken(file, `'${attr}'`, v, true);
      }
      if (src.additional_special_tokens) additional = src.additional_special_tokens.map((t, i) => parseAddedToken(file, `additional_special_tokens[${i}]`, t, true));
    };
    takeSpecials(cfgFile, config);

    if (config.added_tokens_decoder) {
      for (const [id, t] of Object.entries(config.added_tokens_decoder)) addedDecoder.set(Number(id), parseAddedToken(cfgFile, `added_tokens_decoder['${id}']`, t, false));
      // A special token named by its text takes the flags of the added token with that text.
      const byContent = new Map([...addedDecoder.values()].map((t) => [t.content, t]));
      for (const attr of SPECIAL_TOKEN_ATTRIBUTES) {
        const tok = specials[attr];
        if (tok && byContent.has(tok.content)) specials[attr] = byContent.get(tok.content)!;
      }
    } else {
      // Legacy folders: special_tokens_map.json overrides the config, added_tokens.json lists added tokens.
      if (await folder.has(SPECIAL_TOKENS_MAP_FILE)) {
        takeSpecials(at(SPECIAL_TOKENS_MAP_FILE), validateTokenizerConfig(at(SPECIAL_TOKENS_MAP_FILE), await readFolderJson(folder, SPECIAL_TOKENS_MAP_FILE, 'the special tokens')));
      }
      const addedFile = at(ADDED_TOKENS_FILE);
      if (await folder.has(ADDED_TOKENS_FILE)) {
        const raw = await readFolderJson(folder, ADDED_TOKENS_FILE, 'the added tokens');
        const specialContents = new Set([...Object.values(specials), ...(additional ?? [])].filter((t): t is AddedToken => !!t).map((t) => t.content));
        for (const [content, id] of parseVocab(addedFile, raw)) {
          const special = specialContents.has(content);
          addedDecoder.set(id, makeAddedToken(content, { special, normalized: !special }));
        }
      }
    }
    const errors = config.errors ?? 'replace';
    if (errors !== 'replace' && errors !== 'strict') throw new Error(`${cfgFile}: errors '${errors}' is not supported (expected 'replace' or 'strict')`);
    return new ClvpTokenizer({
      vocab,
      merges,
      errors,
      ...(specials.bos_token !== undefined && { bosToken: specials.bos_token }),
      ...(specials.eos_token !== undefined && { eosToken: specials.eos_token }),
      ...(specials.unk_token !== undefined && { unkToken: specials.unk_token }),
      ...(specials.pad_token !== undefined && { padToken: specials.pad_token }),
      ...(specials.sep_token !== undefined && { sepToken: specials.sep_token }),
      ...(specials.cls_token !== undefined && { clsToken: specials.cls_token }),
      ...(specials.mask_token !== undefined && { maskToken: specials.mask_token }),
      additionalSpecialTokens: additional,
      addPrefixSpace: config.add_prefix_space,
      addBosToken: config.add_bos_token,
      addEosToken: config.add_eos_token,
      addedTokensDecoder: addedDecoder,
      cleanUpTokenizationSpaces: config.clean_up_tokenization_spaces,
      modelMaxLength: config.model_max_length,
      paddingSide: config.padding_side,
      truncationSide: config.truncation_side,
      splitSpecialTokens: config.split_special_tokens,
      ...overrides,
    });
  }

  /**
   * Load from Tortoise's original `tokenizer.json` (the `tokenizers` format): model.vocab and
   * model.merges are what vocab.json and merges.txt hold, so the result tokenises exactly as a
   * ClvpTokenizer built from those files with its default settings. The file's `added_tokens`
   * ([STOP], [UNK], [SPACE]) are checked against the vocabulary but are not made unsplittable:
   * HF's ClvpTokenizer only splits out its special tokens, so a literal '[SPACE]' in the text
   * is ordinary text there too.
   */
  static async fromTortoiseTokenizerJson(file: string, overrides: Partial<ClvpTokenizerOptions> = {}): Promise<ClvpTokenizer> {
    let bytes: Uint8Array;
    try {
      bytes = await platform().readFile(file);
    } catch (e) {
      throw new Error(`${(e as Error).message} (a tokenizers tokenizer.json)`);
    }
    return ClvpTokenizer.fromTortoiseTokenizerJsonText(new TextDecoder().decode(bytes).replace(/^\uFEFF/, ''), file, overrides);
  }

  /** The same from the file's text; `file` names it in messages. */
  static fromTortoiseTokenizerJsonText(text: string, file: string, overrides: Partial<ClvpTokenizerOptions> = {}): ClvpTokenizer {
    const json = validateTokenizersJson(file, parseJsonText(file, text));
    const vocab = parseVocab(`${file} (model.vocab)`, json.model.vocab);
    const merges = parseTokenizersMerges(file, json.model.merges);
    (json.added_tokens ?? []).forEach((t, i) => {
      const id = vocab.get(t.content);
      if (id !== undefined && id !== t.id) throw new Error(`${file}: added_tokens[${i}] '${t.content}' has id ${t.id} but model.vocab gives it ${id}`);
    });
    const unk = json.model.unk_token;
    return new ClvpTokenizer({ vocab, merges, ...(typeof unk === 'string' && { unkToken: unk }), ...overrides });
  }

  /** vocab.json and merges.txt as HF's save_vocabulary writes them. */
  vocabularyFiles(filenamePrefix?: string): Record<string, string> {
    const prefix = filenamePrefix ? filenamePrefix + '-' : '';
    // json.dumps(indent=2, sort_keys=True, ensure_ascii=False): keys in code-point order, built
    // by hand because a JS object would move integer-like keys ('0', '1') to the front.
    const keys = [...this.encoder.keys()].sort(compareCodePoints);
    const body = keys.length ? '{\n' + keys.map((k) => `  ${JSON.stringify(k)}: ${this.encoder.get(k)}`).join(',\n') + '\n}' : '{}';
    // Rules superseded by a later duplicate, and blank lines, are dropped; the relative order,
    // which is all BPE uses, is unchanged.
    const lines = ['#version: 0.2'];
    this.bpe.merges.forEach((m, i) => {
      if (m && this.bpe.rank(m[0], m[1]) === i) lines.push(`${m[0]} ${m[1]}`);
    });
    return { [prefix + VOCAB_FILES_NAMES.vocabFile]: body + '\n', [prefix + VOCAB_FILES_NAMES.mergesFile]: lines.join('\n') + '\n' };
  }

  /** Every file of a tokenizer folder (vocabulary, merges, config, special tokens, added tokens). */
  pretrainedFiles(): Record<string, string> {
    const tokenJson = (t: AddedToken, withSpecial: boolean) => ({
      content: t.content,
      lstrip: t.lstrip,
      normalized: t.normalized,
      rstrip: t.rstrip,
      single_word: t.singleWord,
      ...(withSpecial && { special: t.special }),
    });
    const specialMap: Record<string, unknown> = {};
    const configSpecials: Record<string, string> = {};
    for (const [attr, tok] of this.special) {
      specialMap[attr] = tokenJson(tok, false);
      configSpecials[attr] = tok.content;
    }
    if (this.additionalSpecial.length) {
      specialMap.additional_special_tokens = this.additionalSpecial.map((t) => tokenJson(t, false));
    }
    const addedTokensDecoder: Record<string, unknown> = {};
    for (const id of [...this.addedDecoder.keys()].sort((a, b) => a - b)) addedTokensDecoder[String(id)] = tokenJson(this.addedDecoder.get(id)!, true);
    const config = {
      add_bos_token: this.addBosToken,
      add_eos_token: this.addEosToken,
      add_prefix_space: this.addPrefixSpace,
      added_tokens_decoder: addedTokensDecoder,
      ...configSpecials,
      ...(this.additionalSpecial.length && { additional_special_tokens: this.additionalSpecial.map((t) => t.content) }),
      clean_up_tokenization_spaces: this.cleanUpTokenizationSpaces,
      errors: this.errors,
      model_max_length: this.modelMaxLength,
      padding_side: this.paddingSide,
      truncation_side: this.truncationSide,
      split_special_tokens: this.splitSpecialTokens,
      tokenizer_class: 'ClvpTokenizer',
    };
    const files: Record<string, string> = {
      ...this.vocabularyFiles(),
      [TOKENIZER_CONFIG_FILE]: JSON.stringify(config, null, 2) + '\n',
      [SPECIAL_TOKENS_MAP_FILE]: JSON.stringify(specialMap, null, 2) + '\n',
    };
    const beyondVocab = [...this.addedEncoder].filter(([, id]) => id >= this.vocabSize);
    if (beyondVocab.length) files[ADDED_TOKENS_FILE] = JSON.stringify(Object.fromEntries(beyondVocab)) + '\n';
    return files;
  }

  /** Write vocab.json and merges.txt into an existing folder (Node); returns the two paths. */
  saveVocabulary(dir: string, filenamePrefix?: string): [string, string] {
    const files = this.vocabularyFiles(filenamePrefix);
    writeFiles(dir, files, false);
    const [v, m] = Object.keys(files);
    return [joinPath(dir, v), joinPath(dir, m)];
  }

  /** Write a complete tokenizer folder (Node), creating it; returns the paths. */
  savePretrained(dir: string): string[] {
    const files = this.pretrainedFiles();
    writeFiles(dir, files, true);
    return Object.keys(files).map((f) => joinPath(dir, f));
  }

  // ---------------------------------------------------------------- vocabulary

  /** Size of the BPE vocabulary without added tokens (len(encoder)). */
  get vocabSize(): number {
    return this.encoder.size;
  }

  /** Number of distinct tokens, added ones included (len(tokenizer)). */
  get length(): number {
    return this.getVocab().size;
  }

  /** Every token -> id, added tokens included. */
  getVocab(): Map<string, number> {
    const v = new Map(this.encoder);
    for (const [c, id] of this.addedEncoder) v.set(c, id);
    return v;
  }

  /** Added tokens by id (HF added_tokens_decoder). */
  get addedTokensDecoder(): ReadonlyMap<number, AddedToken> {
    return this.addedDecoder;
  }

  private specialContent(attr: SpecialTokenAttribute): string | undefined {
    return this.special.get(attr)?.content;
  }

  private specialId(attr: SpecialTokenAttribute): number | undefined {
    const c = this.specialContent(attr);
    return c === undefined ? undefined : this.tokenToId(c);
  }

  get bosToken(): string | undefined {
    return this.specialContent('bos_token');
  }
  get eosToken(): string | undefined {
    return this.specialContent('eos_token');
  }
  get unkToken(): string | undefined {
    return this.specialContent('unk_token');
  }
  get padToken(): string | undefined {
    return this.specialContent('pad_token');
  }
  get bosTokenId(): number | undefined {
    return this.specialId('bos_token');
  }
  get eosTokenId(): number | undefined {
    return this.specialId('eos_token');
  }
  get unkTokenId(): number | undefined {
    return this.specialId('unk_token');
  }
  get padTokenId(): number | undefined {
    return this.specialId('pad_token');
  }

  /** Every special token's text, without repeats, in HF's attribute order. */
  get allSpecialTokens(): string[] {
    return this.allSpecialTokensExtended().map((t) => t.content);
  }

  get allSpecialIds(): number[] {
    return this.allSpecialTokens.map((t) => this.tokenToId(t)).filter((id): id is number => id !== undefined);
  }

  private tokenToId(token: string): number | undefined {
    const added = this.addedEncoder.get(token);
    if (added !== undefined) return added;
    const id = this.encoder.get(token);
    if (id !== undefined) return id;
    const unk = this.specialContent('unk_token');
    return unk === undefined ? undefined : this.encoder.get(unk);
  }

  /** Token(s) -> id(s); a token outside the vocabulary gets the [UNK] id. */
  convertTokensToIds(tokens: string): number;
  convertTokensToIds(tokens: readonly string[]): number[];
  convertTokensToIds(tokens: string | readonly string[]): number | number[] {
    const one = (t: unknown, where: string): number => {
      if (typeof t !== 'string') throw new Error(`${where}: expected a token string, got ${describe(t)}`);
      const id = this.tokenToId(t);
      if (id === undefined) throw new Error(`${where}: token ${JSON.stringify(t)} is not in the vocabulary and the tokenizer has no [UNK] token in it`);
      return id;
    };
    if (typeof tokens === 'string') return one(tokens, 'tokens');
    if (!Array.isArray(tokens)) throw new Error(`tokens: expected a string or an array of strings, got ${describe(tokens)}`);
    return tokens.map((t, i) => one(t, `tokens[${i}]`));
  }

  /**
   * Id(s) -> token(s). HF yields None for an id that is neither in the vocabulary nor added
   * (and decode then fails); here that is an error naming the id and its position.
   */
  convertIdsToTokens(ids: number, skipSpecialTokens?: boolean): string;
  convertIdsToTokens(ids: readonly number[], skipSpecialTokens?: boolean): string[];
  convertIdsToTokens(ids: number | readonly number[], skipSpecialTokens = false): string | string[] {
    if (typeof ids === 'number') return this.idToToken(ids, 'ids');
    const list = this.idList(ids, 'ids');
    const skip = skipSpecialTokens ? new Set(this.allSpecialIds) : null;
    const out: string[] = [];
    for (let i = 0; i < list.length; i++) {
      if (!skip?.has(list[i])) out.push(this.idToToken(list[i], `ids[${i}]`));
    }
    return out;
  }

  private idToToken(id: number, where: string): string {
    const tok = this.idTokens[id];
    if (tok !== undefined) return tok;
    if (!Number.isInteger(id)) throw new Error(`${where}: ${JSON.stringify(id)} is not an integer token id`);
    throw new Error(`${where}: id ${id} is not in the vocabulary (ids run from 0 to ${this.length - 1})`);
  }

  private idList(ids: IdsInput, name: string): number[] {
    if (typeof ids === 'number') return [ids];
    if (ids instanceof tf.Tensor) {
      if (ids.rank > 1 && !(ids.rank === 2 && ids.shape[0] === 1)) throw new Error(`${name}: expected a 1-D tensor of ids, got shape [${ids.shape}]`);
      return Array.from(ids.dataSync());
    }
    if (!Array.isArray(ids)) throw new Error(`${name}: expected an array of token ids, got ${describe(ids)}`);
    for (let i = 0; i < ids.length; i++) {
      if (typeof ids[i] !== 'number') throw new Error(`${name}[${i}]: expected a token id (number), got ${describe(ids[i])}`);
    }
    return ids as number[];
  }

  // ---------------------------------------------------------------- tokenisation

  /** The EnglishNormalizer output for `text` (what the BPE sees between added tokens). */
  normalize(text: string): string {
    if (typeof text !== 'string') throw new Error(`text: expected a string, got ${describe(text)}`);
    return this.normalizer.normalize(text);
  }

  /** Byte-level BPE tokens of `text`, literal added tokens kept whole. */
  tokenize(text: string): string[] {
    if (typeof text !== 'string') throw new Error(`text: expected a string, got ${describe(text)}`);
    const out: string[] = [];
    this.forEachWord(text, (added, word) => {
      if (added !== undefined) out.push(added);
      else for (const t of word!.tokens) out.push(t);
    });
    return out;
  }

  // The encode path reuses the cached ids of each pre-tokenised word instead of mapping tokens
  // one by one, which is where most of the time would otherwise go.
  private textToIds(text: string): number[] {
    const out: number[] = [];
    this.forEachWord(text, (added, word) => {
      if (added !== undefined) out.push(this.addedEncoder.get(added)!);
      else for (const id of word!.ids) out.push(id);
    });
    return out;
  }

  private forEachWord(text: string, visit: (added: string | undefined, word: WordEncoding | undefined) => void): void {
    const pieces = this.splitSpecialTokens ? (text ? [{ text, added: false }] : []) : this.splitter.split(text);
    for (const piece of pieces) {
      if (piece.added) {
        visit(piece.text, undefined);
        continue;
      }
      const normalized = this.normalizer.normalize(piece.text);
      const words = normalized.match(PRE_TOKENIZE);
      if (!words) continue;
      for (const w of words) visit(undefined, this.encodeWord(w));
    }
  }

  private encodeWord(word: string): WordEncoding {
    const cached = this.wordCache.get(word);
    if (cached) return cached;
    const symbols = this.bpe.encode(bytesToUnicodeString(word));
    const tokens = symbols.map((s) => (s === SPACE_SYMBOL && this.spaceInVocab ? SPACE_TOKEN : s));
    const ids = tokens.map((t) => this.tokenToId(t) ?? -1);
    if (ids.includes(-1)) throw new Error(`tokenize: token ${JSON.stringify(tokens[ids.indexOf(-1)])} is not in the vocabulary and the tokenizer has no [UNK] token in it`);
    const enc = { tokens, ids };
    if (this.wordCache.size >= 1 << 17) this.wordCache.clear();
    this.wordCache.set(word, enc);
    return enc;
  }

  /** bos/eos around the ids, as enabled by addBosToken / addEosToken. */
  buildInputsWithSpecialTokens(ids0: readonly number[], ids1?: readonly number[]): number[] {
    const bos = this.addBosToken ? [this.requireId('bos_token')] : [];
    const eos = this.addEosToken ? [this.requireId('eos_token')] : [];
    const out = [...bos, ...ids0, ...eos];
    return ids1 ? [...out, ...bos, ...ids1, ...eos] : out;
  }

  private requireId(attr: SpecialTokenAttribute): number {
    const id = this.specialId(attr);
    if (id === undefined) throw new Error(`the tokenizer has no ${attr}`);
    return id;
  }

  numSpecialTokensToAdd(pair = false): number {
    return this.buildInputsWithSpecialTokens([], pair ? [] : undefined).length;
  }

  /** Ids of one text (HF encode): call() without tensors or mask. */
  encode(text: string, options: Omit<CallOptions, 'returnTensors' | 'returnAttentionMask'> = {}): number[] {
    if (typeof text !== 'string') throw new Error(`text: expected a string, got ${describe(text)}`);
    return this.call(text, { ...options, returnAttentionMask: false }).inputIds;
  }

  /**
   * HF's tokenizer(text, ...): one text gives flat lists, a list of texts gives one row per text.
   * Padding, truncation and tensors behave as in transformers 4.4x.
   */
  call<T extends TextInput, O extends CallOptions = Record<never, never>>(text: T, options?: O): BatchEncoding<T, O>;
  call(text: TextInput, options: CallOptions = {}): { inputIds: unknown; attentionMask?: unknown } {
    const isBatch = Array.isArray(text);
    if (!isBatch && typeof text !== 'string') throw new Error(`text: expected a string or an array of strings, got ${describe(text)}`);
    if (isBatch) {
      (text as unknown[]).forEach((t, i) => {
        if (typeof t !== 'string') throw new Error(`text[${i}]: expected a string, got ${describe(t)}`);
      });
      if (text.length === 0) throw new Error('text: the batch is empty (transformers fails on an empty batch as well)');
    }
    if (options.returnTensors !== undefined && options.returnTensors !== 'tf') throw new Error(`returnTensors: '${String(options.returnTensors)}' is not supported (expected 'tf' or undefined)`);
    const resolved = resolvePaddingTruncation(options, this.modelMaxLength, this.padTokenId);
    const addSpecial = options.addSpecialTokens ?? true;
    const returnMask = options.returnAttentionMask ?? true;

    if (!isBatch) {
      const seq = this.prepareForModel(this.textToIds(text as string), addSpecial, resolved);
      let enc: EncodedIds = { inputIds: seq };
      if (resolved.padding !== 'do_not_pad' || returnMask) enc = this.padOne(enc, resolved, options.padToMultipleOf, returnMask);
      return this.output([enc], false, options.returnTensors === 'tf', returnMask);
    }
    let encs: EncodedIds[] = (text as readonly string[]).map((t) => ({ inputIds: this.prepareForModel(this.textToIds(t), addSpecial, resolved) }));
    let { padding: strategy, maxLength } = resolved;
    if (strategy === 'longest') {
      maxLength = Math.max(...encs.map((e) => e.inputIds.length));
      strategy = 'max_length';
    }
    encs = encs.map((e) => padEncoded(e, strategy, maxLength, options.padToMultipleOf, this.padTokenId ?? 0, this.paddingSide, returnMask));
    return this.output(encs, true, options.returnTensors === 'tf', returnMask);
  }

  // prepare_for_model without padding: truncate (bos/eos count towards max_length), add bos/eos.
  private prepareForModel(ids: number[], addSpecial: boolean, r: ResolvedStrategies): number[] {
    const total = ids.length + (addSpecial ? this.numSpecialTokensToAdd() : 0);
    if (r.truncation !== 'do_not_truncate' && r.maxLength && total > r.maxLength) {
      ids = truncateIds(ids, total - r.maxLength, r.truncation, this.truncationSide);
    }
    return addSpecial ? this.buildInputsWithSpecialTokens(ids) : ids;
  }

  // pad() for one sequence: an empty sequence is returned with an empty mask and no padding,
  // a quirk of HF's pad() that the single-text path inherits.
  private padOne(enc: EncodedIds, r: ResolvedStrategies, padToMultipleOf: number | undefined, returnMask: boolean): EncodedIds {
    if (enc.inputIds.length === 0) return returnMask ? { inputIds: [], attentionMask: [] } : { inputIds: [] };
    return padEncoded(enc, r.padding, r.maxLength, padToMultipleOf, this.padTokenId ?? 0, this.paddingSide, returnMask);
  }

  private output(encs: EncodedIds[], isBatch: boolean, asTensor: boolean, returnMask: boolean): { inputIds: unknown; attentionMask?: unknown } {
    const field = (pick: (e: EncodedIds) => number[]): unknown => {
      const rows = encs.map(pick);
      if (!asTensor) return isBatch ? rows : rows[0];
      const len = rows[0].length;
      if (rows.some((r) => r.length !== len)) {
        throw new Error("returnTensors 'tf': the sequences have different lengths; use padding (e.g. padding: true) and/or truncation to get a rectangular batch");
      }
      const flat = new Int32Array(rows.length * len);
      rows.forEach((r, i) => flat.set(r, i * len));
      requireReadyBackend("ClvpTokenizer: returnTensors 'tf'");
      return tf.tensor2d(flat, [rows.length, len], 'int32');
    };
    const out: { inputIds: unknown; attentionMask?: unknown } = { inputIds: field((e) => e.inputIds) };
    if (returnMask) out.attentionMask = field((e) => e.attentionMask!);
    return out;
  }

  // ---------------------------------------------------------------- decoding

  /** Byte-level tokens back to text (convert_tokens_to_string). */
  convertTokensToString(tokens: readonly string[]): string {
    const parts = tokens.map((t) => this.tokenBytes(t));
    const bytes = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) {
      bytes.set(p, at);
      at += p.length;
    }
    return decodeUtf8(bytes, this.errors);
  }

  // Decoding maps every token to its bytes; the vocabulary is small, so they are kept.
  private tokenBytes(token: string): Uint8Array {
    let b = this.bytesCache.get(token);
    if (!b) {
      b = unicodeStringToBytes(token);
      if (this.bytesCache.size < 1 << 16) this.bytesCache.set(token, b);
    }
    return b;
  }

  /**
   * ClvpTokenizer.clean_up_tokenization: [SPACE] and [STOP] become spaces, [UNK] disappears,
   * then one pass each collapses '   ' and '  ' (so longer runs can survive).
   */
  cleanUpTokenization(text: string): string {
    if (this.encoder.has(SPACE_TOKEN) || this.addedEncoder.has(SPACE_TOKEN)) text = text.replaceAll(SPACE_TOKEN, ' ');
    if (this.encoder.has(STOP_TOKEN) || this.addedEncoder.has(STOP_TOKEN)) text = text.replaceAll(STOP_TOKEN, ' ');
    const unk = this.unkToken;
    if (unk) text = text.replaceAll(unk, '');
    return text.replaceAll('   ', ' ').replaceAll('  ', ' ');
  }

  /**
   * Ids back to text, as HF's slow _decode does: special ids dropped on request, non-special
   * added tokens decoded apart and joined with spaces, the byte-level rest decoded as UTF-8,
   * then CLVP's clean-up.
   */
  decode(ids: IdsInput, options: DecodeOptions = {}): string {
    const list = this.idList(ids, 'ids');
    const skip = options.skipSpecialTokens ? new Set(this.allSpecialIds) : null;
    const subTexts: string[] = [];
    let parts: Uint8Array[] = [];
    let size = 0;
    const flush = (keepEmpty: boolean) => {
      const bytes = new Uint8Array(size);
      let at = 0;
      for (const p of parts) {
        bytes.set(p, at);
        at += p.length;
      }
      const s = decodeUtf8(bytes, this.errors);
      if (keepEmpty || s.length) subTexts.push(s);
      parts = [];
      size = 0;
    };
    for (let i = 0; i < list.length; i++) {
      const id = list[i];
      if (skip?.has(id)) continue;
      const tok = this.idToToken(id, `ids[${i}]`);
      if (this.legacyAdded.size && this.legacyAdded.has(tok)) {
        if (parts.length) flush(false);
        subTexts.push(tok);
        continue;
      }
      let b = this.idBytes[id];
      if (!b) b = this.idBytes[id] = this.tokenBytes(tok);
      parts.push(b);
      size += b.length;
    }
    if (parts.length) flush(true);
    const text = subTexts.join(options.spacesBetweenSpecialTokens ?? true ? ' ' : '');
    return options.cleanUpTokenizationSpaces ?? this.cleanUpTokenizationSpaces ? this.cleanUpTokenization(text) : text;
  }

  /** decode() of each row. */
  batchDecode(sequences: readonly (readonly number[])[] | tf.Tensor, options: DecodeOptions = {}): string[] {
    if (sequences instanceof tf.Tensor) {
      if (sequences.rank !== 2) throw new Error(`sequences: expected a 2-D tensor of ids, got shape [${sequences.shape}]`);
      return (sequences.arraySync() as number[][]).map((row) => this.decode(row, options));
    }
    if (!Array.isArray(sequences)) throw new Error(`sequences: expected an array of id arrays, got ${describe(sequences)}`);
    return sequences.map((row, i) => {
      if (!Array.isArray(row)) throw new Error(`sequences[${i}]: expected an array of token ids, got ${describe(row)}`);
      try {
        return this.decode(row, options);
      } catch (e) {
        throw new Error(`sequences[${i}]: ${(e as Error).message}`);
      }
    });
  }
}

const joinPath = (dir: string, name: string) => `${dir.replace(/[\\/]+$/, '')}/${name}`;

function writeFiles(dir: string, files: Record<string, string>, create: boolean): void {
  const write = platform().writeTextFiles;
  if (!write) throw new Error('saving a tokenizer needs Node (no file system here)');
  if (!create && !platform().isDirectory?.(dir)) throw new Error(`${dir}: vocabulary path should be a directory`);
  write(dir, files);
}
