// The main thread's side of tensor parallelism: N rank workers (platform workers: worker_threads
// in Node, Web Workers in a page), each holding 1/N of every layer, driven through the ClvpRuntime
// interface. Every call goes to all ranks; rank 0 answers. Failures never hang a caller: a rank
// that throws or dies releases the others from their barriers (comm.ts), and the call rejects with
// an error that names the worker and the cause.
import { ByteSourceError } from '../io/bytes';
import { ModelFolderError } from '../io/folder';
import { SafetensorsError } from '../io/safetensors';
import { ConfigError } from '../config/configuration_clvp';
import { WeightLoadError } from '../models/weights';
import type { LoadProgress } from '../models/weights';
import { platform, WorkerPort } from '../platform/platform';
import { CollectiveAbortError, SharedBuffers, allocateSharedBuffers, requestAbort, resetCollectives } from './comm';
import type { ClvpConfig } from '../config/configuration_clvp';
import { readClvpConfig } from '../models/loading';
import { FaultInjection, FromRank, RankInit, RankMethod, RankSource, SerialError, ToRank } from './protocol';
import { AbortError } from './runtime';
import type {
  CacheId, ClvpRuntime, ConditionCall, ConditionResult, ConditioningCall, DecoderCall, DecoderResult, EncoderCall, EncoderResult,
  HostTensor, InstanceMemory, ModelSource, PrefillCall, StartedRuntime,
} from './runtime';

/** A worker stopped (crashed, ran out of memory, exited): the pool cannot go on. */
export class WorkerFailedError extends Error {}

const USER_ERRORS: Record<string, new (m: string) => Error> = {
  WeightLoadError, ConfigError, ModelFolderError, SafetensorsError, ByteSourceError, RangeError, TypeError,
};

function rebuild(e: SerialError, prefix = ''): Error {
  const C = USER_ERRORS[e.name];
  const err = C ? new C(prefix + e.message) : new Error(prefix + e.message);
  if (!C && e.name !== 'Error') err.name = e.name;
  return err;
}

interface Pending {
  values: unknown[];
  errors: Array<{ rank: number; error: SerialError }>;
  answered: number;
  aborted: boolean;
  resolve(values: unknown[]): void;
  reject(e: Error): void;
  cleanup(): void;
}

export interface CollectiveStats {
  collectives: number;
  ms: number;
  waitMs: number;
  /** decode steps run, and the time inside them (collectives included) */
  steps?: number;
  stepMs?: number;
}

export class TensorParallelRuntime implements ClvpRuntime {
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private dead: Error | undefined;
  private disposed = false;

  private constructor(
    readonly config: ClvpConfig,
    readonly tp: number,
    readonly backend: string,
    readonly logitScale: number,
    private readonly ports: WorkerPort[],
    private readonly buffers: SharedBuffers,
  ) {
    ports.forEach((p, rank) => {
      p.onMessage((m) => this.onMessage(m as FromRank));
      p.onExit((cause) => this.fail(new WorkerFailedError(`tensor-parallel worker ${rank} (of ${tp}) stopped: ${cause}`), rank));
    });
    this.keepAlive(false);
  }

  /** Start `tp` workers, each loading its slice of the model. */
  static async start(source: ModelSource, opts: { tp: number; backend: string; onProgress?: (p: LoadProgress) => void; faults?: Record<number, FaultInjection> }): Promise<StartedRuntime> {
    const tp = opts.tp;
    const config = source.kind === 'folder' ? await readClvpConfig(source.folder) : source.config;
    const rankSource: RankSource = source.kind === 'folder' ? { kind: 'folder', location: source.folder.location, weightsFile: source.weightsFile } : source;
    const buffers = allocateSharedBuffers(tp);
    const ports: WorkerPort[] = [];
    const progress = new Array<{ bytes: number; totalBytes: number }>(tp).fill({ bytes: 0, totalBytes: 0 });
    try {
      const ready = await new Promise<Array<Extract<FromRank, { type: 'ready' }>>>((resolve, reject) => {
        const got: Array<Extract<FromRank, { type: 'ready' }>> = [];
        for (let rank = 0; rank < tp; rank++) {
          // The main thread sleeps while the ranks compute, so each rank has a core if there are tp of them.
          const init: RankInit = { rank, size: tp, backend: opts.backend, buffers, source: rankSource, spin: platform().cores() >= tp, faults: opts.faults?.[rank] };
          const port = platform().startWorker('tensor-parallel-rank', init);
          ports.push(port);
          port.onExit((cause) => reject(new WorkerFailedError(`tensor-parallel worker ${rank} (of ${tp}) stopped while loading the model: ${cause}`)));
          port.onMessage((m) => {
            const msg = m as FromRank;
            if (msg.type === 'progress') {
              progress[msg.rank] = msg;
              const bytes = progress.reduce((a, p) => a + p.bytes, 0);
              const totalBytes = progress.reduce((a, p) => a + p.totalBytes, 0);
              opts.onProgress?.({ tensors: 0, totalTensors: 0, bytes, totalBytes });
            } else if (msg.type === 'ready') {
              got.push(msg);
              if (got.length === tp) resolve(got);
            } else if (msg.type === 'error' && msg.id === null) {
              // Every rank reads the same config and checkpoint header: the first report says it all.
              reject(rebuild(msg.error));
            }
          });
        }
      });
      const rank0 = ready.find((r) => r.rank === 0)!;
      const rt = new TensorParallelRuntime(config, tp, opts.backend, rank0.logitScale, ports, buffers);
      return { runtime: rt, generationConfig: rank0.generationConfig };
    } catch (e) {
      await Promise.all(ports.map((p) => p.terminate().catch(() => undefined)));
      throw e;
    }
  }

