// `clvp parity`: run the reference cases (cases/index.json of a reference directory) against this port.
import { Command } from 'commander';
import * as path from 'path';
import { initBackend, setBackendLogger } from '../backend';
import { LocalFolder } from '../io/local_files';
import { configureParityModels, disposeCachedModels } from '../parity/calls/model';
import { HANDLERS } from '../parity/handlers';
import { formatReportTable, runParity } from '../parity/runner';
import { CliError, CliIO } from './errors';
import { tpOption } from './generate';

interface ParityFlags {
  reference?: string;
  backend?: string;
  json?: boolean;
  filter?: string[];
  tp?: number | 'auto';
}

/** CLVP_REFERENCE_DIR, else ../shared/reference beside the working directory. */
export function defaultReferenceDir(): string {
  return process.env.CLVP_REFERENCE_DIR ?? path.resolve(process.cwd(), '..', 'shared', 'reference');
}

const finite = (x: number | null) => (x === null || !Number.isFinite(x) ? null : x);

export function registerParity(program: Command, io: CliIO): void {
  program
    .command('parity')
    .description('run every reference case (PyTorch outputs) against this port and report max abs/rel errors')
    .option('--reference <dir>', 'reference directory (default: $CLVP_REFERENCE_DIR or ../shared/reference)')
    .option('--backend <name>', 'tensorflow | wasm | cpu | auto (default: $CLVP_BACKEND, else the best available)')
    .option('--tp <n>', 'run every model case on n tensor-parallel workers (default: one instance)', tpOption)
    .option('--filter <text...>', 'only cases whose name contains one of these, or whose call type equals one')
    .option('--json', 'print one JSON object instead of the table')
    .addHelpText('after', `
Exit status is 1 when any case fails. Tolerances come from the case files.

Examples:
  $ clvp parity
  $ clvp parity --reference ../shared/reference --backend cpu --filter tiny.
  $ clvp parity --tp 2 --filter tiny
  $ clvp parity --json > parity.json`)
    .action(async (flags: ParityFlags) => {
      setBackendLogger((m) => io.stderr.write(m + '\n'));
      const backend = await initBackend(flags.backend).catch((e: Error) => {
        throw new CliError(e.message);
      });
      const referenceDir = flags.reference ?? defaultReferenceDir();
      let report;
      try {
        await configureParityModels({ tp: flags.tp ?? 1 });
        report = await runParity({
          reference: LocalFolder.open(referenceDir, 'reference directory'), backend, handlers: HANDLERS, filter: flags.filter,
          onCase: (r) => !flags.json && io.stderr.write(`${r.status.padEnd(7)} ${r.name}\n`),
        });
      } catch (e) {
        throw new CliError((e as Error).message);
      } finally {
        await disposeCachedModels();
      }
      if (flags.json) {
        io.stdout.write(JSON.stringify({
          reference: report.reference,
          backend: report.backend,
          cases: report.cases.map((c) => ({ name: c.name, call: c.call, status: c.status, maxAbsError: finite(c.maxAbsError), maxRelError: finite(c.maxRelError), message: c.message })),
        }) + '\n');
      } else {
        io.stdout.write(formatReportTable(report) + '\n');
      }
      if (report.cases.some((c) => c.status === 'fail')) throw new CliError(`parity: ${report.cases.filter((c) => c.status === 'fail').length} case(s) failed`, 1);
    });
}
