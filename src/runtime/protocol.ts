// Messages between the main thread and tensor-parallel rank workers. Calls and results travel
// as messages (one per runtime call: a decode step, an encoder batch); the per-layer traffic
// inside a call goes through shared memory (comm.ts).
import type { ClvpConfig } from '../config/configuration_clvp';
import type { FolderLocation } from '../io/folder';
import type { SharedBuffers } from './comm';

export type RankSource =
  | { kind: 'folder'; location: FolderLocation; weightsFile?: string }
  | { kind: 'random'; config: ClvpConfig; seed: number };

export interface RankInit {
  rank: number;
  size: number;
  backend: string;
  buffers: SharedBuffers;
  source: RankSource;
  /** busy-wait at barriers before sleeping (only when every rank has a core of its own) */
  spin: boolean;
  faults?: FaultInjection;
}

/**
 * Faults a rank injects into itself, for the tests that prove a failing worker never hangs a
 * caller: exit the thread, or throw, when it receives its n-th `step` call (1-based).
 */
export interface FaultInjection {
  exitOnStep?: number;
  throwOnStep?: number;
}

/** The runtime methods a rank serves (ClvpRuntime's, plus profiling counters). */
export type RankMethod =
  | 'encoder' | 'conditioningEncoder' | 'condition' | 'decoder' | 'newCache' | 'prefill' | 'fork'
  | 'gatherRows' | 'step' | 'releaseCache' | 'memory' | 'collectiveStats' | 'dispose';

export type ToRank = { type: 'call'; id: number; method: RankMethod; args: unknown[] };

export interface SerialError {
  name: string;
  message: string;
  stack?: string;
}

export type FromRank =
  | { type: 'progress'; rank: number; bytes: number; totalBytes: number }
  | { type: 'ready'; rank: number; generationConfig: Record<string, unknown> | null; logitScale: number; parameters: number }
  | { type: 'result'; id: number; rank: number; value: unknown }
  | { type: 'error'; id: number | null; rank: number; error: SerialError };

export function serialiseError(e: unknown): SerialError {
  const err = e instanceof Error ? e : new Error(String(e));
  return { name: err.constructor?.name && err.constructor.name !== 'Error' ? err.constructor.name : err.name, message: err.message, stack: err.stack };
}
