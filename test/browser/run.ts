// npm run test:browser: builds the test pages and the demo with the browser build's own pipeline
// (so the Node built-in guard applies to them too), writes the fixtures, serves them on 127.0.0.1
// with the cross-origin isolation headers (the reference cases, the bundled model and the example
// voice are served where they lie, never copied), drives Debian's Chromium with puppeteer-core
// through each page, and prints every result, the parity errors per backend and a closing line
// 'browser: N passed, M failed'. Most pages test themselves (pages/*.ts); the demo is driven from
// here like a user would (demo_e2e.ts). Exits non-zero on any failure, on a console error a page
// did not expect, or on a request to another host.
// Chromium: /usr/bin/chromium (override with CLVP_CHROMIUM); the reference: CLVP_REFERENCE_DIR,
// else ../shared/reference, else the fixture subset. --only a,b runs the specs whose label
// contains one of these.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { Browser, ElementHandle, Page } from 'puppeteer-core';
import { buildBrowser } from '../../scripts/build-browser';
import { buildDemo, DEMO_MOUNTS, startDemoServer } from '../../scripts/demo';
import { ISOLATION_HEADERS, RequestLogEntry, startStaticServer, StaticServer } from '../../scripts/serve';
import { launchChromium } from '../../scripts/chromium';
import { driveDemo, driveDemoErrors } from './demo_e2e';
import { Fixtures, writeFixtures } from './fixtures';
import type { PageTestResult } from './pages/harness';

const REPO = path.resolve(__dirname, '..', '..');
const OUT = path.join(REPO, 'dist', 'browser-test');
const DEMO_OUT = path.join(REPO, 'dist', 'browser-test-demo');
const PAGES = path.join(__dirname, 'pages');
const PAGE_TIMEOUT_MS = 90_000;

/** The shared reference (CLVP_REFERENCE_DIR, else ../shared/reference beside the repo), else the fixture subset. */
function referenceDir(): { dir: string; shared: boolean } {
  const shared = process.env.CLVP_REFERENCE_DIR ?? path.resolve(REPO, '..', 'shared', 'reference');
  if (fs.existsSync(path.join(shared, 'cases', 'index.json'))) return { dir: shared, shared: true };
  return { dir: path.join(REPO, 'test', 'fixtures', 'reference'), shared: false };
}

interface Ctx {
  server: StaticServer;
  /** the server of npm run demo (the demo's own build and mounts) */
  demo: StaticServer;
  /** a folder for this run's screenshots and scratch files (kept: the screenshot is logged) */
  tmp: string;
  fixtures: Fixtures;
  /** per backend label: per case family, the largest errors (or 'not run') */
  parity: Map<string, ParitySummary['families']>;
}

type ParitySummary = NonNullable<Window['__clvpParity']>;

interface PageSpec {
  /** shown in the results */
  label: string;
  /** the page's URL path and query (the page is test/browser/pages/<name>.ts) */
  url: (ctx: Ctx) => string;
  /** run after the page has loaded and before its tests start (the page then waits: ?wait=1) */
  before?: (page: Page, ctx: Ctx) => Promise<void>;
  /** how to get there: a fresh page (default), or the previous spec's page navigated again (after `before`) */
  reload?: boolean;
  /** console errors and uncaught errors the page causes on purpose (failed loads of fault URLs) */
  allowConsole?: RegExp[];
  /** checks on the server's log of this spec's requests; each string is a failure */
  after?: (requests: RequestLogEntry[], ctx: Ctx) => string[];
  /** read what the page published once it is done (the parity figures) */
  collect?: (page: Page, ctx: Ctx) => Promise<void>;
  /** how long the page may take (default PAGE_TIMEOUT_MS) */
  timeoutMs?: number;
  /** a page driven from here (clicks, uploads) rather than one running its own tests: its results */
  drive?: (page: Page, ctx: Ctx) => Promise<PageTestResult[]>;
  /** which server the page is on (default 'test') */
  server?: 'test' | 'demo';
}

const FAILED_LOAD = /^Failed to load resource/;

function bytesServed(requests: RequestLogEntry[], p: string): number {
  return requests.filter((r) => r.path === p && r.method === 'GET').reduce((n, r) => n + r.bytes, 0);
}

