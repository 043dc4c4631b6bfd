// Picks and initialises the tfjs backend of a web page. Preference: WebGPU (fast, float32
// throughout) > wasm (exact float32 on the CPU, threaded where the page is cross-origin isolated) >
// WebGL (fast, but some devices compute in half precision) > cpu. The wasm binaries are fetched
// from the platform's wasmPaths(), beside the bundle, never from a CDN.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-webgl';
import '@tensorflow/tfjs-backend-webgpu';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { platform } from './platform/platform';

export type BrowserBackendName = 'webgpu' | 'wasm' | 'webgl' | 'cpu';
export const BROWSER_BACKENDS: readonly BrowserBackendName[] = ['webgpu', 'wasm', 'webgl', 'cpu'];

export class BrowserBackendError extends Error {}

let wasmPathsSet = false;

/**
 * Switch tfjs to `name`, or to the first of BROWSER_BACKENDS that initialises here when no name
 * is given; resolves with the backend in use.
 */
export async function initBrowserBackend(name?: BrowserBackendName): Promise<BrowserBackendName> {
  if (!wasmPathsSet) {
    // tfjs picks the threaded, SIMD or plain binary itself; it only needs the folder.
    setWasmPaths(platform().wasmPaths());
    wasmPathsSet = true;
  }
  const tried: string[] = [];
  for (const candidate of name ? [name] : BROWSER_BACKENDS) {
    let ok = false;
    try {
      ok = await tf.setBackend(candidate);
      await tf.ready();
    } catch (e) {
      tried.push(`${candidate}: ${(e as Error).message}`);
      continue;
    }
    if (ok && tf.getBackend() === candidate) {
      platform().log(`clvp-tfjs: tfjs backend ${candidate}`);
      return candidate;
    }
    tried.push(`${candidate}: not available in this browser`);
  }
  throw new BrowserBackendError(`clvp-tfjs: no tfjs backend could be initialised (${tried.join('; ')})`);
}
