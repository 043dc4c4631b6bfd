// Static server tests: MIME types, isolation headers, byte ranges (206/416/HEAD), no way out of the
// served folder (raw and percent-encoded '..', symlinks), and each fault hook.
import * as fs from 'fs';
import * as http from 'http';
import * as os from 'os';
import * as path from 'path';
import { parseRange, startStaticServer, StaticServer } from '../../scripts/serve';

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** A raw request, so the path reaches the server exactly as written (no URL normalisation). */
function request(server: StaticServer, rawPath: string, opts: { method?: string; headers?: Record<string, string> } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: server.port, path: rawPath, method: opts.method ?? 'GET', headers: opts.headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

describe('startStaticServer', () => {
  let dir: string;
  let root: string;
  let server: StaticServer;
  const data = Buffer.from(Array.from({ length: 1000 }, (_, i) => (i * 7 + 3) & 0xff));

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'clvp-serve-'));
    root = path.join(dir, 'root');
    fs.mkdirSync(path.join(root, 'sub'), { recursive: true });
    fs.writeFileSync(path.join(root, 'data.bin'), data);
    fs.writeFileSync(path.join(root, 'index.html'), '<p>home</p>');
    fs.writeFileSync(path.join(root, 'sub', 'm.wasm'), Buffer.from([0, 0x61, 0x73, 0x6d]));
    fs.writeFileSync(path.join(root, 'sub', 'a.mjs'), 'export {};');
    fs.writeFileSync(path.join(root, 'sub', 'b.js'), '');
    fs.writeFileSync(path.join(root, 'sub', 'x.unknownext'), 'x');
    fs.writeFileSync(path.join(dir, 'secret.txt'), 'do not serve');
    fs.symlinkSync(path.join(dir, 'secret.txt'), path.join(root, 'link.txt'));
    server = await startStaticServer({
      root,
      faults: [
        { prefix: '/f/404/', fault: 'not-found' },
        { prefix: '/f/drop/', fault: 'drop' },
        { prefix: '/f/norange/', fault: 'ignore-range' },
        { prefix: '/f/wrong/', fault: 'wrong-range' },
        { prefix: '/f/trunc/', fault: 'truncate' },
      ],
    });
  });

  afterAll(async () => {
    await server.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('listens on 127.0.0.1', () => {
    expect(server.url).toBe(`http://127.0.0.1:${server.port}`);
  });

  it('serves files with MIME types and the isolation headers', async () => {
    const cases: Array<[string, string]> = [
      ['/sub/m.wasm', 'application/wasm'],
      ['/sub/a.mjs', 'text/javascript; charset=utf-8'],
      ['/sub/b.js', 'text/javascript; charset=utf-8'],
      ['/index.html', 'text/html; charset=utf-8'],
      ['/data.bin', 'application/octet-stream'],
      ['/sub/x.unknownext', 'application/octet-stream'],
    ];
    for (const [p, type] of cases) {
      const r = await request(server, p);
      expect([p, r.status, r.headers['content-type']]).toEqual([p, 200, type]);
      expect(r.headers['cross-origin-opener-policy']).toBe('same-origin');
      expect(r.headers['cross-origin-embedder-policy']).toBe('require-corp');
      expect(r.headers['cross-origin-resource-policy']).toBe('same-origin');
    }
    const home = await request(server, '/');
    expect(home.body.toString()).toBe('<p>home</p>');
    expect((await request(server, '/data.bin')).body.equals(data)).toBe(true);
  });

  it('answers HEAD with Content-Length and Accept-Ranges and no body', async () => {
    const r = await request(server, '/data.bin', { method: 'HEAD' });
    expect(r.status).toBe(200);
    expect(r.headers['content-length']).toBe('1000');
    expect(r.headers['accept-ranges']).toBe('bytes');
    expect(r.body.length).toBe(0);
  });

  it('serves byte ranges with 206 and Content-Range', async () => {
    const cases: Array<[string, number, number]> = [
      ['bytes=0-0', 0, 0],
      ['bytes=10-19', 10, 19],
      ['bytes=990-', 990, 999],
      ['bytes=-5', 995, 999],
      ['bytes=500-5000', 500, 999],
      ['bytes=-5000', 0, 999],
    ];
    for (const [range, start, end] of cases) {
      const r = await request(server, '/data.bin', { headers: { Range: range } });
      expect([range, r.status, r.headers['content-range'], r.headers['content-length']]).toEqual([range, 206, `bytes ${start}-${end}/1000`, String(end - start + 1)]);
      expect(r.body.equals(data.subarray(start, end + 1))).toBe(true);
    }
    const head = await request(server, '/data.bin', { method: 'HEAD', headers: { Range: 'bytes=100-199' } });
    expect([head.status, head.headers['content-length'], head.body.length]).toEqual([206, '100', 0]);
  });

  it('answers 416 for unsatisfiable or malformed byte ranges and ignores other units', async () => {
    for (const range of ['bytes=1000-', 'bytes=1000-2000', 'bytes=20-10', 'bytes=-0', 'bytes=x-y', 'bytes=-']) {
      const r = await request(server, '/data.bin', { headers: { Range: range } });
      expect([range, r.status, r.headers['content-range']]).toEqual([range, 416, 'bytes */1000']);
    }
    for (const range of ['items=0-1', 'bytes=0-1,5-6']) {
      const r = await request(server, '/data.bin', { headers: { Range: range } });
      expect([range, r.status, r.body.length]).toEqual([range, 200, 1000]);
    }
  });

  it('never serves a file outside the root', async () => {
    for (const p of ['/../secret.txt', '/%2e%2e/secret.txt', '/sub/..%2f..%2fsecret.txt', '/sub/%2e%2e/%2e%2e/secret.txt', '/link.txt', '/%00data.bin']) {
      const r = await request(server, p);
      expect([p, r.body.toString().includes('do not serve')]).toEqual([p, false]);
      expect([p, r.status >= 400]).toEqual([p, true]);
    }
    // '..' that stays inside the root is fine
    expect((await request(server, '/sub/../data.bin')).status).toBe(200);
    expect((await request(server, '/%E0%A4%A')).status).toBe(400);
  });

  it('answers 404 for missing files and 405 for other methods', async () => {
    expect((await request(server, '/nope.bin')).status).toBe(404);
    expect((await request(server, '/sub/')).status).toBe(404);
    const r = await request(server, '/data.bin', { method: 'POST' });
    expect([r.status, r.headers.allow]).toEqual([405, 'GET, HEAD']);
  });

  it('applies fault hooks', async () => {
    expect((await request(server, '/f/404/data.bin')).status).toBe(404);
    await expect(request(server, '/f/drop/data.bin')).rejects.toThrow(/socket hang up|ECONNRESET/);
    const ignored = await request(server, '/f/norange/data.bin', { headers: { Range: 'bytes=10-19' } });
    expect([ignored.status, ignored.headers['accept-ranges'], ignored.body.length]).toEqual([200, undefined, 1000]);
    const wrong = await request(server, '/f/wrong/data.bin', { headers: { Range: 'bytes=10-19' } });
    expect([wrong.status, wrong.headers['content-range']]).toEqual([206, 'bytes 11-20/1000']);
    expect(wrong.body.equals(data.subarray(11, 21))).toBe(true);
    // Either the client sees the reset (-1) or a short body; never the 100 bytes announced.
    const got = await request(server, '/f/trunc/data.bin', { headers: { Range: 'bytes=0-99' } }).then((r) => r.body.length, () => -1);
    expect(got).toBeLessThan(100);
    await new Promise((r) => setTimeout(r, 50));
    const last = server.log.filter((e) => e.path === '/f/trunc/data.bin').pop()!;
    expect([last.status, last.bytes]).toEqual([206, 50]);
  });

  it('logs requests with status and body bytes', async () => {
    const before = server.log.length;
    await request(server, '/data.bin', { headers: { Range: 'bytes=0-9' } });
    await request(server, '/data.bin', { method: 'HEAD' });
    const entries = server.log.slice(before);
    expect(entries.map((e) => [e.method, e.path, e.status, e.bytes, e.range])).toEqual([
      ['GET', '/data.bin', 206, 10, 'bytes=0-9'],
      ['HEAD', '/data.bin', 200, 0, undefined],
    ]);
  });
});

