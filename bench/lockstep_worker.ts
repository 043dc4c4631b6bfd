// One rank of bench/lockstep.ts: the products and the all-reduce, timed per step.
import '../src/platform/node_install';
import * as tf from '@tensorflow/tfjs-core';
import { parentPort, workerData } from 'worker_threads';
import { initBackend, setBackendLogger } from '../src/backend';
import { SharedBuffers, SharedMemoryComm } from '../src/runtime/comm';

interface Init {
  rank: number;
  size: number;
  buffers: SharedBuffers;
  products: number;
  steps: number;
  rows: number;
  every: number;
}

(async () => {
  const init = workerData as Init;
  setBackendLogger(() => {});
  await initBackend('wasm');
  const comm = new SharedMemoryComm(init.buffers, init.rank, init.size, true);
  const x = tf.randomNormal([init.rows, 1024], 0, 1, 'float32', 1);
  // distinct weights, so that they stream from memory as a decoder's do
  const ws = Array.from({ length: init.products }, (_, i) => tf.randomNormal([1024, 2048], 0, 0.02, 'float32', i + 2));
  const acc = new Float32Array(init.rows * 1024);
  const warm = 2;
  let stepMs = 0;
  let waitMs = 0;
  for (let s = 0; s < init.steps + warm; s++) {
    comm.beginCall();
    const w0 = comm.stats.waitMs;
    const t0 = performance.now();
    for (let i = 0; i < init.products; i++) {
      tf.matMul(x, ws[i]).dispose();
      if ((i + 1) % init.every === 0) comm.reduceInto(x, acc);
    }
    if (s >= warm) {
      stepMs += performance.now() - t0;
      waitMs += comm.stats.waitMs - w0;
    }
  }
  const n = init.steps;
  parentPort!.postMessage({ stepMs: stepMs / n, waitMs: waitMs / n, busyMs: (stepMs - waitMs) / n });
  tf.dispose([x, ...ws]);
})();
