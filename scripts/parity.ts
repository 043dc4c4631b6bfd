// Quick parity run during development: npx ts-node scripts/parity.ts [backend] [filter...]
import { initBackend } from '../src/backend';
import { HANDLERS } from '../src/parity/handlers';
import { disposeCachedModels } from '../src/parity/calls/model';
import { formatReportTable, runParity } from '../src/parity/runner';

(async () => {
  const backend = await initBackend(process.argv[2] ?? 'wasm');
  const report = await runParity({ handlers: HANDLERS, backend, filter: process.argv.slice(3), referenceDir: process.env.CLVP_REFERENCE_DIR ?? '/work/shared/reference' });
  await disposeCachedModels();
  console.log(formatReportTable(report));
})();