/** Parity in the page on one backend (and tensor-parallel workers when tp > 1). */
function paritySpec(backend: 'wasm' | 'webgl' | 'webgpu', tp = 1): PageSpec {
  const label = `parity (${backend}${tp > 1 ? `, tp ${tp}` : ''})`;
  return {
    label,
    url: () => `/parity.html?backend=${backend}&tp=${tp}&ref=/reference/`,
    timeoutMs: 240_000,
    // The loaders ask for optional files with HEAD (a 404 answers "absent"); Chromium logs those.
    allowConsole: [FAILED_LOAD],
    after: (reqs) => {
      const missing = reqs.filter((r) => r.status === 404);
      return missing.filter((r) => r.method !== 'HEAD').map((r) => `${r.method} ${r.path}: 404 (only HEAD probes for optional files may miss)`);
    },
    collect: async (page, c) => {
      const r = await page.evaluate(() => window.__clvpParity);
      if (r) c.parity.set(label.slice('parity ('.length, -1), r.families);
    },
  };
}

const SPECS: PageSpec[] = [
  { label: 'basic', url: () => '/basic.html' },
  { label: 'url_folder', url: () => '/url_folder.html', allowConsole: [FAILED_LOAD] },
  {
    label: 'offline (first visit)',
    url: (c) => `/offline.html?sha=${c.fixtures.offlineSha}#phase=1`,
    allowConsole: [FAILED_LOAD],
    after: (reqs) => {
      const size = 3 * 1048576 + 5;
      const served = bytesServed(reqs, '/fixtures/offline/weights.bin');
      return served === size ? [] : [`the weights were served ${served} bytes for a ${size}-byte file (expected each byte once)`];
    },
  },
  {
    label: 'offline (second visit, network off)',
    url: (c) => `/offline.html?sha=${c.fixtures.offlineSha}#phase=2`,
    reload: true,
    before: async (page) => {
      await page.setOfflineMode(true);
    },
    allowConsole: [FAILED_LOAD],
    after: (reqs) => (reqs.length === 0 ? [] : [`the server saw ${reqs.length} requests while offline: ${reqs.map((r) => r.path).join(', ')}`]),
  },
  {
    label: 'files_folder',
    url: () => '/files_folder.html?wait=1',
    before: async (page, c) => {
      const input = await page.waitForSelector('input#pick[type=file]');
      // A directory path: Chromium enumerates it for a webkitdirectory input, as a real pick does.
      await (input as ElementHandle<HTMLInputElement>).uploadFile(c.fixtures.uploadDir);
      // Chromium lists the directory after uploadFile returns; the page may look only then.
      await page.waitForFunction(() => ((document.getElementById('pick') as HTMLInputElement).files?.length ?? 0) > 0, { timeout: 10_000 });
    },
  },
  { label: 'audio', url: () => '/audio.html' },
  { label: 'microphone', url: () => '/microphone.html' },
  // The worker page makes its workers throw and reject on purpose; Chromium also logs those.
  { label: 'worker', url: () => '/worker.html', allowConsole: [FAILED_LOAD, /boom from the worker|rejected in the worker/] },
  {
    label: 'backends',
    url: () => '/backends.html',
    after: (reqs) => {
      const wasm = reqs.filter((r) => r.path.endsWith('.wasm') && r.status === 200).map((r) => r.path);
      return wasm.includes('/tfjs-backend-wasm-threaded-simd.wasm') ? [] : [`the threaded wasm binary was not fetched from our server (fetched: ${wasm.join(', ') || 'none'})`];
    },
  },
  { label: 'voice', url: () => '/voice.html' },
  {
    label: 'loading',
    url: () => '/loading.html?wait=1',
    timeoutMs: 180_000,
    before: async (page) => {
      const input = (await page.waitForSelector('input#pick[type=file]')) as ElementHandle<HTMLInputElement>;
      await input.uploadFile(path.join(REPO, 'weights', 'clvp-random-small'));
      await page.waitForFunction(() => ((document.getElementById('pick') as HTMLInputElement).files?.length ?? 0) > 0, { timeout: 10_000 });
    },
  },
  paritySpec('wasm'),
  paritySpec('webgl'),
  paritySpec('webgpu'),
  paritySpec('wasm', 2),
  {
    label: 'demo',
    server: 'demo',
    url: () => '/',
    drive: (page, c) => driveDemo(page, { screenshotDir: c.tmp, microphone: true }),
  },
  {
    label: 'demo (bad input)',
    server: 'demo',
    url: () => '/',
    // The unreachable and missing model URLs are fetched on purpose; Chromium logs the failures.
    allowConsole: [FAILED_LOAD],
    drive: (page, c) => driveDemoErrors(page, c.tmp),
  },
];

