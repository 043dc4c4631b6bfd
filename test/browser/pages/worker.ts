// Web Workers through the browser platform: init delivered as the first message, messages both
// ways in order (including those sent before the worker started), folders reopened inside the
// worker, and every way a worker ends (throw, rejection, failed start, terminate) reported by onExit.
import { browserPlatform, createBrowserPlatform, WorkerPort } from '../../../src/browser';
import { assert, assertEqual, run, test } from './harness';

const echo = createBrowserPlatform({ workerUrl: './echo_worker.js' });

function collect(port: WorkerPort): { messages: unknown[]; exit: Promise<string>; next: (n: number) => Promise<unknown[]> } {
  const messages: unknown[] = [];
  let waiters: Array<() => void> = [];
  port.onMessage((m) => {
    messages.push(m);
    for (const w of waiters) w();
  });
  const exit = new Promise<string>((resolve) => port.onExit(resolve));
  const next = (n: number) => new Promise<unknown[]>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`only ${messages.length} of ${n} messages arrived`)), 10000);
    const check = () => {
      if (messages.length >= n) {
        clearTimeout(timer);
        waiters = waiters.filter((w) => w !== check);
        resolve(messages.slice(0, n));
      }
    };
    waiters.push(check);
    check();
  });
  return { messages, exit, next };
}

const withTimeout = <T>(p: Promise<T>, ms: number, what: string) => Promise.race([p, new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`${what}: nothing after ${ms} ms`)), ms))]);

test('the worker receives its init and answers, messages in order', async () => {
  const init = { hello: 'init', n: 42, weights: new Float32Array([1.5, -2]) };
  const port = echo.startWorker('tensor-parallel-rank', init);
  // Sent before the worker's script has even loaded: must be queued, not lost.
  for (const n of [1, 2, 3]) port.postMessage({ type: 'echo', n });
  const c = collect(port);
  const got = await c.next(4);
  assertEqual(got[0], { type: 'init', init: { hello: 'init', n: 42, weights: { 0: 1.5, 1: -2 } } }, 'init echoed');
  assert((got[0] as { init: { weights: unknown } }).init.weights instanceof Float32Array, 'typed arrays survive');
  assertEqual(got.slice(1), [{ type: 'echo', n: 2 }, { type: 'echo', n: 4 }, { type: 'echo', n: 6 }], 'echoes');
  await port.terminate();
  assertEqual(await c.exit, 'terminated', 'exit cause');
});

test('a folder location reopens inside the worker', async () => {
  const port = echo.startWorker('tensor-parallel-rank', {});
  const c = collect(port);
  port.postMessage({ type: 'read', location: { kind: 'url', base: new URL('fixtures/range/', location.href).href } });
  const got = await c.next(2);
  assertEqual(got[1], { type: 'read', text: '{"model":"clvp","note":"has a BOM"}' }, 'text read in the worker');
  await port.terminate();
});

test('an uncaught throw in the worker is reported by onExit', async () => {
  const port = echo.startWorker('tensor-parallel-rank', {});
  const c = collect(port);
  await c.next(1);
  port.postMessage({ type: 'throw' });
  const cause = await withTimeout(c.exit, 10000, 'exit');
  assert(/boom from the worker/.test(cause), `cause: ${cause}`);
});

test('an unhandled rejection in the worker is reported by onExit', async () => {
  const port = echo.startWorker('tensor-parallel-rank', {});
  const c = collect(port);
  await c.next(1);
  port.postMessage({ type: 'reject' });
  const cause = await withTimeout(c.exit, 10000, 'exit');
  assertEqual(cause, 'unhandled rejection: Error: rejected in the worker', 'cause');
});

test('a worker script that does not exist is a failed start', async () => {
  const port = createBrowserPlatform({ workerUrl: './no_such_worker.js' }).startWorker('tensor-parallel-rank', {});
  const cause = await withTimeout(new Promise<string>((r) => port.onExit(r)), 10000, 'exit');
  assert(/^the worker failed to start \(http:\/\/127\.0\.0\.1:\d+\/no_such_worker\.js: /.test(cause), `cause: ${cause}`);
  // Listening after the fact still hears it.
  assertEqual(await new Promise<string>((r) => port.onExit(r)), cause, 'late listener');
});

test('the real clvp-worker.js runs the tensor-parallel rank entry: a rank with no model reports why', async () => {
  const port = browserPlatform.startWorker('tensor-parallel-rank', { rank: 0, size: 1, backend: 'cpu', spin: false, buffers: { control: new SharedArrayBuffer(1024), data: new SharedArrayBuffer(1024) }, source: { kind: 'folder', location: { kind: 'url', base: new URL('no-such-model/', location.href).href } } });
  const msg = await withTimeout(new Promise<unknown>((r) => port.onMessage(r)), 10000, 'message') as { type: string; id: unknown; error: { message: string } };
  assertEqual(msg.type, 'error', 'message type');
  assertEqual(msg.id, null, 'a load error, not a call error');
  if (!/no-such-model: no config\.json/.test(msg.error.message)) throw new Error(`the error should name the missing config.json: ${msg.error.message}`);
  await port.terminate();
});

run();
