// The dependency rules of the source tree: no import cycles anywhere, layers never reach up into
// models, models never into generation or the runtimes, and the modules every entry shares never
// import Node's built-ins (those live behind the platform: src/platform/node.ts and *_fs / local_files).
import * as fs from 'fs';
import * as path from 'path';

const SRC = path.resolve(__dirname, '..', 'src');

function sources(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? sources(path.join(dir, e.name)) : e.name.endsWith('.ts') ? [path.join(dir, e.name)] : []));
}

/** Relative imports of a file (type-only imports included: a cycle of types is still a cycle of design). */
function importsOf(file: string): string[] {
  const text = fs.readFileSync(file, 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(/(?:import|export)\s[^'";]*?from\s+'(\.[^']+)'|import\s+'(\.[^']+)'|import\('(\.[^']+)'\)/g)) {
    const spec = m[1] ?? m[2] ?? m[3];
    const target = path.resolve(path.dirname(file), spec);
    out.push(fs.existsSync(target + '.ts') ? target + '.ts' : path.join(target, 'index.ts'));
  }
  return out;
}

const files = sources(SRC);
const graph = new Map(files.map((f) => [f, importsOf(f)]));
const rel = (f: string) => path.relative(SRC, f);

test('the source tree has no import cycles', () => {
  const state = new Map<string, 'visiting' | 'done'>();
  const cycles: string[] = [];
  const visit = (f: string, stack: string[]) => {
    if (state.get(f) === 'done') return;
    if (state.get(f) === 'visiting') {
      cycles.push([...stack.slice(stack.indexOf(f)), f].map(rel).join(' -> '));
      return;
    }
    state.set(f, 'visiting');
    for (const g of graph.get(f) ?? []) visit(g, [...stack, f]);
    state.set(f, 'done');
  };
  for (const f of files) visit(f, []);
  expect(cycles).toEqual([]);
});

test.each([
  ['layers', ['models', 'runtime', 'generation', 'cli', 'parity']],
  ['config', ['layers', 'models', 'runtime', 'generation', 'cli', 'parity', 'io']],
  ['models', ['runtime', 'generation', 'cli', 'parity']],
  ['runtime', ['generation', 'cli', 'parity']],
  ['generation', ['cli', 'parity']],
])('%s/ imports nothing from %p', (dir, banned) => {
  const bad = files
    .filter((f) => rel(f).startsWith(dir + path.sep))
    .flatMap((f) => graph.get(f)!.filter((g) => banned.some((b) => rel(g).startsWith(b + path.sep))).map((g) => `${rel(f)} -> ${rel(g)}`));
  expect(bad).toEqual([]);
});

test('only the Node platform modules import Node built-ins', () => {
  const NODE_ONLY = /^(cli\/|platform\/node|io\/(local_files|safetensors_fs|open|sources|zip|torch_pickle|convert|inspect|tortoise|hub)\.ts|audio\/wav_fs\.ts|models\/random_checkpoint\.ts|index\.ts)/;
  const builtins = new Set(require('module').builtinModules as string[]);
  const bad: string[] = [];
  for (const f of files) {
    if (NODE_ONLY.test(rel(f))) continue;
    const text = fs.readFileSync(f, 'utf8');
    for (const m of text.matchAll(/from\s+'([^'.][^']*)'|require\('([^'.][^']*)'\)/g)) {
      const name = (m[1] ?? m[2]).replace(/^node:/, '').split('/')[0];
      if (builtins.has(name)) bad.push(`${rel(f)} imports ${name}`);
    }
  }
  expect(bad).toEqual([]);
});
