// npm run demo's build and server: the page, its stylesheet, the bundle, the worker and the wasm
// binaries land in the output folder, and the server adds the bundled model and the example voice
// from where they lie in the repo, cross-origin isolated.
import * as fs from 'fs';
import * as http from 'http';
import * as os from 'os';
import * as path from 'path';
import { buildDemo, startDemoServer } from '../../scripts/demo';

const REPO = path.resolve(__dirname, '..', '..');

function get(url: string): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    http.get(url, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
    }).on('error', reject);
  });
}

describe('npm run demo', () => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'clvp-demo-test-'));
  afterAll(() => fs.rmSync(out, { recursive: true, force: true }));

  it('builds the page with the browser pipeline and serves it with the bundled model and voice', async () => {
    await buildDemo(out);
    for (const f of ['index.html', 'demo.css', 'demo.js', 'clvp-worker.js', 'tfjs-backend-wasm-threaded-simd.wasm']) expect([f, fs.existsSync(path.join(out, f))]).toEqual([f, true]);
    const html = fs.readFileSync(path.join(out, 'index.html'), 'utf8');
    expect(html).toContain('<script type="module" src="demo.js"></script>');
    expect(html).toMatch(/random weights: its candidates and scores are meaningless/);
    const server = await startDemoServer({ root: out });
    try {
      expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      const page = await get(`${server.url}/`);
      expect([page.status, page.headers['cross-origin-opener-policy'], page.headers['cross-origin-embedder-policy']]).toEqual([200, 'same-origin', 'require-corp']);
      const config = await get(`${server.url}/models/clvp-random-small/config.json`);
      expect(config.body.equals(fs.readFileSync(path.join(REPO, 'weights', 'clvp-random-small', 'config.json')))).toBe(true);
      const voice = await get(`${server.url}/examples/voice.wav`);
      expect([voice.status, voice.headers['content-type'], voice.body.length]).toEqual([200, 'audio/wav', fs.statSync(path.join(REPO, 'examples', 'voice.wav')).size]);
      expect((await get(`${server.url}/models/clvp-random-small/../../package.json`)).status).toBe(404);
    } finally {
      await server.close();
    }
  });
});