  /** Idle workers must not keep the process alive; busy ones must. */
  private keepAlive(on: boolean): void {
    for (const p of this.ports) p.setKeepsAlive(on);
  }

  private onMessage(msg: FromRank): void {
    if (msg.type !== 'result' && msg.type !== 'error') return;
    if (msg.id === null) return;
    const p = this.pending.get(msg.id);
    if (!p) return;
    if (msg.type === 'result') p.values[msg.rank] = msg.value;
    else {
      p.errors.push({ rank: msg.rank, error: msg.error });
      // The others may be waiting for this rank in a barrier: release them.
      if (p.answered + 1 < this.tp) requestAbort(this.buffers.control, msg.rank + 1);
    }
    if (++p.answered < this.tp) return;
    this.pending.delete(msg.id);
    if (!this.pending.size) this.keepAlive(false);
    p.cleanup();
    if (!p.errors.length && !p.aborted) return p.resolve(p.values);
    // Nobody is inside a collective any more: clear the abort for the next call.
    resetCollectives(this.buffers.control);
    if (!p.errors.length) return p.resolve(p.values);
    const real = p.errors.filter((x) => x.error.name !== CollectiveAbortError.name).sort((a, b) => a.rank - b.rank);
    if (!real.length) return p.reject(new AbortError('generation aborted'));
    const same = real.every((x) => x.error.message === real[0].error.message);
    p.reject(rebuild(real[0].error, same && real.length === this.tp ? '' : `tensor-parallel worker ${real[0].rank}: `));
  }

  private fail(err: Error, rank: number): void {
    if (this.dead || this.disposed) return;
    this.dead = err;
    requestAbort(this.buffers.control, rank + 1);
    for (const p of this.pending.values()) {
      p.cleanup();
      p.reject(err);
    }
    this.pending.clear();
    void Promise.all(this.ports.map((p) => p.terminate().catch(() => undefined)));
  }

  /** Send a call to every rank; resolves with every rank's answer once all have answered. */
  private callAll(method: RankMethod, args: unknown[], signal?: AbortSignal): Promise<unknown[]> {
    if (this.disposed) return Promise.reject(new Error('TensorParallelRuntime: used after dispose()'));
    if (this.dead) return Promise.reject(this.dead);
    if (signal?.aborted) return Promise.reject(new AbortError('generation aborted'));
    const id = this.nextId++;
    return new Promise<unknown[]>((resolve, reject) => {
      const onAbort = () => {
        p.aborted = true;
        requestAbort(this.buffers.control, this.tp + 1);
      };
      const p: Pending = {
        values: new Array(this.tp), errors: [], answered: 0, aborted: false, resolve, reject,
        cleanup: () => signal?.removeEventListener('abort', onAbort),
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.pending.set(id, p);
      this.keepAlive(true);
      const msg: ToRank = { type: 'call', id, method, args };
      for (const port of this.ports) port.postMessage(msg);
    });
  }

  private async call<T>(method: RankMethod, args: unknown[], signal?: AbortSignal): Promise<T> {
    return (await this.callAll(method, args, signal))[0] as T;
  }

  encoder(call: EncoderCall, signal?: AbortSignal): Promise<EncoderResult> {
    return this.call('encoder', [call], signal);
  }
  conditioningEncoder(call: ConditioningCall): Promise<HostTensor> {
    return this.call('conditioningEncoder', [call]);
  }
  condition(call: ConditionCall): Promise<ConditionResult> {
    return this.call('condition', [call]);
  }
  decoder(call: DecoderCall): Promise<DecoderResult> {
    return this.call('decoder', [call]);
  }
  newCache(chunkSize: number): Promise<CacheId> {
    return this.call('newCache', [chunkSize]);
  }
  prefill(call: PrefillCall): Promise<{ cache: CacheId; logits: Float32Array }> {
    return this.call('prefill', [call]);
  }
  fork(prefix: CacheId): Promise<CacheId> {
    return this.call('fork', [prefix]);
  }
  async gatherRows(cache: CacheId, indices: Int32Array): Promise<void> {
    await this.call('gatherRows', [cache, indices]);
  }
  step(cache: CacheId, ids: Int32Array, position: number, signal?: AbortSignal): Promise<Float32Array> {
    return this.call('step', [cache, ids, position], signal);
  }
  async releaseCache(cache: CacheId): Promise<void> {
    // Nothing to release once the workers are gone (an earlier failure already reported).
    if (this.dead || this.disposed) return;
    await this.call('releaseCache', [cache]);
  }
  async memory(): Promise<InstanceMemory[]> {
    return (await this.callAll('memory', [])).flat() as InstanceMemory[];
  }
  /** Per rank: collectives run and the milliseconds they took (barrier waits included). */
  /** Per rank: collectives run, ms in them, and ms of that waiting at barriers (for profiling). */
  async collectiveStats(): Promise<CollectiveStats[]> {
    return (await this.callAll('collectiveStats', [])) as CollectiveStats[];
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    try {
      if (!this.dead) await this.callAll('dispose', []);
    } finally {
      this.disposed = true;
      await Promise.all(this.ports.map((p) => p.terminate().catch(() => undefined)));
    }
  }
}
