// The demo page (npm run demo) driven like a user would: fill the form, upload files through its
// inputs, click Generate or Cancel, and read what the page shows. Used by test/browser/run.ts,
// which also fails the run on any uncaught page error or unexpected console error.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { ElementHandle, Page } from 'puppeteer-core';
import type { PageTestResult } from './pages/harness';

const REPO = path.resolve(__dirname, '..', '..');

/** Named steps with timings; a failed step is recorded and the later ones still run. */
export class Steps {
  readonly results: PageTestResult[] = [];

  async step(name: string, fn: () => Promise<string | void>): Promise<boolean> {
    const t0 = Date.now();
    try {
      const info = await fn();
      this.results.push({ name, ok: true, ms: Date.now() - t0, ...(info ? { info } : {}) });
      return true;
    } catch (e) {
      this.results.push({ name, ok: false, ms: Date.now() - t0, detail: (e as Error).message });
      return false;
    }
  }
}

function check(cond: unknown, what: string): asserts cond {
  if (!cond) throw new Error(what);
}

interface Row {
  rank: number;
  candidate: number;
  score: number;
  length: number;
  finished: string;
  ids: string;
}

interface Shown {
  rows: Row[];
  bars: number;
  summary: string;
  status: string;
  error: string | null;
  resultsShown: boolean;
  voiceStatus: string;
}

async function shown(page: Page): Promise<Shown> {
  return page.evaluate(() => {
    const cells = (tr: Element) => Array.from(tr.querySelectorAll('td'), (td) => td.textContent ?? '');
    const rows = Array.from(document.querySelectorAll('#ranked tbody tr'), (tr) => {
      const c = cells(tr);
      return { rank: Number(c[0]), candidate: Number(c[1]), score: Number(c[2]), length: Number(c[3]), finished: c[4], ids: c[5] };
    });
    const err = document.getElementById('error')!;
    return {
      rows,
      bars: document.querySelectorAll('#chart rect.bar').length,
      summary: document.getElementById('summary')!.textContent ?? '',
      status: document.getElementById('status')!.textContent ?? '',
      error: err.hidden ? null : err.textContent,
      resultsShown: !document.getElementById('results')!.hidden,
      voiceStatus: document.getElementById('voice-status')!.textContent ?? '',
    };
  });
}

async function setValue(page: Page, selector: string, value: string): Promise<void> {
  await page.$eval(selector, (e, v) => {
    (e as HTMLInputElement).value = v;
    e.dispatchEvent(new Event('input', { bubbles: true }));
  }, value);
}

async function upload(page: Page, selector: string, file: string): Promise<void> {
  const input = (await page.$(selector)) as ElementHandle<HTMLInputElement> | null;
  check(input, `no ${selector} in the page`);
  await input.uploadFile(file);
  // Chromium fills a webkitdirectory input after uploadFile returns.
  await page.waitForFunction((s) => ((document.querySelector(s) as HTMLInputElement).files?.length ?? 0) > 0, { timeout: 10_000 }, selector);
}

/** Click Generate and wait until the page shows results, an error or a cancellation. */
async function generate(page: Page, timeoutMs = 180_000): Promise<Shown> {
  const runs = await page.$eval('#job', (f) => Number((f as HTMLFormElement).dataset.runs ?? '0'));
  await page.click('#generate');
  await page.waitForFunction((n) => Number((document.getElementById('job') as HTMLFormElement).dataset.runs ?? '0') > n, { timeout: timeoutMs, polling: 100 }, runs);
  return shown(page);
}

/** The table is a ranking of `n` candidates: ranks 1..n, every index once, scores best first, a bar each. */
function checkRanking(s: Shown, n: number): void {
  check(s.error === null, `the page shows an error: ${s.error}`);
  check(s.resultsShown, 'the results are not shown');
  check(s.rows.length === n, `${s.rows.length} rows, expected ${n}`);
  check(s.rows.every((r, i) => r.rank === i + 1), `ranks ${s.rows.map((r) => r.rank)}`);
  check([...s.rows.map((r) => r.candidate)].sort((a, b) => a - b).every((c, i) => c === i), `candidate indices ${s.rows.map((r) => r.candidate)}`);
  check(s.rows.every((r) => Number.isFinite(r.score)), 'every score is a number');
  check(s.rows.every((r, i) => i === 0 || s.rows[i - 1].score >= r.score), `scores not best first: ${s.rows.map((r) => r.score)}`);
  check(s.rows.every((r) => r.length >= 1 && /^(yes|no)$/.test(r.finished) && /^\d+( \d+)*( …)?$/.test(r.ids)), `rows: ${JSON.stringify(s.rows.slice(0, 3))}`);
  check(s.bars === n, `${s.bars} bars in the chart, expected ${n}`);
}

