// The page of npm run bench:browser: decode time per step on each backend, through the runtime the
// generation loop uses (model.runtime.prefill / fork / step), at two widths: the bundled model's
// decoder (hidden 128) and the real CLVP decoder's (hidden 1024, 16 heads, vocab 8194; fewer
// layers, random weights). Batch 1 decodes its own cache; batch 16 forks a shared prefix, as
// rankCandidates does. Each measurement is run twice: 'cold' is the first pass (kernels and shaders
// compiled for each new shape on the way), 'warm' the second over the same shapes.
// Query: ?backends=wasm,webgl,webgpu&layers=2&steps=6&cache=100
import { ClvpModelForConditionalGeneration, initBackend, makeConfig } from '../src/browser';
import type { ClvpRuntime, HostTensor } from '../src/browser';

export interface BenchRow {
  backend: string;
  model: string;
  hidden: number;
  layers: number;
  vocab: number;
  cache: number;
  prefillMs: number;
  /** median ms per step over the measured steps */
  batch1ColdMs: number;
  batch1WarmMs: number;
  batch16ColdMs: number;
  batch16WarmMs: number;
}

export interface BenchReport {
  done: boolean;
  rows: BenchRow[];
  errors: string[];
  webgpuAdapter: string | null;
  webglRenderer: string | null;
  hardwareConcurrency: number;
  crossOriginIsolated: boolean;
}

declare global {
  interface Window {
    __clvpBench?: BenchReport;
  }
}

const q = new URLSearchParams(location.search);
const backends = (q.get('backends') ?? 'wasm,webgl,webgpu').split(',');
const layers = Number(q.get('layers') ?? '2');
const steps = Number(q.get('steps') ?? '6');
const cacheLen = Number(q.get('cache') ?? '100');
const report: BenchReport = { done: false, rows: [], errors: [], webgpuAdapter: null, webglRenderer: null, hardwareConcurrency: navigator.hardwareConcurrency, crossOriginIsolated };
window.__clvpBench = report;

const median = (x: number[]) => x.slice().sort((a, b) => a - b)[Math.floor(x.length / 2)];

/** Prefill `cacheLen` positions, then `steps` tokens at batch 1 and at batch 16 (the prefix shared); medians after two steps. */
async function decodeRun(rt: ClvpRuntime): Promise<{ prefillMs: number; b1: number; b16: number }> {
  const h = rt.config.decoderConfig.hiddenSize;
  const embeds: HostTensor = { dtype: 'float32', shape: [1, cacheLen, h], data: Float32Array.from({ length: cacheLen * h }, (_, i) => Math.sin(i) * 0.02) };
  const positionIds = { data: Int32Array.from({ length: cacheLen }, (_, i) => i), shape: [1, cacheLen] as [number, number] };
  const timeSteps = async (cache: number, batch: number) => {
    const times: number[] = [];
    for (let s = 0; s < steps; s++) {
      const t0 = performance.now();
      await rt.step(cache, new Int32Array(batch).fill(17 + s), cacheLen + 1 + s);
      times.push(performance.now() - t0);
    }
    return median(times.slice(2));
  };
  const t0 = performance.now();
  const own = await rt.prefill({ embeds, positionIds, share: false, chunkSize: 64 });
  const prefillMs = performance.now() - t0;
  const b1 = await timeSteps(own.cache, 1);
  await rt.releaseCache(own.cache);
  const prefix = await rt.prefill({ embeds, positionIds, share: true, chunkSize: 64 });
  const fork = await rt.fork(prefix.cache);
  const b16 = await timeSteps(fork, 16);
  await rt.releaseCache(fork);
  await rt.releaseCache(prefix.cache);
  return { prefillMs, b1, b16 };
}

/** The real decoder with minimal encoders (a decode step never touches them). */
const realWidth = makeConfig({
  decoderConfig: { numHiddenLayers: layers, numMelAttnBlocks: 1 },
  textConfig: { hiddenSize: 64, intermediateSize: 64, numHiddenLayers: 1, numAttentionHeads: 2, projectionDim: 64 },
  speechConfig: { hiddenSize: 64, intermediateSize: 64, numHiddenLayers: 1, numAttentionHeads: 2, projectionDim: 64 },
  projectionDim: 64,
});

async function adapterInfo(): Promise<void> {
  type Adapter = { info?: Record<string, string> } | null;
  const gpu = (navigator as unknown as { gpu?: { requestAdapter(): Promise<Adapter> } }).gpu;
  const adapter = await gpu?.requestAdapter();
  if (adapter?.info) {
    const i = adapter.info;
    report.webgpuAdapter = [i.vendor, i.architecture, i.device, i.description].filter(Boolean).join(' / ') || 'unnamed adapter';
  }
  const gl = document.createElement('canvas').getContext('webgl2');
  const ext = gl?.getExtension('WEBGL_debug_renderer_info');
  report.webglRenderer = gl ? String(gl.getParameter(ext ? ext.UNMASKED_RENDERER_WEBGL : gl.RENDERER)) : null;
}

async function main(): Promise<void> {
  await adapterInfo();
  for (const backend of backends) {
    try {
      await initBackend(backend);
    } catch (e) {
      report.errors.push(`${backend}: ${(e as Error).message}`);
      continue;
    }
    const models: Array<[string, () => Promise<ClvpModelForConditionalGeneration>]> = [
      ['bundled (clvp-random-small)', () => ClvpModelForConditionalGeneration.fromPretrained('models/clvp-random-small/', { tp: 1 })],
      ['real decoder width', () => ClvpModelForConditionalGeneration.fromConfig(realWidth, 1, { tp: 1 })],
    ];
    for (const [name, load] of models) {
      let model: ClvpModelForConditionalGeneration | undefined;
      try {
        model = await load();
        const dc = model.config.decoderConfig;
        const cold = await decodeRun(model.runtime);
        const warm = await decodeRun(model.runtime);
        report.rows.push({
          backend, model: name, hidden: dc.hiddenSize, layers: dc.numHiddenLayers, vocab: dc.vocabSize, cache: cacheLen,
          prefillMs: warm.prefillMs, batch1ColdMs: cold.b1, batch1WarmMs: warm.b1, batch16ColdMs: cold.b16, batch16WarmMs: warm.b16,
        });
      } catch (e) {
        report.errors.push(`${backend}, ${name}: ${(e as Error).message}`);
      } finally {
        await model?.dispose();
      }
    }
  }
}

main().catch((e) => report.errors.push(`bench: ${(e as Error).message}`)).finally(() => (report.done = true));
