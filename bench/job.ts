// The main job end to end at the published size: a random-weight CLVP with HF's default config
// (665,110,531 parameters, saved once as an HF folder in a temp dir and reused), the ultra_fast
// preset (16 candidates, up to 500 tokens), the bundled example voice, through the same calls as
// `clvp generate`. Random weights rarely sample the stop token, so candidates run to the cap.
//   npx ts-node bench/job.ts [--max-new-tokens 500] [--tp auto|N] [--backend B] [--dir DIR] [--json]
import '../src/platform/node_install';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import { setBackendLogger } from '../src/backend';
import { ClvpModelForConditionalGeneration } from '../src/clvp_model';
import { countParameters, makeConfig } from '../src/config/configuration_clvp';
import { generationConfigFromPreset, resolvePreset } from '../src/generation/presets';
import { writeRandomCheckpoint } from '../src/models/random_checkpoint';
import { ClvpProcessor } from '../src/processing_clvp';
import type { CollectiveStats } from '../src/runtime/pool';
import { arg } from './args';

const json = process.argv.includes('--json');
const maxNew = Number(arg('max-new-tokens', '500'));
const tpArg = arg('tp', 'auto');
const dir = arg('dir', path.join(os.tmpdir(), 'clvp-published-random'));
const log = (s: string) => !json && process.stderr.write(s + '\n');
const BUNDLED = path.resolve(__dirname, '..', 'weights', 'clvp-random-small');
const VOICE = path.resolve(__dirname, '..', 'examples', 'voice.wav');

/** Peak resident set of this process (worker threads included): the kernel's high-water mark. */
function peakRssMB(): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync('/proc/self/status', 'utf8'));
    if (m) return Number(m[1]) / 1024;
  } catch {
    // not Linux: fall back to the current RSS
  }
  return process.memoryUsage().rss / 1e6;
}

async function ensureModel(): Promise<void> {
  if (fs.existsSync(path.join(dir, 'model.safetensors'))) return;
  log(`writing a random-weight model with the published config to ${dir} (once) ...`);
  const t0 = performance.now();
  await writeRandomCheckpoint(dir, makeConfig({}), { seed: 1, dtype: 'F32', generationConfig: { bos_token_id: 8192, eos_token_id: 8193, pad_token_id: 8193, max_new_tokens: 500 } });
  // The tokenizer and feature-extractor settings of the bundled model (text ids < 256 fit the published text vocabulary).
  for (const f of ['vocab.json', 'merges.txt', 'tokenizer_config.json', 'special_tokens_map.json', 'preprocessor_config.json']) fs.copyFileSync(path.join(BUNDLED, f), path.join(dir, f));
  log(`  ${((performance.now() - t0) / 1000).toFixed(0)} s`);
}

