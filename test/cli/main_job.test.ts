// The main job and the model-side commands, end to end on the bundled model: `clvp generate`,
// `clvp score` and `clvp parity`, with their error paths.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Writable } from 'stream';
import { main } from '../../src/cli/main';
import { FIXTURE_REFERENCE } from '../helpers/env';

const ROOT = path.resolve(__dirname, '../..');
const VOICE = path.join(ROOT, 'examples', 'voice.wav');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'clvp-job-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function sink(): Writable & { text: () => string } {
  const chunks: string[] = [];
  const w = new Writable({ write(c, _e, cb) { chunks.push(String(c)); cb(); } }) as Writable & { text: () => string };
  w.text = () => chunks.join('');
  return w;
}
async function run(...argv: string[]) {
  const stdout = sink();
  const stderr = sink();
  const code = await main(argv, { stdout, stderr });
  return { code, out: stdout.text(), err: stderr.text() };
}

const job = ['generate', '--text', 'Hello there, this is a test.', '--voice', VOICE, '--backend', 'wasm', '--candidates', '3', '--max-new-tokens', '24', '--seed', '42', '--no-progress'];

describe('clvp generate (the main job) on the bundled model', () => {
  test('a fixed seed gives the same ranked candidates every time', async () => {
    const out = path.join(tmp, 'result.json');
    const a = await run(...job, '--json', '--out', out);
    expect(a.code).toBe(0);
    const b = await run(...job, '--json');
    const ra = JSON.parse(a.out).chunks[0];
    const rb = JSON.parse(b.out).chunks[0];
    expect(JSON.parse(a.out).chunks).toHaveLength(1);
    expect(ra.text).toBe('Hello there, this is a test.');
    expect(ra.candidates).toEqual(rb.candidates);
    expect(ra.candidates).toHaveLength(3);
    expect(JSON.parse(a.out).seed).toBe(42);
    const scores = ra.candidates.map((c: { score: number }) => c.score);
    expect([...scores].sort((x, y) => y - x)).toEqual(scores);
    for (const c of ra.candidates) {
      expect(c.speechIds).toHaveLength(24);
      expect(c.speechIds.every((id: number) => Number.isInteger(id) && id >= 0 && id < 1024)).toBe(true);
    }
    expect(JSON.parse(fs.readFileSync(out, 'utf8')).chunks[0].candidates).toEqual(ra.candidates);
    const other = JSON.parse((await run(...job.slice(0, -3), '--seed', '43', '--no-progress', '--json')).out).chunks[0];
    expect(other.candidates.map((c: { speechIds: number[] }) => c.speechIds)).not.toEqual(ra.candidates.map((c: { speechIds: number[] }) => c.speechIds));
  });

  test('the table names the model, the seed and the ranking', async () => {
    const r = await run(...job);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/bundled random weights: scores are meaningless/);
    expect(r.out).toMatch(/seed 42; 3 candidates per chunk/);
    expect(r.out.split('\n').filter((l) => /^\s+\d+\s+\d+\s+-?\d+\.\d{4}/.test(l))).toHaveLength(3);
  });

  test('clvp score reproduces the scores generate gave', async () => {
    const out = path.join(tmp, 'for-score.json');
    const g = JSON.parse((await run(...job, '--json', '--out', out)).out).chunks[0];
    const s = await run('score', '--text', 'Hello there, this is a test.', '--speech-ids', out, '--backend', 'wasm', '--json');
    expect(s.code).toBe(0);
    const scored = JSON.parse(s.out).scores as { index: number; score: number }[];
    for (const c of g.candidates) expect(scored[c.rank - 1].score).toBeCloseTo(c.score, 4);
  });

  test('user errors: one line, exit 2', async () => {
    const cases: [string[], RegExp][] = [
      [['generate', '--text', 'hi', '--voice', path.join(tmp, 'missing.wav')], /missing\.wav/],
      [['generate', '--text', 'hi', '--voice', path.join(ROOT, 'package.json')], /package\.json.*RIFF/i],
      [['generate', '--text', 'hi', '--voice', VOICE, '--model', path.join(tmp, 'nope')], /--model: .*nope: no such model folder/],
      [['generate', '--text', 'hi', '--voice', VOICE, '--max-new-tokens', '5000', '--backend', 'wasm'], /--max-new-tokens: has to be at most 607 for this model's position table, got 5000/],
      [['generate', '--text', 'hi', '--voice', VOICE, '--preset', 'turbo'], /turbo/],
      [['score', '--text', 'hi', '--speech-ids', path.join(ROOT, 'package.json')], /--speech-ids .*package\.json: expected a list/],
      // every sampling option is checked before the model loads, and named
      [['generate', '--text', 'hi', '--voice', VOICE, '--temperature', '0'], /--temperature: has to be a number > 0 when sampling, got 0/],
      [['generate', '--text', 'hi', '--voice', VOICE, '--temperature', '-1'], /--temperature: has to be a number > 0 when sampling, got -1/],
      [['generate', '--text', 'hi', '--voice', VOICE, '--top-p', '2'], /--top-p: has to be a number in \(0, 1\] \(1 = off\) or null, got 2/],
      [['generate', '--text', 'hi', '--voice', VOICE, '--top-p', '0'], /--top-p: has to be a number in \(0, 1\]/],
      [['generate', '--text', 'hi', '--voice', VOICE, '--top-k', '-5'], /--top-k: expected an integer >= 0, got '-5'/],
      [['generate', '--text', 'hi', '--voice', VOICE, '--top-k', '2.5'], /--top-k: expected an integer >= 0, got '2\.5'/],
      [['generate', '--text', 'hi', '--voice', VOICE, '--repetition-penalty', '0'], /--repetition-penalty: has to be a number > 0 \(1 = off\) or null, got 0/],
      [['generate', '--text', 'hi', '--voice', VOICE, '--temperature', 'warm'], /--temperature: expected a number, got 'warm'/],
      [['generate', '--text', 'hi', '--voice', VOICE, '--candidates', '0'], /--candidates: expected a positive integer, got '0'/],
      [['generate', '--text', 'hi', '--voice', VOICE, '--batch-size', '1.5'], /--batch-size: expected a positive integer, got '1\.5'/],
      [['generate', '--text', 'hi', '--voice', VOICE, '--seed', '-3'], /--seed: expected an integer >= 0, got '-3'/],
      [['generate', '--text', 'hi', '--voice', VOICE, '--tp', 'two'], /--tp: expected a positive integer, got 'two'/],
      [['generate', '--text', 'hi', '--voice', VOICE, '--tp', '9', '--backend', 'wasm'], /tp 9: this model's attention has 4 heads in its smallest stack, so at most 4 tensor-parallel ranks/],
      [['generate', '--text', 'hi', '--voice', VOICE, '--max-new-tokens', '24', '--pad-to', '10', '--backend', 'wasm'], /--pad-to: has to be at least 25 \(the longest candidate: the start token and 24 new tokens\), got 10/],
      // text
      [['generate', '--text', '', '--voice', VOICE], /--text: the text is empty/],
      [['generate', '--text', '   \n\t ', '--voice', VOICE], /--text: the text is empty/],
      [['generate', '--text', '£££ ©', '--voice', VOICE, '--backend', 'wasm'], /--text: text has to be words the English normaliser keeps \(it drops non-ASCII characters\), but is "£££ ©"/],
      [['generate', '--voice', VOICE], /exactly one of --text and --text-file/],
      [['generate', '--text', 'hi', '--text-file', VOICE, '--voice', VOICE], /exactly one of --text and --text-file/],
      [['generate', '--text-file', path.join(tmp, 'nothing.txt'), '--voice', VOICE], /--text-file .*nothing\.txt: cannot read it: no such file/],
      [['score', '--text', ' ', '--speech-ids', path.join(ROOT, 'package.json')], /--text: the text is empty/],
    ];
    for (const [argv, msg] of cases) {
      const r = await run(...argv);
      expect(r.code).toBe(2);
      expect(r.err).toMatch(msg);
      expect(r.err.trim().split('\n').filter((l) => !l.startsWith('clvp-tfjs: using backend'))).toHaveLength(1);
    }
  });
});

test('a long text file is split into chunks, each ranked on its own, in order', async () => {
  // ~2,000 characters of prose with quotes and long sentences, written for this test.
  const paragraph = [
    'The old lighthouse stood at the edge of the cliff, where the wind never stopped and the sea never slept.',
    '"Nobody has climbed those stairs in forty years," said the keeper\'s daughter, pulling her coat tighter against the cold.',
    'Still, every evening at dusk, a pale light flickered in the lantern room, turning slowly, as if someone were still tending the lamp.',
    'The villagers had a dozen explanations, none of them good, and the children dared each other to touch the rusted door.',
  ].join(' ');
  const text = [paragraph, paragraph.replace('forty', 'fifty'), paragraph.replace('dusk', 'dawn'), paragraph.replace('cliff', 'hill'), paragraph.slice(0, 240)].join('\n\n');
  expect(text.length).toBeGreaterThan(1900);
  const file = path.join(tmp, 'chapter.txt');
  fs.writeFileSync(file, text);
  const r = await run('generate', '--text-file', file, '--voice', VOICE, '--backend', 'wasm', '--candidates', '2', '--max-new-tokens', '6', '--seed', '5', '--no-progress', '--json');
  expect(r.code).toBe(0);
  const report = JSON.parse(r.out);
  const { splitText } = await import('../../src/tokenizer/split_text');
  const expected = splitText(text);
  expect(expected.length).toBeGreaterThanOrEqual(8);
  expect(report.chunks.map((c: { text: string }) => c.text)).toEqual(expected);
  report.chunks.forEach((c: { index: number; seed: number; candidates: { score: number; speechIds: number[] }[] }, k: number) => {
    expect(c.index).toBe(k);
    expect(c.seed).toBe(5 + k);
    expect(c.candidates).toHaveLength(2);
    expect(c.candidates[0].score).toBeGreaterThanOrEqual(c.candidates[1].score);
  });
  // score picks one chunk of a multi-chunk result
  const out = path.join(tmp, 'chapter.json');
  fs.writeFileSync(out, r.out);
  const unpicked = await run('score', '--text', expected[1], '--speech-ids', out, '--backend', 'wasm');
  expect(unpicked.code).toBe(2);
  expect(unpicked.err).toMatch(/the result has \d+ text chunks: pick one with --chunk 1\.\./);
  const s = await run('score', '--text', expected[1], '--speech-ids', out, '--chunk', '2', '--backend', 'wasm', '--json');
  expect(s.code).toBe(0);
  const scores = JSON.parse(s.out).scores as { index: number; score: number }[];
  for (const [i, c] of report.chunks[1].candidates.entries()) expect(scores.find((x) => x.index === i)!.score).toBeCloseTo(c.score, 4);
});

test('clvp parity --json reports every case with the documented fields', async () => {
  const r = await run('parity', '--reference', FIXTURE_REFERENCE, '--backend', 'wasm', '--filter', 'tiny.decoder', 'warpers_synthetic', '--json');
  expect(r.code).toBe(0);
  const report = JSON.parse(r.out);
  expect(report.reference).toBe(FIXTURE_REFERENCE);
  expect(report.backend).toBe('wasm');
  expect(report.cases.map((c: { name: string }) => c.name).sort()).toEqual(["tiny.decoder_embeds", "tiny.decoder_ids", "tiny.decoder_kv_cache", "tiny.decoder_masked", "tiny.decoder_step_position_ids", "warpers_synthetic"]);
  for (const c of report.cases) {
    expect(Object.keys(c).sort()).toEqual(['call', 'maxAbsError', 'maxRelError', 'message', 'name', 'status']);
    expect(c.status).toBe('pass');
  }
  const bad = await run('parity', '--reference', path.join(tmp, 'none'));
  expect(bad.code).toBe(2);
  expect(bad.err).toMatch(/none: no such reference directory/);
  fs.mkdirSync(path.join(tmp, 'empty-ref'));
  const empty = await run('parity', '--reference', path.join(tmp, 'empty-ref'));
  expect(empty.code).toBe(2);
  expect(empty.err).toMatch(/no case index/);
});
