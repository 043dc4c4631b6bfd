// ClvpTokenizer (transformers models/clvp/tokenization_clvp.py) on a small hand-made vocabulary.
import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { initBackend } from '../../src/backend';
import { BytePairEncoding } from '../../src/tokenizer/bpe';
import { BYTE_TO_CHAR, bytesToUnicodeString, unicodeStringToText } from '../../src/tokenizer/byte_encoder';
import { makeAddedToken } from '../../src/tokenizer/added_tokens';
import { ClvpTokenizer } from '../../src/tokenizer';

const SMALL = path.resolve(__dirname, '../fixtures/tokenizer/small');
const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'clvp-tok-'));

/** A `tokenizers` tokenizer.json in Tortoise's layout, built from the small fixture. */
function writeTortoiseJson(dir: string, mergesAsPairs = false): string {
  const vocab = JSON.parse(fs.readFileSync(path.join(SMALL, 'vocab.json'), 'utf8')) as Record<string, number>;
  const merges = fs.readFileSync(path.join(SMALL, 'merges.txt'), 'utf8').split('\n').slice(1).filter(Boolean);
  const added = (id: number, content: string) => ({ id, special: true, content, single_word: false, lstrip: false, rstrip: false, normalized: false });
  const json = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [added(0, '[STOP]'), added(1, '[UNK]'), added(2, '[SPACE]')],
    normalizer: null,
    pre_tokenizer: { type: 'Whitespace' },
    post_processor: null,
    decoder: null,
    model: { type: 'BPE', dropout: null, unk_token: '[UNK]', continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: false, vocab, merges: mergesAsPairs ? merges.map((m) => m.split(' ')) : merges },
  };
  const file = path.join(dir, 'tokenizer.json');
  fs.writeFileSync(file, JSON.stringify(json));
  return file;
}

describe('byte-level alphabet', () => {
  it('maps printable bytes to themselves and the rest above U+0100', async () => {
    expect(BYTE_TO_CHAR[0x41]).toBe('A');
    expect(BYTE_TO_CHAR[0x20]).toBe('\u0120');
    expect(BYTE_TO_CHAR[0x0a]).toBe('\u010a');
    expect(new Set(BYTE_TO_CHAR).size).toBe(256);
    expect(bytesToUnicodeString(' é')).toBe('\u0120\u00c3\u00a9');
    expect(unicodeStringToText('\u0120\u00c3\u00a9')).toBe(' é');
    expect(unicodeStringToText('\u00c3')).toBe('\ufffd');
    expect(() => unicodeStringToText('\u00c3', 'strict')).toThrow();
  });
});

describe('BytePairEncoding', () => {
  const bpe = new BytePairEncoding([['l', 'o'], ['lo', 'w'], ['e', 'r'], ['w', 'er'], null, ['low', 'er']]);
  it('merges by rank, everywhere at once, until nothing ranks', async () => {
    expect(bpe.encode('lower')).toEqual(['lower']);
    expect(bpe.encode('lowe')).toEqual(['low', 'e']);
    expect(bpe.encode('lolo')).toEqual(['lo', 'lo']);
    expect(bpe.encode('x')).toEqual(['x']);
    expect(bpe.encode('')).toEqual([]);
    expect(bpe.rank('low', 'er')).toBe(5);
    expect(bpe.rank('o', 'l')).toBeUndefined();
  });
  it('gives a repeated rule the rank of its last occurrence', async () => {
    const dup = new BytePairEncoding([['a', 'b'], ['b', 'c'], ['a', 'b']]);
    expect(dup.encode('abc')).toEqual(['a', 'bc']);
  });
});

