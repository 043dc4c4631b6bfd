// The backend choice: the platform's order, names and 'auto', CLVP_BACKEND, passing over GPU
// backends that would run on a software device, and a device lost under a running model.
import '../src/platform/node_install';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import { BackendError, BackendLostError, backendLost, currentBackend, explainBackendFailure, initBackend, setBackendLogger } from '../src/backend';
import { ClvpModelForConditionalGeneration } from '../src/clvp_model';
import { platform, Platform, setPlatform } from '../src/platform/platform';

const node = platform();
let lines: string[] = [];

beforeEach(() => {
  lines = [];
  setBackendLogger((m) => lines.push(m));
});
afterEach(() => {
  setBackendLogger(undefined);
  setPlatform(node);
  delete process.env.CLVP_BACKEND;
});

test('Node without tfjs-node: wasm by default; a name switches, no name keeps it, auto chooses again', async () => {
  await initBackend('auto');
  expect(currentBackend()).toBe('wasm');
  expect(tf.getBackend()).toBe('wasm');
  expect(await initBackend('cpu')).toBe('cpu');
  expect(tf.getBackend()).toBe('cpu');
  expect(await initBackend()).toBe('cpu');
  expect(await initBackend('auto')).toBe('wasm');
  expect(tf.getBackend()).toBe('wasm');
  expect(lines.some((l) => l === 'clvp-tfjs: using backend cpu')).toBe(true);
});

test('bad names say where they came from and what is allowed', async () => {
  await expect(initBackend('metal')).rejects.toThrow(/^backend option: unknown backend 'metal' \(expected one of tensorflow, webgpu, wasm, webgl, cpu, or auto\)$/);
  await expect(initBackend('webgpu')).rejects.toThrow(BackendError);
  await expect(initBackend('webgpu')).rejects.toThrow(/^backend 'webgpu': not available in Node$/);
  await expect(initBackend('tensorflow')).rejects.toThrow(/needs @tensorflow\/tfjs-node/);
});

test('CLVP_BACKEND names the backend when no option does, and a bad value names the variable', async () => {
  await initBackend('cpu');
  process.env.CLVP_BACKEND = 'wasm';
  expect(await initBackend()).toBe('wasm');
  process.env.CLVP_BACKEND = 'gpu3';
  await expect(initBackend()).rejects.toThrow(/^CLVP_BACKEND: unknown backend 'gpu3'/);
});

test('the automatic choice passes over a GPU backend on a software device, and says so; a name still forces it', async () => {
  const probed: string[] = [];
  const soft: Platform = {
    ...node,
    backends: ['webgl', 'wasm', 'cpu'],
    async softwareDevice(b) {
      probed.push(b);
      return b === 'webgl' ? 'a software renderer (ANGLE (Google, Vulkan 1.3.0 (SwiftShader Device)))' : undefined;
    },
  };
  setPlatform(soft);
  await initBackend('cpu');
  lines = [];
  expect(await initBackend('auto')).toBe('wasm');
  expect(probed).toEqual(['webgl']);
  expect(lines).toEqual(['clvp-tfjs: using backend wasm; passed over webgl on a software renderer (ANGLE (Google, Vulkan 1.3.0 (SwiftShader Device))), slower than wasm (name it to use it anyway)']);
  // Named, it is not probed: the user asked for it (here it is not registered in Node at all).
  await expect(initBackend('webgl')).rejects.toThrow(/^backend 'webgl': not available in Node$/);
  expect(probed).toEqual(['webgl']);
});

test('with only software GPU backends and nothing else, the error lists why each was passed over', async () => {
  setPlatform({ ...node, backends: ['webgpu'], softwareDevice: async () => 'a software adapter (google swiftshader)' });
  await initBackend('cpu');
  await expect(initBackend('auto')).rejects.toThrow(/^no tfjs backend could be initialised \(webgpu: runs on a software adapter \(google swiftshader\)\)$/);
});

describe('a lost device', () => {
  // The platform reports the loss (in a page: GPUDevice.lost, webglcontextlost); here a stand-in
  // platform hands the test its callback, and the cpu backend plays the GPU backend.
  let loseDevice: ((why: string) => void) | undefined;
  const watching: Platform = { ...node, watchDevice: (_name, _backend, onLost) => void (loseDevice = onLost) };
  const TINY = path.resolve(__dirname, 'fixtures', 'reference', 'models', 'tiny');

  test('a call after it says so, an error in flight is explained, no tensors stay, and initBackend() makes a new instance', async () => {
    setPlatform(watching);
    await initBackend('wasm');
    await initBackend('cpu');
    const first = tf.backend();
    const model = await ClvpModelForConditionalGeneration.fromPretrained(TINY, { tp: 1, backend: 'cpu' });
    const ids = { data: Int32Array.of(1, 2, 3), shape: [1, 3] as [number, number] };
    const e1 = await model.getTextFeatures({ inputIds: ids });
    const want = Float32Array.from(e1.dataSync());
    e1.dispose();
    const baseline = tf.memory().numTensors;
    expect(backendLost()).toBeUndefined();

    loseDevice!('the WebGPU device was lost (destroyed)');
    expect(backendLost()).toBe('the WebGPU device was lost (destroyed)');
    expect(lines.at(-1)).toBe('clvp-tfjs: the WebGPU device was lost (destroyed): the tensors on it are gone; call initBackend() for a new device, then load the model again');
    // A call on the model now fails at once, naming the cause.
    await expect(model.getTextFeatures({ inputIds: ids })).rejects.toThrow(BackendLostError);
    const features = tf.zeros([1, 80, 20]) as tf.Tensor3D;
    await expect(model.generate({ inputIds: ids, inputFeatures: features })).rejects.toThrow(/: the WebGPU device was lost \(destroyed\); call initBackend\(\) for a new device, then load the model again$/);
    features.dispose();
    // An error thrown by a call already running on the device (a failed mapAsync) is explained.
    const raw = new Error("Failed to execute 'mapAsync' on 'GPUBuffer': A valid external Instance reference no longer exists.");
    const explained = explainBackendFailure(raw) as Error;
    expect(explained).toBeInstanceOf(BackendLostError);
    expect(explained.message).toBe(`the WebGPU device was lost (destroyed); call initBackend() for a new device, then load the model again (the call failed with: ${raw.message})`);
    await model.dispose();
    expect(tf.memory().numTensors).toBeLessThanOrEqual(baseline);

    // initBackend() with no name: the same backend on a new instance; the model loads and computes again.
    expect(await initBackend()).toBe('cpu');
    expect(tf.backend()).not.toBe(first);
    expect(backendLost()).toBeUndefined();
    const again = await ClvpModelForConditionalGeneration.fromPretrained(TINY, { tp: 1, backend: 'cpu' });
    const e2 = await again.getTextFeatures({ inputIds: ids });
    expect(Array.from(e2.dataSync())).toEqual(Array.from(want));
    e2.dispose();
    await again.dispose();
    // The old instance's report, should it come late, no longer marks the new one lost.
    loseDevice = undefined;
  });
});