const table = (s: Shown) => s.rows.map((r) => `${r.candidate}:${r.score}:${r.length}:${r.ids}`).join('|');

export interface DemoRunOptions {
  /** where the screenshot goes */
  screenshotDir: string;
  /** the fake microphone is on (the runner plays a tone into it) */
  microphone: boolean;
}

/** The main job through the form: bundled model, uploaded voice, ranked table, cancel, microphone, picked folder. */
export async function driveDemo(page: Page, opts: DemoRunOptions): Promise<PageTestResult[]> {
  const s = new Steps();
  const n = 6;
  await page.setViewport({ width: 1100, height: 900 });
  await page.waitForFunction(() => document.getElementById('status')?.textContent === 'ready', { timeout: 30_000 });

  await s.step('the page says the bundled model is random and meaningless, and starts on it', async () => {
    const note = await page.$eval('#random-note', (e) => ((e as HTMLElement).hidden ? '' : e.textContent ?? ''));
    check(/random weights: its candidates and scores are meaningless/.test(note), `note: ${JSON.stringify(note)}`);
    check(await page.$eval('input[name=model][value=bundled]', (e) => (e as HTMLInputElement).checked), 'bundled model checked');
  });

  // The default backend: a small job.
  await s.step('generate on the default backend: text, uploaded examples/voice.wav -> a ranked table and a chart', async () => {
    await setValue(page, '#text', 'The quick brown fox jumps over the lazy dog.');
    await setValue(page, '#candidates', '4');
    await setValue(page, '#max-tokens', '24');
    await upload(page, '#voice-file', path.join(REPO, 'examples', 'voice.wav'));
    check(await page.$eval('input[name=voice][value=file]', (e) => (e as HTMLInputElement).checked), 'picking a file selects it as the voice');
    const r = await generate(page);
    checkRanking(r, 4);
    check(/^voice\.wav: 3\.7 s, wav, 22050 Hz resampled to 22050 Hz$/.test(r.voiceStatus), `voice status: ${r.voiceStatus}`);
    const m = /backend (webgpu|webgl|wasm) · model loaded in [\d.]+ s · voice [\d.]+ s · generation [\d.]+ s/.exec(r.summary);
    check(m, `summary: ${r.summary}`);
    // WebGPU and WebGL are on SwiftShader here, so the automatic choice passes over them.
    check(m[1] === 'wasm', `auto chose ${m[1]}, expected wasm (the GPU backends run on a software device here)`);
    fs.mkdirSync(opts.screenshotDir, { recursive: true });
    const shot = path.join(opts.screenshotDir, 'demo.png');
    await page.screenshot({ path: shot, fullPage: true });
    console.log(`  screenshot of the demo: ${shot}`);
    return r.summary;
  });

  let folderTable = '';
  await s.step(`a local folder picked with webkitdirectory, on wasm: ${n} candidates ranked`, async () => {
    await upload(page, '#model-folder', path.join(REPO, 'weights', 'clvp-random-small'));
    check(await page.$eval('input[name=model][value=folder]', (e) => (e as HTMLInputElement).checked), 'picking a folder selects it');
    check(await page.$eval('#random-note', (e) => (e as HTMLElement).hidden), 'the random-weights note is for the bundled model only');
    await page.select('#backend', 'wasm');
    await setValue(page, '#candidates', String(n));
    await setValue(page, '#max-tokens', '40');
    const r = await generate(page);
    checkRanking(r, n);
    check(/from clvp-random-small · backend wasm · model loaded/.test(r.summary), `summary: ${r.summary}`);
    folderTable = table(r);
    return r.summary;
  });

  await s.step('the bundled model by URL, same seed and backend: the same table as the picked folder (the same weights), again once loaded', async () => {
    await page.click('input[name=model][value=bundled]');
    const r = await generate(page);
    checkRanking(r, n);
    check(/from the bundled model \(random weights\) · backend wasm · model loaded in/.test(r.summary), `summary: ${r.summary}`);
    check(table(r) === folderTable, `the table differs from the picked folder's:\n${table(r)}\n${folderTable}`);
    const again = await generate(page);
    check(/model already loaded/.test(again.summary), `summary: ${again.summary}`);
    check(table(again) === folderTable, 'the table changed on a second run');
  });

  await s.step('Cancel stops a running generation and says so', async () => {
    await setValue(page, '#candidates', '16');
    await setValue(page, '#max-tokens', '600');
    await page.click('#generate');
    await page.waitForFunction(() => /token \d+ of 600/.test(document.getElementById('status')!.textContent ?? ''), { timeout: 60_000, polling: 50 });
    const t0 = Date.now();
    await page.click('#cancel');
    await page.waitForFunction(() => !(document.getElementById('generate') as HTMLButtonElement).disabled, { timeout: 30_000, polling: 50 });
    check(await page.$eval('#cancel', (b) => (b as HTMLButtonElement).disabled), 'Cancel is disabled again');
    const after = await shown(page);
    check(/^Cancelled after [\d.]+ s: no candidates\.$/.test(after.status), `status: ${after.status}`);
    check(after.error === null, `an error is shown: ${after.error}`);
    check(!after.resultsShown, 'results are shown');
    return `stopped ${Date.now() - t0} ms after the click`;
  });

  if (opts.microphone) {
    await s.step('the microphone: record, stop, generate from the recording', async () => {
      await page.click('#record');
      await new Promise((r) => setTimeout(r, 1500));
      await page.click('#stop-record');
      await page.waitForFunction(() => /^recorded /.test(document.getElementById('voice-status')!.textContent ?? ''), { timeout: 10_000 });
      const v = (await shown(page)).voiceStatus;
      check(/^recorded [\d.]+ s at \d+ Hz, resampled to 22050 Hz$/.test(v), `voice status: ${v}`);
      await setValue(page, '#candidates', '3');
      await setValue(page, '#max-tokens', '20');
      const r = await generate(page);
      checkRanking(r, 3);
      check(/^microphone: [\d.]+ s, microphone, \d+ Hz resampled to 22050 Hz$/.test(r.voiceStatus), `voice status: ${r.voiceStatus}`);
      return v;
    });
  }
  return s.results;
}

