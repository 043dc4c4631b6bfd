// Loading the bundled model in the page: loadClvp by URL (progress for the download and for the
// weights, the processor from the same folder), fromFiles on a folder the runner uploads into a
// webkitdirectory input (the same numbers as by URL), one instance by default, and { tp: 2 } on two
// Web Workers giving the same seeded candidates as one instance. Runs with ?wait=1.
import * as tf from '@tensorflow/tfjs-core';
import { clearModelCache, ClvpModelForConditionalGeneration, ClvpProcessor, disposeOutput, fromFiles, initBackend, loadClvp, LoadedClvp, RankResult, voiceFromFile } from '../../../src/browser';
import { assert, assertClose, assertEqual, rejects, run, test } from './harness';

const MODEL = 'models/clvp-random-small/';
const input = document.createElement('input');
input.type = 'file';
input.id = 'pick';
input.webkitdirectory = true;
document.body.append(input);

let byUrl: LoadedClvp;
let textEmbeds: Float32Array;
let seeded: RankResult;

async function embed(model: ClvpModelForConditionalGeneration, processor: ClvpProcessor): Promise<Float32Array> {
  const enc = processor.call({ text: 'The rain in Spain stays mainly in the plain.' });
  const t = await model.getTextFeatures({ inputIds: enc.inputIds! });
  const data = (await t.data()) as Float32Array;
  disposeOutput([enc, t]);
  return data;
}

async function job(model: ClvpModelForConditionalGeneration, processor: ClvpProcessor): Promise<RankResult> {
  const bytes = new Uint8Array(await (await fetch('examples/voice.wav')).arrayBuffer());
  const voice = await voiceFromFile(bytes, { name: 'voice.wav' });
  const inputs = processor.call({ text: 'Hello there.', rawSpeech: [voice.samples], samplingRate: voice.sampleRate });
  try {
    return await model.rankCandidates({ inputIds: inputs.inputIds!, inputFeatures: inputs.inputFeatures! }, { numCandidates: 4, doSample: true, temperature: 0.8, topP: 0.8, repetitionPenalty: 2, maxNewTokens: 30, seed: 5 });
  } finally {
    disposeOutput(inputs);
  }
}

test('loadClvp by URL: download progress per file, then weight-loading progress, one instance by default', async () => {
  assertEqual(await initBackend('wasm'), 'wasm', 'backend');
  await clearModelCache();
  const size = Number((await fetch(`${MODEL}model.safetensors`, { method: 'HEAD' })).headers.get('Content-Length'));
  const downloads = new Map<string, { loaded: number; total: number | null }>();
  let lastLoad = { tensors: 0, totalTensors: -1 };
  let loadEvents = 0;
  byUrl = await loadClvp(MODEL, {
    onProgress: (p) => {
      if (p.phase === 'download') downloads.set(p.download.file, p.download);
      else {
        loadEvents++;
        assert(p.load.tensors >= lastLoad.tensors, 'load progress only grows');
        lastLoad = p.load;
      }
    },
  });
  const w = downloads.get('model.safetensors');
  assert(w, `the weights' download was reported (files: ${[...downloads.keys()].join(', ')})`);
  assertEqual([w.loaded, w.total], [size, size], 'model.safetensors loaded / total');
  for (const f of ['config.json', 'preprocessor_config.json', 'vocab.json', 'merges.txt']) assert(downloads.has(f), `${f} reported`);
  assert(loadEvents > 1 && lastLoad.tensors === lastLoad.totalTensors && lastLoad.totalTensors > 10, `load progress ends complete (${JSON.stringify(lastLoad)})`);
  assertEqual(byUrl.model.tp, 1, 'one instance in the page by default');
  assertEqual(byUrl.folder.location, { kind: 'url', base: new URL(MODEL, location.href).href }, 'folder');
  assertEqual(byUrl.processor.featureExtractor.config.samplingRate, 22050, 'processor from the same folder');
  textEmbeds = await embed(byUrl.model, byUrl.processor);
  assertEqual(textEmbeds.length, byUrl.model.config.projectionDim, 'text embedding size');
});

test('fromFiles on the picked folder: the same config and the same text embedding as by URL', async () => {
  const names = Array.from(input.files ?? [], (f) => f.webkitRelativePath);
  for (const f of ['config.json', 'model.safetensors', 'vocab.json']) assert(names.includes(`clvp-random-small/${f}`), `${f} picked (${names.join(', ')})`);
  const model = await fromFiles(input.files!);
  try {
    assertEqual(JSON.stringify(model.config), JSON.stringify(byUrl.model.config), 'config');
    const got = await embed(model, byUrl.processor);
    assert(got.every((x, i) => x === textEmbeds[i]), 'text embedding equal to the bit');
  } finally {
    await model.dispose();
  }
  const picked = await loadClvp(input.files!);
  assertEqual(picked.folder.label, 'clvp-random-small', 'folder label');
  await picked.model.dispose();
  await rejects(loadClvp([]), /^no files were picked/, 'an empty pick');
});

test('the seeded job on one instance', async () => {
  seeded = await job(byUrl.model, byUrl.processor);
  assertEqual(seeded.candidates.length, 4, 'candidates');
});

test('{ tp: 2 } in the page: two Web Workers, the same seeded candidates, no tensors left on the page', async () => {
  assertEqual(crossOriginIsolated, true, 'crossOriginIsolated');
  const before = tf.memory().numTensors;
  const split = await loadClvp(MODEL, { tp: 2 });
  try {
    assertEqual(split.model.tp, 2, 'model.tp');
    assertEqual((await split.model.memory()).map((m) => m.rank), [0, 1], 'ranks');
    const got = await job(split.model, split.processor);
    assertEqual(got.candidates.map((c) => [c.index, c.speechIds, c.length, c.finished]), seeded.candidates.map((c) => [c.index, c.speechIds, c.length, c.finished]), 'candidates (index, ids, length, finished), best first');
    got.candidates.forEach((c, i) => assertClose(c.score, seeded.candidates[i].score, 1e-4, `score of candidate ${c.index}`));
  } finally {
    await split.model.dispose();
  }
  assertEqual(tf.memory().numTensors, before, 'tensors on the page');
});

test('the one-instance model is released', async () => {
  await byUrl.model.dispose();
  await rejects(byUrl.model.getTextFeatures({ inputIds: [[1, 2]] }), /used after dispose\(\)/, 'a disposed model refuses calls');
});

run();