function pageEntries(): Record<string, string> {
  const entries: Record<string, string> = { 'clvp-worker': 'src/browser_worker.ts' };
  for (const f of fs.readdirSync(PAGES)) {
    if (f.endsWith('.ts') && f !== 'harness.ts') entries[f.slice(0, -3)] = path.relative(REPO, path.join(PAGES, f));
  }
  return entries;
}

function writeHtml(name: string): void {
  fs.writeFileSync(
    path.join(OUT, `${name}.html`),
    `<!doctype html>\n<html><head><meta charset="utf-8"><title>${name}</title><link rel="icon" href="data:,"></head>\n<body><script type="module" src="./${name}.js"></script></body></html>\n`,
  );
}

interface Outcome {
  label: string;
  results: PageTestResult[];
}

async function runSpec(browser: Browser, previous: Page | undefined, spec: PageSpec, ctx: Ctx): Promise<{ outcome: Outcome; page: Page }> {
  const page = spec.reload && previous ? previous : await browser.newPage();
  const consoleErrors: string[] = [];
  const outside: string[] = [];
  const onConsole = (m: { type(): string; text(): string }) => {
    if (m.type() === 'error' && !(spec.allowConsole ?? []).some((re) => re.test(m.text()))) consoleErrors.push(m.text());
  };
  const onError = (e: unknown) => {
    const text = `uncaught: ${(e as Error).message ?? String(e)}`;
    if (!(spec.allowConsole ?? []).some((re) => re.test(text))) consoleErrors.push(text);
  };
  const onRequest = (r: { url(): string }) => {
    const u = new URL(r.url());
    if (!['data:', 'blob:'].includes(u.protocol) && u.hostname !== '127.0.0.1') outside.push(r.url());
  };
  page.on('console', onConsole);
  page.on('pageerror', onError);
  page.on('request', onRequest);
  const results: PageTestResult[] = [];
  const server = spec.server === 'demo' ? ctx.demo : ctx.server;
  const logStart = server.log.length;
  try {
    const url = `${server.url}${spec.url(ctx)}`;
    if (spec.reload && previous) {
      await spec.before?.(page, ctx);
      // A reload revalidates the page itself with the server, which fails offline; a new visit
      // (what a returning user makes) takes the page from the HTTP cache. about:blank first, so
      // the new URL, which differs only in its fragment, is a real navigation.
      await page.goto('about:blank');
      await page.goto(url, { waitUntil: 'load' });
    } else {
      await page.goto(url, { waitUntil: 'load' });
      await spec.before?.(page, ctx);
    }
    if (spec.drive) results.push(...(await spec.drive(page, ctx)));
    else {
      await page.evaluate(() => window.__clvpGo?.());
      await page.waitForFunction(() => window.__clvp?.done === true, { timeout: spec.timeoutMs ?? PAGE_TIMEOUT_MS, polling: 100 });
      results.push(...(await page.evaluate(() => window.__clvp!.results)));
    }
    await spec.collect?.(page, ctx);
  } catch (e) {
    results.push({ name: 'page ran to the end', ok: false, ms: 0, detail: (e as Error).message });
  } finally {
    page.off('console', onConsole);
    page.off('pageerror', onError);
    page.off('request', onRequest);
  }
  if (results.length === 0) results.push({ name: 'page has tests', ok: false, ms: 0, detail: 'the page reported no tests' });
  // Requests still in flight when the page finished are logged as they end; let them land.
  await new Promise((r) => setTimeout(r, 100));
  const requests = server.log.slice(logStart);
  for (const f of spec.after?.(requests, ctx) ?? []) results.push({ name: 'server-side check', ok: false, ms: 0, detail: f });
  if (spec.after && !results.some((r) => r.name === 'server-side check')) results.push({ name: 'server-side check', ok: true, ms: 0 });
  for (const c of consoleErrors) results.push({ name: 'no unexpected console errors', ok: false, ms: 0, detail: c });
  for (const u of outside) results.push({ name: 'no requests to other hosts', ok: false, ms: 0, detail: u });
  return { outcome: { label: spec.label, results }, page };
}

