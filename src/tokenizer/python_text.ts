// Follows CPython's notion of whitespace (str.isspace / re's \s on str), used by
// transformers models/clvp/number_normalizer.py (collapse_whitespace) and by the
// merges.txt reader in tokenization_clvp.py (str.split()).

/**
 * The characters Python treats as whitespace in str.split() and in `re`'s \s. Unlike JavaScript's
 * \s it includes the information separators \x1c-\x1f and NEL (\x85), and excludes U+FEFF.
 */
export const PY_WHITESPACE_CLASS = '[\\t\\n\\v\\f\\r\\x1c-\\x20\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]';

const PY_WHITESPACE_RUN = new RegExp(`${PY_WHITESPACE_CLASS}+`, 'g');
const PY_WHITESPACE_EDGES = new RegExp(`^${PY_WHITESPACE_CLASS}+|${PY_WHITESPACE_CLASS}+$`, 'g');

/** Python's str.split() with no argument: split on whitespace runs, dropping empty fields. */
export function pySplitWhitespace(s: string): string[] {
  const trimmed = s.replace(PY_WHITESPACE_EDGES, '');
  return trimmed === '' ? [] : trimmed.split(PY_WHITESPACE_RUN);
}

/** Python's text-mode universal newlines: '\r\n' and lone '\r' both read as '\n'. */
export function pyUniversalNewlines(s: string): string {
  return s.indexOf('\r') < 0 ? s : s.replace(/\r\n?/g, '\n');
}

/** Compare two strings by code point, as Python orders str (JS '<' compares UTF-16 units). */
export function compareCodePoints(a: string, b: string): number {
  const ia = a[Symbol.iterator]();
  const ib = b[Symbol.iterator]();
  for (;;) {
    const x = ia.next();
    const y = ib.next();
    if (x.done || y.done) return x.done && y.done ? 0 : x.done ? -1 : 1;
    const cx = x.value.codePointAt(0)!;
    const cy = y.value.codePointAt(0)!;
    if (cx !== cy) return cx - cy;
  }
}
