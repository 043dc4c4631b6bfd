// Decode benchmark on a random-weight decoder with the real CLVP decoder dimensions
// (hidden 1024, 16 heads, vocab 8194, 608 positions; 30 layers unless --layers says otherwise).
//   npx ts-node bench/decode.ts [--layers N] [--backend wasm|cpu|tensorflow] [--steps N] [--cache 400] [--threads 2] [--json]
// Runs in about 3.5 minutes here (30 layers, wasm): most of it is building the random weights
// and three 400-position prefills. --threads 2 adds batch 16 split over two worker threads.
import * as tf from '@tensorflow/tfjs-core';
import '../src/platform/node_install';
import { initBackend, setBackendLogger } from '../src/backend';
import { KVCache } from '../src/layers/kv_cache';
import { ClvpForCausalLM } from '../src/models/clvp_decoder';
import { DEFAULT_DECODER_CONFIG, makeConfig } from '../src/config/configuration_clvp';
import { RandomInitSource } from '../src/models/weights';

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : def;
}
const json = process.argv.includes('--json');
const layers = Number(arg('layers', '30'));
const steps = Number(arg('steps', '16'));
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

function heapMB(): number | null {
  const wasm = (tf.backend() as unknown as { wasm?: { HEAPU8: Uint8Array } }).wasm;
  return wasm ? wasm.HEAPU8.length / 1e6 : null;
}

