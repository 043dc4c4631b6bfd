// Throughput of the CLVP text front-end (port of transformers models/clvp/tokenization_clvp.py).
// Usage: npx ts-node bench/tokenizer.ts [--json] [--mb N] [--reps N]
// Each stage runs --reps times (default 5); the table gives the median and the best run, since
// single timings on a shared 2-core machine vary with whatever else is running.
import '../src/platform/node_install';
import { parseMerges, parseVocab } from '../src/tokenizer/files';
import * as fs from 'fs';
import * as path from 'path';
import { ClvpTokenizer } from '../src/tokenizer';

const args = process.argv.slice(2);
const asJson = args.includes('--json');
const mbArg = args.indexOf('--mb');
const targetBytes = Math.round((mbArg >= 0 ? Number(args[mbArg + 1]) : 1) * 1024 * 1024);
const repsArg = args.indexOf('--reps');
const reps = Math.max(1, repsArg >= 0 ? Number(args[repsArg + 1]) : 5);

/** Deterministic PRNG (mulberry32) so every run tokenises the same text. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WORDS = (
  'the of and to in a is that for it as was with be by on not he i this are or his from at which but have an they you were her she ' +
  'there would their we him been has when who will more no if out so said what up its about into than them can only other new some ' +
  'could time these two may then do first any my now such like our over man me even most made after also did many before must through ' +
  'back years where much your way well down should because each just those people how too little state good very make world still ' +
  'own see men work long get here between both life being under never day same another know while last might us great old year off ' +
  'come since against go came right used take three house morning evening river mountain village autumn winter whisper lantern'
).split(' ');
const NAMES = ['Smith', 'Jones', 'Brown', 'Taylor', 'Who', 'Patrick', 'Grant', 'Hook'];
const TITLES = ['Mr.', 'Mrs.', 'Dr.', 'St.', 'Capt.', 'Lt.', 'Col.', 'Gen.', 'Rev.', 'Jr.'];

/** About `bytes` of English-like prose with numbers, amounts, ordinals, years and abbreviations. */
function makeProse(bytes: number): string {
  const r = rng(1234);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(r() * xs.length)];
  const parts: string[] = [];
  let size = 0;
  while (size < bytes) {
    const n = 6 + Math.floor(r() * 14);
    const words: string[] = [];
    for (let i = 0; i < n; i++) {
      const x = r();
      if (x < 0.03) words.push(String(Math.floor(r() * 100)));
      else if (x < 0.04) words.push(String(1500 + Math.floor(r() * 600)));
      else if (x < 0.045) words.push(`$${Math.floor(r() * 5000).toLocaleString('en-US')}.${String(Math.floor(r() * 100)).padStart(2, '0')}`);
      else if (x < 0.05) words.push(`${1 + Math.floor(r() * 30)}${pick(['st', 'nd', 'rd', 'th'])}`);
      else if (x < 0.06) words.push(`${pick(TITLES)} ${pick(NAMES)}`);
      else if (x < 0.065) words.push(`"${pick(WORDS)}"`);
      else words.push(pick(WORDS));
    }
    let s = words.join(' ');
    s = s[0].toUpperCase() + s.slice(1) + pick(['.', '.', '.', '?', '!', ';']) + (r() < 0.1 ? '\n' : ' ');
    parts.push(s);
    size += s.length;
  }
  return parts.join('').slice(0, bytes);
}

function locateTokenizer(): { dir: string; label: string } {
  const ref = process.env.CLVP_REFERENCE_DIR ?? path.resolve(__dirname, '..', '..', 'shared', 'reference');
  const refTok = path.join(ref, 'tokenizer');
  if (fs.existsSync(path.join(refTok, 'vocab.json'))) return { dir: refTok, label: 'reference (Tortoise) vocabulary' };
  return { dir: path.resolve(__dirname, '..', 'test', 'fixtures', 'tokenizer', 'small'), label: 'small test vocabulary' };
}

interface Row {
  stage: string;
  medianSeconds: number;
  mbPerSecond: number;
  bestMbPerSecond: number;
  note: string;
}

function seconds(fn: () => void): number {
  const t0 = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

async function main(): Promise<void> {
  const { dir, label } = locateTokenizer();
  const text = makeProse(targetBytes);
  const mb = Buffer.byteLength(text, 'utf8') / (1024 * 1024);
  const lines = text.split(/(?<=[.?!;])\s+/).filter(Boolean);
  const rows: Row[] = [];
  /** Run `fn` reps times; `setup` (untimed) gives each run its own state, e.g. a fresh tokenizer. */
  const measure = <S>(stage: string, setup: () => S, fn: (s: S) => unknown, note: string) => {
    const times: number[] = [];
    for (let i = 0; i < reps; i++) {
      const state = setup();
      times.push(seconds(() => fn(state)));
    }
    times.sort((a, b) => a - b);
    const median = times[Math.floor(times.length / 2)];
    rows.push({ stage, medianSeconds: median, mbPerSecond: mb / median, bestMbPerSecond: mb / times[0], note });
  };

  const t0 = performance.now();
  const tok = await ClvpTokenizer.fromPretrained(dir);
  const loadSeconds = (performance.now() - t0) / 1000;
  // A cold word cache: a new instance from the same vocabulary and merges.
  const vocab = parseVocab('vocab.json', JSON.parse(fs.readFileSync(path.join(dir, 'vocab.json'), 'utf8')));
  const merges = parseMerges('merges.txt', fs.readFileSync(path.join(dir, 'merges.txt'), 'utf8'));
  const fresh = () => new ClvpTokenizer({ vocab, merges });
  const ids = tok.encode(text);
  measure('normalize', () => tok, (t) => t.normalize(text), `${tok.normalize(text).length} chars out`);
  measure('encode, cold word cache', fresh, (t) => t.encode(text), `${ids.length} ids`);
  measure('encode, warm word cache', () => tok, (t) => t.encode(text), 'same text again');
  measure('tokenize (strings), warm', () => tok, (t) => t.tokenize(text), `${ids.length} tokens`);
  measure('call(sentence batch), cold', fresh, (t) => t.call(lines), `${lines.length} texts`);
  measure('call(sentence batch, padding), warm', () => tok, (t) => t.call(lines, { padding: true }), 'padded to the longest');
  measure('decode', () => tok, (t) => t.decode(ids), 'ids of the whole text');

  const result = { tokenizer: label, dir, inputMB: mb, reps, loadSeconds, node: process.version, rows };
  if (asJson) {
    process.stdout.write(JSON.stringify(result, null, 2) + '\n');
    return;
  }
  console.log(`CLVP tokenizer benchmark: ${mb.toFixed(2)} MB of generated prose, ${label} (${dir}), load ${(loadSeconds * 1000).toFixed(1)} ms, ${reps} runs per stage, Node ${process.version}`);
  const head = ['stage', 'median s', 'MB/s (median)', 'MB/s (best)', 'note'];
  const body = rows.map((r) => [r.stage, r.medianSeconds.toFixed(3), r.mbPerSecond.toFixed(2), r.bestMbPerSecond.toFixed(2), r.note]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const numeric = (i: number) => i >= 1 && i <= 3;
  const line = (cells: string[]) => cells.map((c, i) => (numeric(i) ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ');
  console.log(line(head));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const b of body) console.log(line(b));
}

void main();
