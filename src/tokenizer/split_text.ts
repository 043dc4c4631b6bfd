// Follows tortoise-tts tortoise/utils/text.py: split_and_recombine_text, the splitter Tortoise's read.py uses to
// cut a long text into pieces short enough for one generation each. Ported step by step, quirks included, so
// the same text gives the same chunks: lengths are counted in code points (Python str), whitespace is Python's,
// and the look-ahead past the end of the text gives '' which, as in Python's `'' in s`, matches every set.
import { PY_WHITESPACE_CLASS } from './python_text';

export interface SplitTextOptions {
  /** A chunk is closed at the first sentence end (outside quotes) once it has this many characters. Default 200. */
  desiredLength?: number;
  /**
   * A chunk that reaches this many characters is cut: back to its last sentence end if it has one and is over
   * half the desired length, else back to a space or punctuation (but not below the desired length). Default 300.
   */
  maxLength?: number;
}

const PY_WHITESPACE_RUN = new RegExp(`${PY_WHITESPACE_CLASS}+`, 'g');
/** What the Python drops after stripping: empty chunks and chunks of only whitespace and .,;:!? */
const ONLY_PUNCTUATION = new RegExp(`^(?:${PY_WHITESPACE_CLASS}|[.,;:!?])*$`);

function checkLength(name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) {
    throw new RangeError(`splitText: ${name} must be a positive integer, got ${typeof v === 'number' ? v : JSON.stringify(v)}`);
  }
  return v;
}

/** Python's str.strip() on text whose only whitespace, after normalisation, is ' '. */
const stripSpaces = (s: string) => s.replace(/^ +| +$/g, '');

/**
 * Split text into chunks of about `desiredLength` characters, keeping sentences whole where it can and never
 * breaking inside a quotation at a sentence end. Chunks are trimmed; an empty text gives [].
 */
export function splitText(text: string, opts: SplitTextOptions = {}): string[] {
  const desired = checkLength('desiredLength', opts.desiredLength ?? 200);
  const max = checkLength('maxLength', opts.maxLength ?? 300);
  if (desired > max) throw new RangeError(`splitText: desiredLength (${desired}) must not exceed maxLength (${max})`);

  // The Python first folds blank lines into one newline, then every whitespace run (newlines included) into a
  // space, so no '\n' survives and the '\n' cases below never fire; they are kept to read like the original.
  const normalised = text.replace(/\n\n+/g, '\n').replace(PY_WHITESPACE_RUN, ' ').replace(/[\u201c\u201d]/g, '"');
  const t = Array.from(normalised); // code points: Python's len() and indexing
  const endPos = t.length - 1;

  const rv: string[] = [];
  let inQuote = false;
  let current: string[] = [];
  let splitPos: number[] = [];
  let pos = -1;

  // Moving back toggles the quote state on the character it lands on, not the one it leaves, exactly as the
  // Python seek does; the chunks only match if that is kept.
  const seek = (delta: number): string => {
    for (let i = 0; i < Math.abs(delta); i++) {
      if (delta < 0) {
        pos--;
        current.pop();
      } else {
        pos++;
        current.push(t[pos]);
      }
      if (t[pos] === '"') inQuote = !inQuote;
    }
    return t[pos];
  };
  // Never returns the last character (p < endPos, as written in the Python): at the end it is ''.
  const peek = (delta: number): string => {
    const p = pos + delta;
    return p < endPos && p >= 0 ? t[p] : '';
  };
  const commit = () => {
    rv.push(current.join(''));
    current = [];
    splitPos = [];
  };

  // String.prototype.includes('') is true, like Python's `'' in s`, so the end-of-text '' of peek matches.
  while (pos < endPos) {
    let c = seek(1);
    if (current.length >= max) {
      if (splitPos.length > 0 && current.length > desired / 2) {
        // at least one sentence, and over half the desired length: back to the last sentence end
        seek(-(pos - splitPos[splitPos.length - 1]));
      } else {
        // no sentence end: back off to a space or punctuation, but not below the desired length
        while (!'!?.\n '.includes(c) && pos > 0 && current.length > desired) c = seek(-1);
      }
      commit();
    } else if (!inQuote && ('!?\n'.includes(c) || (c === '.' && '\n '.includes(peek(1))))) {
      // a run of sentence marks ('?!', '...') stays with its sentence, within the max length
      while (pos < t.length - 1 && current.length < max && '!?.'.includes(peek(1))) c = seek(1);
      splitPos.push(pos);
      if (current.length >= desired) commit();
    } else if (inQuote && peek(1) === '"' && '\n '.includes(peek(2))) {
      // the end of a quotation followed by a space is a place to split, but does not close the chunk
      seek(2);
      splitPos.push(pos);
    }
  }
  rv.push(current.join(''));

  return rv.map(stripSpaces).filter((s) => s.length > 0 && !ONLY_PUNCTUATION.test(s));
}
