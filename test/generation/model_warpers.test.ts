// The model-based `logits_warpers` cases of the shared reference: the processors recomputed from
// each step's raw logits and sequence so far (checkWarperSteps) must match every after_* / scores /
// probs output. Runs only when the reference directory is present.
import { LocalFolder } from '../../src/io/local_files';
import * as fs from 'fs';
import * as path from 'path';
import { loadCase, readCaseIndex } from '../../src/parity/cases';
import { compareTensor } from '../../src/parity/compare';
import { checkWarperSteps, warpersSyntheticHandler } from '../../src/parity/calls/warpers';

const REF = process.env.CLVP_REFERENCE_DIR ?? path.resolve(__dirname, '../../../shared/reference');
const present = fs.existsSync(path.join(REF, 'cases', 'index.json'));

describe('logits_warpers reference cases', () => {
  it('checkWarperSteps reproduces every processor output of every model warper case', async () => {
    if (!present) {
      console.log(`reference directory ${REF} not found: model warper cases not checked`);
      return;
    }
    const entries = (await readCaseIndex(new LocalFolder(REF))).filter((e) => e.call === 'logits_warpers');
    expect(entries.length).toBeGreaterThanOrEqual(4);
    for (const e of entries) {
      const c = await loadCase(new LocalFolder(REF), e);
      const got = checkWarperSteps(c);
      const expectedNames = c.outputNames().filter((n) => /\.(after_[a-z_]+|scores|probs)$/.test(n));
      expect([...got.keys()].sort()).toEqual(expectedNames.sort());
      for (const name of expectedNames) {
        const cmp = compareTensor(name, got.get(name)!, c.expected(name), c.spec.tolerance);
        if (!cmp.ok) throw new Error(`${e.name}: ${cmp.message}`);
        // every one of these is reproduced bit for bit (probs included)
        expect(cmp.maxAbsError).toBe(0);
      }
      // every teacher-forced token has non-zero probability under the recomputed distribution
      for (let k = 0; c.tensors.has(`out.step.${k}.sampled_tokens`); k++) {
        const toks = c.expected(`step.${k}.sampled_tokens`).data;
        const probs = got.get(`step.${k}.probs`)!;
        const vocab = probs.shape[1];
        toks.forEach((t, b) => expect(probs.data[b * vocab + t]).toBeGreaterThan(0));
      }
    }
  });

  it('checkWarperSteps processes substituted logits (as the lead feeds model logits)', async () => {
    if (!present) {
      console.log(`reference directory ${REF} not found: substitution not checked`);
      return;
    }
    const e = (await readCaseIndex(new LocalFolder(REF))).find((x) => x.call === 'logits_warpers')!;
    const c = await loadCase(new LocalFolder(REF), e);
    const base = checkWarperSteps(c);
    const same = checkWarperSteps(c, { logits: (k) => c.expected(`step.${k}.logits`) });
    for (const [n, t] of base) expect(Array.from(same.get(n)!.data)).toEqual(Array.from(t.data));
    const shifted = checkWarperSteps(c, {
      logits: (k) => {
        const t = c.expected(`step.${k}.logits`);
        return { ...t, data: Float32Array.from(t.data, (x) => x + 1) };
      },
    });
    expect(Array.from(shifted.get('step.0.after_repetition_penalty')!.data)).not.toEqual(Array.from(base.get('step.0.after_repetition_penalty')!.data));
  });

  it('the synthetic handler passes on the shared copy of warpers_synthetic', async () => {
    if (!present) {
      console.log(`reference directory ${REF} not found: shared warpers_synthetic not checked`);
      return;
    }
    const e = (await readCaseIndex(new LocalFolder(REF))).find((x) => x.name === 'warpers_synthetic')!;
    const c = await loadCase(new LocalFolder(REF), e);
    const { actual } = await warpersSyntheticHandler(c);
    for (const name of c.outputNames()) expect(compareTensor(name, actual!.get(name)!, c.expected(name), c.spec.tolerance).ok).toBe(true);
  });
});
