// A backend that fails mid-run (a GPU device lost in a page, an allocation refused) must leave no
// tensors behind: every error path disposes what it made. The cpu backend stands in for the
// failing device: its reads and writes are made to throw after the k-th call, for every k up to
// the calls one case makes, and after each failure the model must still work and the tensor
// count must be back where it was.
import * as tf from '@tensorflow/tfjs-core';
import { initBackend, setBackendLogger } from '../../src/backend';
import { LocalFolder } from '../../src/io/local_files';
import { readCaseIndex } from '../../src/parity/cases';
import { configureParityModels, disposeCachedModels } from '../../src/parity/calls/model';
import { HANDLERS } from '../../src/parity/handlers';
import { PENDING_CALLS, runCase } from '../../src/parity/runner';
import { FIXTURE_REFERENCE, sharedReference } from '../helpers/env';

setBackendLogger(() => {});
const reference = new LocalFolder(sharedReference() ?? FIXTURE_REFERENCE);

type Hook = 'read' | 'readSync' | 'write' | 'move';
const HOOKS: Hook[] = ['read', 'readSync', 'write', 'move'];

/** Make the backend's reads and writes fail from the (k+1)-th call on; returns the call counter and the undo. */
function failAfter(k: number): { calls: () => number; restore: () => void } {
  const b = tf.backend() as unknown as Record<Hook, (...a: unknown[]) => unknown>;
  const saved = HOOKS.map((h) => [h, b[h]] as const);
  let n = 0;
  for (const [h, f] of saved) {
    b[h] = function (this: unknown, ...a: unknown[]) {
      if (n++ >= k) throw new Error(`injected device failure in ${h}`);
      return f.apply(this, a);
    };
  }
  return { calls: () => n, restore: () => saved.forEach(([h, f]) => (b[h] = f)) };
}

beforeAll(async () => {
  await initBackend('cpu');
  await configureParityModels({ tp: 1 });
});
afterAll(() => disposeCachedModels());

const FAMILIES = ['decoder_forward_with_cache', 'generate', 'conditioning_encoder', 'text_encoder', 'model_forward'];

test.each(FAMILIES)('%s: a failure at any read or write leaves no tensors behind, and the next run passes', async (call) => {
  const entry = (await readCaseIndex(reference)).find((e) => e.call === call && (e.model === 'tiny' || e.model === 'tiny-partial-rotary'));
  if (!entry) throw new Error(`no tiny ${call} case in the reference`);
  // Load the model and count the calls of one clean run.
  expect((await runCase(reference, entry, HANDLERS, PENDING_CALLS)).status).toBe('pass');
  const before = tf.memory().numTensors;
  const probe = failAfter(Number.MAX_SAFE_INTEGER);
  expect((await runCase(reference, entry, HANDLERS, PENDING_CALLS)).status).toBe('pass');
  probe.restore();
  const total = probe.calls();
  expect(total).toBeGreaterThan(0);
  // Every failure point when a case is short; 16 spread over a long one.
  const ks = total <= 16 ? [...Array(total).keys()] : [...new Set(Array.from({ length: 16 }, (_, i) => Math.floor((i * total) / 16)))];
  const leaks: string[] = [];
  for (const k of ks) {
    const f = failAfter(k);
    let r;
    try {
      r = await runCase(reference, entry, HANDLERS, PENDING_CALLS);
    } finally {
      f.restore();
    }
    expect(r.status).toBe('fail');
    expect(r.message).toMatch(/^error: .*injected device failure/);
    const left = tf.memory().numTensors - before;
    if (left !== 0) leaks.push(`failure at call ${k} of ${total}: ${left} tensor(s) left`);
    expect((await runCase(reference, entry, HANDLERS, PENDING_CALLS)).status).toBe('pass');
  }
  expect(leaks).toEqual([]);
});
