// Parity in the page: a subset of the reference cases (tiny models, the feature extractor, the
// tokenizer), read over HTTP through a UrlFolder and run by runParity on one backend
// (?backend=wasm|webgl|webgpu), optionally on tensor-parallel Web Workers (?tp=2). Tolerances come
// from the case files. One test per case family; each reports its largest errors, and the page
// publishes them on window.__clvpParity for the runner's summary.
import * as tf from '@tensorflow/tfjs-core';
import { backendLost, configureParityModels, disposeCachedModels, initBackend, PARITY_HANDLERS, runParity, UrlFolder } from '../../../src/browser';
import type { CaseReport } from '../../../src/browser';
import { loadCase, readCaseIndex } from '../../../src/parity/cases';
import { modelFor } from '../../../src/parity/calls/model';
import { assert, assertEqual, query, run, skip, test } from './harness';

export interface FamilyStats {
  cases: number;
  failed: number;
  maxAbsError: number | null;
  maxRelError: number | null;
}

declare global {
  interface Window {
    __clvpParity?: { backend: string; tp: number; families: Record<string, FamilyStats | 'not run'> };
  }
}

const backend = query.get('backend') ?? 'wasm';
const tp = Number(query.get('tp') ?? '1');
const reference = new UrlFolder(query.get('ref') ?? '/reference/', { cache: false });

/** The families the page runs, in order, and which of their cases (tiny models only, for speed). */
const TINY = new Set(['tiny', 'tiny-partial-rotary']);
const FAMILIES: Array<{ call: string; pick: (name: string, model: string | null) => boolean; modelFree?: boolean }> = [
  { call: 'text_encoder', pick: (_n, m) => TINY.has(m ?? '') },
  { call: 'speech_encoder', pick: (_n, m) => TINY.has(m ?? '') },
  { call: 'conditioning_encoder', pick: (_n, m) => TINY.has(m ?? '') },
  { call: 'decoder_forward_with_cache', pick: (_n, m) => TINY.has(m ?? '') },
  // One greedy generate: every step's logits are compared, and the ids exactly.
  { call: 'generate', pick: (n) => n === 'tiny.generate_greedy_2texts' },
  { call: 'feature_extractor', pick: () => true, modelFree: true },
  { call: 'tokenizer', pick: () => true, modelFree: true },
];

const families: Record<string, FamilyStats | 'not run'> = {};
window.__clvpParity = { backend, tp, families };

const fmt = (x: number | null) => (x === null ? '-' : x.toExponential(2));
let index: Awaited<ReturnType<typeof readCaseIndex>>;
let tensorsBefore = 0;

test(`${backend}${tp > 1 ? `, ${tp} tensor-parallel workers` : ''}: the backend initialises and the case index is read over HTTP`, async () => {
  assertEqual(await initBackend(backend), backend, 'backend');
  await configureParityModels({ tp });
  tensorsBefore = tf.memory().numTensors;
  index = await readCaseIndex(reference);
  assert(index.length > 0, 'cases listed');
});

if (tp > 1) {
  test(`the models really run on ${tp} workers`, async () => {
    const entry = index.find((e) => e.model === 'tiny');
    assert(entry, 'a tiny case');
    const model = await modelFor(await loadCase(reference, entry));
    assertEqual(model.tp, tp, 'model.tp');
    const mem = await model.memory();
    assertEqual(mem.map((m) => m.rank), Array.from({ length: tp }, (_, i) => i), 'ranks');
    assert(mem[0].parameters < model.numParameters(), `rank 0 holds a slice (${mem[0].parameters} of ${model.numParameters()} parameters)`);
  });
}

for (const fam of FAMILIES) {
  if (tp > 1 && fam.modelFree) continue;
  test(`${fam.call} cases within their own tolerances`, async () => {
    const names = index.filter((e) => e.call === fam.call && fam.pick(e.name, e.model)).map((e) => e.name);
    if (names.length === 0) {
      families[fam.call] = 'not run';
      return skip(`no ${fam.call} cases in this reference (${reference.label}): the tokenizer and voice-recording cases exist only in ../shared/reference`);
    }
    let report = await runParity({ reference, filter: names, handlers: PARITY_HANDLERS, backend });
    // A GPU process that dies (SwiftShader on a loaded machine) takes the device with it: that is
    // the browser's failure, not a parity result. Recover as a page would (a new device, the
    // models loaded again) and run the family once more; the note says it happened.
    let recovered = '';
    const lost = backendLost();
    if (lost) {
      await initBackend();
      await configureParityModels({ tp });
      report = await runParity({ reference, filter: names, handlers: PARITY_HANDLERS, backend });
      recovered = ` (the first try lost the device: ${lost}; re-run on a new one)`;
    }
    // The filter matches by substring: keep exactly the names asked for.
    const cases = report.cases.filter((c) => names.includes(c.name));
    assertEqual(cases.map((c) => c.name).sort(), names.slice().sort(), 'cases run');
    const failed = cases.filter((c) => c.status !== 'pass');
    const max = (pick: (c: CaseReport) => number | null) => {
      const xs = cases.map(pick).filter((x): x is number => x !== null);
      return xs.length ? Math.max(...xs) : null;
    };
    const stats: FamilyStats = { cases: cases.length, failed: failed.length, maxAbsError: max((c) => c.maxAbsError), maxRelError: max((c) => c.maxRelError) };
    families[fam.call] = stats;
    const info = `${cases.length} cases, max abs ${fmt(stats.maxAbsError)}, max rel ${fmt(stats.maxRelError)}${recovered}`;
    assert(failed.length === 0, `${failed.length} of ${cases.length} failed (${info}):\n${failed.map((c) => `${c.name}: ${c.message}`).join('\n')}`);
    return info;
  });
}

test('once the models are released, no tensors are left behind', async () => {
  await disposeCachedModels();
  assertEqual(tf.memory().numTensors, tensorsBefore, 'tensors after the run');
});

run();
