// UrlFolder and HttpByteSource against our server: range reads byte-exact against the served file,
// small files, and each server fault (404, dropped connection, Range ignored, wrong range, body cut short).
import { BlobByteSource, HttpByteSource, OpfsCache, UrlFolder } from '../../../src/browser';
import { assert, assertEqual, bytesEqual, rejects, run, test, xorshift } from './harness';

const base = new URL('fixtures/range/', location.href).href;
const fault = (kind: string) => new URL(`fault/${kind}/fixtures/range/`, location.href).href;
let whole: Uint8Array;

test('the fixture is what the runner wrote', async () => {
  whole = new Uint8Array(await (await fetch(base + 'data.bin', { cache: 'no-store' })).arrayBuffer());
  assertEqual(whole.length, 1048576 + 17, 'size');
  const next = xorshift(12345);
  for (let i = 0; i < 64; i++) assertEqual(whole[i], next() & 0xff, `byte ${i}`);
});

test('range reads are byte-exact (edges and 60 random ranges)', async () => {
  const folder = new UrlFolder(base, { cache: false });
  const src = await folder.open('data.bin');
  assert(src instanceof HttpByteSource, 'an HTTP source');
  assertEqual(src.size, whole.length, 'size from HEAD');
  const next = xorshift(99);
  const ranges: Array<[number, number]> = [[0, 1], [whole.length - 1, 1], [0, whole.length], [65535, 2], [whole.length - 100, 100]];
  for (let i = 0; i < 60; i++) {
    const off = next() % whole.length;
    ranges.push([off, Math.min(whole.length - off, 1 + (next() % 70000))]);
  }
  await Promise.all(ranges.map(async ([off, len]) => {
    const got = await src.read(off, len);
    assert(bytesEqual(got, whole.subarray(off, off + len)), `bytes [${off}, ${off + len})`);
  }));
  assertEqual((await src.read(500, 0)).length, 0, 'an empty read');
  await rejects(src.read(whole.length - 10, 11), /truncated: a read of bytes \[1048583, 1048594\) runs past the end of the 1048593-byte file/, 'read past the end');
  src.close();
});

test('small files: text without BOM, has(), and a missing file names its URL and status', async () => {
  const folder = new UrlFolder(base, { cache: false });
  assertEqual(await folder.readText('config.json'), '{"model":"clvp","note":"has a BOM"}', 'config text');
  assertEqual(await folder.has('config.json'), true, 'has config.json');
  assertEqual(await folder.has('missing.json'), false, 'has missing.json');
  await rejects(folder.readText('missing.json'), new RegExp(`^${base.replace(/[.?]/g, '\\$&')}missing\\.json: HTTP 404 Not Found while downloading it$`), 'missing text');
  await rejects(folder.open('missing.bin'), /missing\.bin: HTTP 404 Not Found while asking for its size$/, 'missing weights');
  await rejects(folder.readText('../escape.json'), /bad file name "\.\.\/escape\.json"/, 'a name leaving the folder');
});

test('a 404 from the server is reported with the URL', async () => {
  const folder = new UrlFolder(fault('404'), { cache: false });
  await rejects(folder.open('data.bin'), /\/fault\/404\/fixtures\/range\/data\.bin: HTTP 404 Not Found/, '404 open');
  assertEqual(await folder.has('data.bin'), false, 'has() on a 404');
});

test('a dropped connection gives a clear message, not a stack', async () => {
  const folder = new UrlFolder(fault('drop'), { cache: false, retries: 1 });
  const e = await rejects(folder.readText('config.json'), /\/fault\/drop\/fixtures\/range\/config\.json: network error while downloading it \(the server could not be reached or closed the connection; Failed to fetch\)$/, 'dropped');
  assert(!/\n\s+at /.test(e.message), 'no stack in the message');
  await rejects(folder.open('data.bin'), /network error while asking for its size/, 'dropped on open');
});

test('a server that ignores Range: one full download, then slices (no cache)', async () => {
  const notices: string[] = [];
  const folder = new UrlFolder(fault('norange'), { cache: false, log: (m) => notices.push(m) });
  const src = await folder.open('data.bin');
  for (const [off, len] of [[10, 100], [whole.length - 7, 7], [123456, 65536]]) {
    assert(bytesEqual(await src.read(off, len), whole.subarray(off, off + len)), `bytes [${off}, ${off + len})`);
  }
  assertEqual(notices.length, 1, 'one notice');
  assert(/ignores Range requests; using its one full download \(1048593 bytes\)/.test(notices[0]), notices[0]);
});

test('a server that ignores Range: the full download goes into the cache', async () => {
  const cache = (await OpfsCache.open('clvp-test-norange'))!;
  await cache.clear();
  const folder = new UrlFolder(fault('norange'), { cacheDir: 'clvp-test-norange' });
  const src = await folder.open('data.bin');
  assert(bytesEqual(await src.read(5, 5), whole.subarray(5, 10)), 'bytes');
  assert((src as HttpByteSource).cached, 'committed to the cache');
  const again = await folder.open('data.bin');
  assert(again instanceof BlobByteSource, 'second open reads the cache');
  assert(bytesEqual(await again.read(0, whole.length), whole), 'cached bytes');
  await cache.clear();
});

test('a wrong range from the server is refused', async () => {
  const src = await new UrlFolder(fault('wrong'), { cache: false }).open('data.bin');
  await rejects(src.read(100, 10), /data\.bin: asked for bytes 100-109 and the server answered with "bytes 101-110\/1048593"/, 'wrong range');
});

test('a body cut short is a network error after the retries', async () => {
  const src = await new UrlFolder(fault('trunc'), { cache: false, retries: 1 }).open('data.bin');
  await rejects(src.read(0, 4096), /data\.bin: network error while reading bytes \[0, 4096\)/, 'truncated');
});

run();
