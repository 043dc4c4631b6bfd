// Tensor parallelism over wasm workers: the same candidates for every number of ranks the heads
// allow, failures that name the worker and never hang, abort, and no leaked tensors in any rank.
import * as tf from '@tensorflow/tfjs-core';
import { spawn } from 'child_process';
import * as path from 'path';
import { initBackend, setBackendLogger } from '../../src/backend';
import { ClvpModelForConditionalGeneration } from '../../src/clvp_model';
import { LocalFolder } from '../../src/io/local_files';
import { readSafetensors } from '../../src/io/safetensors_fs';
import { TensorParallelRuntime } from '../../src/runtime/pool';
import { FaultInjection } from '../../src/runtime/protocol';
import { AbortError } from '../../src/runtime/runtime';
import { FIXTURE_REFERENCE } from '../helpers/env';

setBackendLogger(() => {});
const model = (name: string) => path.join(FIXTURE_REFERENCE, 'models', name);
const tensors = readSafetensors(path.join(FIXTURE_REFERENCE, 'cases', 'tiny.generate_greedy_2texts.safetensors'));
const ids = tensors.get('in.input_ids')!;
const mask = tensors.get('in.attention_mask')!;
const feats = tensors.get('in.input_features')!;
const row = (t: typeof ids, r: number) => ({ data: (t.data as Int32Array).slice(r * t.shape[1], (r + 1) * t.shape[1]), shape: [1, t.shape[1]] as [number, number] });
const sampling = { doSample: true, temperature: 0.8, topP: 0.8, repetitionPenalty: 2.0, maxNewTokens: 24 };

let features: tf.Tensor3D;
beforeAll(async () => {
  await initBackend('wasm');
  features = tf.tensor3d(feats.data as Float32Array, feats.shape as [number, number, number]);
});
afterAll(() => features.dispose());
const inputs = () => ({ inputIds: row(ids, 0), attentionMask: row(mask, 0), inputFeatures: features });

async function withModel<T>(name: string, tp: number, fn: (m: ClvpModelForConditionalGeneration) => Promise<T>): Promise<T> {
  const m = await ClvpModelForConditionalGeneration.fromPretrained(model(name), { tp });
  try {
    expect(m.tp).toBe(tp);
    return await fn(m);
  } finally {
    await m.dispose();
  }
}

describe('seeded sampling gives the same candidates for every rank count', () => {
  // tiny: 2 heads everywhere; tiny-partial-rotary: 3 heads (uneven over 2), n_inner 100, vocab 80.
  test.each([['tiny', [1, 2]], ['tiny-partial-rotary', [1, 2, 3]]] as const)('%s over %p ranks', async (name, counts) => {
    const results = [];
    for (const tp of counts) {
      results.push(await withModel(name, tp, (m) => m.rankCandidates(inputs(), { ...sampling, numCandidates: 6, batchSize: 3, seed: 5 })));
    }
    const ref = results[0];
    for (const r of results.slice(1)) {
      expect(r.candidates.map((c) => [c.index, c.speechIds])).toEqual(ref.candidates.map((c) => [c.index, c.speechIds]));
      r.candidates.forEach((c, i) => expect(Math.abs(c.score - ref.candidates[i].score)).toBeLessThan(1e-5));
      expect(r.seed).toBe(ref.seed);
    }
  });

  test('several texts, several sequences each (prefixes copied per row) on 2 ranks', async () => {
    const two = { inputIds: { data: ids.data as Int32Array, shape: ids.shape as [number, number] }, attentionMask: { data: mask.data as Int32Array, shape: mask.shape as [number, number] }, inputFeatures: features };
    const run = (tp: number) => withModel('tiny', tp, async (m) => {
      const out = await m.generate(two, { ...sampling, numReturnSequences: 3, batchSize: 4, seed: 17 });
      const r = { sequences: Array.from(out.sequences.data), scores: Array.from(out.logitsPerText.dataSync()) };
      tf.dispose([out.textEmbeds, out.speechEmbeds, out.logitsPerText, out.logitsPerSpeech, out.textPoolerOutput, out.speechPoolerOutput, out.conditioningEmbeds, out.decoderInputsEmbeds]);
      return r;
    });
    const [one, split] = [await run(1), await run(2)];
    expect(split.sequences).toEqual(one.sequences);
    split.scores.forEach((s, i) => expect(Math.abs(s - one.scores[i])).toBeLessThan(1e-5));
  });
});

