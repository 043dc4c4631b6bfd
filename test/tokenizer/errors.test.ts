// Error paths of the CLVP tokenizer: bad files, bad arguments.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ClvpTokenizer } from '../../src/tokenizer';

const SMALL = path.resolve(__dirname, '../fixtures/tokenizer/small');

/** A copy of the small fixture with some files replaced (null: removed). */
function folderWith(files: Record<string, string | null>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'clvp-tok-err-'));
  for (const f of fs.readdirSync(SMALL)) fs.copyFileSync(path.join(SMALL, f), path.join(dir, f));
  for (const [name, text] of Object.entries(files)) {
    if (text === null) fs.rmSync(path.join(dir, name));
    else fs.writeFileSync(path.join(dir, name), text);
  }
  return dir;
}

describe('loading errors', () => {
  it('names a missing directory or file', async () => {
    await expect(async () => ClvpTokenizer.fromPretrained('/nonexistent/clvp-tok')).rejects.toThrow('/nonexistent/clvp-tok: no such model folder (expected a tokenizer folder with vocab.json and merges.txt)');
    const noVocab = folderWith({ 'vocab.json': null });
    await expect(async () => ClvpTokenizer.fromPretrained(noVocab)).rejects.toThrow(`${path.join(noVocab, 'vocab.json')}: not found (the BPE vocabulary, vocab.json)`);
    const noMerges = folderWith({ 'merges.txt': null });
    await expect(async () => ClvpTokenizer.fromPretrained(noMerges)).rejects.toThrow(`${path.join(noMerges, 'merges.txt')}: not found`);
  });

  it('names the file and line of malformed JSON', async () => {
    const dir = folderWith({ 'vocab.json': '{\n  "a": 0,\n  "b" 1\n}' });
    await expect(async () => ClvpTokenizer.fromPretrained(dir)).rejects.toThrow(new RegExp(`^${path.join(dir, 'vocab.json').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:3:\\d+: malformed JSON`));
    const truncated = folderWith({ 'tokenizer_config.json': '{\n"add_bos_token": false,\n' });
    await expect(async () => ClvpTokenizer.fromPretrained(truncated)).rejects.toThrow(/tokenizer_config\.json:3:1: malformed JSON/);
  });

  it('rejects a vocabulary that is not token -> integer id', async () => {
    await expect(async () => ClvpTokenizer.fromPretrained(folderWith({ 'vocab.json': '["a", "b"]' }))).rejects.toThrow(/vocab\.json: expected a JSON object of token -> id/);
    await expect(async () => ClvpTokenizer.fromPretrained(folderWith({ 'vocab.json': '{"a": 0, "b": "1"}' }))).rejects.toThrow(/vocab\.json: token "b" has id "1", expected a non-negative integer/);
    await expect(async () => ClvpTokenizer.fromPretrained(folderWith({ 'vocab.json': '{"a": 1.5}' }))).rejects.toThrow(/token "a" has id 1.5/);
  });

  it('names the line of a malformed merge rule, and a missing header', async () => {
    const dir = folderWith({ 'merges.txt': '#version: 0.2\nt h\nth e x\ni n\n' });
    await expect(async () => ClvpTokenizer.fromPretrained(dir)).rejects.toThrow(`${path.join(dir, 'merges.txt')}:3: malformed merge rule "th e x": expected two symbols separated by a space`);
    await expect(async () => ClvpTokenizer.fromPretrained(folderWith({ 'merges.txt': 't h\ni n\n' }))).rejects.toThrow(/merges\.txt:1: expected a '#version: \.\.\.' header line/);
    await expect(async () => ClvpTokenizer.fromPretrained(folderWith({ 'merges.txt': '' }))).rejects.toThrow(/merges\.txt:1: expected a '#version/);
  });

  it('accepts CRLF merges and blank lines, as Python text mode does', async () => {
    const tok = await ClvpTokenizer.fromPretrained(folderWith({ 'merges.txt': '#version: 0.2\r\nh e\r\n\r\nhe ll\r\nl l\r\n' }));
    // 'h e' (rank 0) before 'l l' (rank 3), then 'he ll' (rank 2).
    expect(tok.tokenize('hell')).toEqual(['hell']);
  });

  it('checks tokenizer_config.json values', async () => {
    await expect(async () => ClvpTokenizer.fromPretrained(folderWith({ 'tokenizer_config.json': '{"add_bos_token": "yes"}' }))).rejects.toThrow(/tokenizer_config\.json: 'add_bos_token' must be true or false/);
    await expect(async () => ClvpTokenizer.fromPretrained(folderWith({ 'tokenizer_config.json': '{"bos_token": 5}' }))).rejects.toThrow(/tokenizer_config\.json: 'bos_token' must be a string or an object/);
    await expect(async () => ClvpTokenizer.fromPretrained(folderWith({ 'tokenizer_config.json': '{"errors": "ignore"}' }))).rejects.toThrow(/errors 'ignore' is not supported/);
  });

  it('checks a Tortoise tokenizer.json', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'clvp-tok-err-'));
    const write = (obj: unknown) => {
      const f = path.join(dir, 'tokenizer.json');
      fs.writeFileSync(f, JSON.stringify(obj));
      return f;
    };
    await expect(async () => ClvpTokenizer.fromTortoiseTokenizerJson(path.join(dir, 'missing.json'))).rejects.toThrow(/missing\.json: cannot read: no such file/);
    await expect(async () => ClvpTokenizer.fromTortoiseTokenizerJson(write({ version: '1.0' }))).rejects.toThrow(/tokenizer\.json: no 'model' object/);
    await expect(async () => ClvpTokenizer.fromTortoiseTokenizerJson(write({ model: { type: 'WordPiece', vocab: {}, merges: [] } }))).rejects.toThrow(/only 'BPE' is supported/);
    await expect(async () => ClvpTokenizer.fromTortoiseTokenizerJson(write({ model: { vocab: { a: 0 }, merges: ['a b c'] } }))).rejects.toThrow(/model\.merges\[0\] "a b c" is not two symbols/);
    await expect(async () => ClvpTokenizer.fromTortoiseTokenizerJson(write({ model: { vocab: { a: 0 }, merges: [] }, added_tokens: [{ id: 3, content: 'a' }] }))).rejects.toThrow(
      /added_tokens\[0\] 'a' has id 3 but model\.vocab gives it 0/,
    );
  });
});

