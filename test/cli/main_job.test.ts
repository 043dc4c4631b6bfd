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
    const ra = JSON.parse(a.out);
    const rb = JSON.parse(b.out);
    expect(ra.candidates).toEqual(rb.candidates);
    expect(ra.candidates).toHaveLength(3);
    expect(ra.seed).toBe(42);
    const scores = ra.candidates.map((c: { score: number }) => c.score);
    expect([...scores].sort((x, y) => y - x)).toEqual(scores);
    for (const c of ra.candidates) {
      expect(c.speechIds).toHaveLength(24);
      expect(c.speechIds.every((id: number) => Number.isInteger(id) && id >= 0 && id < 1024)).toBe(true);
    }
    expect(JSON.parse(fs.readFileSync(out, 'utf8')).candidates).toEqual(ra.candidates);
    const other = JSON.parse((await run(...job.slice(0, -3), '--seed', '43', '--no-progress', '--json')).out);
    expect(other.candidates.map((c: { speechIds: number[] }) => c.speechIds)).not.toEqual(ra.candidates.map((c: { speechIds: number[] }) => c.speechIds));
  });

  test('the table names the model, the seed and the ranking', async () => {
    const r = await run(...job);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/bundled random weights: scores are meaningless/);
    expect(r.out).toMatch(/seed 42; 3 candidates/);
    expect(r.out.split('\n').filter((l) => /^\s+\d+\s+\d+\s+-?\d+\.\d{4}/.test(l))).toHaveLength(3);
  });

  test('clvp score reproduces the scores generate gave', async () => {
    const out = path.join(tmp, 'for-score.json');
    const g = JSON.parse((await run(...job, '--json', '--out', out)).out);
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
      [['generate', '--text', 'hi', '--voice', VOICE, '--max-new-tokens', '5000', '--backend', 'wasm'], /--max-new-tokens 5000: this model's position table allows at most 607/],
      [['generate', '--text', 'hi', '--voice', VOICE, '--preset', 'turbo'], /turbo/],
      [['score', '--text', 'hi', '--speech-ids', path.join(ROOT, 'package.json')], /--speech-ids .*package\.json: expected a list/],
    ];
    for (const [argv, msg] of cases) {
      const r = await run(...argv);
      expect(r.code).toBe(2);
      expect(r.err).toMatch(msg);
      expect(r.err.trim().split('\n').filter((l) => !l.startsWith('clvp-tfjs: using backend'))).toHaveLength(1);
    }
  });
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
