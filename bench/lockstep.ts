// What lock-step costs on this machine, apart from CLVP: N workers, each with its own tfjs-wasm
// instance, run the same dense products (our kernel, a decode step's [16, 1024] x [1024, 2048]
// by default) and meet at the tensor-parallel all-reduce (SharedMemoryComm.reduceInto) after every
// product, or only once a step. With equal cores the ranks would arrive together; what each waits
// is the machine's, and it bounds what a tensor-parallel step can gain here.
//   npx ts-node bench/lockstep.ts [--tp 2] [--products 60] [--steps 12] [--rows 16] [--json]
import { Worker } from 'worker_threads';
import * as path from 'path';
import { allocateSharedBuffers } from '../src/runtime/comm';
import { intArg } from './args';

const json = process.argv.includes('--json');
const tp = intArg('tp', 2, 2);
const products = intArg('products', 60, 1);
const steps = intArg('steps', 12, 1);
const rows = intArg('rows', 16, 1);

/** per rank, per timed step */
interface LockstepRank {
  stepMs: number;
  waitMs: number;
  busyMs: number;
}

async function run(barriersPerStep: number): Promise<LockstepRank[]> {
  const buffers = allocateSharedBuffers(tp);
  const entry = path.join(__dirname, 'lockstep_worker.ts');
  const project = path.resolve(__dirname, '..', 'tsconfig.json');
  const code = `require('ts-node').register({ transpileOnly: true, project: ${JSON.stringify(project)} }); require(${JSON.stringify(entry)});`;
  const results = await Promise.all(
    Array.from({ length: tp }, (_, rank) => new Promise<LockstepRank>((resolve, reject) => {
      const w = new Worker(code, { eval: true, workerData: { rank, size: tp, buffers, products, steps, rows, every: products / barriersPerStep } });
      w.once('message', (m: LockstepRank) => resolve(m));
      w.once('error', reject);
      w.once('exit', (c) => c !== 0 && reject(new Error(`lock-step rank ${rank} exited with code ${c}`)));
    })),
  );
  return results;
}

(async () => {
  // one barrier a step, then one after every product, then one a step again: the VM's phases move
  const plans = [
    { key: 'barrierOnceAStep', barriers: 1 },
    { key: 'barrierEveryProduct', barriers: products },
    { key: 'barrierOnceAStepAgain', barriers: 1 },
  ];
  const results: LockstepRank[][] = [];
  for (const { barriers } of plans) {
    if (!json) process.stderr.write(`${tp} ranks, ${products} products of [${rows}, 1024] x [1024, 2048] a step, ${barriers} barrier(s) a step ...\n`);
    results.push(await run(barriers));
  }
  if (json) {
    console.log(JSON.stringify({ tp, products, rows, steps, ...Object.fromEntries(plans.map((p, i) => [p.key, results[i]])) }));
    return;
  }
  const f = (x: number) => x.toFixed(1);
  const lines = [`barriers a step      step ms   per rank: busy ms (waiting ms)`];
  plans.forEach(({ barriers }, i) => {
    const r = results[i];
    lines.push(`${String(barriers).padEnd(20)} ${f(r[0].stepMs).padStart(7)}   ${r.map((x) => `${f(x.busyMs)} (${f(x.waitMs)})`).join('  |  ')}`);
  });
  console.log(lines.join('\n'));
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
