// Generation behaviour beyond the reference cases: seeded sampling, eos, abort, options, errors,
// the KV cache, and that long loops do not leak tensors.
import * as tf from '@tensorflow/tfjs-core';
import * as path from 'path';
import { initBackend, setBackendLogger } from '../../src/backend';
import { ClvpModelForConditionalGeneration } from '../../src/clvp_model';
import { AbortError, decodeSpeechTokens, generate, normalizeRows, prepareConditioning, resolveGenerationConfig, similarity } from '../../src/generation/generate';
import { generationConfigFromPreset, resolvePreset } from '../../src/generation/presets';
import { readSafetensors } from '../../src/io/safetensors_fs';
import { KVCache } from '../../src/layers/kv_cache';
import { AttentionKernels } from '../../src/layers/wasm_attention';
import { disposeOutput, fixSpeechDecoderOutput } from '../../src/models/modeling_clvp';
import { LocalRuntime } from '../../src/runtime/local';
import { FIXTURE_REFERENCE, TEST_BACKENDS } from '../helpers/env';

setBackendLogger(() => {});
const TINY = path.join(FIXTURE_REFERENCE, 'models', 'tiny');
const caseTensors = readSafetensors(path.join(FIXTURE_REFERENCE, 'cases', 'tiny.generate_greedy_2texts.safetensors'));
const ids = caseTensors.get('in.input_ids')!;
const mask = caseTensors.get('in.attention_mask')!;
const feats = caseTensors.get('in.input_features')!;
const oneText = { data: (ids.data as Int32Array).slice(0, ids.shape[1]), shape: [1, ids.shape[1]] as [number, number] };
const oneMask = { data: (mask.data as Int32Array).slice(0, mask.shape[1]), shape: [1, mask.shape[1]] as [number, number] };

