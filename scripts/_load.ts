import { initBackend, setBackendLogger } from '../src/backend';
import { ClvpModelForConditionalGeneration } from '../src/models/modeling_clvp';
(async () => {
  setBackendLogger(() => {});
  await initBackend(process.argv[3] ?? 'wasm');
  const rss0 = process.memoryUsage().rss;
  const t0 = performance.now();
  const m = await ClvpModelForConditionalGeneration.fromPretrained(process.argv[2]);
  const ms = performance.now() - t0;
  console.log(JSON.stringify({ dir: process.argv[2], ms: Math.round(ms), params: m.numParameters(), rssBeforeMB: Math.round(rss0 / 1e6), rssAfterMB: Math.round(process.memoryUsage().rss / 1e6) }));
})();
