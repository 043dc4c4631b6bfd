// Bundles the browser build with esbuild: dist/browser/clvp-tfjs.js (the library, ESM), its Web
// Worker dist/browser/clvp-worker.js, and tfjs-backend-wasm's binaries beside them (the page
// fetches them from there, not from a CDN). The build fails, naming the file and the import chain,
// when anything a page would load imports a Node built-in: such code runs under Node and breaks
// in a page only when reached, so it is refused here instead.
// CLI: npx ts-node -T scripts/build-browser.ts [--minify] [--outdir dist/browser]
import * as esbuild from 'esbuild';
import * as fs from 'fs';
import { builtinModules } from 'module';
import * as path from 'path';

const REPO = path.resolve(__dirname, '..');

/** The library and its worker, as output name (without .js) -> source file. */
export const DEFAULT_ENTRIES: Readonly<Record<string, string>> = {
  'clvp-tfjs': 'src/browser.ts',
  'clvp-worker': 'src/browser_worker.ts',
};

export interface BuildBrowserOptions {
  /** output name (without .js) -> entry source, relative to the repo (default DEFAULT_ENTRIES) */
  entries?: Record<string, string>;
  /** where the bundles and wasm binaries go (default 'dist/browser') */
  outdir?: string;
  /** copy tfjs-backend-wasm's .wasm binaries into outdir (default true) */
  copyWasm?: boolean;
  /** minify the bundles (default false: readable stacks; the sourcemaps are written either way) */
  minify?: boolean;
  /** the folder entries and outdir are relative to (default the repo) */
  cwd?: string;
}

export interface BuildBrowserResult {
  /** files written, relative to cwd */
  files: string[];
  ms: number;
}

export class NodeBuiltinImportError extends Error {
  override name = 'NodeBuiltinImportError';
  constructor(message: string, readonly violations: ReadonlyArray<{ importer: string; builtin: string; chain: string[] }>) {
    super(message);
  }
}

const BUILTINS = new Set(builtinModules.filter((m) => !m.startsWith('_')));

function isBuiltin(spec: string): boolean {
  if (spec.startsWith('node:')) return true;
  return BUILTINS.has(spec) || BUILTINS.has(spec.split('/')[0]);
}

interface Violation {
  importer: string;
  builtin: string;
}

/**
 * Records every import of a Node built-in, except those the importing package's own "browser"
 * field maps away (tfjs's emscripten glue and seedrandom require fs/crypto on a Node-only path and
 * declare `"fs": false`): esbuild's resolver applies those mappings, so whatever it can resolve
 * for the browser is allowed. The rest are marked external so the build goes on and every
 * offender is listed at once; buildBrowser then fails before writing anything.
 */
export function nodeBuiltinGuard(violations: Violation[], cwd: string): esbuild.Plugin {
  return {
    name: 'clvp-node-builtin-guard',
    setup(build) {
      build.onResolve({ filter: /^(node:)?[a-z_][a-z0-9_/]*$/ }, async (args) => {
        if (!isBuiltin(args.path) || (args.pluginData as { inner?: boolean } | undefined)?.inner) return undefined;
        const r = await build.resolve(args.path, { kind: args.kind, resolveDir: args.resolveDir, importer: args.importer, pluginData: { inner: true } });
        if (r.errors.length === 0 && !args.path.startsWith('node:')) return undefined;
        violations.push({ importer: path.relative(cwd, args.importer) || args.importer, builtin: args.path });
        return { path: args.path, external: true };
      });
    },
  };
}

/** The import chain from an entry to `target`, from esbuild's metafile (breadth-first: shortest). */
function chainTo(meta: esbuild.Metafile, entry: string, target: string): string[] {
  const prev = new Map<string, string | null>([[entry, null]]);
  const queue = [entry];
  while (queue.length) {
    const at = queue.shift()!;
    if (at === target) break;
    for (const imp of meta.inputs[at]?.imports ?? []) {
      if (imp.external || prev.has(imp.path)) continue;
      prev.set(imp.path, at);
      queue.push(imp.path);
    }
  }
  if (!prev.has(target)) return [target];
  const chain: string[] = [];
  for (let at: string | null = target; at !== null; at = prev.get(at) ?? null) chain.unshift(at);
  return chain;
}

