// A tensor-parallel rank: its own tfjs backend instance (its own wasm heap and core), its slice of
// every layer read straight from the checkpoint, and the same LocalRuntime the single-instance
// model uses, whose layers meet the other ranks through shared memory. Calls run one at a time,
// in the order the main thread sent them, so every rank runs the same collectives in the same order.
import { initBackend } from '../backend';
import { loadModules } from '../models/loading';
import { ClvpModules } from '../models/modeling_clvp';
import { RandomInitSource } from '../models/weights';
import { platform, setLogger, WorkerScope } from '../platform/platform';
import { SharedMemoryComm } from './comm';
import { LocalRuntime } from './local';
import { FromRank, RankInit, ToRank, serialiseError } from './protocol';

export async function runRank(scope: WorkerScope): Promise<void> {
  const init = scope.init as RankInit;
  const post = (m: FromRank) => scope.postMessage(m);
  setLogger(() => {});
  let runtime: LocalRuntime;
  let comm: SharedMemoryComm;
  let generationConfig: Record<string, unknown> | null = null;
  try {
    await initBackend(init.backend);
    comm = new SharedMemoryComm(init.buffers, init.rank, init.size, init.spin);
    let modules: ClvpModules;
    if (init.source.kind === 'random') {
      modules = new ClvpModules(init.source.config, new RandomInitSource(init.source.seed, undefined, comm));
    } else {
      const folder = await platform().reopen(init.source.location);
      const loaded = await loadModules(folder, {
        weightsFile: init.source.weightsFile,
        parallel: comm,
        onProgress: (p) => post({ type: 'progress', rank: init.rank, bytes: p.bytes, totalBytes: p.totalBytes }),
      });
      modules = loaded.modules;
      generationConfig = loaded.generationConfig;
    }
    runtime = new LocalRuntime(modules, init.backend, { returnResults: init.rank === 0 });
  } catch (e) {
    post({ type: 'error', id: null, rank: init.rank, error: serialiseError(e) });
    return;
  }
  post({ type: 'ready', rank: init.rank, generationConfig, logitScale: runtime.logitScale, parameters: runtime.modules.numParameters() });

  let queue = Promise.resolve();
  /** decode steps called, and the time inside them, for profiling the step against its collectives (collectiveStats) */
  const stepTime = { steps: 0, stepMs: 0 };
  scope.onMessage((m) => {
    const msg = m as ToRank;
    queue = queue.then(async () => {
      try {
        if (msg.method === 'step') {
          const n = ++stepTime.steps;
          if (n === init.faults?.exitOnStep) scope.exit(3);
          if (n === init.faults?.throwOnStep) throw new Error(`injected fault at step call ${n}`);
        }
        comm.beginCall();
        let value: unknown;
        const t0 = performance.now();
        if (msg.method === 'collectiveStats') value = { ...comm.stats, ...stepTime };
        else value = await (runtime[msg.method] as (...a: unknown[]) => Promise<unknown>).apply(runtime, msg.args);
        if (msg.method === 'step') stepTime.stepMs += performance.now() - t0;
        // Rank 0 answers for all; the others only confirm, except where each rank has its own answer.
        post({ type: 'result', id: msg.id, rank: init.rank, value: init.rank === 0 || msg.method === 'memory' || msg.method === 'collectiveStats' ? value : undefined });
      } catch (e) {
        post({ type: 'error', id: msg.id, rank: init.rank, error: serialiseError(e) });
      }
    });
  });
}
