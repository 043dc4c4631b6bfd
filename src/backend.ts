// Picks and initialises the tfjs backend once per thread, in the platform's order of preference:
// in Node CUDA (tfjs-node-gpu) > native TensorFlow (tfjs-node) > wasm > cpu; in a page WebGPU >
// WebGL > wasm > cpu, passing over a GPU backend that runs on a software device (the automatic
// choice only). tfjs-node(-gpu) are optional peers: their install downloads libtensorflow,
// which is not possible everywhere, so they are only used when a user has installed them. The
// browser entry registers the WebGPU and WebGL backends; the wasm binaries always come from the
// platform (node_modules, or beside the bundle), never from a CDN.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as wasm from '@tensorflow/tfjs-backend-wasm';
import { log, platform, setLogger } from './platform/platform';
import { installWasmKernels } from './wasm_kernels';

export type BackendName = 'tensorflow' | 'webgpu' | 'wasm' | 'webgl' | 'cpu';
export const BACKENDS: readonly BackendName[] = ['tensorflow', 'webgpu', 'wasm', 'webgl', 'cpu'];

let initialised: BackendName | undefined;
let logged = false;
let wasmPathsSet = false;

/** Replace where the one-line backend message goes (pass `() => {}` to silence it). */
export const setBackendLogger = setLogger;

export class BackendError extends Error {}

/** A backend option or setting names a backend that is unknown, or not available here: the user's to fix. */
export class BackendSettingError extends BackendError {}

/** The GPU device under the backend was lost: its tensors, the model's weights among them, are gone. */
export class BackendLostError extends BackendError {}

/** What happened to the active backend's device, once it is lost. */
let lost: { name: BackendName; why: string } | undefined;

/** Why `name` (default: the active backend) can no longer compute, or undefined while it can. */
export function backendLost(name: BackendName | undefined = initialised): string | undefined {
  return lost && lost.name === name ? lost.why : undefined;
}

const lostAdvice = 'call initBackend() for a new device, then load the model again';

/**
 * `e`, or, when the backend's device has been lost, a BackendLostError that says so: the error a
 * call on a lost device throws (a failed mapAsync or createBuffer) does not name the cause.
 */
export function explainBackendFailure(e: unknown): unknown {
  if (!lost || e instanceof BackendLostError) return e;
  return new BackendLostError(`${lost.why}; ${lostAdvice} (the call failed with: ${(e as Error)?.message ?? String(e)})`);
}

/** Throw a BackendLostError now if `name`'s device is lost (before a call that would fail on it). */
export function checkBackendAlive(name: BackendName | string | undefined, what: string): void {
  const why = backendLost(name as BackendName);
  if (why) throw new BackendLostError(`${what}: ${why}; ${lostAdvice}`);
}

const watched = new WeakSet<object>();

function watchDevice(name: BackendName): void {
  const instance = tf.backend();
  const watch = platform().watchDevice;
  if (!watch || watched.has(instance)) return;
  watched.add(instance);
  watch(name, instance, (why) => {
    // A backend replaced since (initBackend after an earlier loss) is not the one lost.
    if (tf.engine().registry[name] !== instance) return;
    lost = { name, why };
    log(`clvp-tfjs: ${why}: the tensors on it are gone; ${lostAdvice}`);
  });
}

/** Replace a lost backend by a fresh instance of the same factory (a new GPU device). */
function replaceLostBackend(name: BackendName): void {
  const factory = tf.findBackendFactory(name);
  // removeBackend drops the factory too; the old instance's buffers went with its device.
  tf.removeBackend(name);
  if (factory) tf.registerBackend(name, factory, name === 'webgpu' ? 3 : 2);
  lost = undefined;
  initialised = undefined;
}

function parseBackend(name: string, source: string): BackendName {
  const n = name.trim().toLowerCase();
  if (n === 'tensorflow' || n === 'node' || n === 'tfjs-node' || n === 'cuda' || n === 'gpu') return 'tensorflow';
  if ((BACKENDS as readonly string[]).includes(n)) return n as BackendName;
  throw new BackendSettingError(`${source}: unknown backend '${name}' (expected one of ${BACKENDS.join(', ')}, or auto)`);
}

