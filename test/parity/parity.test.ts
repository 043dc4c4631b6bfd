// Data-driven parity: every case of the reference directory, on every test backend, and every
// model and generate case again on two tensor-parallel workers. The case list is read from
// cases/index.json; tolerances come from the case files.
import * as fs from 'fs';
import * as path from 'path';
import { initBackend, setBackendLogger } from '../../src/backend';
import { LocalFolder } from '../../src/io/local_files';
import { parseCaseIndex, readCaseIndex } from '../../src/parity/cases';
import { configureParityModels, disposeCachedModels } from '../../src/parity/calls/model';
import { HANDLERS } from '../../src/parity/handlers';
import { PENDING_CALLS, runCase } from '../../src/parity/runner';
import { FIXTURE_REFERENCE, TEST_BACKENDS, sharedReference } from '../helpers/env';

setBackendLogger(() => {});
const shared = sharedReference();
// Without ../shared, the fixture copy (a subset of the same format) stands in.
const referenceDir = shared ?? FIXTURE_REFERENCE;
const reference = new LocalFolder(referenceDir);
const indexFile = path.join(referenceDir, 'cases', 'index.json');
const entries = parseCaseIndex(JSON.parse(fs.readFileSync(indexFile, 'utf8')), indexFile);

// Cases of the slow pure-JS cpu backend on the real-width model dominate the run; they are
// checked on wasm always and on cpu unless CLVP_PARITY_FAST=1.
const skipOnCpu = (name: string) => process.env.CLVP_PARITY_FAST === '1' && name.startsWith('small-real-dims.');

async function expectPass(entry: (typeof entries)[number], where: string): Promise<void> {
  const r = await runCase(reference, entry, HANDLERS, PENDING_CALLS);
  if (r.status === 'pending') {
    expect(PENDING_CALLS).toContain(entry.call);
    return;
  }
  if (r.status !== 'pass') throw new Error(`${entry.name} (${entry.call}) ${where}: ${r.message}`);
  expect(r.status).toBe('pass');
}

describe.each(TEST_BACKENDS)('parity on %s', (backend) => {
  beforeAll(async () => {
    await initBackend(backend);
    await configureParityModels({ tp: 1 });
  });
  afterAll(async () => {
    await disposeCachedModels();
  });

  test.each(entries.map((e) => [e.name, e] as const))('%s', async (_name, entry) => {
    if (backend === 'cpu' && skipOnCpu(entry.name)) return;
    await expectPass(entry, `on ${backend}`);
  });
});

// Every model and generate case, each model split over two wasm workers (uneven head splits
// included: 3 heads over 2 ranks); then three ranks for the 3-head model and four for the
// real-width one (12 and 16 heads; more workers than cores, so the ranks sleep at barriers).
describe('parity on 2 tensor-parallel wasm workers', () => {
  beforeAll(async () => {
    await initBackend('wasm');
    await configureParityModels({ tp: 2 });
  });
  afterAll(async () => {
    await configureParityModels({ tp: 1 });
  });

  test('the models really are split over two workers', async () => {
    const e = entries.find((x) => x.model === 'tiny')!;
    const { loadCase } = await import('../../src/parity/cases');
    const { modelFor } = await import('../../src/parity/calls/model');
    const model = await modelFor(await loadCase(reference, e));
    expect(model.tp).toBe(2);
    const mem = await model.memory();
    expect(mem.map((m) => m.rank)).toEqual([0, 1]);
    // Each rank holds a slice: together they hold the whole model once, plus the replicated parts.
    expect(mem[0].parameters).toBeLessThan(model.numParameters());
    expect(mem[0].parameters + mem[1].parameters).toBeGreaterThan(model.numParameters());
  });

  test.each(entries.filter((e) => e.model !== null).map((e) => [e.name, e] as const))('%s', async (_name, entry) => {
    await expectPass(entry, 'on 2 tensor-parallel workers');
  });
});

describe.each([
  [3, 'tiny-partial-rotary'],
  [4, 'small-real-dims'],
] as const)('parity on %i tensor-parallel wasm workers (%s)', (tp, model) => {
  const mine = entries.filter((e) => e.model === model);
  beforeAll(async () => {
    await initBackend('wasm');
    await configureParityModels({ tp });
  });
  afterAll(async () => {
    await configureParityModels({ tp: 1 });
  });
  test.each((mine.length ? mine : [null]).map((e) => [e?.name ?? `(no ${model} cases in this reference)`, e] as const))('%s', async (_name, entry) => {
    if (!entry) return;
    await expectPass(entry, `on ${tp} tensor-parallel workers`);
  });
});

test('every call type in the reference is implemented or explicitly pending', () => {
  for (const e of entries) expect(Object.keys(HANDLERS).includes(e.call) || PENDING_CALLS.includes(e.call)).toBe(true);
  for (const call of PENDING_CALLS) expect(HANDLERS[call]).toBeUndefined();
});

test('an unknown call type fails by name', async () => {
  const r = await runCase(reference, { name: 'made-up', call: 'no_such_call', model: null }, HANDLERS, PENDING_CALLS);
  expect(r.status).toBe('fail');
  expect(r.message).toContain("'no_such_call'");
});

test('the fixture copy passes on its own (for runs without ../shared)', async () => {
  await initBackend('wasm');
  await configureParityModels({ tp: 1 });
  const fixture = new LocalFolder(FIXTURE_REFERENCE);
  const fixtureEntries = (await readCaseIndex(fixture)).filter((e) => e.model === 'tiny');
  expect(fixtureEntries.length).toBeGreaterThan(10);
  for (const e of fixtureEntries) {
    const r = await runCase(fixture, e, HANDLERS, PENDING_CALLS);
    if (r.status === 'fail') throw new Error(`${e.name}: ${r.message}`);
  }
  await disposeCachedModels();
});