describe('argument errors', () => {
  let tok: ClvpTokenizer;
  let anyTok: Record<string, (...a: unknown[]) => unknown>;
  beforeAll(async () => {
    tok = await ClvpTokenizer.fromPretrained(SMALL);
    anyTok = tok as unknown as Record<string, (...a: unknown[]) => unknown>;
  });

  it('names the argument and index of non-string text', async () => {
    expect(() => anyTok.call.call(tok, 42)).toThrow('text: expected a string or an array of strings, got number 42');
    expect(() => anyTok.call.call(tok, ['a', null, 'b'])).toThrow('text[1]: expected a string, got null');
    expect(() => anyTok.tokenize.call(tok, { text: 'a' })).toThrow('text: expected a string, got an object (Object)');
    expect(() => anyTok.encode.call(tok, undefined)).toThrow(/^text: expected a string, got undefined$/);
    expect(() => anyTok.call.call(tok, ['a', 5n])).toThrow(/^text\[1\]: expected a string, got bigint 5$/);
    expect(() => anyTok.normalize.call(tok, 5)).toThrow('text: expected a string, got number 5');
    expect(() => tok.call([])).toThrow(/the batch is empty/);
  });

  it('rejects bad padding / truncation arguments', async () => {
    expect(() => tok.call('a', { padding: 'longer' as never })).toThrow(/padding: "longer" is not a valid padding strategy/);
    expect(() => tok.call('a', { truncation: 'yes' as never })).toThrow(/truncation: "yes" is not a valid truncation strategy/);
    expect(() => tok.call('a', { maxLength: -1 })).toThrow('maxLength must be an integer >= 0, got -1');
    expect(() => tok.call('a', { padding: true, padToMultipleOf: 0 })).toThrow(/padToMultipleOf must be an integer >= 1/);
    expect(() => tok.call(['a', 'b c'], { padding: 'max_length', truncation: true, maxLength: 5, padToMultipleOf: 4 })).toThrow(/truncation length \(5\) is not a multiple of padToMultipleOf \(4\)/);
    expect(() => tok.call(['a', 'a b'], { returnTensors: 'tf' })).toThrow(/different lengths; use padding/);
    expect(() => tok.call('a', { returnTensors: 'pt' as never })).toThrow(/returnTensors: 'pt' is not supported/);
    const noPad = await ClvpTokenizer.fromPretrained(SMALL, { padToken: null });
    expect(() => noPad.call(['a', 'a b'], { padding: true })).toThrow(/no pad token/);
  });

  it('names bad ids in decode', async () => {
    expect(() => tok.decode([9, 999])).toThrow('ids[1]: id 999 is not in the vocabulary (ids run from 0 to 59)');
    expect(() => tok.decode([9, 1.5])).toThrow('ids[1]: 1.5 is not an integer token id');
    expect(() => anyTok.decode.call(tok, [9, '2'])).toThrow('ids[1]: expected a token id (number), got string "2"');
    expect(() => tok.batchDecode([[9], [999]])).toThrow('sequences[1]: ids[0]: id 999 is not in the vocabulary');
    expect(() => anyTok.convertTokensToIds.call(tok, ['a', 3])).toThrow('tokens[1]: expected a token string, got number 3');
  });

  it('reports the Python int() failure of malformed dollar amounts', async () => {
    expect(() => tok.encode('$,5')).toThrow("invalid literal for int() with base 10: ',5'");
  });
});