/** Switch to `name`; a description for the log, or the reason it is not available. */
async function trySetBackend(name: BackendName): Promise<{ ok: true; detail: string } | { ok: false; why: string }> {
  let detail = '';
  if (name === 'tensorflow') {
    const native = platform().loadNativeBackend();
    if (!native) return { ok: false, why: 'needs @tensorflow/tfjs-node or @tensorflow/tfjs-node-gpu (npm i @tensorflow/tfjs-node-gpu@4.22.0)' };
    detail = native;
  }
  if (name === 'wasm' && !wasmPathsSet) {
    wasm.setWasmPaths(platform().wasmPaths());
    installWasmKernels();
    wasmPathsSet = true;
  }
  if (!tf.findBackendFactory(name)) return { ok: false, why: `not available in ${platform().name === 'node' ? 'Node' : 'this build'}` };
  try {
    if (!(await tf.setBackend(name))) return { ok: false, why: 'it failed to initialise' };
    await tf.ready();
  } catch (e) {
    return { ok: false, why: (e as Error).message };
  }
  // The cpu backend prints a multi-line "install tfjs-node" banner on first use; our one-line
  // backend message already says which backend runs, so mark it as used.
  if (name === 'cpu') (tf.backend() as unknown as { firstUse?: boolean }).firstUse = false;
  return { ok: true, detail };
}

/**
 * Initialise a backend. Without an argument: `CLVP_BACKEND` if set, else the best available;
 * 'auto' is the best available. Calling it again without a name, or with the backend already
 * active, is a no-op.
 */
export async function initBackend(requested?: string): Promise<BackendName> {
  // After a device loss, the same backend again on a new device unless another is named.
  const relost = lost && initialised === lost.name ? lost.name : undefined;
  if (relost) replaceLostBackend(relost);
  const explicit = requested ?? platform().env('CLVP_BACKEND') ?? relost;
  // 'auto' runs the automatic choice again, even when another backend is active.
  const auto = explicit?.trim().toLowerCase() === 'auto';
  const want = explicit && !auto ? parseBackend(explicit, requested ? 'backend option' : 'CLVP_BACKEND') : undefined;
  if (initialised && !auto && (!want || want === initialised)) return initialised;
  const tried: string[] = [];
  const skipped: string[] = [];
  for (const name of want ? [want] : platform().backends) {
    if (!want && (name === 'webgpu' || name === 'webgl')) {
      const soft = await platform().softwareDevice?.(name);
      if (soft) {
        tried.push(`${name}: runs on ${soft}`);
        skipped.push(`${name} on ${soft}`);
        continue;
      }
    }
    const r = await trySetBackend(name);
    if (!r.ok) {
      if (want) throw new BackendSettingError(`backend '${want}': ${r.why}`);
      tried.push(`${name}: ${r.why}`);
      continue;
    }
    initialised = name;
    watchDevice(name);
    if (!logged || explicit) {
      const passed = skipped.length ? `; passed over ${skipped.join(' and ')}, slower than wasm (name it to use it anyway)` : '';
      log(`clvp-tfjs: using backend ${name}${r.detail ? ` (${r.detail})` : ''}${passed}`);
      logged = true;
    }
    return name;
  }
  throw new BackendError(`no tfjs backend could be initialised (${tried.join('; ')})`);
}

/**
 * Throw a BackendError naming `what` unless a tfjs backend is ready: a synchronous call that makes
 * tensors (returnTensors: 'tf') cannot wait for one, and tfjs would otherwise fail with its own
 * message about the highest-priority backend.
 */
export function requireReadyBackend(what: string): void {
  if ((tf.engine() as unknown as { backendInstance: unknown }).backendInstance == null) {
    throw new BackendError(`${what} makes tfjs tensors, and no tfjs backend is ready yet: await initBackend() first (or leave returnTensors out for plain arrays)`);
  }
}

/** The backend in use, initialising the default one if needed. */
export async function ensureBackend(): Promise<BackendName> {
  return initialised ?? initBackend();
}

export function currentBackend(): BackendName | undefined {
  return initialised;
}
