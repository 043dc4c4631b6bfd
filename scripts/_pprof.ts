import * as tf from '@tensorflow/tfjs-core';
import { initBackend, setBackendLogger } from '../src/backend';
import { KVCache } from '../src/layers/kv_cache';
import { ClvpForCausalLM } from '../src/models/clvp_decoder';
import { DEFAULT_DECODER_CONFIG } from '../src/models/configuration_clvp';
import { RandomInitSource } from '../src/models/weights';
(async () => {
  setBackendLogger(() => {});
  await initBackend('wasm');
  const L = 2;
  const lm = new ClvpForCausalLM(new RandomInitSource(1), 'm', { ...DEFAULT_DECODER_CONFIG, numHiddenLayers: L });
  const e = tf.randomNormal([1, 400, 1024], 0, 0.02) as tf.Tensor3D;
  for (let i = 0; i < 2; i++) { const c = new KVCache(L); const l = lm.forwardLast({ inputsEmbeds: e, cache: c }); await l.data(); l.dispose(); c.dispose(); }
  const c = new KVCache(L);
  const prof = await tf.profile(async () => { const l = lm.forwardLast({ inputsEmbeds: e, cache: c }); await l.data(); l.dispose(); });
  const agg = new Map<string, { n: number; ms: number }>();
  for (const k of prof.kernels) { const a = agg.get(k.name) ?? { n: 0, ms: 0 }; a.n++; a.ms += k.kernelTimeMs as number; agg.set(k.name, a); }
  for (const [k, v] of [...agg.entries()].sort((a, b) => b[1].ms - a[1].ms).slice(0, 12)) console.log(k.padEnd(20), v.n, v.ms.toFixed(1));
  for (const k of prof.kernels) if ((k.kernelTimeMs as number) > 20) console.log(k.name, JSON.stringify(k.inputShapes), (k.kernelTimeMs as number).toFixed(1));
  c.dispose();
  const t0 = performance.now();
  const c2 = new KVCache(L); const l = lm.forwardLast({ inputsEmbeds: e, cache: c2 }); await l.data();
  console.log('wall', (performance.now() - t0).toFixed(0));
})();
