// Candidate batches decoded concurrently in worker threads (decode_worker.ts), each worker with
// its own model copy: the batches of one generation are split into contiguous groups, one per
// worker, and every batch samples from its own seeded stream, so the candidates are the same as
// with one thread. Memory: one model per worker (on wasm each worker has its own 4 GiB heap).
import * as path from 'path';
import { Worker } from 'worker_threads';
import * as tf from '@tensorflow/tfjs-core';
import type { ModelSource } from '../models/modeling_clvp';
import { HostIds } from '../models/ids';
import type { DecodeTask, WorkerInit, WorkerMessage } from './decode_worker';
import { AbortError, ClvpGenerateOptions, GenerateProgress } from './generate';
import { GenerationConfig } from './generation_config';
import { Sampler } from './sampling';

function startWorker(init: WorkerInit): Worker {
  const compiled = __filename.endsWith('.js');
  if (compiled) return new Worker(path.join(__dirname, 'decode_worker.js'), { workerData: init });
  // Running from the TypeScript sources (ts-node, ts-jest): the worker compiles them itself.
  const entry = path.join(__dirname, 'decode_worker.ts');
  const project = path.resolve(__dirname, '..', '..', 'tsconfig.json');
  const code = `require('ts-node').register({ transpileOnly: true, project: ${JSON.stringify(project)} }); require(${JSON.stringify(entry)});`;
  return new Worker(code, { eval: true, workerData: init });
}

/**
 * Decode `rows` candidates of one distinct row (`inputs` [1, L, H]) in batches of `batchSize`,
 * spread over `threads` workers. Returns sequences [rows, 1 + T] exactly as decodeSpeechTokens
 * would for the same seed and batch size.
 */
export async function decodeInWorkers(
  source: ModelSource | undefined,
  inputs: tf.Tensor3D,
  rows: number,
  config: GenerationConfig,
  opts: ClvpGenerateOptions & { batchSize: number; threads: number },
): Promise<{ sequences: HostIds; seed?: bigint }> {
  if (!source) throw new Error('decodeInWorkers: the model has no source to load in a worker (use fromPretrained or fromConfig)');
  if (inputs.shape[0] !== 1) throw new Error(`decodeInWorkers: expected the decoder inputs of one row, got ${inputs.shape[0]}`);
  const numBatches = Math.ceil(rows / opts.batchSize);
  const threads = Math.max(1, Math.min(opts.threads, numBatches));
  // A fixed seed for every worker (drawn here when none is given), each batch its own stream.
  const seedNum = config.doSample ? config.seed ?? Number(new Sampler(null).seed & 0x1fffffffffffffn) : config.seed;
  const seed = seedNum === null ? undefined : BigInt(seedNum);
  const shared: GenerationConfig = { ...config, seed: seedNum };
  const per = Math.ceil(numBatches / threads);
  const groups = Array.from({ length: threads }, (_, w) => ({ first: w * per, count: Math.max(0, Math.min(per, numBatches - w * per)) })).filter((g) => g.count > 0);
  const data = Float32Array.from(inputs.dataSync() as Float32Array);
  const shape = inputs.shape as [number, number, number];
  const backend = tf.getBackend();
  const workers: Worker[] = [];
  const { onProgress, signal, forcedTokens, ...plain } = opts;
  void forcedTokens;
  try {
    const parts = await Promise.all(groups.map((g) => new Promise<HostIds>((resolve, reject) => {
      const w = startWorker({ source, backend });
      workers.push(w);
      const groupRows = Math.min(g.count * opts.batchSize, rows - g.first * opts.batchSize);
      const onAbort = () => reject(new AbortError('generation aborted'));
      signal?.addEventListener('abort', onAbort, { once: true });
      w.on('error', reject);
      w.on('exit', (code) => reject(new Error(`decode worker stopped (exit code ${code}) before it finished`)));
      w.on('message', (m: WorkerMessage) => {
        try {
          if (m.type === 'ready') {
            const task: DecodeTask = {
              type: 'decode', inputs: { data, shape }, config: shared,
              opts: { ...plain, repeatEachRow: groupRows, batchSize: opts.batchSize, firstBatchIndex: g.first },
            };
            w.postMessage(task);
          } else if (m.type === 'progress') {
            onProgress?.({ batch: g.first + m.batch, numBatches, step: m.step, maxNewTokens: config.maxNewTokens ?? 0, unfinished: m.unfinished } as GenerateProgress);
          } else if (m.type === 'done') {
            resolve(m.sequences);
          } else {
            reject(new Error(`decode worker: ${m.message}`));
          }
        } catch (e) {
          reject(e);
        }
      });
    })));
    const width = Math.max(...parts.map((p) => p.shape[1]));
    const pad = config.padTokenId ?? (Array.isArray(config.eosTokenId) ? config.eosTokenId[0] : config.eosTokenId);
    if (pad === null) throw new Error('decodeInWorkers: the generation config needs an eos or pad id');
    const out = new Int32Array(rows * width).fill(pad);
    let r = 0;
    for (const p of parts) {
      for (let i = 0; i < p.shape[0]; i++, r++) out.set(p.data.subarray(i * p.shape[1], (i + 1) * p.shape[1]), r * width);
    }
    return { sequences: { data: out, shape: [rows, width] }, seed };
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
}
