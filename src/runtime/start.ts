// Starting a runtime for a model: read its config, choose one instance or tensor-parallel
// workers (parallelism.ts), load the weights there, and log the choice once.
import { SINGLE_RANK } from '../layers/parallel';
import { loadModules, readClvpConfig } from '../models/loading';
import { ClvpModules } from '../models/modeling_clvp';
import { LoadProgress, RandomInitSource } from '../models/weights';
import { platform } from '../platform/platform';
import { LocalRuntime } from './local';
import { chooseTensorParallel } from './parallelism';
import { TensorParallelRuntime } from './pool';
import type { FaultInjection } from './protocol';
import type { ModelSource, StartedRuntime } from './runtime';

export type { ModelSource, StartedRuntime };

export interface StartOptions {
  backend: string;
  tp?: number | 'auto';
  onProgress?: (p: LoadProgress) => void;
  log?: (message: string) => void;
  /** per rank: faults to inject (tests only) */
  faults?: Record<number, FaultInjection>;
}

let loggedChoice = false;

export async function startRuntime(source: ModelSource, opts: StartOptions): Promise<StartedRuntime> {
  const config = source.kind === 'folder' ? await readClvpConfig(source.folder) : source.config;
  const choice = chooseTensorParallel(config, opts.backend, platform().cores(), opts.tp, platform().name === 'node');
  if (opts.log && (!loggedChoice || choice.tp > 1)) {
    opts.log(`clvp-tfjs: ${choice.reason}`);
    loggedChoice = true;
  }
  if (choice.tp > 1) {
    const started = await TensorParallelRuntime.start(source, { tp: choice.tp, backend: opts.backend, onProgress: opts.onProgress, faults: opts.faults });
    const heaps = (await started.runtime.memory()).map((m) => m.heapBytes);
    if (opts.log && heaps.every((h) => h !== null)) opts.log(`clvp-tfjs: loaded; wasm heap per worker ${heaps.map((h) => `${(h! / 1e9).toFixed(2)} GB`).join(', ')} (each weight matrix is packed again at its first product)`);
    return started;
  }
  if (source.kind === 'random') return { runtime: new LocalRuntime(new ClvpModules(config, new RandomInitSource(source.seed, undefined, SINGLE_RANK)), opts.backend), generationConfig: null };
  const loaded = await loadModules(source.folder, { weightsFile: source.weightsFile, onProgress: opts.onProgress });
  return { runtime: new LocalRuntime(loaded.modules, opts.backend), generationConfig: loaded.generationConfig };
}
