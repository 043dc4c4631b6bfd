// Shared test settings: which backends to run on and where the reference cases live.
import * as fs from 'fs';
import * as path from 'path';

/** Backends every backend-sensitive test runs on (override with CLVP_TEST_BACKENDS=cpu,wasm). */
export const TEST_BACKENDS: string[] = (process.env.CLVP_TEST_BACKENDS ?? 'wasm,cpu').split(',').map((s) => s.trim()).filter(Boolean);

export const FIXTURE_REFERENCE = path.resolve(__dirname, '..', 'fixtures', 'reference');

/** The shared reference (CLVP_REFERENCE_DIR, default ../shared/reference beside the repo), or null if absent. */
export function sharedReference(): string | null {
  const dir = process.env.CLVP_REFERENCE_DIR ?? path.resolve(__dirname, '..', '..', '..', 'shared', 'reference');
  return fs.existsSync(path.join(dir, 'cases', 'index.json')) ? dir : null;
}
