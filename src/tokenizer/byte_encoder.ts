// Follows transformers models/clvp/tokenization_clvp.py: bytes_to_unicode (the GPT-2 byte-level alphabet).

/**
 * The reversible byte -> character table of byte-level BPE. Printable Latin-1 bytes stand for
 * themselves; the others (controls, space, soft hyphen) are shifted to U+0100.. so that no
 * vocabulary entry ever contains whitespace, which is what lets 'Ġ' (byte 0x20) mark a space.
 */
function buildByteToChar(): string[] {
  const printable: number[] = [];
  const push = (from: number, to: number) => {
    for (let b = from; b <= to; b++) printable.push(b);
  };
  push(0x21, 0x7e);
  push(0xa1, 0xac);
  push(0xae, 0xff);
  const table: string[] = new Array(256);
  for (const b of printable) table[b] = String.fromCharCode(b);
  let shifted = 0;
  for (let b = 0; b < 256; b++) {
    if (table[b] === undefined) table[b] = String.fromCharCode(256 + shifted++);
  }
  return table;
}

/** BYTE_TO_CHAR[b] is the character byte b is written as in vocabulary entries. */
export const BYTE_TO_CHAR: readonly string[] = buildByteToChar();

const utf8 = new TextEncoder();
// Python's bytes.decode(errors="replace") and WHATWG's decoder both emit one U+FFFD per maximal
// invalid subsequence, so a non-fatal TextDecoder reproduces errors="replace".
const utf8Replace = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });
const utf8Strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** A text in the byte-level alphabet: its UTF-8 bytes, each written as its BYTE_TO_CHAR character. */
export function bytesToUnicodeString(text: string): string {
  let ascii = true;
  for (let i = 0; i < text.length; i++) {
    if (text.charCodeAt(i) > 0x7f) {
      ascii = false;
      break;
    }
  }
  let out = '';
  if (ascii) {
    for (let i = 0; i < text.length; i++) out += BYTE_TO_CHAR[text.charCodeAt(i)];
    return out;
  }
  for (const b of utf8.encode(text)) out += BYTE_TO_CHAR[b];
  return out;
}

/** The bytes.decode error handlers supported for the `errors` setting. */
export type DecodeErrors = 'replace' | 'strict';

// Char code -> byte, -1 outside the alphabet; the alphabet ends at U+0143, so a flat table is
// far cheaper than a Map lookup per character when decoding long outputs.
const CODE_TO_BYTE = (() => {
  const t = new Int16Array(0x144).fill(-1);
  BYTE_TO_CHAR.forEach((c, b) => (t[c.charCodeAt(0)] = b));
  return t;
})();

/** The bytes a byte-level string stands for; a character outside the alphabet is an error (Python raises KeyError). */
export function unicodeStringToBytes(text: string): Uint8Array {
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    const b = code < CODE_TO_BYTE.length ? CODE_TO_BYTE[code] : -1;
    if (b < 0) {
      throw new Error(`decode: character ${JSON.stringify(text[i])} (U+${code.toString(16).toUpperCase().padStart(4, '0')}) is not in the byte-level alphabet`);
    }
    bytes[i] = b;
  }
  return bytes;
}

/** UTF-8 bytes to text with the given bytes.decode error handler. */
export function decodeUtf8(bytes: Uint8Array, errors: DecodeErrors = 'replace'): string {
  return errors === 'strict' ? utf8Strict.decode(bytes) : utf8Replace.decode(bytes);
}

/** The inverse of bytesToUnicodeString; `errors` follows bytes.decode. */
export function unicodeStringToText(text: string, errors: DecodeErrors = 'replace'): string {
  return decodeUtf8(unicodeStringToBytes(text), errors);
}