describe('ClvpTokenizer on the small vocabulary', () => {
  let tok: ClvpTokenizer;
  beforeAll(async () => {
    // Some tests ask for tensors: a backend must be ready first (see requireReadyBackend).
    await initBackend('cpu');
    tok = await ClvpTokenizer.fromPretrained(SMALL);
  });

  it('reads the special tokens and gives <|endoftext|> the id after the vocabulary', async () => {
    expect(tok.vocabSize).toBe(59);
    expect(tok.length).toBe(60);
    expect([tok.bosToken, tok.bosTokenId]).toEqual(['<|endoftext|>', 59]);
    expect([tok.eosToken, tok.eosTokenId]).toEqual(['[STOP]', 0]);
    expect([tok.padToken, tok.padTokenId]).toEqual(['[STOP]', 0]);
    expect([tok.unkToken, tok.unkTokenId]).toEqual(['[UNK]', 1]);
    expect(tok.allSpecialIds).toEqual([59, 0, 1]);
  });

  it('tokenises with [SPACE] for the space symbol and merges by rank', async () => {
    expect(tok.tokenize('Hello world')).toEqual(['hello', '[SPACE]', 'world']);
    expect(tok.encode('Hello world')).toEqual([44, 2, 48]);
    expect(tok.tokenize('there')).toEqual(['the', 'r', 'e']);
    expect(tok.tokenize('her')).toEqual(['h', 'er']);
    // 'w o' outranks 't w', so 'two' is never reached.
    expect(tok.tokenize('one two')).toEqual(['on', 'e', '[SPACE]', 't', 'wo']);
    expect(tok.tokenize('3 things')).toEqual(['th', 'r', 'e', 'e', '[SPACE]', 'th', 'ing', 's']);
    expect(tok.tokenize('')).toEqual([]);
  });

  it('keeps unknown symbols as tokens and maps them to [UNK]', async () => {
    expect(tok.tokenize('a;b')).toEqual(['a', ';', 'b']);
    expect(tok.encode('a;b')).toEqual([9, 1, 10]);
    expect(tok.convertTokensToIds(['a', 'nope', '<|endoftext|>'])).toEqual([9, 1, 59]);
    expect(tok.convertIdsToTokens([9, 59, 0])).toEqual(['a', '<|endoftext|>', '[STOP]']);
    expect(tok.convertIdsToTokens([9, 59, 0], true)).toEqual(['a']);
  });

  it('splits literal added tokens out before normalising', async () => {
    expect(tok.tokenize('[STOP] in')).toEqual(['[STOP]', '[SPACE]', 'in']);
    expect(tok.tokenize('a<|endoftext|>b')).toEqual(['a', '<|endoftext|>', 'b']);
    expect(tok.encode('a<|endoftext|>b')).toEqual([9, 59, 10]);
    // '[SPACE]' is a vocabulary entry, not an added token, so it is normalised text.
    expect(tok.tokenize('[SPACE]')).toEqual(['[', 's', 'p', 'a', 'c', 'e', ']']);
    // Lower-case '[stop]' is not the token.
    expect(tok.encode('[stop]')).toEqual([1, 53, 23, 24, 1]);
  });

  it('tokenises special tokens as text with splitSpecialTokens', async () => {
    const split = await ClvpTokenizer.fromPretrained(SMALL, { splitSpecialTokens: true });
    expect(split.tokenize('[STOP]')).toEqual(['[', 'st', 'o', 'p', ']']);
  });

  it('applies the lstrip / rstrip / single_word flags of added tokens', async () => {
    const t = await ClvpTokenizer.fromPretrained(SMALL, {
      additionalSpecialTokens: [makeAddedToken('<r>', { rstrip: true, special: true }), makeAddedToken('<l>', { lstrip: true, special: true })],
    });
    expect(t.convertTokensToIds(['<r>', '<l>'])).toEqual([60, 61]);
    expect(t.tokenize('a <r>  b')).toEqual(['a', '[SPACE]', '<r>', 'b']);
    expect(t.tokenize('a   <l> b')).toEqual(['a', '<l>', '[SPACE]', 'b']);
    const sw = await ClvpTokenizer.fromPretrained(SMALL, { additionalSpecialTokens: [makeAddedToken('<w>', { singleWord: true, special: true })] });
    expect(sw.tokenize('a <w> b')).toEqual(['a', '[SPACE]', '<w>', '[SPACE]', 'b']);
    // Inside a word the token is not split out; '<' and '>' are unknown symbols.
    expect(sw.tokenize('a<w>')).toEqual(['a', '<', 'w', '>']);
  });

  it('encodes single texts and batches with padding and truncation as transformers does', async () => {
    expect(tok.call('Hello world')).toEqual({ inputIds: [44, 2, 48], attentionMask: [1, 1, 1] });
    expect(tok.call('Hello world', { padding: 'max_length', maxLength: 5 })).toEqual({ inputIds: [44, 2, 48, 0, 0], attentionMask: [1, 1, 1, 0, 0] });
    expect(tok.call('Hello world', { padding: true, padToMultipleOf: 4 })).toEqual({ inputIds: [44, 2, 48, 0], attentionMask: [1, 1, 1, 0] });
    // max_length alone turns truncation on.
    expect(tok.call('Hello world', { maxLength: 2 })).toEqual({ inputIds: [44, 2], attentionMask: [1, 1] });
    // padding=true ignores max_length when truncation is off.
    expect(tok.call(['a', 'a b c'], { padding: true, maxLength: 2 }).inputIds).toEqual([[9, 0, 0, 0, 0], [9, 2, 10, 2, 11]]);
    expect(tok.call(['a', 'a b c'], { padding: 'longest' })).toEqual({
      inputIds: [[9, 0, 0, 0, 0], [9, 2, 10, 2, 11]],
      attentionMask: [[1, 0, 0, 0, 0], [1, 1, 1, 1, 1]],
    });
    expect(tok.call(['a', 'a b c'], { padding: 'max_length', truncation: true, maxLength: 3 }).inputIds).toEqual([[9, 0, 0], [9, 2, 10]]);
    expect(tok.call(['a', 'a b c'], { truncation: 'only_second', maxLength: 3 }).inputIds).toEqual([[9], [9, 2, 10, 2, 11]]);
    expect(tok.call(['a', 'a b c']).inputIds).toEqual([[9], [9, 2, 10, 2, 11]]);
    // 'max_length' without a max_length and an unlimited model length does not pad.
    expect(tok.call(['a', 'a b'], { padding: 'max_length' }).inputIds).toEqual([[9], [9, 2, 10]]);
    expect(tok.call('a', { returnAttentionMask: false })).toEqual({ inputIds: [9] });
  });

  it('reproduces the empty-text quirks', async () => {
    // A single empty text is never padded (pad() returns early on empty input).
    expect(tok.call('', { padding: 'max_length', maxLength: 3 })).toEqual({ inputIds: [], attentionMask: [] });
    // In a batch it is padded like any other row.
    expect(tok.call(['', 'a b'], { padding: true })).toEqual({ inputIds: [[0, 0, 0], [9, 2, 10]], attentionMask: [[0, 0, 0], [1, 1, 1]] });
  });

  it('pads on the left and truncates on the left when configured', async () => {
    const left = await ClvpTokenizer.fromPretrained(SMALL, { paddingSide: 'left', truncationSide: 'left' });
    expect(left.call(['a', 'a b'], { padding: true })).toEqual({ inputIds: [[0, 0, 9], [9, 2, 10]], attentionMask: [[0, 0, 1], [1, 1, 1]] });
    expect(left.call('a b c', { maxLength: 2 }).inputIds).toEqual([2, 11]);
  });

  it('adds bos/eos when enabled, counting them towards max_length', async () => {
    const be = await ClvpTokenizer.fromPretrained(SMALL, { addBosToken: true, addEosToken: true });
    expect(be.encode('a b')).toEqual([59, 9, 2, 10, 0]);
    expect(be.call('a b', { maxLength: 4 }).inputIds).toEqual([59, 9, 2, 0]);
    expect(be.call('a b', { addSpecialTokens: false }).inputIds).toEqual([9, 2, 10]);
    // When bos+eos alone exceed max_length the ids are kept whole (HF logs an error there).
    expect(be.call('a', { maxLength: 1 }).inputIds).toEqual([59, 9, 0]);
  });

  it('returns int32 tensors with a batch axis', async () => {
    // The cpu backend's one-time "install tfjs-node" notice is noise here.
    const warn = jest.spyOn(console, 'warn').mockImplementation(() => undefined);
    const single = tok.call('Hello world', { returnTensors: 'tf' });
    expect(single.inputIds.shape).toEqual([1, 3]);
    expect(single.inputIds.dtype).toBe('int32');
    expect(single.attentionMask.arraySync()).toEqual([[1, 1, 1]]);
    const batch = tok.call(['a', 'a b'], { padding: true, returnTensors: 'tf' });
    expect(batch.inputIds.arraySync()).toEqual([[9, 0, 0], [9, 2, 10]]);
    tf.dispose([single.inputIds, single.attentionMask, batch.inputIds, batch.attentionMask]);
    warn.mockRestore();
  });

  it('decodes with CLVP clean-up', async () => {
    expect(tok.decode([44, 2, 48])).toBe('hello world');
    expect(tok.decode([44, 2, 48], { cleanUpTokenizationSpaces: false })).toBe('hello[SPACE]world');
    expect(tok.decode([59, 44, 1, 1, 0, 0])).toBe('<|endoftext|>hello ');
    expect(tok.decode([59, 44, 1, 1, 0, 0], { skipSpecialTokens: true })).toBe('hello');
    expect(tok.decode([2, 2, 2, 2, 2, 7])).toBe('  .');
    expect(tok.decode([56, 57])).toBe('é\ufffd');
    expect(tok.decode(44)).toBe('hello');
    expect(tok.batchDecode([[44], [48, 0]])).toEqual(['hello', 'world ']);
    const ids = tf.tensor2d([[44, 2, 48]], [1, 3], 'int32');
    expect(tok.batchDecode(ids)).toEqual(['hello world']);
    expect(tok.decode(ids)).toBe('hello world');
    ids.dispose();
  });

  it('decodes non-special added tokens apart, with spaces around them', async () => {
    const t = await ClvpTokenizer.fromPretrained(SMALL, { addedTokensDecoder: new Map([...tok.addedTokensDecoder, [60, makeAddedToken('<new>')]]) });
    expect(t.encode('a<new>b')).toEqual([9, 60, 10]);
    expect(t.decode([9, 60, 10])).toBe('a <new> b');
    expect(t.decode([9, 60, 10], { spacesBetweenSpecialTokens: false })).toBe('a<new>b');
  });

  it('loads a legacy folder (special_tokens_map.json + added_tokens.json) the same way', async () => {
    const dir = tmp();
    for (const f of ['vocab.json', 'merges.txt', 'special_tokens_map.json']) fs.copyFileSync(path.join(SMALL, f), path.join(dir, f));
    fs.writeFileSync(path.join(dir, 'added_tokens.json'), JSON.stringify({ '<|endoftext|>': 59 }));
    const legacy = await ClvpTokenizer.fromPretrained(dir);
    expect(legacy.bosTokenId).toBe(59);
    expect(legacy.tokenize('[STOP]<|endoftext|>')).toEqual(['[STOP]', '<|endoftext|>']);
    expect(legacy.encode('Hello world')).toEqual([44, 2, 48]);
  });

  it('builds the same tokenizer from a Tortoise tokenizer.json', async () => {
    const dir = tmp();
    for (const pairs of [false, true]) {
      const t = await ClvpTokenizer.fromTortoiseTokenizerJson(writeTortoiseJson(dir, pairs));
      expect(t.vocabSize).toBe(59);
      expect([t.bosTokenId, t.eosTokenId, t.padTokenId, t.unkTokenId]).toEqual([59, 0, 0, 1]);
      for (const text of ['Hello world', 'there her one two', '[STOP] [SPACE] <|endoftext|>', '3 things, 1st!']) {
        expect(t.tokenize(text)).toEqual(tok.tokenize(text));
        expect(t.call(text)).toEqual(tok.call(text));
      }
      expect(t.decode([59, 44, 2, 48, 0])).toBe(tok.decode([59, 44, 2, 48, 0]));
    }
  });

  it('saves a vocabulary and a folder that load back identically', async () => {
    const dir = tmp();
    const [vocabFile, mergesFile] = tok.saveVocabulary(dir, 'x');
    expect(path.basename(vocabFile)).toBe('x-vocab.json');
    const vocabText = fs.readFileSync(vocabFile, 'utf8');
    expect(vocabText.startsWith('{\n  "!": 3,\n  "\'": 4,')).toBe(true);
    expect(vocabText.endsWith('}\n')).toBe(true);
    expect(fs.readFileSync(mergesFile, 'utf8')).toBe(fs.readFileSync(path.join(SMALL, 'merges.txt'), 'utf8'));

    const out = path.join(tmp(), 'saved');
    tok.savePretrained(out);
    const back = await ClvpTokenizer.fromPretrained(out);
    expect(back.getVocab()).toEqual(tok.getVocab());
    expect([back.bosTokenId, back.eosTokenId, back.padTokenId, back.unkTokenId]).toEqual([59, 0, 0, 1]);
    expect(back.call(['Hello world', '[STOP] there'], { padding: true })).toEqual(tok.call(['Hello world', '[STOP] there'], { padding: true }));
  });
});
