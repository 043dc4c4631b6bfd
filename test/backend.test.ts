// The backend choice: the platform's order, names and 'auto', CLVP_BACKEND, and passing over GPU
// backends that would run on a software device.
import '../src/platform/node_install';
import * as tf from '@tensorflow/tfjs-core';
import { BackendError, currentBackend, initBackend, setBackendLogger } from '../src/backend';
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
