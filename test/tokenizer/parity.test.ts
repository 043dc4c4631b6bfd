// Parity of ClvpTokenizer with transformers' (cases/tokenizer.json of the shared reference).
import { LocalFolder } from '../../src/io/local_files';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { loadCase, readCaseIndex } from '../../src/parity/cases';
import { TokenizerCasesJson, compareTokenizerCases, tokenizerHandler } from '../../src/parity/calls/tokenizer';
import { ClvpTokenizer } from '../../src/tokenizer';

const referenceDir = process.env.CLVP_REFERENCE_DIR ?? path.resolve(__dirname, '../../../shared/reference');

function haveReference(): boolean {
  if (fs.existsSync(path.join(referenceDir, 'cases', 'tokenizer.json'))) return true;
  console.log(`tokenizer parity: no reference at ${referenceDir} (set CLVP_REFERENCE_DIR); nothing compared`);
  return false;
}

describe('tokenizer parity with the reference', () => {
  it('passes every tokenizer case through the parity handler', async () => {
    if (!haveReference()) return;
    const ref = new LocalFolder(referenceDir);
    const entry = (await readCaseIndex(ref)).find((e) => e.call === 'tokenizer');
    expect(entry).toBeDefined();
    const result = await tokenizerHandler(await loadCase(ref, entry!));
    const comps = result.comparisons ?? [];
    const failed = comps.filter((c) => !c.ok);
    if (failed.length) console.log(`${failed.length} of ${comps.length} tokenizer comparisons failed:\n` + failed.map((c) => '  ' + c.message).join('\n'));
    const cases = JSON.parse(fs.readFileSync(path.join(referenceDir, 'cases', 'tokenizer.json'), 'utf8')) as TokenizerCasesJson;
    const expectedCount = Object.keys(cases.special_tokens).length + 6 * cases.single.length + 4 * cases.batches.length + 4 * cases.decodes.length;
    expect(comps.length).toBe(expectedCount);
    expect(failed.map((c) => c.message)).toEqual([]);
  });

  it('gives the same results from a Tortoise-format tokenizer.json of the reference vocabulary', async () => {
    if (!haveReference()) return;
    // Built in a temporary folder from the reference files, never stored in the repository.
    const tokDir = path.join(referenceDir, 'tokenizer');
    const vocab = JSON.parse(fs.readFileSync(path.join(tokDir, 'vocab.json'), 'utf8')) as Record<string, number>;
    const merges = fs.readFileSync(path.join(tokDir, 'merges.txt'), 'utf8').split('\n').slice(1, -1);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'clvp-tortoise-'));
    const file = path.join(dir, 'tokenizer.json');
    fs.writeFileSync(file, JSON.stringify({ version: '1.0', added_tokens: [], model: { type: 'BPE', unk_token: '[UNK]', vocab, merges } }));
    try {
      const tok = await ClvpTokenizer.fromTortoiseTokenizerJson(file);
      const cases = JSON.parse(fs.readFileSync(path.join(referenceDir, 'cases', 'tokenizer.json'), 'utf8')) as TokenizerCasesJson;
      const failed = compareTokenizerCases(tok, cases).filter((c) => !c.ok);
      expect(failed.map((c) => c.message)).toEqual([]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
