// tfjs backends in the page: WebGPU, WebGL and wasm each initialise (wasm from the binaries our
// server serves beside the bundle) and compute a matmul that matches the cpu backend; a WebGPU
// device lost under a model is reported, and initBackend() recovers on a new device.
import * as tf from '@tensorflow/tfjs-core';
import { BackendLostError, backendLost, ClvpModelForConditionalGeneration, disposeOutput, initBackend, BackendName, platform, setBackendLogger, UrlFolder } from '../../../src/browser';
import { assert, assertEqual, run, test, xorshift } from './harness';

const M = 64;
const K = 96;
const N = 48;
const next = xorshift(2024);
const a = Float32Array.from({ length: M * K }, () => (next() / 2 ** 32) * 2 - 1);
const b = Float32Array.from({ length: K * N }, () => (next() / 2 ** 32) * 2 - 1);
let reference: Float32Array;

async function matmul(): Promise<Float32Array> {
  const x = tf.tensor2d(a, [M, K]);
  const y = tf.tensor2d(b, [K, N]);
  const z = tf.matMul(x, y); // [M, N]
  const out = (await z.data()) as Float32Array;
  tf.dispose([x, y, z]);
  return out;
}

/** Largest difference relative to the largest reference value (near-zero entries make elementwise ratios meaningless). */
function relativeError(got: Float32Array, want: Float32Array): number {
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < want.length; i++) {
    diff = Math.max(diff, Math.abs(got[i] - want[i]));
    scale = Math.max(scale, Math.abs(want[i]));
  }
  return diff / scale;
}

// First: once a backend is chosen, initBackend() without a name keeps it.
test('with no name, the first backend not on a software device is chosen, and the log says what was passed over', async () => {
  const soft = { webgpu: await platform().softwareDevice!('webgpu'), webgl: await platform().softwareDevice!('webgl') };
  // Headless Chromium without a GPU: WebGPU on SwiftShader, WebGL on ANGLE over SwiftShader.
  assert(/swiftshader/i.test(soft.webgpu ?? ''), `webgpu adapter: ${soft.webgpu}`);
  assert(/swiftshader/i.test(soft.webgl ?? ''), `webgl renderer: ${soft.webgl}`);
  const lines: string[] = [];
  setBackendLogger((m) => lines.push(m));
  try {
    assertEqual(await initBackend(), 'wasm', 'default choice');
  } finally {
    setBackendLogger(undefined);
  }
  assertEqual(lines.length, 1, 'one log line');
  assert(/using backend wasm; passed over webgpu on a software adapter \(.*swiftshader.*\) and webgl on a software renderer \(.*SwiftShader.*\)/i.test(lines[0]), lines[0]);
});

test('cpu gives the reference', async () => {
  assertEqual(await initBackend('cpu'), 'cpu', 'backend');
  reference = await matmul();
  // spot check one entry against a plain loop
  let s = 0;
  for (let k = 0; k < K; k++) s += a[5 * K + k] * b[k * N + 7];
  assert(Math.abs(reference[5 * N + 7] - s) < 1e-5, `entry (5, 7): ${reference[5 * N + 7]} vs ${s}`);
});

for (const name of ['webgpu', 'webgl', 'wasm'] as BackendName[]) {
  test(`${name} initialises and matches cpu within 1e-5 relative`, async () => {
    assertEqual(await initBackend(name), name, 'backend');
    assertEqual(tf.getBackend(), name, 'tf.getBackend()');
    const before = tf.memory().numTensors;
    const got = await matmul();
    assertEqual(tf.memory().numTensors, before, 'no tensors leaked');
    const err = relativeError(got, reference);
    assert(err <= 1e-5, `relative error ${err.toExponential(2)}`);
  });
}