export async function buildBrowser(opts: BuildBrowserOptions = {}): Promise<BuildBrowserResult> {
  const started = Date.now();
  const cwd = opts.cwd ?? REPO;
  const outdir = opts.outdir ?? 'dist/browser';
  const entries = opts.entries ?? DEFAULT_ENTRIES;
  const violations: Violation[] = [];
  let result: esbuild.BuildResult<{ write: false; metafile: true }>;
  try {
    result = await esbuild.build({
      absWorkingDir: cwd,
      entryPoints: Object.entries(entries).map(([out, src]) => ({ in: src, out })),
      outdir,
      bundle: true,
      format: 'esm',
      platform: 'browser',
      target: 'es2022',
      sourcemap: true,
      minify: opts.minify ?? false,
      write: false,
      metafile: true,
      logLevel: 'silent',
      // src/platform/browser.ts finds the wasm binaries and the worker beside the bundle.
      define: { __CLVP_BUNDLE_URL__: 'import.meta.url' },
      plugins: [nodeBuiltinGuard(violations, cwd)],
    });
  } catch (e) {
    const errors = (e as { errors?: esbuild.Message[] }).errors;
    if (!errors) throw e;
    const lines = errors.map((m) => `  ${m.location ? `${m.location.file}:${m.location.line}:${m.location.column}: ` : ''}${m.text}`);
    throw new Error(`browser build failed:\n${lines.join('\n')}`);
  }

  if (violations.length) {
    const entryInputs = Object.values(entries).map((e) => path.relative(cwd, path.resolve(cwd, e)));
    const listed = violations.map((v) => {
      const chain = entryInputs.map((e) => chainTo(result.metafile, e, v.importer)).sort((a, b) => a.length - b.length)[0];
      return { ...v, chain };
    });
    const lines = listed.map((v) => `  ${v.importer} imports "${v.builtin}"${v.chain.length > 1 ? `\n      via ${v.chain.join(' -> ')}` : ''}`);
    throw new NodeBuiltinImportError(
      `browser build: ${violations.length === 1 ? 'a Node built-in is' : 'Node built-ins are'} imported by code a page would load:\n${lines.join('\n')}\n` +
        'Keep Node-only code out of the browser entry\'s imports (behind src/platform/platform.ts), or split the file.',
      listed,
    );
  }

  const files: string[] = [];
  for (const f of result.outputFiles) {
    fs.mkdirSync(path.dirname(f.path), { recursive: true });
    fs.writeFileSync(f.path, f.contents);
    files.push(path.relative(cwd, f.path));
  }
  if (opts.copyWasm ?? true) {
    const wasmDist = path.join(path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json', { paths: [cwd] })), 'dist');
    const binaries = fs.readdirSync(wasmDist).filter((n) => n.endsWith('.wasm'));
    if (binaries.length === 0) throw new Error(`browser build: no .wasm binaries in ${wasmDist}`);
    for (const n of binaries) {
      const to = path.resolve(cwd, outdir, n);
      fs.copyFileSync(path.join(wasmDist, n), to);
      files.push(path.relative(cwd, to));
    }
  }
  return { files, ms: Date.now() - started };
}

async function main(argv: string[]): Promise<void> {
  const opts: BuildBrowserOptions = {};
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--minify') opts.minify = true;
    else if (argv[i] === '--outdir') opts.outdir = argv[++i];
    else throw new Error(`build-browser: unknown argument ${argv[i]}`);
  }
  const r = await buildBrowser(opts);
  const sizes = r.files.filter((f) => !f.endsWith('.map')).map((f) => `${path.basename(f)} ${(fs.statSync(path.resolve(REPO, f)).size / 1024).toFixed(0)} KiB`);
  console.log(`browser build: ${sizes.join(', ')} (${r.ms} ms)`);
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((e) => {
    console.error((e as Error).message);
    process.exit(1);
  });
}
