// The worker's end of a clvp-tfjs Web Worker: waits for the init message, hands the entry a
// WorkerScope, and turns every failure inside the worker (a throw, a rejected promise, an unknown
// entry) into one 'fatal' message, so the page's WorkerPort.onExit learns the cause in words.
import type { WorkerEntry, WorkerScope } from './platform';
import { FromWorker, isEnvelope, ToWorker } from './worker_protocol';

/** The parts of DedicatedWorkerGlobalScope used here (lib.dom describes a Window, not a worker). */
interface WorkerGlobal {
  postMessage(message: unknown): void;
  addEventListener(type: 'message', handler: (e: MessageEvent) => void): void;
  addEventListener(type: 'error', handler: (e: ErrorEvent) => void): void;
  addEventListener(type: 'unhandledrejection', handler: (e: PromiseRejectionEvent) => void): void;
  close(): void;
}

export type WorkerMain = (scope: WorkerScope) => void | Promise<void>;

function describe(e: unknown): string {
  if (e instanceof Error) return `${e.name}: ${e.message}`;
  return String(e);
}

/**
 * Run in a worker script: reads the init, then calls the entry it names. Messages that arrive
 * before the entry registers its handler are kept and delivered to it in order.
 */
export function runWorker(entries: Partial<Record<WorkerEntry, WorkerMain>>, global: WorkerGlobal = self as unknown as WorkerGlobal): void {
  let fatalSent = false;
  const send = (m: FromWorker) => global.postMessage(m);
  const fatal = (cause: string) => {
    if (fatalSent) return;
    fatalSent = true;
    send({ clvp: 'fatal', cause });
  };
  global.addEventListener('error', (e) => fatal(`uncaught ${e.message || describe(e.error)}`));
  global.addEventListener('unhandledrejection', (e) => fatal(`unhandled rejection: ${describe(e.reason)}`));

  let handler: ((m: unknown) => void) | undefined;
  const early: unknown[] = [];
  let initialised = false;
  global.addEventListener('message', (e) => {
    const m = e.data as ToWorker;
    if (!isEnvelope(m)) return;
    if (m.clvp === 'message') {
      if (handler) handler(m.message);
      else early.push(m.message);
      return;
    }
    if (m.clvp !== 'init' || initialised) return;
    initialised = true;
    const main = entries[m.entry];
    if (!main) {
      const known = Object.keys(entries);
      fatal(`clvp-worker: no worker entry ${JSON.stringify(m.entry)} in this build (it has ${known.length ? known.join(', ') : 'none yet'})`);
      return;
    }
    const scope: WorkerScope = {
      init: m.init,
      postMessage: (message) => send({ clvp: 'message', message }),
      onMessage: (h) => {
        handler = h;
        for (const x of early.splice(0)) h(x);
      },
      exit: (code) => {
        fatal(`${m.entry} exited with code ${code}`);
        global.close();
      },
    };
    send({ clvp: 'started' });
    try {
      Promise.resolve(main(scope)).catch((err) => fatal(`${m.entry} failed: ${describe(err)}`));
    } catch (err) {
      fatal(`${m.entry} failed: ${describe(err)}`);
    }
  });
}