test('a WebGPU device lost under a model: its next call says so, and initBackend() gives a new device that computes the same', async () => {
  const lines: string[] = [];
  setBackendLogger((m) => lines.push(m));
  try {
    assertEqual(await initBackend('webgpu'), 'webgpu', 'backend');
    const tiny = new UrlFolder('/reference/models/tiny/', { cache: false });
    const ids = { data: Int32Array.of(1, 2, 3), shape: [1, 3] as [number, number] };
    const features = async (m: ClvpModelForConditionalGeneration) => {
      const t = await m.getTextFeatures({ inputIds: ids });
      const v = (await t.data()) as Float32Array;
      t.dispose();
      return v;
    };
    const model = await ClvpModelForConditionalGeneration.fromPretrained(tiny, { backend: 'webgpu' });
    const before = await features(model);
    (tf.backend() as unknown as { device: { destroy(): void; lost: Promise<unknown> } }).device.destroy();
    await (tf.backend() as unknown as { device: { lost: Promise<unknown> } }).device.lost;
    await new Promise((r) => setTimeout(r, 0));
    assert(/^the WebGPU device was lost \(destroyed/.test(backendLost() ?? ''), `backendLost(): ${backendLost()}`);
    assert(lines.some((l) => /^clvp-tfjs: the WebGPU device was lost \(destroyed.*call initBackend\(\) for a new device, then load the model again$/.test(l)), `log: ${lines.join(' | ')}`);
    let error: unknown;
    try {
      await features(model);
    } catch (e) {
      error = e;
    }
    assert(error instanceof BackendLostError, `the call after the loss threw ${String(error)}`);
    await model.dispose();
    assertEqual(await initBackend(), 'webgpu', 'initBackend() after the loss');
    assertEqual(backendLost(), undefined, 'backendLost() on the new device');
    const again = await ClvpModelForConditionalGeneration.fromPretrained(tiny, { backend: 'webgpu' });
    const after = await features(again);
    await again.dispose();
    assertEqual(Array.from(after), Array.from(before), 'text features on the new device');
  } finally {
    setBackendLogger(undefined);
  }
});

test('WebGPU: the decoder reads nothing back synchronously (tfjs-webgpu cannot map buffers synchronously): greedy generate gives wasm\'s ids, and the device survives', async () => {
  const tiny = new UrlFolder('/reference/models/tiny/', { cache: false });
  const ids = { data: Int32Array.of(1, 2, 3, 4), shape: [1, 4] as [number, number] };
  const run = async (backend: string) => {
    assertEqual(await initBackend(backend), backend, 'backend');
    const model = await ClvpModelForConditionalGeneration.fromPretrained(tiny, { backend });
    const features = tf.tidy(() => tf.reshape(tf.mul(tf.sin(tf.range(0, 80 * 40)), 0.5), [1, 80, 40])) as tf.Tensor3D;
    try {
      const out = await model.generate({ inputIds: ids, inputFeatures: features }, { doSample: false, maxNewTokens: 6 });
      const logits = Array.from(await out.logitsPerText.data());
      const sequences = Array.from(out.sequences.data);
      disposeOutput(out);
      return { sequences, logits };
    } finally {
      features.dispose();
      await model.dispose();
    }
  };
  const wasm = await run('wasm');
  const before = tf.memory().numTensors;
  const gpu = await run('webgpu');
  assertEqual(backendLost('webgpu'), undefined, 'the WebGPU device after generate');
  assertEqual(gpu.sequences, wasm.sequences, 'greedy ids on webgpu and wasm');
  assert(Math.abs(gpu.logits[0] - wasm.logits[0]) < 1e-4, `logits_per_text ${gpu.logits[0]} vs ${wasm.logits[0]}`);
  assertEqual(tf.memory().numTensors, before, 'tensors after the webgpu run');
  return `${gpu.sequences.length - 1} greedy ids equal; logits_per_text ${gpu.logits[0].toFixed(5)} vs ${wasm.logits[0].toFixed(5)}`;
});

test('wasm runs threaded (the page is isolated)', async () => {
  await initBackend('wasm');
  assertEqual(await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT'), true, 'multithread support');
});


run();
