// Data-driven parity: every case of the reference directory, on every test backend. The case list
// is read from cases/index.json; tolerances come from the case files.
import { initBackend, setBackendLogger } from '../../src/backend';
import { readCaseIndex } from '../../src/parity/cases';
import { disposeCachedModels } from '../../src/parity/calls/model';
import { HANDLERS } from '../../src/parity/handlers';
import { PENDING_CALLS, runCase } from '../../src/parity/runner';
import { FIXTURE_REFERENCE, TEST_BACKENDS, sharedReference } from '../helpers/env';

setBackendLogger(() => {});
const shared = sharedReference();
// Without ../shared, the fixture copy (a subset of the same format) stands in.
const referenceDir = shared ?? FIXTURE_REFERENCE;
const entries = readCaseIndex(referenceDir);

// Cases of the slow pure-JS cpu backend on the real-width model dominate the run; they are
// checked on wasm always and on cpu unless CLVP_PARITY_FAST=1.
const skipOnCpu = (name: string) => process.env.CLVP_PARITY_FAST === '1' && name.startsWith('small-real-dims.');

describe.each(TEST_BACKENDS)('parity on %s', (backend) => {
  beforeAll(async () => {
    await initBackend(backend);
  });
  afterAll(async () => {
    await disposeCachedModels();
  });

  test.each(entries.map((e) => [e.name, e] as const))('%s', async (_name, entry) => {
    if (backend === 'cpu' && skipOnCpu(entry.name)) return;
    const r = await runCase(referenceDir, entry, HANDLERS, PENDING_CALLS);
    if (r.status === 'pending') {
      expect(PENDING_CALLS).toContain(entry.call);
      return;
    }
    if (r.status !== 'pass') throw new Error(`${entry.name} (${entry.call}) on ${backend}: ${r.message}`);
    expect(r.status).toBe('pass');
  });
});

test('every call type in the reference is implemented or explicitly pending', () => {
  for (const e of entries) expect(Object.keys(HANDLERS).includes(e.call) || PENDING_CALLS.includes(e.call)).toBe(true);
  for (const call of PENDING_CALLS) expect(HANDLERS[call]).toBeUndefined();
});

test('an unknown call type fails by name', async () => {
  const r = await runCase(referenceDir, { name: 'made-up', call: 'no_such_call', model: null }, HANDLERS, PENDING_CALLS);
  expect(r.status).toBe('fail');
  expect(r.message).toContain("'no_such_call'");
});

test('the fixture copy passes on its own (for runs without ../shared)', async () => {
  await initBackend('wasm');
  const fixtureEntries = readCaseIndex(FIXTURE_REFERENCE).filter((e) => e.model === 'tiny');
  expect(fixtureEntries.length).toBeGreaterThan(10);
  for (const e of fixtureEntries) {
    const r = await runCase(FIXTURE_REFERENCE, e, HANDLERS, PENDING_CALLS);
    if (r.status === 'fail') throw new Error(`${e.name}: ${r.message}`);
  }
  await disposeCachedModels();
});
