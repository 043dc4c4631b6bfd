// How often tensor parallelism changes a sampled token. Sharding changes the order of the float
// sums (each rank's partial product, then their sum), so logits differ from one instance's in the
// last bits, and a draw that falls within that distance of a top-k / top-p / CDF boundary picks
// another token; from there the candidate diverges. This runs a long seeded job at the real decoder
// width on one instance and on --tp N workers and reports, per candidate, the first step at which
// the two disagree.
//   npx ts-node bench/tp_agreement.ts [--layers 8] [--tp 2] [--tokens 500] [--candidates 16] [--json]
import '../src/platform/node_install';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend, setBackendLogger } from '../src/backend';
import { ClvpModelForConditionalGeneration } from '../src/clvp_model';
import { makeConfig } from '../src/config/configuration_clvp';
import { generationConfigFromPreset, resolvePreset } from '../src/generation/presets';
import { arg } from './args';

const json = process.argv.includes('--json');
const layers = Number(arg('layers', '8'));
const tp = Number(arg('tp', '2'));
const tokens = Number(arg('tokens', '500'));
const candidates = Number(arg('candidates', '16'));
const log = (s: string) => !json && process.stderr.write(s + '\n');

const config = makeConfig({
  decoderConfig: { numHiddenLayers: layers, numMelAttnBlocks: 1 },
  textConfig: { hiddenSize: 64, intermediateSize: 64, numHiddenLayers: 1, numAttentionHeads: 2, projectionDim: 64 },
  speechConfig: { hiddenSize: 64, intermediateSize: 64, numHiddenLayers: 1, numAttentionHeads: 2, projectionDim: 64 },
  projectionDim: 64,
});

(async () => {
  setBackendLogger(() => {});
  await initBackend('wasm');
  const text = { data: Int32Array.from([12, 40, 7, 99, 3, 18, 22, 5]), shape: [1, 8] as [number, number] };
  const features = tf.randomNormal([1, 80, 200], 0, 1, 'float32', 7) as tf.Tensor3D;
  const job = { ...generationConfigFromPreset(resolvePreset('ultra_fast')), numCandidates: candidates, batchSize: candidates, maxNewTokens: tokens, seed: 11 };
  const runs: number[][][] = [];
  for (const n of [1, tp]) {
    log(`${layers}-layer real-width decoder, ${candidates} candidates x ${tokens} tokens on ${n === 1 ? 'one instance' : `${n} tensor-parallel workers`} ...`);
    const m = await ClvpModelForConditionalGeneration.fromConfig(config, 1, { tp: n });
    const r = await m.rankCandidates({ inputIds: text, inputFeatures: features }, job);
    runs.push([...r.candidates].sort((a, b) => a.index - b.index).map((c) => c.speechIds));
    await m.dispose();
  }
  features.dispose();
  const firstDiff = runs[0].map((row, i) => {
    const other = runs[1][i];
    const k = row.findIndex((v, j) => v !== other[j]);
    return k < 0 ? null : k;
  });
  const result = {
    layers, tp, tokens, candidates,
    identical: firstDiff.filter((k) => k === null).length,
    firstDivergentStep: firstDiff,
    sampledTokens: candidates * tokens,
  };
  if (json) {
    console.log(JSON.stringify(result));
    return;
  }
  console.log(`candidates identical on 1 instance and ${tp} workers: ${result.identical} of ${candidates}`);
  const diverged = firstDiff.map((k, i) => [i, k] as const).filter(([, k]) => k !== null);
  if (diverged.length) console.log(`diverged (candidate: first differing token): ${diverged.map(([i, k]) => `${i}: ${k}`).join(', ')}`);
  console.log(`flips: ${diverged.length} in ${result.sampledTokens} sampled tokens (each flip ends the agreement of its candidate)`);
})();
