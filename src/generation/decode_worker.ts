// A worker thread that decodes speech-token candidates with its own copy of the model and its own
// tfjs backend instance. tfjs-wasm runs on one thread in Node, so generating candidate batches in
// two workers is how both cores of a machine get used (see parallel.ts).
import { parentPort, workerData } from 'worker_threads';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend, setBackendLogger } from '../backend';
import { ClvpModelForConditionalGeneration, ModelSource } from '../models/modeling_clvp';
import { GenerationConfig } from './generation_config';
import { ClvpGenerateOptions, decodeSpeechTokens } from './generate';

export interface WorkerInit {
  source: ModelSource;
  backend: string;
}

export interface DecodeTask {
  type: 'decode';
  /** decoder inputs of the distinct rows [U, L, H] */
  inputs: { data: Float32Array; shape: [number, number, number] };
  config: GenerationConfig;
  /** the serialisable generation options (no callbacks, no signal) */
  opts: Omit<ClvpGenerateOptions, 'onProgress' | 'signal' | 'forcedTokens'>;
}

export type WorkerMessage =
  | { type: 'ready' }
  | { type: 'progress'; batch: number; step: number; unfinished: number }
  | { type: 'done'; sequences: { data: Int32Array; shape: [number, number] } }
  | { type: 'error'; message: string };

async function main(): Promise<void> {
  const port = parentPort!;
  const init = workerData as WorkerInit;
  setBackendLogger(() => {});
  let model: ClvpModelForConditionalGeneration;
  try {
    await initBackend(init.backend);
    model = init.source.kind === 'pretrained'
      ? await ClvpModelForConditionalGeneration.fromPretrained(init.source.dir, { weightsFile: init.source.weightsFile })
      : ClvpModelForConditionalGeneration.fromConfig(init.source.config, init.source.seed);
  } catch (e) {
    port.postMessage({ type: 'error', message: (e as Error).message } satisfies WorkerMessage);
    return;
  }
  port.postMessage({ type: 'ready' } satisfies WorkerMessage);
  port.on('message', async (task: DecodeTask) => {
    const inputs = tf.tensor3d(task.inputs.data, task.inputs.shape);
    try {
      const dec = await decodeSpeechTokens(model, inputs, task.config, {
        ...task.opts,
        onProgress: (p) => port.postMessage({ type: 'progress', batch: p.batch, step: p.step, unfinished: p.unfinished } satisfies WorkerMessage),
      });
      port.postMessage({ type: 'done', sequences: dec.sequences } satisfies WorkerMessage);
    } catch (e) {
      port.postMessage({ type: 'error', message: (e as Error).message } satisfies WorkerMessage);
    } finally {
      inputs.dispose();
    }
  });
}

if (parentPort) void main();
