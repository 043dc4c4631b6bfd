// The Node platform: local folders (and Hugging Face Hub ids, resolved through the cache),
// worker_threads workers, tfjs-node when installed, wasm binaries from node_modules.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as v8 from 'v8';
import { Worker } from 'worker_threads';
import { FolderLocation, ModelFolder, ModelFolderError } from '../io/folder';
import { isHubRepoId, snapshotForModel } from '../io/hub';
import { LocalFolder } from '../io/local_files';
import { openSingle } from '../io/open';
import { TensorReader, TensorSourceReader } from '../io/tensor_reader';
import { OpenModelOptions, Platform, WorkerEntry, WorkerPort } from './platform';

// Relaxed SIMD (an FMA for the wasm products, wasm_gemm.ts) is on by default from V8 11.4; Node 20
// has V8 11.3, where it sits behind this flag. The flag is process-wide and only admits the new
// opcodes in modules compiled after it, so setting it here, before any model runs, is enough for
// every worker too.
const [v8Major, v8Minor] = process.versions.v8.split('.').map(Number);
if (v8Major * 100 + v8Minor < 1104) v8.setFlagsFromString('--experimental-wasm-relaxed-simd');


function tryRequire(name: string): boolean {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    require(name);
    return true;
  } catch {
    return false;
  }
}

let bundledWorker: string | undefined;

/**
 * Running from the TypeScript sources (ts-node, ts-jest), a worker cannot load .ts files. Compiling
 * them with ts-node inside every worker takes ~7 s here; esbuild (a dev dependency, present
 * whenever the sources are) bundles the worker's part of the tree once per process in ~0.2 s.
 * The bundle goes under node_modules/.cache so it resolves packages as the sources do.
 */
function workerScriptFromSources(): { file: string } | { code: string } {
  const entry = path.join(__dirname, 'node_worker.ts');
  if (!bundledWorker) {
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const esbuild = require('esbuild') as typeof import('esbuild');
      const out = path.resolve(__dirname, '..', '..', 'node_modules', '.cache', 'clvp-tfjs', `node_worker-${process.pid}.js`);
      esbuild.buildSync({ entryPoints: [entry], bundle: true, platform: 'node', format: 'cjs', target: 'node20', outfile: out, packages: 'external', logLevel: 'silent' });
      process.once('exit', () => fs.rmSync(out, { force: true }));
      bundledWorker = out;
    } catch {
      const project = path.resolve(__dirname, '..', '..', 'tsconfig.json');
      return { code: `require('ts-node').register({ transpileOnly: true, project: ${JSON.stringify(project)} }); require(${JSON.stringify(entry)});` };
    }
  }
  return { file: bundledWorker };
}

function startNodeWorker(entry: WorkerEntry, init: unknown): WorkerPort {
  const workerData = { entry, init };
  let worker: Worker;
  if (__filename.endsWith('.js')) {
    worker = new Worker(path.join(__dirname, 'node_worker.js'), { workerData });
  } else {
    const script = workerScriptFromSources();
    worker = 'file' in script ? new Worker(script.file, { workerData }) : new Worker(script.code, { eval: true, workerData });
  }
  let exitHandler: ((cause: string) => void) | undefined;
  let gone = false;
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  const report = (cause: string) => {
    if (gone) return;
    gone = true;
    exitHandler?.(cause);
  };
  worker.on('error', (e) => report(`uncaught ${e.name}: ${e.message}`));
  worker.on('exit', (code) => report(`exited with code ${code}`));
  worker.on('messageerror', (e) => report(`could not deserialise a message: ${e.message}`));
  return {
    postMessage: (m) => worker.postMessage(m),
    onMessage: (h) => worker.on('message', h),
    onExit: (h) => {
      exitHandler = h;
    },
    terminate: async () => {
      gone = true;
      await worker.terminate();
      await exited;
    },
    setKeepsAlive: (on) => (on ? worker.ref() : worker.unref()),
  };
}

export const nodePlatform: Platform = {
  name: 'node',

  /** A local folder first; else a Hub id, through the Hugging Face cache (downloading what is missing). */
  async openModel(idOrPath: string, opts: OpenModelOptions = {}): Promise<ModelFolder> {
    if (fs.existsSync(idOrPath)) return LocalFolder.open(idOrPath);
    if (!isHubRepoId(idOrPath)) throw new ModelFolderError(`${idOrPath}: no such model folder`);
    const snap = await snapshotForModel(idOrPath, { revision: opts.revision, signal: opts.signal, onProgress: opts.onProgress });
    return new LocalFolder(snap.dir, `${idOrPath}${opts.revision ? `@${opts.revision}` : ''}`);
  },

  async reopen(location: FolderLocation): Promise<ModelFolder> {
    if (location.kind !== 'local') throw new ModelFolderError(`a ${location.kind} model location cannot be opened in Node`);
    return new LocalFolder(location.dir);
  },

  startWorker: startNodeWorker,

  async readFile(file: string): Promise<Uint8Array> {
    try {
      return fs.readFileSync(file);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      throw new ModelFolderError(code === 'ENOENT' ? `${file}: cannot read: no such file` : code === 'EISDIR' ? `${file}: cannot read: it is a directory, not a file` : `${file}: cannot read: ${(e as Error).message}`);
    }
  },

  isDirectory(p: string): boolean {
    try {
      return fs.statSync(p).isDirectory();
    } catch {
      return false;
    }
  },

  writeTextFiles(dir: string, files: Record<string, string>): void {
    fs.mkdirSync(dir, { recursive: true });
    for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), text, 'utf8');
  },

  env: (name) => process.env[name],

  cores: () => os.availableParallelism(),

  wasmPaths: () => path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm')) + path.sep,

  backends: ['tensorflow', 'wasm', 'cpu'],

  loadNativeBackend(): string | undefined {
    if (tryRequire('@tensorflow/tfjs-node-gpu')) return 'tfjs-node-gpu (CUDA)';
    if (tryRequire('@tensorflow/tfjs-node')) return 'tfjs-node';
    return undefined;
  },

  defaultLog: (m) => process.stderr.write(m + '\n'),

  async openTorchWeights(folder: ModelFolder, file: string): Promise<TensorReader> {
    if (!(folder instanceof LocalFolder)) throw new ModelFolderError(`${folder.label}/${file}: PyTorch checkpoints are read from local folders only`);
    return new TensorSourceReader(openSingle(folder.path(file)).source);
  },
};
