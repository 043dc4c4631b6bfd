// Decode benchmark on a random-weight decoder with the real CLVP decoder dimensions
// (hidden 1024, 16 heads, vocab 8194, 608 positions; 30 layers unless --layers says otherwise).
//   npx ts-node bench/decode.ts [--layers N] [--backend wasm|cpu|tensorflow] [--steps N] [--cache 400] [--json]
import * as tf from '@tensorflow/tfjs-core';
import { initBackend, setBackendLogger } from '../src/backend';
import { KVCache } from '../src/layers/kv_cache';
import { ClvpForCausalLM } from '../src/models/clvp_decoder';
import { DEFAULT_DECODER_CONFIG } from '../src/models/configuration_clvp';
import { RandomInitSource } from '../src/models/weights';

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : def;
}
const json = process.argv.includes('--json');
const layers = Number(arg('layers', '30'));
const steps = Number(arg('steps', '8'));
const cacheLen = Number(arg('cache', '400'));
const log = (s: string) => !json && process.stderr.write(s + '\n');

/** Read bandwidth: memcmp of two equal 256 MiB buffers reads 512 MiB natively. */
function measureBandwidth(): number {
  const n = 256 * 1024 * 1024;
  const a = Buffer.alloc(n, 1);
  const b = Buffer.alloc(n, 1);
  let best = Infinity;
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    Buffer.compare(a, b);
    best = Math.min(best, performance.now() - t0);
  }
  return (2 * n) / (best / 1000) / 1e9;
}

/**
 * Prefill `cacheLen` positions at batch 1 (candidates share the conditioning), then decode `steps`
 * tokens at `batch`, the prefix either shared by all rows (what generation does) or copied per row.
 */
async function decodeRun(lm: ClvpForCausalLM, batch: number, chunk: number, prefix: 'shared' | 'copied' = 'shared'): Promise<{ prefillMs: number; msPerToken: number; cacheMB: number }> {
  const cache = new KVCache(lm.config.numHiddenLayers, chunk);
  try {
    const embeds = tf.randomNormal([1, cacheLen, lm.config.hiddenSize], 0, 0.02) as tf.Tensor3D;
    const t0 = performance.now();
    const first = lm.forwardLast({ inputsEmbeds: embeds, cache });
    await first.data();
    const prefillMs = performance.now() - t0;
    first.dispose();
    embeds.dispose();
    if (batch > 1 && prefix === 'shared') cache.shareAsPrefix();
    if (batch > 1 && prefix === 'copied') cache.gatherRows(new Int32Array(batch));
    const ids = { data: new Int32Array(batch).fill(17), shape: [batch, 1] as [number, number] };
    const times: number[] = [];
    for (let s = 0; s < steps; s++) {
      const t1 = performance.now();
      const l = lm.forwardLast({ inputIds: ids, positionIds: { data: Int32Array.of(2 + s), shape: [1, 1] }, cache });
      await l.data();
      l.dispose();
      times.push(performance.now() - t1);
    }
    times.sort((a, b) => a - b);
    return { prefillMs, msPerToken: times[Math.floor(times.length / 2)], cacheMB: cache.bytes() / 1e6 };
  } finally {
    cache.dispose();
  }
}

(async () => {
  setBackendLogger(log);
  const backend = await initBackend(arg('backend', process.env.CLVP_BACKEND ?? 'wasm'));
  const config = { ...DEFAULT_DECODER_CONFIG, numHiddenLayers: layers };
  log(`building a random ${layers}-layer decoder (hidden ${config.hiddenSize}, vocab ${config.vocabSize}) ...`);
  const tb = performance.now();
  const lm = new ClvpForCausalLM(new RandomInitSource(1), 'speech_decoder_model', config);
  const buildMs = performance.now() - tb;
  const weightBytes = tf.memory().numBytes;
  const bandwidth = measureBandwidth();
  const floorMs = (weightBytes / (bandwidth * 1e9)) * 1000;
  // warm-up (kernel compilation, allocator)
  await decodeRun(lm, 1, 64);
  const b1 = await decodeRun(lm, 1, 64);
  const b16 = await decodeRun(lm, 16, 64);
  const b16copied = await decodeRun(lm, 16, 64, 'copied');
  const b16plain = await decodeRun(lm, 16, Infinity, 'copied');
  const rssMB = process.memoryUsage().rss / 1e6;
  lm.dispose();
  const result = {
    backend,
    layers,
    cacheLength: cacheLen,
    weightMB: weightBytes / 1e6,
    bandwidthGBs: bandwidth,
    floorMsPerToken: floorMs,
    msPerTokenBatch1: b1.msPerToken,
    msPerTokenBatch16: b16.msPerToken,
    msPerTokenBatch16CopiedPrefix: b16copied.msPerToken,
    msPerTokenBatch16ConcatCache: b16plain.msPerToken,
    prefillMs: b1.prefillMs,
    kvCacheMBBatch1: b1.cacheMB,
    kvCacheMBBatch16: b16.cacheMB,
    kvCacheMBBatch16CopiedPrefix: b16copied.cacheMB,
    peakRssMB: rssMB,
    buildMs,
    per30Layers: {
      msPerTokenBatch1: (b1.msPerToken * 30) / layers,
      msPerTokenBatch16: (b16.msPerToken * 30) / layers,
      floorMsPerToken: (floorMs * 30) / layers,
    },
  };
  if (json) {
    console.log(JSON.stringify(result));
    return;
  }
  const rows: [string, string][] = [
    ['backend', backend],
    ['decoder layers', String(layers)],
    ['weights (MB)', result.weightMB.toFixed(0)],
    ['measured read bandwidth (GB/s)', bandwidth.toFixed(1)],
    [`floor: weights / bandwidth (ms/token)`, floorMs.toFixed(1)],
    [`batch 1, cache ${cacheLen} (ms/token)`, b1.msPerToken.toFixed(1)],
    [`batch 16, cache ${cacheLen} (ms/step)`, b16.msPerToken.toFixed(1)],
    [`batch 16, prefix copied per row (ms/step)`, b16copied.msPerToken.toFixed(1)],
    [`batch 16, prefix copied, concatenating cache (ms/step)`, b16plain.msPerToken.toFixed(1)],
    [`prefill ${cacheLen} positions, batch 1 (ms)`, b1.prefillMs.toFixed(0)],
    ['KV cache batch 1 / 16 shared / 16 copied (MB)', `${b1.cacheMB.toFixed(0)} / ${b16.cacheMB.toFixed(0)} / ${b16copied.cacheMB.toFixed(0)}`],
    ['peak RSS (MB)', rssMB.toFixed(0)],
    ['scaled to 30 layers: batch 1 / batch 16 / floor (ms)', `${result.per30Layers.msPerTokenBatch1.toFixed(0)} / ${result.per30Layers.msPerTokenBatch16.toFixed(0)} / ${result.per30Layers.floorMsPerToken.toFixed(0)}`],
  ];
  const w = Math.max(...rows.map((r) => r[0].length));
  console.log(rows.map(([k, v]) => `${k.padEnd(w)}  ${v}`).join('\n'));
})();
