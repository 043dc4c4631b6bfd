// Dense products at the published model's dimensions on wasm: tfjs-wasm's XNNPACK against our
// kernel (src/wasm_gemm.ts) without and with FMA, in the same run, interleaved product by
// product. The rows are those of a decode step (1 and 16 candidates) and of a ranking chunk (4
// candidates x 502 tokens); the columns are one rank's slice under 2-way tensor parallelism.
// Weights are cycled through more memory than the caches hold, as in a step over 30 layers.
//   npx ts-node bench/matmul.ts [--reps 30] [--json]
import '../src/platform/node_install';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend, setBackendLogger } from '../src/backend';
import { WasmBackendLike, WasmGemm, hasRelaxedSimd } from '../src/wasm_gemm';
import { originalWasmKernel } from '../src/wasm_kernels';
import { arg } from './args';

const json = process.argv.includes('--json');
const reps = Number(arg('reps', '30'));

interface Shape {
  what: string;
  m: number;
  k: number;
  n: number;
  /** a product of two activations (tf.matMul): ours packs the right side at every call */
  perCall?: boolean;
}

const shapes: Shape[] = [];
for (const m of [1, 16]) {
  shapes.push(
    { what: `decoder q/k/v_proj, ${m} row(s)`, m, k: 1024, n: 512 },
    { what: `decoder out_proj, ${m} row(s)`, m, k: 512, n: 1024 },
    { what: `decoder c_fc, ${m} row(s)`, m, k: 1024, n: 2048 },
    { what: `decoder c_proj, ${m} row(s)`, m, k: 2048, n: 1024 },
    { what: `lm_head, ${m} row(s)`, m, k: 1024, n: 4097 },
  );
}
shapes.push(
  // attention's products of one head (the right side is not a weight: packed at every product)
  { what: 'encoder attention, q k^T of a head', m: 502, k: 64, n: 502, perCall: true },
  { what: 'encoder attention, probs v of a head', m: 502, k: 502, n: 64, perCall: true },
  { what: 'encoder q_proj, 2008 rows', m: 2008, k: 768, n: 384 },
  { what: 'encoder fc1, 2008 rows', m: 2008, k: 768, n: 1536 },
  { what: 'encoder fc2, 2008 rows', m: 2008, k: 768, n: 768 },
);

const median = (x: number[]) => x.slice().sort((a, b) => a - b)[Math.floor(x.length / 2)];

(async () => {
  setBackendLogger(() => {});
  await initBackend('wasm');
  const backend = tf.backend() as unknown as WasmBackendLike;
  const gemm = WasmGemm.for(backend);
  if (!gemm) throw new Error('bench:matmul: our kernel is not available on this wasm backend (threaded tfjs-wasm, or no wasm SIMD)');
  const fma = hasRelaxedSimd();
  // tfjs-wasm's BatchMatMul (which we replace too) sends one-entry products to XNNPACK
  const xnnpack = originalWasmKernel(tf.BatchMatMul);
  if (!xnnpack) throw new Error('bench:matmul: tfjs-wasm\'s BatchMatMul was not found');
  const variants: { name: string; run: (a: tf.Tensor2D, w: tf.Tensor2D, perCall: boolean) => void }[] = [
    { name: 'xnnpack', run: (a, w) => backend.disposeData((xnnpack({ inputs: { a, b: w }, attrs: { transposeA: false, transposeB: false }, backend }) as tf.TensorInfo).dataId) },
    { name: 'ours, no FMA', run: (a, w, perCall) => ourProduct(a, w, false, perCall) },
    ...(fma ? [{ name: 'ours, FMA', run: (a: tf.Tensor2D, w: tf.Tensor2D, perCall: boolean) => ourProduct(a, w, true, perCall) }] : []),
  ];
  function ourProduct(a: tf.Tensor2D, w: tf.Tensor2D, withFma: boolean, perCall: boolean): void {
    const [m, k] = a.shape;
    const n = w.shape[1];
    const info = perCall ? gemm!.batchMatMul(a, w, 1, 1, m, k, n, false, [m, n], withFma) : gemm!.matMul(a, w, null, m, k, n, [m, n], withFma);
    backend.disposeData(info.dataId);
  }
  const rows: { what: string; m: number; k: number; n: number; ms: Record<string, number>; gflops: Record<string, number> }[] = [];
  for (const s of shapes) {
    // enough distinct weights to pass 100 MB (past the L3 caches of these machines), at least 2
    const count = Math.max(2, Math.ceil(100e6 / (s.k * s.n * 4)));
    const ws = Array.from({ length: count }, () => tf.randomNormal([s.k, s.n]) as tf.Tensor2D);
    const a = tf.randomNormal([s.m, s.k]) as tf.Tensor2D;
    const times: number[][] = variants.map(() => []);
    const n = s.m > 100 ? Math.max(3, Math.floor(reps / 6)) : reps;
    for (let r = 0; r < n + count; r++) {
      variants.forEach((v, i) => {
        const t0 = performance.now();
        v.run(a, ws[r % count], !!s.perCall);
        // the first pass over the weights packs them (both kernels do): not timed
        if (r >= count) times[i].push(performance.now() - t0);
      });
    }
    tf.dispose([a, ...ws]);
    const ms = Object.fromEntries(variants.map((v, i) => [v.name, median(times[i])]));
    const gflops = Object.fromEntries(variants.map((v) => [v.name, (2 * s.m * s.k * s.n) / ms[v.name] / 1e6]));
    rows.push({ ...s, ms, gflops });
  }
  if (json) {
    console.log(JSON.stringify({ backend: 'wasm', fma, reps, products: rows }));
    return;
  }
  const names = variants.map((v) => v.name);
  const table: string[][] = [['product [m, k] x [k, n]', ...names.map((n) => `${n} ms (GFLOP/s)`), `speed-up of ${names[names.length - 1]}`]];
  for (const r of rows) {
    table.push([
      `${r.what}: [${r.m}, ${r.k}] x [${r.k}, ${r.n}]`,
      ...names.map((n) => `${r.ms[n].toFixed(2)} (${r.gflops[n].toFixed(1)})`),
      `${(r.ms.xnnpack / r.ms[names[names.length - 1]]).toFixed(2)}x`,
    ]);
  }
  const widths = table[0].map((_, c) => Math.max(...table.map((row) => row[c].length)));
  console.log(table.map((row) => row.map((cell, c) => cell.padEnd(widths[c])).join('  ')).join('\n'));
  console.log(`relaxed SIMD (FMA): ${fma ? 'yes' : 'no'}; medians of ${reps} products (a sixth of that for 2008 rows)`);
})();
