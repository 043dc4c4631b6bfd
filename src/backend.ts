// Picks and initialises the tfjs backend once per process.
// Order of preference: CUDA (tfjs-node-gpu) > native TensorFlow (tfjs-node) > wasm > cpu.
// tfjs-node(-gpu) are optional peers: their install downloads libtensorflow, which is not
// possible everywhere, so they are only used when a user has installed them.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as path from 'path';

export type BackendName = 'tensorflow' | 'wasm' | 'cpu';
export const BACKENDS: readonly BackendName[] = ['tensorflow', 'wasm', 'cpu'];

/** The wasm backend's heap cannot grow past 4 GiB (32-bit addresses). */
export const WASM_HEAP_BYTES = 4 * 1024 ** 3;

/**
 * Bytes a model needs on wasm: every weight matrix is held twice, once as the tensor and once
 * packed inside the XNNPACK operator tfjs-wasm caches for it (measured: 840 MB of weights grew the
 * heap by 907 MB after one matmul each), plus working memory.
 */
export function wasmFootprintBytes(modelParameters: number): number {
  return 2 * modelParameters * 4 + 512 * 1024 ** 2;
}

export interface BackendOptions {
  /** parameters of the model about to be loaded: a default choice avoids wasm when it cannot hold it */
  modelParameters?: number;
}

let initialised: BackendName | undefined;
let logged = false;
let logger: (msg: string) => void = (msg) => process.stderr.write(msg + '\n');

/** Replace where the one-line backend message goes (pass `() => {}` to silence it). */
export function setBackendLogger(fn: (msg: string) => void): void {
  logger = fn;
}

function tryRequire(name: string): boolean {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    require(name);
    return true;
  } catch {
    return false;
  }
}

function loadNative(): string | undefined {
  if (tryRequire('@tensorflow/tfjs-node-gpu')) return 'tfjs-node-gpu (CUDA)';
  if (tryRequire('@tensorflow/tfjs-node')) return 'tfjs-node';
  return undefined;
}

async function loadWasm(): Promise<void> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const wasm = require('@tensorflow/tfjs-backend-wasm') as typeof import('@tensorflow/tfjs-backend-wasm');
  // Resolve the .wasm binaries from node_modules so nothing is fetched from the network.
  const dist = path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm'));
  wasm.setWasmPaths(dist + path.sep);
}

function parseBackend(name: string, source: string): BackendName {
  const n = name.trim().toLowerCase();
  if (n === 'tensorflow' || n === 'node' || n === 'tfjs-node' || n === 'cuda' || n === 'gpu') return 'tensorflow';
  if (n === 'wasm' || n === 'cpu') return n;
  throw new Error(`${source}: unknown backend '${name}' (expected one of ${BACKENDS.join(', ')})`);
}

/**
 * Initialise a backend. Without an argument: `CLVP_BACKEND` if set, else the best available.
 * Calling it again with the backend already active is a no-op.
 */
export async function initBackend(requested?: string, options: BackendOptions = {}): Promise<BackendName> {
  const explicit = requested ?? process.env.CLVP_BACKEND;
  const want = explicit ? parseBackend(explicit, requested ? 'backend option' : 'CLVP_BACKEND') : undefined;
  if (initialised && (!want || want === initialised)) return initialised;

  let chosen: BackendName;
  let detail = '';
  if (want === 'tensorflow' || want === undefined) {
    const native = loadNative();
    if (native) {
      await tf.setBackend('tensorflow');
      chosen = 'tensorflow';
      detail = native;
    } else if (want === 'tensorflow') {
      throw new Error(
        "backend 'tensorflow' needs @tensorflow/tfjs-node or @tensorflow/tfjs-node-gpu (npm i @tensorflow/tfjs-node-gpu@4.22.0)",
      );
    } else if (options.modelParameters !== undefined && wasmFootprintBytes(options.modelParameters) > WASM_HEAP_BYTES) {
      chosen = await setWasmOrCpu('cpu');
      const gb = (x: number) => (x / 1e9).toFixed(1);
      detail = `a ${gb(options.modelParameters * 4)} GB model needs ~${gb(wasmFootprintBytes(options.modelParameters))} GB on wasm, over its 4 GiB heap; the cpu backend is slow: install @tensorflow/tfjs-node for speed`;
    } else {
      chosen = await setWasmOrCpu(undefined);
    }
  } else {
    chosen = await setWasmOrCpu(want);
  }
  await tf.ready();
  initialised = chosen;
  if (!logged || explicit) {
    logger(`clvp-tfjs: using backend ${chosen}${detail ? ` (${detail})` : ''}`);
    logged = true;
  }
  return chosen;

  async function setWasmOrCpu(w: BackendName | undefined): Promise<BackendName> {
    if (w === undefined || w === 'wasm') {
      try {
        await loadWasm();
        if (await tf.setBackend('wasm')) return 'wasm';
      } catch (e) {
        if (w === 'wasm') throw new Error(`could not initialise the wasm backend: ${(e as Error).message}`);
      }
      if (w === 'wasm') throw new Error('could not initialise the wasm backend');
    }
    if (!(await tf.setBackend('cpu'))) throw new Error('could not initialise the cpu backend');
    // The cpu backend prints a multi-line "install tfjs-node" banner on first use; our one-line
    // backend message already says which backend runs, so mark it as used.
    (tf.backend() as unknown as { firstUse?: boolean }).firstUse = false;
    return 'cpu';
  }
}

/** The backend in use, initialising the default one if needed. */
export async function ensureBackend(): Promise<BackendName> {
  return initialised ?? initBackend();
}

export function currentBackend(): BackendName | undefined {
  return initialised;
}
