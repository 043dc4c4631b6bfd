// Browser build tests: the Node built-in guard refuses an entry that imports 'fs' (directly, via a
// chain, with the node: prefix, and through the library's own wav.ts), and the real entries build
// with the wasm binaries beside them.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { buildBrowser, NodeBuiltinImportError } from '../../scripts/build-browser';

const REPO = path.resolve(__dirname, '..', '..');

function tmp(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'clvp-build-'));
}

async function failure(p: Promise<unknown>): Promise<NodeBuiltinImportError> {
  const e = await p.then(() => undefined, (x: unknown) => x);
  expect(e).toBeDefined();
  expect((e as Error).name).toBe('NodeBuiltinImportError');
  return e as NodeBuiltinImportError;
}

describe('buildBrowser', () => {
  it('fails on an entry that imports a Node built-in, naming the importer and the chain, and writes nothing', async () => {
    const dir = tmp();
    fs.writeFileSync(path.join(dir, 'entry.ts'), "import { helper } from './helper';\nconsole.log(helper());\n");
    fs.writeFileSync(path.join(dir, 'helper.ts'), "import * as fs from 'fs';\nimport { join } from 'node:path';\nexport const helper = () => fs.existsSync(join('a', 'b'));\n");
    const e = await failure(buildBrowser({ cwd: dir, entries: { out: 'entry.ts' }, outdir: 'out', copyWasm: false }));
    expect(e.message).toMatch(/helper\.ts imports "fs"/);
    expect(e.message).toMatch(/helper\.ts imports "node:path"/);
    expect(e.message).toContain('via entry.ts -> helper.ts');
    expect(e.violations.map((v) => v.builtin).sort()).toEqual(['fs', 'node:path']);
    expect(fs.existsSync(path.join(dir, 'out'))).toBe(false);
  });

  it('fails on the library\'s own Node-only modules (wav_fs.ts reads files with fs)', async () => {
    const dir = tmp();
    fs.writeFileSync(path.join(dir, 'entry.ts'), `import { readWav } from ${JSON.stringify(path.join(REPO, 'src', 'audio', 'wav_fs'))};\nconsole.log(readWav);\n`);
    const e = await failure(buildBrowser({ cwd: dir, entries: { out: 'entry.ts' }, outdir: path.join(dir, 'out'), copyWasm: false }));
    expect(e.violations.map((v) => [path.basename(v.importer), v.builtin])).toEqual([['wav_fs.ts', 'fs']]);
  });

  it('builds the library and worker bundles with the wasm binaries beside them', async () => {
    const out = tmp();
    const r = await buildBrowser({ outdir: out });
    const names = r.files.map((f) => path.basename(f)).sort();
    expect(names).toEqual([
      'clvp-tfjs.js', 'clvp-tfjs.js.map', 'clvp-worker.js', 'clvp-worker.js.map',
      'tfjs-backend-wasm-simd.wasm', 'tfjs-backend-wasm-threaded-simd.wasm', 'tfjs-backend-wasm.wasm',
    ]);
    const lib = fs.readFileSync(path.join(out, 'clvp-tfjs.js'), 'utf8');
    // The bundle locates itself (the define took effect) and is an ES module.
    expect(lib).toContain('import.meta.url');
    expect(lib).not.toContain('__CLVP_BUNDLE_URL__');
    expect(lib).toMatch(/^export \{/m);
    const wasm = fs.readFileSync(path.join(out, 'tfjs-backend-wasm-simd.wasm'));
    expect([...wasm.subarray(0, 4)]).toEqual([0x00, 0x61, 0x73, 0x6d]);
  });
});
