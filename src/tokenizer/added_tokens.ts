// Follows transformers tokenization_utils.py (4.4x): AddedToken flags and the splitting of
// `tokenize` on added tokens (Trie.split plus the lstrip / rstrip / single_word handling).
import { PY_WHITESPACE_CLASS } from './python_text';

/** A token that is never split by BPE (HF `AddedToken`); special ones are skipped by decode(skipSpecialTokens). */
export interface AddedToken {
  content: string;
  lstrip: boolean;
  rstrip: boolean;
  singleWord: boolean;
  normalized: boolean;
  special: boolean;
}

/** An AddedToken with HF's defaults: a special token is not normalised, others are. */
export function makeAddedToken(content: string, flags: Partial<Omit<AddedToken, 'content'>> = {}): AddedToken {
  const special = flags.special ?? false;
  return {
    content,
    lstrip: flags.lstrip ?? false,
    rstrip: flags.rstrip ?? false,
    singleWord: flags.singleWord ?? false,
    normalized: flags.normalized ?? !special,
    special,
  };
}

const LEADING_WS = new RegExp(`^${PY_WHITESPACE_CLASS}+`);
const TRAILING_WS = new RegExp(`${PY_WHITESPACE_CLASS}+$`);
const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** One piece of a text split on added tokens: either an added token or text between them. */
export interface TextPiece {
  text: string;
  added: boolean;
}

/**
 * Splits text on added tokens, leftmost match first and, among matches starting at the same
 * place, the longest. HF's Trie.split gives the same cuts for any token set in which no token
 * is a proper infix of another (true of CLVP's); an alternation ordered longest-first is the
 * same rule in one native regex search.
 */
export class AddedTokenSplitter {
  private readonly pattern: RegExp | null;

  constructor(private readonly tokens: ReadonlyMap<string, AddedToken>) {
    const contents = [...tokens.keys()].filter((c) => c.length > 0).sort((a, b) => b.length - a.length);
    this.pattern = contents.length ? new RegExp(contents.map(escapeRegExp).join('|'), 'g') : null;
  }

  /** The pieces of `text` with the strip / single-word rules of HF's tokenize() applied. */
  split(text: string): TextPiece[] {
    const pieces: TextPiece[] = [];
    if (!this.pattern) {
      if (text) pieces.push({ text, added: false });
      return pieces;
    }
    this.pattern.lastIndex = 0;
    let last = 0;
    for (let m = this.pattern.exec(text); m !== null; m = this.pattern.exec(text)) {
      if (m.index > last) pieces.push({ text: text.slice(last, m.index), added: false });
      pieces.push({ text: m[0], added: true });
      last = m.index + m[0].length;
    }
    if (last < text.length) pieces.push({ text: text.slice(last), added: false });
    this.applyStripRules(pieces);
    // Like HF, a piece is kept whole when its final text is an added token, however it got there.
    return pieces.filter((p) => p.text.length > 0).map((p) => ({ text: p.text, added: this.tokens.has(p.text) }));
  }

  // HF edits the neighbours of each added token in place, in order, so a later token sees the
  // edits of an earlier one; the loop below keeps that order.
  private applyStripRules(pieces: TextPiece[]): void {
    for (let i = 0; i < pieces.length; i++) {
      const piece = pieces[i];
      const tok = this.tokens.get(piece.text);
      if (!tok) continue;
      const left = i > 0 ? pieces[i - 1] : undefined;
      const right = i + 1 < pieces.length ? pieces[i + 1] : undefined;
      if (tok.rstrip && right && right.text) right.text = right.text.replace(LEADING_WS, '');
      if (tok.lstrip && left && left.text) left.text = left.text.replace(TRAILING_WS, '');
      if (tok.singleWord && left && left.text && !left.text.endsWith(' ')) {
        left.text += piece.text;
        piece.text = '';
      } else if (tok.singleWord && right && right.text && !right.text.startsWith(' ')) {
        piece.text += right.text;
        right.text = '';
      }
    }
  }
}