describe('startStaticServer mounts', () => {
  let dir: string;
  let server: StaticServer;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'clvp-serve-mount-'));
    fs.mkdirSync(path.join(dir, 'root', 'ref'), { recursive: true });
    fs.mkdirSync(path.join(dir, 'outside', 'cases'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'root', 'ref', 'shadowed.json'), '"root"');
    fs.writeFileSync(path.join(dir, 'root', 'page.html'), 'page');
    fs.writeFileSync(path.join(dir, 'outside', 'cases', 'index.json'), '[1,2,3]');
    fs.writeFileSync(path.join(dir, 'outside', 'shadowed.json'), '"mount"');
    fs.writeFileSync(path.join(dir, 'secret.txt'), 'do not serve');
    server = await startStaticServer({ root: path.join(dir, 'root'), mounts: [{ prefix: '/ref/', dir: path.join(dir, 'outside') }], faults: [{ prefix: '/f/norange/', fault: 'ignore-range' }] });
  });

  afterAll(async () => {
    await server.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('serves a folder under its prefix, ahead of root, with ranges and faults', async () => {
    const r = await request(server, '/ref/cases/index.json', { headers: { Range: 'bytes=1-3' } });
    expect([r.status, r.body.toString(), r.headers['content-type']]).toEqual([206, '1,2', 'application/json; charset=utf-8']);
    expect((await request(server, '/ref/shadowed.json')).body.toString()).toBe('"mount"');
    expect((await request(server, '/page.html')).body.toString()).toBe('page');
    const f = await request(server, '/f/norange/ref/cases/index.json', { headers: { Range: 'bytes=1-3' } });
    expect([f.status, f.body.toString()]).toEqual([200, '[1,2,3]']);
  });

  it('never leaves the mounted folder', async () => {
    for (const p of ['/ref/../secret.txt', '/ref/%2e%2e/%2e%2e/secret.txt', '/ref/..%2f..%2fsecret.txt']) {
      const r = await request(server, p);
      expect([p, r.status >= 400, r.body.toString().includes('do not serve')]).toEqual([p, true, false]);
    }
    // '..' out of the mount lands in root, not in the mount
    expect((await request(server, '/ref/../page.html')).body.toString()).toBe('page');
  });

  it('refuses a prefix without its slashes', async () => {
    await expect(startStaticServer({ root: dir, mounts: [{ prefix: '/ref', dir }] })).rejects.toThrow(/mount prefix "\/ref" must start and end with '\/'/);
  });
});

describe('parseRange', () => {
  it('parses the forms of a single bytes range', () => {
    expect(parseRange(undefined, 10)).toBeUndefined();
    expect(parseRange('bytes=2-4', 10)).toEqual({ start: 2, end: 4 });
    expect(parseRange('bytes=-3', 10)).toEqual({ start: 7, end: 9 });
    expect(parseRange('bytes=0-', 0)).toBe('unsatisfiable');
    expect(parseRange('bytes=9-', 10)).toEqual({ start: 9, end: 9 });
  });
});
