// The page environment the rest relies on: cross-origin isolation under the server's headers
// (SharedArrayBuffer for threaded wasm) and the browser platform installed by the entry.
import { bundleFolderUrl, platform, UrlFolder } from '../../../src/browser';
import { assert, assertEqual, run, test } from './harness';

test('the page is cross-origin isolated and has SharedArrayBuffer', () => {
  assertEqual(crossOriginIsolated, true, 'crossOriginIsolated');
  const sab = new SharedArrayBuffer(16);
  new Int32Array(sab)[0] = 7;
  assertEqual(new Int32Array(sab)[0], 7, 'SharedArrayBuffer works');
});

test('the entry installs the browser platform', () => {
  const p = platform();
  assertEqual(p.name, 'browser', 'platform name');
  assertEqual(p.cores(), navigator.hardwareConcurrency, 'cores');
  assert(p.cores() >= 1, 'at least one core');
  assertEqual(p.loadNativeBackend(), undefined, 'no native backend');
  // All three pass the in-page parity cases (the parity pages), so the GPU backends come first.
  assertEqual(p.backends, ['webgpu', 'webgl', 'wasm', 'cpu'], 'automatic order');
});

test('wasmPaths is the folder the bundle is served from', () => {
  const here = new URL('./', location.href).href;
  assertEqual(bundleFolderUrl(), here, 'bundle folder');
  assertEqual(platform().wasmPaths(), here, 'wasmPaths');
});

test('openModel resolves relative URLs against the page', async () => {
  const f = await platform().openModel('fixtures/range');
  assert(f instanceof UrlFolder, 'a UrlFolder');
  assertEqual(f.location, { kind: 'url', base: new URL('fixtures/range/', location.href).href }, 'location');
  const abs = await platform().openModel('/fixtures/range/?x=1#y');
  assertEqual(abs.location, { kind: 'url', base: new URL('/fixtures/range/', location.href).href }, 'query and hash dropped');
  await assert(await f.has('data.bin'), 'has data.bin');
});

test('reopen rebuilds url and files folders and refuses local ones', async () => {
  const p = platform();
  const u = await p.reopen({ kind: 'url', base: new URL('fixtures/range/', location.href).href });
  assertEqual(JSON.parse(await u.readText('config.json')), { model: 'clvp', note: 'has a BOM' }, 'url folder reads');
  const f = await p.reopen({ kind: 'files', files: { 'a/b.txt': new Blob(['hello']) } });
  assertEqual(await f.readText('a/b.txt'), 'hello', 'files folder reads');
  let msg = '';
  try {
    await p.reopen({ kind: 'local', dir: '/models/x' });
  } catch (e) {
    msg = (e as Error).message;
  }
  assert(/cannot open the local folder \/models\/x/.test(msg), `local refused: ${msg}`);
});

run();