/** Bad input shows one clear message in the page (the runner separately fails on uncaught errors). */
export async function driveDemoErrors(page: Page, tmp: string): Promise<PageTestResult[]> {
  const s = new Steps();
  await page.waitForFunction(() => document.getElementById('status')?.textContent === 'ready', { timeout: 30_000 });
  await setValue(page, '#max-tokens', '10');
  await setValue(page, '#candidates', '2');
  await page.select('#backend', 'wasm');
  const expectError = async (re: RegExp) => {
    const r = await generate(page);
    check(r.error !== null, `no error shown (status: ${r.status})`);
    check(re.test(r.error), `the message ${JSON.stringify(r.error)} does not match ${re}`);
    check(!/\n\s+at /.test(r.error), 'the message has a stack trace');
    check(!r.resultsShown, 'results are shown');
    return r.error;
  };

  await s.step('a file that is not audio names the file', async () => {
    fs.mkdirSync(tmp, { recursive: true });
    const notes = path.join(tmp, 'notes.txt');
    fs.writeFileSync(notes, 'These are my notes, not a recording.\n');
    await upload(page, '#voice-file', notes);
    return expectError(/^notes\.txt: not an audio file the browser can decode \(no known audio header, first bytes 54 68 65 73 65 20 61 72, type text\/plain; EncodingError: /);
  });

  await s.step('an empty text', async () => {
    await page.click('input[name=voice][value=example]');
    await setValue(page, '#text', '   ');
    return expectError(/^Enter a text to speak\.$/);
  });

  await s.step('a text with nothing the tokenizer keeps', async () => {
    await setValue(page, '#text', '😀 😀');
    return expectError(/^The text has nothing to speak: no words are left once it is normalised/);
  });

  await s.step('a text too long for the model', async () => {
    await setValue(page, '#text', 'word '.repeat(300));
    return expectError(/the text has \d+ tokens; at most max_text_tokens - 3 = 401 fit/);
  });

  await s.step('an unreachable model URL names the URL', async () => {
    await setValue(page, '#text', 'Hello.');
    // Port 9 (discard) on this machine: nothing listens, the connection is refused.
    await setValue(page, '#model-url', 'http://127.0.0.1:9/clvp/');
    check(await page.$eval('input[name=model][value=url]', (e) => (e as HTMLInputElement).checked), 'typing a URL selects it');
    return expectError(/^http:\/\/127\.0\.0\.1:9\/clvp\/config\.json: network error while checking that it exists \(the server could not be reached/);
  });

  await s.step('a URL that is not a model folder', async () => {
    await setValue(page, '#model-url', 'examples/');
    return expectError(/^http:\/\/127\.0\.0\.1:\d+\/examples: no config\.json: this is not a model folder/);
  });

  await s.step('an empty model URL', async () => {
    await setValue(page, '#model-url', '');
    return expectError(/^Enter the URL of a model folder/);
  });
  return s.results;
}

export function screenshotDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'clvp-demo-'));
}