describe.each(TEST_BACKENDS)('generation on %s', (backend) => {
  let model: ClvpModelForConditionalGeneration;
  let features: tf.Tensor3D;
  beforeAll(async () => {
    await initBackend(backend);
    model = await ClvpModelForConditionalGeneration.fromPretrained(TINY, { tp: 1 });
    features = tf.tensor3d(feats.data as Float32Array, feats.shape as [number, number, number]);
  });
  afterAll(async () => {
    await model.dispose();
    features.dispose();
  });
  const inputs = () => ({ inputIds: oneText, attentionMask: oneMask, inputFeatures: features });
  const sampling = { doSample: true, temperature: 0.8, topP: 0.8, repetitionPenalty: 2.0, maxNewTokens: 12, numReturnSequences: 4 };

  test('the same seed gives the same candidates; another seed other ones', async () => {
    const a = await generate(model, inputs(), { ...sampling, seed: 7 });
    const b = await generate(model, inputs(), { ...sampling, seed: 7 });
    const c = await generate(model, inputs(), { ...sampling, seed: 8 });
    expect(Array.from(a.sequences.data)).toEqual(Array.from(b.sequences.data));
    expect(Array.from(a.sequences.data)).not.toEqual(Array.from(c.sequences.data));
    expect(a.seed).toBe(b.seed);
    expect(a.sequences.shape[0]).toBe(4);
    expect(a.logitsPerText.shape).toEqual([1, 4]);
    [a, b, c].forEach(disposeOutput);
  });

  test('batching candidates keeps each batch bounded and covers every row', async () => {
    const progress: number[] = [];
    const out = await generate(model, inputs(), { ...sampling, seed: 3, batchSize: 3, onProgress: (p) => progress.push(p.batch) });
    expect(out.sequences.shape[0]).toBe(4);
    expect(new Set(progress)).toEqual(new Set([0, 1]));
    expect(Array.from(out.sequences.data).every((v) => v >= 0 && v < 64)).toBe(true);
    disposeOutput(out);
  });

  test('rows that produce eos are padded with pad and generation stops when all are done', async () => {
    // Force eos on every row at step 2: the loop must end after 3 tokens, not maxNewTokens.
    const eos = model.config.decoderConfig.eosTokenId;
    const one = (await prepareConditioning(model.runtime, inputs())).decoderInputs;
    const decIn = { ...one, shape: [2, ...one.shape.slice(1)], data: Float32Array.from([...one.data, ...one.data]) };
    const cfg = resolveGenerationConfig(model.config, model.generationDefaults, { maxNewTokens: 10 });
    const dec = await decodeSpeechTokens(model.runtime, decIn, cfg, { forcedTokens: (k) => (k === 0 ? Int32Array.of(5, eos) : k === 2 ? Int32Array.of(eos, 9) : undefined) });
    expect(dec.sequences.shape).toEqual([2, 4]);
    const rows = [Array.from(dec.sequences.data.slice(0, 4)), Array.from(dec.sequences.data.slice(4))];
    expect(rows[0][1]).toBe(5);
    expect(rows[0][3]).toBe(eos);
    expect(rows[1].slice(1)).toEqual([eos, eos, eos]); // padded after its eos
  });

  test('an AbortSignal stops generation and frees its tensors', async () => {
    const before = tf.memory().numTensors;
    const ctl = new AbortController();
    const p = generate(model, inputs(), { ...sampling, seed: 1, maxNewTokens: 40, onProgress: (x) => x.step === 2 && ctl.abort() , signal: ctl.signal });
    await expect(p).rejects.toBeInstanceOf(AbortError);
    expect(tf.memory().numTensors).toBe(before);
  });

  test('errors are computed before any work', async () => {
    await expect(generate(model, inputs(), { maxNewTokens: 64 })).rejects.toThrow(/maxNewTokens 64 needs decoder position 64, but max_position_embeddings is 64/);
    const long = { data: new Int32Array(62).fill(5), shape: [1, 62] as [number, number] };
    await expect(generate(model, { inputIds: long, inputFeatures: features })).rejects.toThrow(/62 tokens; at most max_text_tokens - 3 = 61/);
    await expect(generate(model, inputs(), { doSample: true, temperature: 0 })).rejects.toThrow(/temperature/);
    const twoFeat = tf.concat([features, features]) as tf.Tensor3D;
    const threeTexts = { data: new Int32Array(9).fill(5), shape: [3, 3] as [number, number] };
    await expect(generate(model, { inputIds: threeTexts, inputFeatures: twoFeat })).rejects.toThrow(/3 texts vs 2 audios/);
    twoFeat.dispose();
  });

  test('corrected decode positions feed the first new token at position 1', async () => {
    const ref = await generate(model, inputs(), { maxNewTokens: 4, outputScores: true });
    const fixed = await generate(model, inputs(), { maxNewTokens: 4, outputScores: true, correctedDecodePositions: true });
    expect(Array.from(ref.steps![1].positionIds!)).toEqual([2]);
    expect(Array.from(fixed.steps![1].positionIds!)).toEqual([1]);
    expect(Array.from(fixed.steps![0].logits)).toEqual(Array.from(ref.steps![0].logits)); // same first pass
    expect(Array.from(fixed.steps![1].logits)).not.toEqual(Array.from(ref.steps![1].logits));
    [ref, fixed].forEach(disposeOutput);
  });

  test('padToMaxMelTokens pads with the stop token before scoring, which changes the score', async () => {
    const plain = await generate(model, inputs(), { maxNewTokens: 6 });
    const padded = await generate(model, inputs(), { maxNewTokens: 6, padToMaxMelTokens: 20 });
    expect(padded.speechIds.shape).toEqual([1, 19]);
    const codes = model.config.decoderConfig.decoderFixingCodes;
    expect(Array.from(padded.speechIds.data.slice(-3))).toEqual(codes.slice(1));
    expect(padded.logitsPerText.dataSync()[0]).not.toBeCloseTo(plain.logitsPerText.dataSync()[0], 5);
    [plain, padded].forEach(disposeOutput);
  });

  test('averageConditioning combines clips into one voice vector', async () => {
    const two = tf.concat([features, tf.reverse(features, 2)]) as tf.Tensor3D;
    const avg = (await prepareConditioning(model.runtime, { inputIds: oneText, attentionMask: oneMask, inputFeatures: two }, true)).conditioning;
    const each = (await prepareConditioning(model.runtime, { inputIds: oneText, attentionMask: oneMask, inputFeatures: two }, false)).conditioning;
    expect(avg.shape[0]).toBe(1);
    expect(each.shape[0]).toBe(2);
    // The voice vector (position 0) of the average is the mean of the clips' voice vectors.
    const [, len, hidden] = each.shape;
    let diff = 0;
    for (let j = 0; j < hidden; j++) diff = Math.max(diff, Math.abs((each.data[j] + each.data[len * hidden + j]) / 2 - avg.data[j]));
    expect(diff).toBeLessThan(1e-5);
    two.dispose();
  });

  test('presets carry Tortoise sampling settings, including the hidden top_k 50', () => {
    const cfg = generationConfigFromPreset(resolvePreset('ultra_fast', { numAutoregressiveSamples: 4 }));
    expect(cfg).toMatchObject({ doSample: true, temperature: 0.8, topP: 0.8, topK: 50, repetitionPenalty: 2.0, numReturnSequences: 4, maxNewTokens: 500 });
  });

  test('rankCandidates sorts by CLVP score and stays within batch memory', async () => {
    const r = await model.rankCandidates(inputs(), { ...sampling, numCandidates: 5, batchSize: 2, seed: 11 });
    expect(r.candidates).toHaveLength(5);
    for (let i = 1; i < 5; i++) expect(r.candidates[i - 1].score).toBeGreaterThanOrEqual(r.candidates[i].score);
    expect(new Set(r.candidates.map((c) => c.index))).toEqual(new Set([0, 1, 2, 3, 4]));
    // The score is the model's own similarity for those ids.
    const best = r.candidates[0];
    const speech = await model.getSpeechFeatures({ speechIds: [best.speechIds] });
    const p = await prepareConditioning(model.runtime, inputs());
    const text = await model.getTextFeatures({ inputIds: p.ids, attentionMask: p.mask });
    const host = (t: tf.Tensor) => ({ dtype: 'float32' as const, shape: t.shape, data: t.dataSync() as Float32Array });
    const sim = similarity(normalizeRows(host(text)), normalizeRows(host(speech)), model.runtime.logitScale);
    expect(sim.data[0]).toBeCloseTo(best.score, 4);
    disposeOutput([speech, text]);
  });

  test('rankCandidates scores the candidates a few rows at a time, with the scores of one batch of all of them', async () => {
    const r = await model.rankCandidates(inputs(), { ...sampling, maxNewTokens: 8, numCandidates: 6, batchSize: 6, seed: 12 });
    const byIndex = [...r.candidates].sort((a, b) => a.index - b.index);
    const speech = await model.getSpeechFeatures({ speechIds: byIndex.map((c) => c.speechIds) });
    const p = await prepareConditioning(model.runtime, inputs());
    const text = await model.getTextFeatures({ inputIds: p.ids, attentionMask: p.mask });
    const host = (t: tf.Tensor) => ({ dtype: 'float32' as const, shape: t.shape, data: t.dataSync() as Float32Array });
    const sim = similarity(normalizeRows(host(text)), normalizeRows(host(speech)), model.runtime.logitScale);
    expect(sim.data).toHaveLength(6);
    byIndex.forEach((c, i) => expect(c.score).toBeCloseTo(sim.data[i], 5));
    disposeOutput([speech, text]);
  });

  test('candidates of one text share one prefill across all batches', async () => {
    const spy = jest.spyOn(model.runtime as LocalRuntime, 'prefill');
    const before = tf.memory().numTensors;
    const r = await model.rankCandidates(inputs(), { ...sampling, maxNewTokens: 6, numCandidates: 5, batchSize: 2, seed: 4 });
    const prefills = spy.mock.calls.length;
    spy.mockRestore();
    expect(prefills).toBe(1);
    expect((model.runtime as LocalRuntime).liveCaches).toBe(0);
    expect(r.candidates).toHaveLength(5);
    expect(r.batchSize).toBe(2);
    expect(tf.memory().numTensors).toBe(before);
  });

  test('getSpeechFeatures without speech ids generates them first', async () => {
    const f = await model.getSpeechFeatures({ inputIds: oneText, inputFeatures: features, attentionMask: oneMask }, { maxNewTokens: 5 });
    expect(f.shape).toEqual([1, model.config.speechConfig.projectionDim]);
    f.dispose();
  });

  // The full counts run on the first backend; the slow pure-JS cpu backend repeats fewer calls.
  const reps = (n: number) => (backend === TEST_BACKENDS[0] ? n : 5);
  test('tf.memory().numTensors stays flat across 20 generate calls and 50 forward calls', async () => {
    const run = () => generate(model, inputs(), { ...sampling, maxNewTokens: 5, seed: 2 }).then(disposeOutput);
    await run();
    const before = tf.memory().numTensors;
    for (let i = 0; i < reps(20); i++) await run();
    expect(tf.memory().numTensors).toBe(before);
    const fwd = async () => disposeOutput(await model.forward({ inputIds: oneText, attentionMask: oneMask, inputFeatures: features, returnLoss: true }));
    await fwd();
    const before2 = tf.memory().numTensors;
    for (let i = 0; i < reps(50); i++) await fwd();
    expect(tf.memory().numTensors).toBe(before2);
  });

});

