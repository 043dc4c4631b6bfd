// Public surface of the CLVP text front-end (transformers models/clvp/tokenization_clvp.py and number_normalizer.py).
export { ClvpTokenizer, VOCAB_FILES_NAMES } from './tokenization_clvp';
export type { BatchEncoding, CallOptions, ClvpTokenizerOptions, DecodeOptions, IdsInput, SpecialTokenInput, TextInput } from './tokenization_clvp';
export { EnglishNormalizer, ABBREVIATIONS } from './english_normalizer';
export { numberToWords, normalizeNumbers, expandDollars, expandOrdinal, expandNumber } from './number_normalizer';
export { BytePairEncoding } from './bpe';
export type { MergePair } from './bpe';
export { makeAddedToken } from './added_tokens';
export type { AddedToken } from './added_tokens';
export { BYTE_TO_CHAR, bytesToUnicodeString, unicodeStringToText } from './byte_encoder';
export type { DecodeErrors } from './byte_encoder';
export type { PaddingOption, TruncationOption, PaddingStrategy, TruncationStrategy } from './padding';
export type { TokenizerConfigJson, SpecialTokensMapJson, TokenizersJson, AddedTokenJson } from './config';
