// Starting a runtime for a model: read its config, choose one instance or tensor-parallel
// workers (parallelism.ts), load the weights there, and log the choice once.
import { ClvpConfig } from '../config/configuration_clvp';
import { ModelFolder } from '../io/folder';
import { SINGLE_RANK } from '../layers/parallel';
import { loadModules, readClvpConfig } from '../models/loading';
import { ClvpModules } from '../models/modeling_clvp';
import { LoadProgress, RandomInitSource } from '../models/weights';
import { platform } from '../platform/platform';
import { LocalRuntime } from './local';
import { chooseTensorParallel } from './parallelism';
import { TensorParallelRuntime } from './pool';
import type { FaultInjection } from './protocol';
import type { ClvpRuntime } from './runtime';

/** What to build a model from; workers rebuild their rank from it. */
export type ModelSource =
  | { kind: 'folder'; folder: ModelFolder; weightsFile?: string }
  | { kind: 'random'; config: ClvpConfig; seed: number };

export interface StartOptions {
  backend: string;
  tp?: number | 'auto';
  onProgress?: (p: LoadProgress) => void;
  log?: (message: string) => void;
  /** per rank: faults to inject (tests only) */
  faults?: Record<number, FaultInjection>;
}

export interface StartedRuntime {
  runtime: ClvpRuntime;
  /** generation_config.json as written, or null */
  generationConfig: Record<string, unknown> | null;
}

let loggedChoice = false;

export async function startRuntime(source: ModelSource, opts: StartOptions): Promise<StartedRuntime> {
  const config = source.kind === 'folder' ? await readClvpConfig(source.folder) : source.config;
  const choice = chooseTensorParallel(config, opts.backend, platform().cores(), opts.tp);
  if (opts.log && (!loggedChoice || choice.tp > 1)) {
    opts.log(`clvp-tfjs: ${choice.reason}`);
    loggedChoice = true;
  }
  if (choice.tp > 1) return TensorParallelRuntime.start(source, { tp: choice.tp, backend: opts.backend, onProgress: opts.onProgress, faults: opts.faults });
  if (source.kind === 'random') return { runtime: new LocalRuntime(new ClvpModules(config, new RandomInitSource(source.seed, undefined, SINGLE_RANK)), opts.backend), generationConfig: null };
  const loaded = await loadModules(source.folder, { weightsFile: source.weightsFile, onProgress: opts.onProgress });
  return { runtime: new LocalRuntime(loaded.modules, opts.backend), generationConfig: loaded.generationConfig };
}