(async () => {
  setBackendLogger(log);
  // The default choice (tfjs-node when installed, else wasm), unless --backend or CLVP_BACKEND says otherwise.
  const backendArg = process.argv.includes('--backend') ? arg('backend', '') : undefined;
  const backend = await initBackend(backendArg);
  const build = (n: number) => new ClvpForCausalLM(new RandomInitSource(1), 'speech_decoder_model', { ...DEFAULT_DECODER_CONFIG, numHiddenLayers: n });
  const bandwidth = measureBandwidth();

  // The KV-cache variants, on a small decoder (copied prefixes at 30 layers would not fit the wasm heap).
  const cmpLayers = Math.min(layers, 4);
  log(`cache variants on a ${cmpLayers}-layer decoder ...`);
  let lm = build(cmpLayers);
  await decodeRun(lm, 16, 64);
  // Interleaved and repeated: this shared 2-core VM drifts by tens of percent over a minute.
  const runs = { shared: [] as Awaited<ReturnType<typeof decodeRun>>[], copied: [] as Awaited<ReturnType<typeof decodeRun>>[], concat: [] as Awaited<ReturnType<typeof decodeRun>>[] };
  for (let rep = 0; rep < 2; rep++) {
    runs.shared.push(await decodeRun(lm, 16, 64, 'shared'));
    runs.copied.push(await decodeRun(lm, 16, 64, 'copied'));
    runs.concat.push(await decodeRun(lm, 16, Infinity, 'copied'));
  }
  const fastest = (r: Awaited<ReturnType<typeof decodeRun>>[]) => r.reduce((x, y) => (y.msPerToken < x.msPerToken ? y : x));
  const cmpShared = fastest(runs.shared);
  const cmpCopied = fastest(runs.copied);
  const cmpConcat = fastest(runs.concat);
  lm.dispose();
  // The per-token constant (embeddings, final norms, lm_head), to scale the per-layer cost.
  lm = build(0);
  await decodeRun(lm, 1, 64);
  const c1 = await decodeRun(lm, 1, 64);
  const c16 = await decodeRun(lm, 16, 64);
  const constBytes = tf.memory().numBytes;
  lm.dispose();

  log(`building a random ${layers}-layer decoder (hidden ${DEFAULT_DECODER_CONFIG.hiddenSize}, vocab ${DEFAULT_DECODER_CONFIG.vocabSize}) ...`);
  const tb = performance.now();
  lm = build(layers);
  const buildMs = performance.now() - tb;
  const weightBytes = tf.memory().numBytes;
  const floorMs = (weightBytes / (bandwidth * 1e9)) * 1000;
  await decodeRun(lm, 1, 64); // warm-up: kernels, XNNPACK weight packing, allocator
  const b1 = await decodeRun(lm, 1, 64);
  const heapB1 = heapMB();
  const b16 = await decodeRun(lm, 16, 64);
  const heapB16 = heapMB();
  const rssMB = process.memoryUsage().rss / 1e6;
  lm.dispose();
  const per30 = (t: number, c: number) => c + ((t - c) * 30) / layers;
  const result = {
    backend,
    layers,
    cacheLength: cacheLen,
    weightMB: weightBytes / 1e6,
    bandwidthGBs: bandwidth,
    floorMsPerToken: floorMs,
    msPerTokenBatch1: b1.msPerToken,
    msPerTokenBatch16: b16.msPerToken,
    prefillMs: b1.prefillMs,
    kvCacheMBBatch1: b1.cacheMB,
    kvCacheMBBatch16: b16.cacheMB,
    wasmHeapMBBatch1: heapB1,
    wasmHeapMBBatch16: heapB16,
    peakRssMB: rssMB,
    buildMs,
    cacheVariants: { layers: cmpLayers, sharedPrefixMs: cmpShared.msPerToken, copiedPrefixMs: cmpCopied.msPerToken, concatenatingCacheMs: cmpConcat.msPerToken, sharedPrefixMB: cmpShared.cacheMB, copiedPrefixMB: cmpCopied.cacheMB },
    per30Layers: {
      msPerTokenBatch1: per30(b1.msPerToken, c1.msPerToken),
      msPerTokenBatch16: per30(b16.msPerToken, c16.msPerToken),
      floorMsPerToken: ((constBytes + ((weightBytes - constBytes) * 30) / Math.max(layers, 1)) / (bandwidth * 1e9)) * 1000,
    },
  };
  if (json) {
    console.log(JSON.stringify(result));
    return;
  }
  const f = (x: number) => x.toFixed(1);
  const rows: [string, string][] = [
    ['backend', backend],
    ['decoder layers (hidden 1024, 16 heads, vocab 8194)', String(layers)],
    ['weights (MB)', result.weightMB.toFixed(0)],
    ['measured read bandwidth (GB/s)', f(bandwidth)],
    ['floor: weights / bandwidth (ms/token)', f(floorMs)],
    [`batch 1, cache ${cacheLen} (ms/token)`, f(b1.msPerToken)],
    [`batch 16, cache ${cacheLen} (ms/step)`, f(b16.msPerToken)],
    [`prefill ${cacheLen} positions, batch 1 (ms)`, b1.prefillMs.toFixed(0)],
    ['KV cache after the run, batch 1 / 16 (MB)', `${b1.cacheMB.toFixed(0)} / ${b16.cacheMB.toFixed(0)}`],
    ['wasm heap after batch 1 / 16 (MB)', heapB1 === null ? 'n/a' : `${heapB1.toFixed(0)} / ${heapB16!.toFixed(0)}`],
    ['peak RSS (MB)', rssMB.toFixed(0)],
    ['scaled to 30 layers: batch 1 / batch 16 / floor (ms)', `${result.per30Layers.msPerTokenBatch1.toFixed(0)} / ${result.per30Layers.msPerTokenBatch16.toFixed(0)} / ${result.per30Layers.floorMsPerToken.toFixed(0)}`],
    [`cache variants, ${cmpLayers} layers, batch 16 (ms/step):`, ''],
    ['  shared prefix, chunked (default)', `${f(cmpShared.msPerToken)}  (${cmpShared.cacheMB.toFixed(0)} MB)`],
    ['  prefix copied per row, chunked', `${f(cmpCopied.msPerToken)}  (${cmpCopied.cacheMB.toFixed(0)} MB)`],
    ['  prefix copied, concatenated every step', f(cmpConcat.msPerToken)],
  ];
  const w = Math.max(...rows.map((r) => r[0].length));
  console.log(rows.map(([k, v]) => `${k.padEnd(w)}  ${v}`).join('\n'));
})();
