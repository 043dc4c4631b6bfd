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
// The alternatives are mutually exclusive at any position (each must be followed by '.'), so
// one combined search finds exactly the matches the reference's per-rule passes start from.
const ABBREVIATION_SEARCH = new RegExp(`\\b(${ABBREVIATIONS.map(([short]) => short).join('|')})\\.`, 'gi');
const ABBREVIATION_RANK = new Map(ABBREVIATIONS.map(([short, long], rank) => [short, { rank, long }]));
const NON_ASCII = /[^\x00-\x7f]+/g;
const HAS_NON_ASCII = /[^\x00-\x7f]/;
// Python's \s, which (unlike JS's) also matches the separators \x1c-\x1f. A lone ' ' already
// is what a run becomes, so only longer runs and runs of other whitespace are rewritten.
const NON_SPACE_WHITESPACE = PY_WHITESPACE_CLASS.replace('\\x1c-\\x20', '\\x1c-\\x1f');
const WHITESPACE_RUN = new RegExp(` ${PY_WHITESPACE_CLASS}+|${NON_SPACE_WHITESPACE}${PY_WHITESPACE_CLASS}*`, 'g');
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

  /**
   * The reference applies one regex per abbreviation, in list order, each to the previous one's
   * output. Done in a single pass here, with the one interaction that order creates: when two
   * matches touch ('mr.dr.'), expanding the first before the second's pass turns the '.' in
   * front of the second into a letter, so the second loses its word boundary and stays. No
   * other interaction exists: expansions contain no '.', and no expansion is a prefix of an
   * abbreviation, so a pass can neither create nor remove matches elsewhere.
   */
  expandAbbreviations(text: string): string {
    // Every rule needs a '.', so text without one is returned as is.
    if (!ABBREVIATION_HINT.test(text)) return text;
    let prevEnd = -1;
    let prevRank = -1;
    let prevExpanded = false;
    return text.replace(ABBREVIATION_SEARCH, (match: string, short: string, offset: number) => {
      const { rank, long } = ABBREVIATION_RANK.get(short.toLowerCase())!;
      const blocked = offset === prevEnd && prevExpanded && prevRank < rank;
      prevEnd = offset + match.length;
      prevRank = rank;
      prevExpanded = !blocked;
      return blocked ? match : long;
    });
  }

  collapseWhitespace(text: string): string {
    return text.replace(WHITESPACE_RUN, ' ');
  }
}
