// A worker script for the worker page: answers its init, echoes messages, reopens a model folder
// from a posted location, and fails on request (a throw, a rejected promise) so the page can see
// the failure arrive through WorkerPort.onExit.
import { platform, runWorker, setPlatform, browserPlatform } from '../../../src/browser';

setPlatform(browserPlatform);

runWorker({
  'tensor-parallel-rank': (scope) => {
    scope.postMessage({ type: 'init', init: scope.init });
    scope.onMessage((m) => {
      const msg = m as { type: string; n?: number; location?: unknown };
      if (msg.type === 'echo') scope.postMessage({ type: 'echo', n: (msg.n ?? 0) * 2 });
      else if (msg.type === 'throw') setTimeout(() => { throw new Error('boom from the worker'); });
      else if (msg.type === 'reject') void Promise.reject(new Error('rejected in the worker'));
      else if (msg.type === 'read') {
        void platform().reopen(msg.location as never).then(async (f) => scope.postMessage({ type: 'read', text: await f.readText('config.json') }));
      }
    });
  },
});
