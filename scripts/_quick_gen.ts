import * as path from 'path';
import { loadCase, readCaseIndex } from '../src/parity/cases';
import { compareTensor } from '../src/parity/compare';
import { warpersSyntheticHandler, checkWarperSteps } from '../src/parity/calls/warpers';
(async () => {
  const dir = '/work/shared/reference';
  for (const e of readCaseIndex(dir).filter((e) => e.call.startsWith('logits_warpers'))) {
    const c = loadCase(dir, e);
    const actual = e.call === 'logits_warpers_synthetic' ? (await warpersSyntheticHandler(c)).actual! : checkWarperSteps(c);
    for (const [n, t] of actual) {
      const r = compareTensor(n, t, c.expected(n), c.spec.tolerance);
      console.log(e.name, n, r.ok ? 'ok' : 'FAIL', r.maxAbsError, r.message ?? '');
    }
  }
})();