(async () => {
  setBackendLogger(log);
  await ensureModel();
  const text = 'The quick brown fox jumps over the lazy dog, and then it runs far away into the woods.';
  const t0 = performance.now();
  const processor = await ClvpProcessor.fromPretrained(dir);
  const model = await ClvpModelForConditionalGeneration.fromPretrained(dir, { tp: tpArg === 'auto' ? 'auto' : Number(tpArg), backend: process.argv.includes('--backend') ? arg('backend', '') : undefined });
  const loadMs = performance.now() - t0;
  const voice = await processor.loadVoices([VOICE]);
  const enc = processor.call({ text, rawSpeech: voice, samplingRate: 22050 });
  const settings = resolvePreset('ultra_fast');
  const gen = generationConfigFromPreset(settings);
  let firstStep = 0;
  let lastStep = 0;
  let stepsSeen = 0;
  const t1 = performance.now();
  const result = await model.rankCandidates({ inputIds: enc.inputIds!, inputFeatures: enc.inputFeatures! }, {
    ...gen,
    maxNewTokens: maxNew,
    numCandidates: settings.numAutoregressiveSamples,
    batchSize: 16,
    seed: 1,
    onProgress: () => {
      const now = performance.now();
      if (!stepsSeen) firstStep = now;
      lastStep = now;
      stepsSeen++;
      if (stepsSeen % 50 === 0) log(`  step ${stepsSeen}: ${((now - firstStep) / Math.max(stepsSeen - 1, 1)).toFixed(0)} ms/step`);
    },
  });
  const t2 = performance.now();
  const mem = await model.memory();
  // Each rank's own time inside a decode step (its collectives included): the rest of the step
  // seen here is messaging and the main thread's sampling.
  const rt = model.runtime as unknown as { collectiveStats?: () => Promise<CollectiveStats[]> };
  const rankStepMs = rt.collectiveStats ? (await rt.collectiveStats()).map((c) => (c.stepMs ?? 0) / Math.max(c.steps ?? 0, 1)) : [];
  tf.dispose([enc.inputIds!, enc.inputFeatures!, enc.attentionMask!]);
  await model.dispose();
  const report = {
    parameters: countParameters(model.config),
    backend: model.runtime.backend,
    tp: model.tp,
    candidates: result.candidates.length,
    maxNewTokens: maxNew,
    stepsPerBatch: stepsSeen,
    loadSeconds: loadMs / 1000,
    conditioningAndPrefillSeconds: (firstStep - t1) / 1000,
    decodeMsPerStep: (lastStep - firstStep) / Math.max(stepsSeen - 1, 1),
    decodeSeconds: (lastStep - firstStep) / 1000,
    rankingSeconds: (t2 - lastStep) / 1000,
    jobSeconds: (t2 - t1) / 1000,
    totalSeconds: (t2 - t0) / 1000,
    rankStepMs,
    peakRssMB: peakRssMB(),
    heapMBPerInstance: mem.map((m) => (m.heapBytes === null ? null : Math.round(m.heapBytes / 1e6))),
    kvCachePeakMBPerInstance: mem.map((m) => Math.round(m.kvCachePeakBytes / 1e6)),
    // The issue's bound: 1.3 x (the fp32 weights + the packed copy the products read) plus the caches.
    peakRssBoundMB: (1.3 * 2 * 4 * countParameters(model.config)) / 1e6 + mem.reduce((n, m) => n + m.kvCachePeakBytes, 0) / 1e6,
    bestScore: result.candidates[0].score,
  };
  if (json) {
    console.log(JSON.stringify(report));
    return;
  }
  const rows: [string, string][] = [
    ['model', `published config, random weights: ${report.parameters.toLocaleString('en-US')} parameters`],
    ['runtime', `${report.backend}${report.tp > 1 ? `, ${report.tp} tensor-parallel workers` : ', one instance'}`],
    ['job', `ultra_fast: ${report.candidates} candidates, up to ${maxNew} tokens (${report.stepsPerBatch} steps)`],
    ['load (s)', report.loadSeconds.toFixed(1)],
    ['conditioning + prefill (s)', report.conditioningAndPrefillSeconds.toFixed(1)],
    ['decode (ms per step of 16 candidates)', report.decodeMsPerStep.toFixed(0)],
    ['decode (s)', report.decodeSeconds.toFixed(0)],
    ...(rankStepMs.length ? [['  of a step, inside each rank (ms)', rankStepMs.map((x) => x.toFixed(0)).join(', ')] as [string, string]] : []),
    ['ranking: speech + text encoders (s)', report.rankingSeconds.toFixed(1)],
    ['job without load (s)', report.jobSeconds.toFixed(0)],
    ['total (s)', report.totalSeconds.toFixed(0)],
    ['peak RSS (MB)', report.peakRssMB.toFixed(0)],
    ['  bound: 1.3 x (fp32 weights + packed copies) + KV caches (MB)', report.peakRssBoundMB.toFixed(0)],
    ['wasm heap per instance (MB)', report.heapMBPerInstance.join(', ')],
    ['KV caches at their largest, per instance (MB)', report.kvCachePeakMBPerInstance.join(', ')],
  ];
  const w = Math.max(...rows.map((r) => r[0].length));
  console.log(rows.map(([k, v]) => `${k.padEnd(w)}  ${v}`).join('\n'));
})();
