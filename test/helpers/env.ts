// Shared test settings: which backends to run on and where the reference cases live.
import * as fs from 'fs';
import * as path from 'path';
import { LocalFolder } from '../../src/io/local_files';
import { readSafetensors } from '../../src/io/safetensors_fs';
import { CaseIndexEntry, LoadedCase, parseCaseSpec } from '../../src/parity/cases';

/** Backends every backend-sensitive test runs on (override with CLVP_TEST_BACKENDS=cpu,wasm). */
export const TEST_BACKENDS: string[] = (process.env.CLVP_TEST_BACKENDS ?? 'wasm,cpu').split(',').map((s) => s.trim()).filter(Boolean);

export const FIXTURE_REFERENCE = path.resolve(__dirname, '..', 'fixtures', 'reference');

/** The shared reference (CLVP_REFERENCE_DIR, default ../shared/reference beside the repo), or null if absent. */
export function sharedReference(): string | null {
  const dir = process.env.CLVP_REFERENCE_DIR ?? path.resolve(__dirname, '..', '..', '..', 'shared', 'reference');
  return fs.existsSync(path.join(dir, 'cases', 'index.json')) ? dir : null;
}

/** A case read synchronously (for tests that list its outputs while they are being defined). */
export function loadCaseSync(referenceDir: string, entry: CaseIndexEntry): LoadedCase {
  const json = path.join(referenceDir, entry.file ?? path.join('cases', `${entry.name}.json`));
  const st = json.replace(/\.json$/, '.safetensors');
  const spec = parseCaseSpec(JSON.parse(fs.readFileSync(json, 'utf8')), entry);
  return new LoadedCase(new LocalFolder(referenceDir), entry, spec, fs.existsSync(st) ? readSafetensors(st) : new Map());
}