describe('KV cache', () => {
  beforeAll(() => initBackend('wasm'));
  test('a cache that grows from room for 2 positions gives the logits of one sized up front, and frees its memory', async () => {
    const model = await ClvpModelForConditionalGeneration.fromPretrained(TINY, { tp: 1 });
    const lm = model.speech_decoder_model;
    const kernels = AttentionKernels.get();
    const before = kernels.used;
    const run = async (capacity: number) => {
      const cache = new KVCache(lm.config.numHiddenLayers, capacity);
      const outs: number[] = [];
      outs.push(...lm.lastLogits({ inputIds: [[1, 2, 3, 4, 5]], cache }));
      for (let s = 0; s < 12; s++) outs.push(...lm.lastLogits({ inputIds: [[(s * 7) % 60]], cache }));
      expect(cache.length).toBe(17);
      expect(kernels.used).toBeGreaterThan(before);
      cache.dispose();
      return outs;
    };
    const sized = await run(64);
    const grown = await run(2); // doubles 5 -> 10 -> 20
    const maxDiff = Math.max(...sized.map((v, i) => Math.abs(v - grown[i])));
    expect(maxDiff).toBe(0);
    expect(kernels.used).toBe(before);
    await model.dispose();
  });
});

describe('KV cache shared prefix', () => {
  beforeAll(() => initBackend('wasm'));
  test('a shared prefix gives the same logits as a prefix copied to every row', async () => {
    const model = await ClvpModelForConditionalGeneration.fromPretrained(TINY, { tp: 1 });
    const lm = model.speech_decoder_model;
    const run = async (mode: 'shared' | 'copied') => {
      const cache = new KVCache(lm.config.numHiddenLayers, 4);
      lm.lastLogits({ inputIds: [[1, 2, 3, 4, 5, 6]], cache });
      if (mode === 'shared') cache.shareAsPrefix();
      else cache.gatherRows(new Int32Array(3));
      const outs: number[] = [];
      for (let s = 0; s < 6; s++) {
        outs.push(...lm.lastLogits({ inputIds: [[s], [s + 10], [s + 20]], cache }));
      }
      const legacy = cache.legacy(1);
      const key = Array.from(legacy.key.dataSync());
      expect(legacy.key.shape).toEqual([3, 4, 12, 8]);
      legacy.key.dispose();
      legacy.value.dispose();
      const bytes = cache.bytes();
      cache.dispose();
      return { outs, key, bytes };
    };
    const shared = await run('shared');
    const copied = await run('copied');
    expect(Math.max(...shared.outs.map((v, i) => Math.abs(v - copied.outs[i])))).toBeLessThan(1e-5);
    expect(Math.max(...shared.key.map((v, i) => Math.abs(v - copied.key[i])))).toBeLessThan(1e-6);
    expect(shared.bytes).toBeLessThan(copied.bytes);
    await model.dispose();
  });
});

describe('fixSpeechDecoderOutput', () => {
  const codes = [7, 3, 3, 11];
  test('follows the reference and handles fewer than 3 tokens after bos', () => {
    const run = (row: number[]) => Array.from(fixSpeechDecoderOutput({ data: Int32Array.from(row), shape: [1, row.length] }, 63, codes).data);
    expect(run([62, 5, 6, 63, 8, 9, 10])).toEqual([5, 6, 7, 3, 3, 11]);
    expect(run([62, 5, 6, 8])).toEqual([5, 6, 8]); // no eos: only bos dropped
    expect(run([62, 63, 63])).toEqual([3, 11]); // two left: the last two closing codes
    expect(run([62, 63])).toEqual([11]);
    expect(run([62])).toEqual([]);
  });
});