/** Max abs error per case family (rows) and backend (columns), as the pages measured them. */
function parityTable(parity: Ctx['parity']): string {
  const backends = [...parity.keys()];
  const fams = [...new Set(backends.flatMap((b) => Object.keys(parity.get(b)!)))];
  const cell = (s: ParitySummary['families'][string] | undefined) =>
    s === undefined ? '' : s === 'not run' ? 'not run' : `${s.maxAbsError === null ? '-' : s.maxAbsError.toExponential(1)}${s.failed ? ` (${s.failed} FAIL)` : ''} [${s.cases}]`;
  const rows = [['max abs error [cases]', ...backends], ...fams.map((f) => [f, ...backends.map((b) => cell(parity.get(b)![f]))])];
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return ['browser: parity in the page', ...rows.map((r) => '  ' + r.map((x, i) => x.padEnd(widths[i])).join('  '))].join('\n');
}

async function main(): Promise<number> {
  const t0 = Date.now();
  fs.rmSync(OUT, { recursive: true, force: true });
  const entries = pageEntries();
  const built = await buildBrowser({ entries, outdir: OUT });
  await buildDemo(DEMO_OUT);
  for (const name of Object.keys(entries)) if (name !== 'clvp-worker' && name !== 'echo_worker') writeHtml(name);
  const fixtures = writeFixtures(OUT);
  const reference = referenceDir();
  const tReady = Date.now();
  console.log(`browser: built ${Object.keys(entries).length} bundles in ${built.ms} ms, fixtures ready after ${tReady - t0} ms`);
  console.log(`browser: reference cases from ${reference.dir}${reference.shared ? '' : ' (the fixture subset: ../shared/reference is absent, so the tokenizer and voice-recording cases do not run)'}`);
  // --only a,b: the specs whose label contains one of these (while working on a page)
  const onlyAt = process.argv.indexOf('--only');
  const only = onlyAt >= 0 ? process.argv[onlyAt + 1].split(',') : undefined;
  const specs = only ? SPECS.filter((s) => only.some((o) => s.label.includes(o))) : SPECS;

  const server = await startStaticServer({
    root: OUT,
    // The reference is served where it lies, never copied (its vocabulary and recordings are not ours).
    mounts: [{ prefix: '/reference/', dir: reference.dir }, ...DEMO_MOUNTS],
    // Pages and bundles may come from the HTTP cache (the offline reload needs its page shell);
    // everything the tests read is no-store, so only our own cache can serve it offline.
    headers: (p) => ({ ...ISOLATION_HEADERS, 'Cache-Control': /\.(html|js)$/.test(p) ? 'max-age=600' : 'no-store' }),
    faults: [
      { prefix: '/fault/404/', fault: 'not-found' },
      { prefix: '/fault/drop/', fault: 'drop' },
      { prefix: '/fault/norange/', fault: 'ignore-range' },
      { prefix: '/fault/wrong/', fault: 'wrong-range' },
      { prefix: '/fault/trunc/', fault: 'truncate' },
    ],
  });
  const demo = await startDemoServer({ root: DEMO_OUT });
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'clvp-browser-test-'));
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'clvp-chromium-'));
  let browser: Browser | undefined;
  const outcomes: Outcome[] = [];
  try {
    browser = await launchChromium({ profile, micWav: fixtures.micWav });
    let previous: Page | undefined;
    const ctx: Ctx = { server, demo, tmp, fixtures, parity: new Map() };
    for (const spec of specs) {
      const { outcome, page } = await runSpec(browser, previous, spec, ctx);
      outcomes.push(outcome);
      if (previous && previous !== page) await previous.close();
      previous = page;
      for (const r of outcome.results) {
        const status = !r.ok ? 'FAIL' : r.skipped ? 'skip' : 'ok  ';
        console.log(`  ${status} ${outcome.label} › ${r.name}${r.ms ? ` (${r.ms} ms)` : ''}${r.info ? `: ${r.info}` : ''}`);
        if (!r.ok && r.detail) console.log(r.detail.split('\n').map((l) => `         ${l}`).join('\n'));
      }
    }
    if (ctx.parity.size) console.log(parityTable(ctx.parity));
  } finally {
    await browser?.close().catch(() => {});
    await server.close();
    await demo.close();
    fs.rmSync(profile, { recursive: true, force: true });
  }
  const all = outcomes.flatMap((o) => o.results);
  const failed = all.filter((r) => !r.ok).length;
  const skipped = all.filter((r) => r.ok && r.skipped).length;
  console.log(`browser: ran in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  console.log(`browser: ${all.length - failed - skipped} passed, ${failed} failed${skipped ? `, ${skipped} not run (see 'skip' above)` : ''}`);
  return failed === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (e) => {
    console.error(`browser: ${(e as Error).message}`);
    console.log('browser: 0 passed, 1 failed');
    process.exit(1);
  },
);
