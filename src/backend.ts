// Picks and initialises the tfjs backend once per process.
// Order of preference: CUDA (tfjs-node-gpu) > native TensorFlow (tfjs-node) > wasm > cpu.
// tfjs-node(-gpu) are optional peers: their install downloads libtensorflow, which is not
// possible everywhere, so they are only used when a user has installed them.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as wasm from '@tensorflow/tfjs-backend-wasm';
import { log, platform, setLogger } from './platform/platform';

export type BackendName = 'tensorflow' | 'wasm' | 'cpu';
export const BACKENDS: readonly BackendName[] = ['tensorflow', 'wasm', 'cpu'];

let initialised: BackendName | undefined;
let logged = false;

/** Replace where the one-line backend message goes (pass `() => {}` to silence it). */
export const setBackendLogger = setLogger;

async function loadWasm(): Promise<void> {
  // The binaries come from the platform (node_modules, or served with the page): never a CDN.
  wasm.setWasmPaths(platform().wasmPaths());
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
export async function initBackend(requested?: string): Promise<BackendName> {
  const explicit = requested ?? platform().env('CLVP_BACKEND');
  const want = explicit ? parseBackend(explicit, requested ? 'backend option' : 'CLVP_BACKEND') : undefined;
  if (initialised && (!want || want === initialised)) return initialised;

  let chosen: BackendName;
  let detail = '';
  if (want === 'tensorflow' || want === undefined) {
    const native = platform().loadNativeBackend();
    if (native) {
      await tf.setBackend('tensorflow');
      chosen = 'tensorflow';
      detail = native;
    } else if (want === 'tensorflow') {
      throw new Error(
        "backend 'tensorflow' needs @tensorflow/tfjs-node or @tensorflow/tfjs-node-gpu (npm i @tensorflow/tfjs-node-gpu@4.22.0)",
      );
    } else {
      chosen = await setWasmOrCpu(undefined);
    }
  } else {
    chosen = await setWasmOrCpu(want);
  }
  await tf.ready();
  initialised = chosen;
  if (!logged || explicit) {
    log(`clvp-tfjs: using backend ${chosen}${detail ? ` (${detail})` : ''}`);
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
