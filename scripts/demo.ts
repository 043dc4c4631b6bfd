// npm run demo: builds the demo page (demo/) with the browser build's pipeline (esbuild, the Node
// built-in guard, the wasm binaries beside the bundle) into dist/demo, and serves it on 127.0.0.1
// with the cross-origin isolation headers (threaded wasm, tensor-parallel workers). The bundled
// model and the example voice are served from where they lie in the repo, not copied.
// CLI: npx ts-node -T scripts/demo.ts [--port 8080] [--build-only]
//      npx ts-node -T scripts/demo.ts --screenshot docs/demo.png [--backend wasm]  (runs the default job
//      on the bundled model in headless Chromium and saves the page as a PNG)
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { buildBrowser } from './build-browser';
import { launchChromium } from './chromium';
import { ISOLATION_HEADERS, Mount, startStaticServer, StaticServer } from './serve';

const REPO = path.resolve(__dirname, '..');
export const DEMO_OUT = path.join(REPO, 'dist', 'demo');

/** What the page finds beside itself: the bundled model and the example voice. */
export const DEMO_MOUNTS: readonly Mount[] = [
  { prefix: '/models/clvp-random-small/', dir: path.join(REPO, 'weights', 'clvp-random-small') },
  { prefix: '/examples/', dir: path.join(REPO, 'examples') },
];

/** Bundle demo/main.ts and the worker, copy the page. */
export async function buildDemo(outdir: string = DEMO_OUT): Promise<{ ms: number }> {
  fs.rmSync(outdir, { recursive: true, force: true });
  const r = await buildBrowser({ entries: { demo: 'demo/main.ts', 'clvp-worker': 'src/browser_worker.ts' }, outdir: path.relative(REPO, outdir) });
  for (const f of ['index.html', 'demo.css']) fs.copyFileSync(path.join(REPO, 'demo', f), path.join(outdir, f));
  return { ms: r.ms };
}

export function startDemoServer(opts: { root?: string; port?: number } = {}): Promise<StaticServer> {
  return startStaticServer({
    root: opts.root ?? DEMO_OUT,
    port: opts.port ?? 0,
    host: '127.0.0.1',
    mounts: [...DEMO_MOUNTS],
    headers: { ...ISOLATION_HEADERS, 'Cache-Control': 'no-cache' },
  });
}

/** Run the page's default job (bundled model, example voice, 16 candidates) on `backend` and save a PNG of the page. */
async function screenshot(file: string, backend: string): Promise<void> {
  const server = await startDemoServer();
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'clvp-chromium-demo-'));
  const browser = await launchChromium({ profile });
  try {
    const page = await browser.newPage();
    await page.setViewport({ width: 1000, height: 800 });
    await page.goto(`${server.url}/`, { waitUntil: 'load' });
    await page.waitForFunction(() => document.getElementById('status')?.textContent === 'ready', { timeout: 30_000 });
    await page.select('#backend', backend);
    await page.click('#generate');
    await page.waitForFunction(() => (document.getElementById('job') as HTMLFormElement).dataset.runs === '1', { timeout: 1_200_000, polling: 500 });
    const error = await page.$eval('#error', (e) => ((e as HTMLElement).hidden ? null : e.textContent));
    if (error) throw new Error(`demo: the page shows an error: ${error}`);
    fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
    await page.screenshot({ path: file as `${string}.png`, fullPage: true });
    console.log(`demo: ${file}: ${(fs.statSync(file).size / 1024).toFixed(0)} KiB; ${await page.$eval('#summary', (e) => e.textContent)}`);
  } finally {
    await browser.close().catch(() => {});
    await server.close();
    fs.rmSync(profile, { recursive: true, force: true });
  }
}

async function main(argv: string[]): Promise<void> {
  let port = 8080;
  let buildOnly = false;
  let shot: string | undefined;
  let backend = 'wasm';
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--port') port = Number(argv[++i]);
    else if (argv[i] === '--build-only') buildOnly = true;
    else if (argv[i] === '--screenshot') shot = argv[++i];
    else if (argv[i] === '--backend') backend = argv[++i];
    else throw new Error(`demo: unknown argument ${argv[i]} (usage: npm run demo -- [--port 8080] [--build-only] [--screenshot FILE.png [--backend wasm]])`);
  }
  if (shot !== undefined && !shot.endsWith('.png')) throw new Error('demo: --screenshot needs a .png file name');
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error('demo: --port needs a number in [0, 65535]');
  const built = await buildDemo();
  console.log(`demo: built ${path.relative(REPO, DEMO_OUT)} in ${built.ms} ms`);
  if (buildOnly) return;
  if (shot !== undefined) return screenshot(shot, backend);
  const server = await startDemoServer({ port });
  console.log(`demo: open ${server.url}/ (cross-origin isolated; the bundled model has random weights); Ctrl-C stops`);
  process.once('SIGINT', () => void server.close().then(() => process.exit(0)));
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((e) => {
    console.error((e as Error).message);
    process.exit(1);
  });
}