describe('failures', () => {
  const start = (faults: Record<number, FaultInjection>) => TensorParallelRuntime.start({ kind: 'folder', folder: new LocalFolder(model('tiny')) }, { tp: 2, backend: 'wasm', faults });

  test('a worker that exits mid-generation fails the call, naming the worker; later calls fail fast', async () => {
    const { runtime, generationConfig } = await start({ 1: { exitOnStep: 3 } });
    const m = ClvpModelForConditionalGeneration.fromRuntime(runtime, generationConfig);
    const t0 = Date.now();
    await expect(m.rankCandidates(inputs(), { ...sampling, numCandidates: 4, seed: 1 })).rejects.toThrow(/tensor-parallel worker 1 \(of 2\) stopped: exited with code 3/);
    await expect(m.getTextFeatures({ inputIds: row(ids, 0) })).rejects.toThrow(/worker 1 \(of 2\) stopped/);
    await m.dispose();
    expect(Date.now() - t0).toBeLessThan(20000);
  });

  test('an exception in one worker fails the call with its message and rank; the pool stays usable', async () => {
    const { runtime, generationConfig } = await start({ 0: { throwOnStep: 2 } });
    const m = ClvpModelForConditionalGeneration.fromRuntime(runtime, generationConfig);
    try {
      await expect(m.rankCandidates(inputs(), { ...sampling, numCandidates: 4, seed: 1 })).rejects.toThrow(/tensor-parallel worker 0: injected fault at step call 2/);
      // The other rank was released from its barrier; both restart in step.
      const r = await m.rankCandidates(inputs(), { ...sampling, numCandidates: 4, seed: 1 });
      expect(r.candidates).toHaveLength(4);
      const again = await withModel('tiny', 1, (one) => one.rankCandidates(inputs(), { ...sampling, numCandidates: 4, seed: 1 }));
      expect(r.candidates.map((c) => c.speechIds)).toEqual(again.candidates.map((c) => c.speechIds));
    } finally {
      await m.dispose();
    }
  });

  test('bad input is the same user error as on one instance', async () => {
    await withModel('tiny', 2, async (m) => {
      await expect(m.getTextFeatures({ inputIds: [[1, 999]] })).rejects.toThrow(/text_encoder_model.token_embedding: id 999 at flat index 1 is outside \[0, 256\)/);
      const err = await m.getTextFeatures({ inputIds: [[1, 999]] }).catch((e) => e);
      expect(err).toBeInstanceOf(RangeError);
      expect((await m.getTextFeatures({ inputIds: [[1, 2]] })).shape).toEqual([1, 32]);
    });
  });
});

describe('abort and memory', () => {
  test('an AbortSignal stops a long call in every worker; the pool stays usable and no rank leaks tensors', async () => {
    await withModel('tiny', 2, async (m) => {
      // One whole job first: each rotary module keeps the cos/sin tables of the last length it saw
      // (two tensors). Without this, the count below would depend on whether the abort lands before
      // or after the aborted call's first rotary lookup; with it, that lookup swaps two for two.
      await m.rankCandidates(inputs(), { ...sampling, numCandidates: 2, seed: 3 });
      const before = (await m.memory()).map((x) => x.numTensors);
      const ctl = new AbortController();
      const p = m.rankCandidates(inputs(), { ...sampling, maxNewTokens: 40, numCandidates: 4, seed: 3, signal: ctl.signal, onProgress: (x) => x.step === 3 && ctl.abort() });
      await expect(p).rejects.toBeInstanceOf(AbortError);
      // A call aborted while it runs inside the workers (a big speech-encoder batch).
      const ctl2 = new AbortController();
      const big = m.runtime.encoder({ which: 'speech', ids: { data: new Int32Array(64 * 60).fill(5), shape: [64, 60] } }, ctl2.signal);
      setTimeout(() => ctl2.abort(), 5);
      await expect(big).rejects.toBeInstanceOf(AbortError);
      expect((await m.memory()).map((x) => x.numTensors)).toEqual(before);
      expect((await m.rankCandidates(inputs(), { ...sampling, numCandidates: 2, seed: 3 })).candidates).toHaveLength(2);
    });
  });

  test('tf.memory().numTensors stays flat in every worker over repeated jobs', async () => {
    await withModel('tiny-partial-rotary', 2, async (m) => {
      const job = () => m.rankCandidates(inputs(), { ...sampling, numCandidates: 4, batchSize: 2, seed: 8 });
      await job();
      const before = await m.memory();
      for (let i = 0; i < 5; i++) await job();
      const after = await m.memory();
      expect(after.map((x) => x.numTensors)).toEqual(before.map((x) => x.numTensors));
      expect(after).toHaveLength(2);
      // The KV caches live beside each rank's heap: 3 heads of 16 over 2 ranks are 2 + 1, and a
      // batch of 2 rows keeps its own 64 first positions (one chunk) of keys and values in 2 layers.
      const ownBytes = (heads: number) => 2 * heads * 64 * 16 * 4 * 2 * 2;
      expect(before[0].kvCachePeakBytes).toBeGreaterThanOrEqual(ownBytes(2));
      expect(before[1].kvCachePeakBytes).toBeGreaterThanOrEqual(ownBytes(1));
      expect(before[0].kvCachePeakBytes).toBeGreaterThan(before[1].kvCachePeakBytes);
      // Repeated jobs reuse the blocks the first one gave back: the peak does not creep up.
      expect(after.map((x) => x.kvCachePeakBytes)).toEqual(before.map((x) => x.kvCachePeakBytes));
    });
  });
});

test('a process that does not dispose its tensor-parallel model still exits promptly', async () => {
  const root = path.resolve(__dirname, '..', '..');
  const script = `
    require('ts-node').register({ transpileOnly: true, project: ${JSON.stringify(path.join(root, 'tsconfig.json'))} });
    const { ClvpModelForConditionalGeneration, setLogger, initBackend } = require(${JSON.stringify(path.join(root, 'src', 'index.ts'))});
    setLogger(() => {});
    (async () => {
      await initBackend('wasm');
      const m = await ClvpModelForConditionalGeneration.fromPretrained(${JSON.stringify(model('tiny'))}, { tp: 2 });
      const t = await m.getTextFeatures({ inputIds: [[1, 2, 3]] });
      console.log('features', t.shape.join('x'));
    })();`;
  const t0 = Date.now();
  const { code, out } = await new Promise<{ code: number | null; out: string }>((resolve) => {
    const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const kill = setTimeout(() => child.kill('SIGKILL'), 60000);
    child.on('exit', (c) => {
      clearTimeout(kill);
      resolve({ code: c, out });
    });
  });
  expect(out).toContain('features 1x32');
  expect(code).toBe(0);
  expect(Date.now() - t0).toBeLessThan(60000);
});
