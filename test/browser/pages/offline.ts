// The second visit loads offline. Phase 1 (online) reads the model folder once, the weights in
// scattered ranges; the runner checks the server sent each weight byte once. Then the runner turns
// the network off and reloads (#phase=2; the page itself comes from the HTTP cache): every file
// that was read completely comes from the OPFS cache.
import { BlobByteSource, HttpByteSource, OpfsCache, UrlFolder } from '../../../src/browser';
import { assert, assertEqual, query, rejects, run, sha256Hex, test, xorshift } from './harness';

const base = new URL('fixtures/offline/', location.href).href;
const WEIGHTS = 3 * 1048576 + 5;

/** Read a source in 97 KiB pieces, in a shuffled order, and reassemble it. */
async function readScattered(src: { size: number; read(o: number, l: number): Promise<Uint8Array> }): Promise<Uint8Array> {
  const piece = 97 * 1024;
  const offsets: number[] = [];
  for (let o = 0; o < src.size; o += piece) offsets.push(o);
  const next = xorshift(7);
  for (let i = offsets.length - 1; i > 0; i--) {
    const j = next() % (i + 1);
    [offsets[i], offsets[j]] = [offsets[j], offsets[i]];
  }
  const out = new Uint8Array(src.size);
  for (const o of offsets) out.set(await src.read(o, Math.min(piece, src.size - o)), o);
  return out;
}

if (location.hash !== '#phase=2') {
  test('phase 1: start from an empty cache', async () => {
    await (await OpfsCache.open())!.clear();
  });

  test('phase 1: read the folder from the network (weights in scattered ranges)', async () => {
    const progress: number[] = [];
    const folder = new UrlFolder(base, { onProgress: (p) => p.file === 'weights.bin' && progress.push(p.loaded) });
    assertEqual(JSON.parse(await folder.readText('config.json')), { hidden: 8 }, 'config');
    assertEqual(await folder.has('tokenizer_missing.json'), false, 'absent file');
    const src = await folder.open('weights.bin');
    assert(src instanceof HttpByteSource, 'from the network');
    assertEqual(src.size, WEIGHTS, 'size');
    const bytes = await readScattered(src);
    assertEqual(await sha256Hex(bytes), query.get('sha'), 'sha-256 of the weights');
    assert((src as HttpByteSource).cached, 'the complete file was committed to the cache');
    assertEqual(progress[progress.length - 1], WEIGHTS, 'progress reached the size');
    src.close();
    const partial = await folder.open('partial.bin');
    await partial.read(0, 1000);
    partial.close();
  });

  test('phase 1: a file read only in part is not cached', async () => {
    const hit = await (await OpfsCache.open())!.lookup(base + 'partial.bin');
    assertEqual(hit, undefined, 'partial.bin lookup');
  });
} else {
  test('phase 2: the network is really off', async () => {
    await rejects(fetch(base + 'config.json', { cache: 'no-store' }), /Failed to fetch/, 'plain fetch offline');
  });

  test('phase 2: config, has() and the weights come from the cache', async () => {
    const folder = new UrlFolder(base);
    assertEqual(JSON.parse(await folder.readText('config.json')), { hidden: 8 }, 'config');
    assertEqual(await folder.has('weights.bin'), true, 'has weights');
    assertEqual(await folder.has('tokenizer_missing.json'), false, 'the 404 remembered');
    const src = await folder.open('weights.bin');
    assert(src instanceof BlobByteSource, 'a cache (Blob) source');
    assertEqual(src.size, WEIGHTS, 'size');
    assertEqual(await sha256Hex(await readScattered(src)), query.get('sha'), 'sha-256 of the weights');
  });

  test('phase 2: a file never read completely fails clearly offline', async () => {
    const folder = new UrlFolder(base);
    await rejects(folder.open('partial.bin'), /partial\.bin: network error while asking for its size \(the browser is offline; Failed to fetch\); it is not in the offline cache either$/, 'partial offline');
  });
}

run();
