// The envelope around messages between a page and a clvp-tfjs Web Worker. Node's workers get
// their init as workerData and report crashes through 'exit'; a Web Worker has neither, so the init
// travels as the first message and the worker reports its own failures (an unhandled rejection
// never reaches the page's Worker object) as control messages.
import type { WorkerEntry } from './platform';

export type ToWorker =
  | { clvp: 'init'; entry: WorkerEntry; init: unknown }
  | { clvp: 'message'; message: unknown };

export type FromWorker =
  /** the worker's script ran and it has read its init */
  | { clvp: 'started' }
  | { clvp: 'message'; message: unknown }
  /** the worker failed and is about to be terminated: `cause` says how */
  | { clvp: 'fatal'; cause: string };

export function isEnvelope(m: unknown): m is { clvp: string } {
  return typeof m === 'object' && m !== null && typeof (m as { clvp?: unknown }).clvp === 'string';
}
