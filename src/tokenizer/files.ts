// Follows transformers models/clvp/tokenization_clvp.py (ClvpTokenizer.__init__: reading
// vocab.json and merges.txt) and tokenization_utils_base.py (4.4x) from_pretrained's file reads.
import { ModelFolder } from '../io/folder';
import { platform } from '../platform/platform';
import { MergePair } from './bpe';
import { pySplitWhitespace, pyUniversalNewlines } from './python_text';

/** A tokenizer argument (a local folder, a Hub id, a URL) as a folder. */
export async function openTokenizerSource(source: string): Promise<ModelFolder> {
  return platform().openModel(source).catch((e: Error) => {
    throw new Error(`${e.message} (expected a tokenizer folder with vocab.json and merges.txt)`);
  });
}

/** A file of a folder as text, naming the file and what it is for when it is missing. */
export async function readFolderText(folder: ModelFolder, name: string, what: string): Promise<string> {
  if (!(await folder.has(name))) throw new Error(`${folder.label}/${name}: not found (${what})`);
  return folder.readText(name);
}

export async function readFolderJson(folder: ModelFolder, name: string, what: string): Promise<unknown> {
  return parseJsonText(`${folder.label}/${name}`, await readFolderText(folder, name, what));
}

/** 1-based line and column of a character offset. */
function lineColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: offset - lineStart + 1 };
}

/** JSON.parse with the file name and the line of a syntax error in the message. */
export function parseJsonText(file: string, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    const msg = (e as Error).message;
    const m = /position (\d+)/.exec(msg);
    const at = m ? Number(m[1]) : /end of JSON input/.test(msg) ? text.length : -1;
    if (at >= 0) {
      const { line, column } = lineColumn(text, at);
      throw new Error(`${file}:${line}:${column}: malformed JSON: ${msg}`);
    }
    throw new Error(`${file}: malformed JSON: ${msg}`);
  }
}

/**
 * vocab.json: token -> id. Ids must be non-negative integers; as in Python, when two tokens
 * share an id the later one is what the id decodes to.
 */
export function parseVocab(file: string, raw: unknown): Map<string, number> {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new Error(`${file}: expected a JSON object of token -> id`);
  const vocab = new Map<string, number>();
  for (const [token, id] of Object.entries(raw as Record<string, unknown>)) {
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 0) {
      throw new Error(`${file}: token ${JSON.stringify(token)} has id ${JSON.stringify(id)}, expected a non-negative integer`);
    }
    vocab.set(token, id);
  }
  return vocab;
}

/**
 * merges.txt, read as ClvpTokenizer reads it: the first line is the '#version' header and is
 * skipped, and so is whatever follows the last newline (Python's split('\n')[1:-1]; a file
 * without a final newline loses its last rule there too, and so it does here). Blank lines keep
 * their rank slot (null). A line that is not two whitespace-separated symbols is an error,
 * where Python would silently keep a rule that can never apply.
 */
export function parseMerges(file: string, text: string): (MergePair | null)[] {
  const lines = pyUniversalNewlines(text).split('\n');
  if (!lines[0].startsWith('#')) {
    throw new Error(`${file}:1: expected a '#version: ...' header line, got ${JSON.stringify(lines[0].slice(0, 60))} (the first line is always skipped, so the first merge rule would be lost)`);
  }
  const merges: (MergePair | null)[] = [];
  for (let i = 1; i < lines.length - 1; i++) {
    const parts = pySplitWhitespace(lines[i]);
    if (parts.length === 0) {
      merges.push(null);
      continue;
    }
    if (parts.length !== 2) {
      throw new Error(`${file}:${i + 1}: malformed merge rule ${JSON.stringify(lines[i].slice(0, 80))}: expected two symbols separated by a space`);
    }
    merges.push([parts[0], parts[1]]);
  }
  return merges;
}

/** tokenizer.json's model.merges: "a b" strings or [a, b] pairs. */
export function parseTokenizersMerges(file: string, merges: unknown[]): MergePair[] {
  return merges.map((m, i) => {
    if (typeof m === 'string') {
      const parts = m.split(' ');
      if (parts.length !== 2 || !parts[0] || !parts[1]) throw new Error(`${file}: model.merges[${i}] ${JSON.stringify(m)} is not two symbols separated by one space`);
      return [parts[0], parts[1]] as MergePair;
    }
    if (Array.isArray(m) && m.length === 2 && typeof m[0] === 'string' && typeof m[1] === 'string') return [m[0], m[1]] as MergePair;
    throw new Error(`${file}: model.merges[${i}] must be "a b" or ["a", "b"], got ${JSON.stringify(m)}`);
  });
}
