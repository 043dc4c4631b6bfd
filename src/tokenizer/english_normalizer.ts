// Follows transformers models/clvp/number_normalizer.py: EnglishNormalizer (__call__,
// convert_to_ascii, expand_abbreviations, collapse_whitespace).
import { normalizeNumbers } from './number_normalizer';
import { PY_WHITESPACE_CLASS } from './python_text';

/** Abbreviation -> spoken form, in the reference's order ('mrs' must be tried before 'mr'). */
export const ABBREVIATIONS: readonly (readonly [string, string])[] = [
  ['mrs', 'misess'],
  ['mr', 'mister'],
  ['dr', 'doctor'],
  ['st', 'saint'],
  ['co', 'company'],
  ['jr', 'junior'],
  ['maj', 'major'],
  ['gen', 'general'],
  ['drs', 'doctors'],
  ['rev', 'reverend'],
  ['lt', 'lieutenant'],
  ['hon', 'honorable'],
  ['sgt', 'sergeant'],
  ['capt', 'captain'],
  ['esq', 'esquire'],
  ['ltd', 'limited'],
  ['col', 'colonel'],
  ['ft', 'fort'],
];

// By the time these run the text is ASCII, where JS's \b and Python's Unicode \b agree.
const ABBREVIATION_RULES = ABBREVIATIONS.map(([short, long]) => [new RegExp(`\\b${short}\\.`, 'gi'), long] as const);
const NON_ASCII = /[^\x00-\x7f]+/g;
const HAS_NON_ASCII = /[^\x00-\x7f]/;
// Python's \s, which (unlike JS's) also matches the separators \x1c-\x1f.
const WHITESPACE_RUN = new RegExp(`${PY_WHITESPACE_CLASS}+`, 'g');
const ABBREVIATION_HINT = /\./;

/**
 * CLVP's text normaliser: ASCII only, lower case, numbers and amounts spelt out, abbreviations
 * expanded, whitespace runs collapsed to one space, double quotes removed. The quirks of the
 * reference are kept on purpose: non-ASCII characters are dropped (so '£' disappears before
 * the pounds rule could see it), ordinals keep their suffix ('3rd' -> 'threerd').
 */
export class EnglishNormalizer {
  normalize(text: string): string {
    text = this.convertToAscii(text);
    text = text.toLowerCase();
    text = normalizeNumbers(text);
    text = this.expandAbbreviations(text);
    text = this.collapseWhitespace(text);
    return text.indexOf('"') < 0 ? text : text.replace(/"/g, '');
  }

  /** text.encode('ascii', 'ignore'): every code point above 0x7f is dropped. */
  convertToAscii(text: string): string {
    return HAS_NON_ASCII.test(text) ? text.replace(NON_ASCII, '') : text;
  }

  normalizeNumbers(text: string): string {
    return normalizeNumbers(text);
  }

  expandAbbreviations(text: string): string {
    // Every rule needs a '.', so text without one is returned as is.
    if (!ABBREVIATION_HINT.test(text)) return text;
    for (const [re, long] of ABBREVIATION_RULES) text = text.replace(re, long);
    return text;
  }

  collapseWhitespace(text: string): string {
    return text.replace(WHITESPACE_RUN, ' ');
  }
}
