import * as tf from '@tensorflow/tfjs-core';
import { initBackend, setBackendLogger } from '../src/backend';
import { KVCache } from '../src/layers/kv_cache';
import { ClvpForCausalLM } from '../src/models/clvp_decoder';
import { DEFAULT_DECODER_CONFIG } from '../src/models/configuration_clvp';
import { RandomInitSource } from '../src/models/weights';
(async () => {
  setBackendLogger(() => {});
  await initBackend(process.argv[2] ?? 'wasm');
  const B = Number(process.argv[3] ?? 1);
  const lm = new ClvpForCausalLM(new RandomInitSource(1), 'm', { ...DEFAULT_DECODER_CONFIG, numHiddenLayers: Number(process.env.L ?? 2) });
  const cache = new KVCache(Number(process.env.L ?? 2), 64);
  const e = tf.randomNormal([1, 400, 1024], 0, 0.02) as tf.Tensor3D;
  lm.forwardLast({ inputsEmbeds: e, cache }).dispose();
  if (B > 1) { if (process.env.COPY) cache.gatherRows(new Int32Array(B)); else cache.shareAsPrefix(); }
  const ids = { data: new Int32Array(B).fill(5), shape: [B, 1] as [number, number] };
  for (let i = 0; i < 3; i++) { const l = lm.forwardLast({ inputIds: ids, positionIds: { data: Int32Array.of(2 + i), shape: [1, 1] }, cache }); await l.data(); l.dispose(); }
  const prof = process.env.PROF ? await tf.profile(async () => { const l = lm.forwardLast({ inputIds: ids, positionIds: { data: Int32Array.of(9), shape: [1, 1] }, cache }); await l.data(); l.dispose(); }) : { kernels: [] as { name: string; kernelTimeMs: number; inputShapes: unknown }[] };
  const agg = new Map<string, { n: number; ms: number }>();
  for (const k of prof.kernels) { const a = agg.get(k.name) ?? { n: 0, ms: 0 }; a.n++; a.ms += k.kernelTimeMs as number; agg.set(k.name, a); }
  const rows = [...agg.entries()].sort((a, b) => b[1].ms - a[1].ms);
  console.log('kernels', prof.kernels.length, 'total kernel ms', rows.reduce((s, r) => s + r[1].ms, 0).toFixed(2));
  for (const [k, v] of rows.slice(0, 15)) console.log(k.padEnd(20), v.n, v.ms.toFixed(2));
  for (const k of prof.kernels) if (k.name === "BatchMatMul" || k.name === "_FusedMatMul" || k.name === "Concat") console.log(k.name, JSON.stringify(k.inputShapes), (k.kernelTimeMs as number).toFixed(2));
  const ts: number[] = [];
  for (let i = 0; i < 15; i++) { const t0 = performance.now(); const l = lm.forwardLast({ inputIds: ids, positionIds: { data: Int32Array.of(20 + i), shape: [1, 1] }, cache }); await l.data(); l.dispose(); ts.push(performance.now() - t0); }
  ts.sort((a, b) => a - b);
  console.log('wall ms/step median', ts[7].toFixed(2), 'min', ts[0].toFixed(2));
})();
