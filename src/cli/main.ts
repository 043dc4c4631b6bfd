// The `clvp` command line (commander 14). Exit codes: 0 ok, 2 user error (bad input, bad option, refused pickle),
// 1 internal error. Run via bin/clvp.js, or directly with ts-node when this is the entry module.
import { Command, CommanderError } from 'commander';
import '../platform/node_install';
import { registerConvert } from './convert';
import { CliIO, EXIT_USAGE, processIO, reportError } from './errors';
import { registerInspect } from './inspect';
import { registerGenerate } from './generate';
import { registerParity } from './parity';
import { registerScore } from './score';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const VERSION: string = (require('../../package.json') as { version: string }).version;

/** The full program. Output goes to `io`; commander never calls process.exit (errors are thrown to `main`). */
export function buildProgram(io: CliIO = processIO()): Command {
  const program = new Command('clvp');
  // Set before adding commands: subcommands inherit output and exit handling when they are created.
  program
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
      outputError: (s, write) => write(s.startsWith('error:') ? `clvp: ${s}` : s),
    })
    .exitOverride()
    .showSuggestionAfterError(true);
  program
    .description('CLVP (Tortoise TTS) on TensorFlow.js: checkpoint conversion and inspection, parity, generation, scoring')
    .version(VERSION, '-V, --version')
    .option('--verbose', 'print stack traces on errors')
    .addHelpText(
      'after',
      `
Examples:
  $ clvp inspect models/clvp
  $ clvp convert autoregressive.pth clvp2.pth out/clvp --dtype float16
  $ clvp help convert`,
    );

  registerConvert(program, io);
  registerInspect(program, io);
  registerParity(program, io);
  registerGenerate(program, io);
  registerScore(program, io);
  return program;
}

/** Run the CLI on `argv` (arguments only, without node and script) and return the exit code. */
export async function main(argv: string[] = process.argv.slice(2), io: CliIO = processIO()): Promise<number> {
  if (io.stdout === process.stdout) quietOnClosedPipe();
  const program = buildProgram(io);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      // Commander has printed its message already; help and version exit 0, usage errors exit 2.
      return e.exitCode === 0 ? 0 : EXIT_USAGE;
    }
    const verbose = argv.includes('--verbose') || !!program.opts().verbose;
    return reportError(e, io, verbose);
  }
}

let pipeHandled = false;
/** `clvp inspect x | head` closes stdout early: stop quietly instead of dumping an EPIPE trace. */
function quietOnClosedPipe(): void {
  if (pipeHandled) return;
  pipeHandled = true;
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(0);
    throw e;
  });
}

if (require.main === module) {
  main().then((code) => {
    process.exitCode = code;
  });
}
