// The decoder kept on the device (what LocalRuntime does on webgpu, where nothing may be read back
// synchronously): a tensor residual stream and a TensorKVCache against the host stream and the
// wasm-kernel cache, on the same modules. Prefill, a shared prefix and its forks, row gathers,
// steps, HF's legacy cache layout and seeded sampling agree, and no tensor is left behind.
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend, setBackendLogger } from '../../src/backend';
import { ClvpModelForConditionalGeneration } from '../../src/clvp_model';
import { decodeSpeechTokens, prepareConditioning, resolveGenerationConfig } from '../../src/generation/generate';
import { readSafetensors } from '../../src/io/safetensors_fs';
import { LocalRuntime } from '../../src/runtime/local';
import { FIXTURE_REFERENCE } from '../helpers/env';

setBackendLogger(() => {});
const TINY = path.join(FIXTURE_REFERENCE, 'models', 'tiny');
const t = readSafetensors(path.join(FIXTURE_REFERENCE, 'cases', 'tiny.generate_greedy_2texts.safetensors'));
const feats = t.get('in.input_features')!;
const ids = t.get('in.input_ids')!;
const oneText = { data: (ids.data as Int32Array).slice(0, ids.shape[1]), shape: [1, ids.shape[1]] as [number, number] };

const maxDiff = (a: Float32Array, b: Float32Array) => {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
};

let model: ClvpModelForConditionalGeneration;
let host: LocalRuntime;
let device: LocalRuntime;
beforeAll(async () => {
  await initBackend('cpu');
  model = await ClvpModelForConditionalGeneration.fromPretrained(TINY, { tp: 1 });
  host = model.runtime as LocalRuntime;
  // The same modules (not disposed through this runtime): only the decoder's path differs.
  device = new LocalRuntime(model.modules, 'cpu', { onDevice: true });
});
afterAll(() => model.dispose());

test('prefill, a shared prefix, forks, a row gather and steps give the host path\'s logits', async () => {
  const features = tf.tensor3d(feats.data as Float32Array, feats.shape as [number, number, number]);
  const prep = await prepareConditioning(host, { inputIds: oneText, inputFeatures: features });
  features.dispose();
  const before = tf.memory().numTensors;
  const [L] = [prep.decoderInputs.shape[1]];
  const positionIds = { data: Int32Array.from({ length: L }, (_, i) => i), shape: [1, L] as [number, number] };
  const trace = async (rt: LocalRuntime) => {
    const out: Float32Array[] = [];
    const pre = await rt.prefill({ embeds: prep.decoderInputs, positionIds, share: true, chunkSize: 4 });
    out.push(pre.logits);
    const fork = await rt.fork(pre.cache);
    out.push(await rt.step(fork, Int32Array.of(5, 9, 17), L));
    await rt.gatherRows(fork, Int32Array.of(2, 0, 0));
    for (let s = 1; s < 6; s++) out.push(await rt.step(fork, Int32Array.of(3 * s, 7, 11 + s), L + s));
    const legacy = await rt.decoder({ ids: { data: Int32Array.of(1, 2, 3), shape: [3, 1] }, cache: fork, present: true });
    out.push(legacy.logits.data as Float32Array, ...legacy.present!.flatMap((p) => [p.key.data as Float32Array, p.value.data as Float32Array]));
    await rt.releaseCache(fork);
    await rt.releaseCache(pre.cache);
    return out;
  };
  const a = await trace(host);
  const b = await trace(device);
  expect(b).toHaveLength(a.length);
  const worst = Math.max(...a.map((x, i) => maxDiff(x, b[i])));
  expect(worst).toBeLessThan(1e-5);
  expect(tf.memory().numTensors).toBe(before);
  expect(device.liveCaches).toBe(0);
});

test('a full forward and seeded sampling agree with the host path', async () => {
  const features = tf.tensor3d(feats.data as Float32Array, feats.shape as [number, number, number]);
  const prep = await prepareConditioning(host, { inputIds: oneText, inputFeatures: features });
  features.dispose();
  const full = async (rt: LocalRuntime) => (await rt.decoder({ embeds: prep.decoderInputs, hiddenStates: true })).logits.data as Float32Array;
  expect(maxDiff(await full(host), await full(device))).toBeLessThan(1e-5);
  const config = resolveGenerationConfig(model.config, model.generationDefaults, { doSample: true, temperature: 0.8, topP: 0.8, maxNewTokens: 10, numReturnSequences: 4, seed: 7 });
  const run = (rt: LocalRuntime) => decodeSpeechTokens(rt, prep.decoderInputs, config, { repeatEachRow: 4 });
  const before = tf.memory().numTensors;
  const [x, y] = [await run(host), await run(device)];
  expect(Array.from(y.sequences.data)).toEqual(Array.from(x.sequences.data));
  expect(tf.memory().numTensors).toBe(before);
});
