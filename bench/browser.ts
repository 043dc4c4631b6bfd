// npm run bench:browser: decode ms/step in headless Chromium on wasm, WebGL and WebGPU, at the
// bundled model's width and at the real CLVP decoder's width, batch 1 and 16 (bench/browser_page.ts
// does the measuring). Prints a table, or one JSON object with --json.
//   npm run bench:browser -- [--backends wasm,webgl,webgpu] [--layers 2] [--steps 6] [--cache 100] [--json]
// Here WebGPU and WebGL run on SwiftShader, a CPU implementation: their figures say nothing about
// the speed of a real GPU.
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { buildBrowser } from '../scripts/build-browser';
import { DEMO_MOUNTS } from '../scripts/demo';
import { startStaticServer } from '../scripts/serve';
import { launchChromium } from '../scripts/chromium';
import type { BenchReport } from './browser_page';
import { arg } from './args';

const REPO = path.resolve(__dirname, '..');
const OUT = path.join(REPO, 'dist', 'browser-bench');

function cpuModel(): string {
  try {
    const m = /^Model name:\s*(.+)$/m.exec(execFileSync('lscpu', { encoding: 'utf8' }));
    if (m) return m[1].trim();
  } catch {
    // no lscpu: fall back to Node's view
  }
  return os.cpus()[0]?.model ?? 'unknown CPU';
}

async function main(): Promise<void> {
  const json = process.argv.includes('--json');
  const log = (s: string) => !json && process.stderr.write(s + '\n');
  const query = new URLSearchParams({ backends: arg('backends', 'wasm,webgl,webgpu'), layers: arg('layers', '2'), steps: arg('steps', '6'), cache: arg('cache', '100') });
  fs.rmSync(OUT, { recursive: true, force: true });
  await buildBrowser({ entries: { bench: 'bench/browser_page.ts', 'clvp-worker': 'src/browser_worker.ts' }, outdir: path.relative(REPO, OUT) });
  fs.writeFileSync(path.join(OUT, 'index.html'), '<!doctype html>\n<html><head><meta charset="utf-8"><title>clvp-tfjs browser bench</title><link rel="icon" href="data:,"></head>\n<body><script type="module" src="./bench.js"></script></body></html>\n');
  const server = await startStaticServer({ root: OUT, mounts: [...DEMO_MOUNTS] });
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'clvp-chromium-bench-'));
  const browser = await launchChromium({ profile });
  let report: BenchReport;
  let version: string;
  try {
    version = await browser.version();
    const page = await browser.newPage();
    page.on('pageerror', (e) => log(`page error: ${(e as Error).message}`));
    page.on('error', (e) => log(`page crashed: ${e.message}`));
    log(`bench: ${query.toString()} on ${version}; this takes a few minutes (software WebGPU is slow) ...`);
    await page.goto(`${server.url}/?${query}`, { waitUntil: 'load' });
    await page.waitForFunction(() => window.__clvpBench?.done === true, { timeout: 1_800_000, polling: 500 });
    report = (await page.evaluate(() => window.__clvpBench))!;
  } finally {
    await browser.close().catch(() => {});
    await server.close();
    fs.rmSync(profile, { recursive: true, force: true });
  }
  const machine = { cpu: cpuModel(), cores: os.cpus().length, browser: version, webgpuAdapter: report.webgpuAdapter, webglRenderer: report.webglRenderer, hardwareConcurrency: report.hardwareConcurrency };
  if (json) {
    console.log(JSON.stringify({ machine, rows: report.rows, errors: report.errors }));
    return;
  }
  const f = (x: number) => (x >= 100 ? x.toFixed(0) : x.toFixed(1));
  const head = ['backend', 'decoder', 'prefill ms', 'batch 1 ms/step warm (cold)', 'batch 16 ms/step warm (cold)'];
  const rows = report.rows.map((r) => [
    r.backend,
    `${r.model}: hidden ${r.hidden}, ${r.layers} layers, vocab ${r.vocab}`,
    `${f(r.prefillMs)} (${r.cache} pos)`,
    `${f(r.batch1WarmMs)} (${f(r.batch1ColdMs)})`,
    `${f(r.batch16WarmMs)} (${f(r.batch16ColdMs)})`,
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) => '| ' + r.map((x, i) => x.padEnd(widths[i])).join(' | ') + ' |';
  console.log(`machine: ${machine.cpu}, ${machine.cores} vCPUs; ${machine.browser}; WebGPU adapter: ${machine.webgpuAdapter ?? 'none'}; WebGL: ${machine.webglRenderer ?? 'none'}`);
  console.log([line(head), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n'));
  for (const e of report.errors) console.log(`error: ${e}`);
  console.log('WebGPU and WebGL here run on a software adapter (SwiftShader, on the CPU): these figures say nothing about GPU speed.');
}

main().catch((e) => {
  console.error(`bench:browser: ${(e as Error).message}`);
  process.exit(1);
});
