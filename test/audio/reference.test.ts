// Every feature_extractor and mel_filter_bank case of the shared reference directory (real voice
// recordings included), read in place: those recordings must not be copied into the repository.
import { LocalFolder } from '../../src/io/local_files';
import * as fs from 'fs';
import * as path from 'path';
import { readCaseIndex } from '../../src/parity/cases';
import { runCase } from '../../src/parity/runner';
import { featureExtractorHandler, melFilterBankHandler } from '../../src/parity/calls/audio';

const REF = process.env.CLVP_REFERENCE_DIR ?? path.resolve(__dirname, '../../../shared/reference');
const HANDLERS = { feature_extractor: featureExtractorHandler, mel_filter_bank: melFilterBankHandler };

describe('shared reference: feature_extractor and mel_filter_bank cases', () => {
  it('all pass within their tolerances', async () => {
    if (!fs.existsSync(path.join(REF, 'cases', 'index.json'))) {
      console.log(`reference directory ${REF} not found: shared audio cases not run`);
      return;
    }
    const ref = new LocalFolder(REF);
    const entries = (await readCaseIndex(ref)).filter((e) => e.call in HANDLERS);
    expect(entries.length).toBeGreaterThanOrEqual(11);
    const lines: string[] = [];
    for (const e of entries) {
      const r = await runCase(ref, e, HANDLERS, []);
      lines.push(`${r.status.padEnd(5)} ${e.name.padEnd(40)} max abs ${r.maxAbsError}`);
      expect({ name: r.name, status: r.status, message: r.message }).toEqual({ name: r.name, status: 'pass', message: r.message });
    }
    console.log(lines.join('\n'));
  });
});
