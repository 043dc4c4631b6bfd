// CLI error conventions: user errors (bad input, bad option, refused pickle) print one line and exit 2; anything
// else is an internal error (exit 1). Stack traces only with --verbose.
import { ConvertError } from '../io/convert';
import { ImpliedConfigError } from '../io/hf_layout';
import { CheckpointOpenError } from '../io/open';
import { PickleError } from '../io/pickle';
import { SafetensorsError } from '../io/safetensors';
import { TorchCheckpointError } from '../io/torch_pickle';
import { TortoiseMappingError } from '../io/tortoise';
import { ZipError } from '../io/zip';
import { WavError } from '../audio/wav';
import { ConfigError } from '../config/configuration_clvp';
import { ByteSourceError } from '../io/bytes';
import { ModelFolderError } from '../io/folder';
import { HubError } from '../io/hub';
import { WeightLoadError } from '../models/weights';
import { ParallelismError } from '../runtime/parallelism';
import { BackendSettingError } from '../backend';

/** Where commands write. Tests pass string sinks; the real CLI passes process.stdout/stderr. */
export interface CliIO {
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
}

export function processIO(): CliIO {
  return { stdout: process.stdout, stderr: process.stderr };
}

export const EXIT_OK = 0;
export const EXIT_INTERNAL = 1;
export const EXIT_USAGE = 2;

/** An error the user can fix; its message is shown as is. */
export class CliError extends Error {
  constructor(message: string, readonly exitCode = EXIT_USAGE) {
    super(message);
  }
}

const USER_ERRORS = [
  CliError,
  ConvertError,
  ImpliedConfigError,
  CheckpointOpenError,
  PickleError,
  SafetensorsError,
  TorchCheckpointError,
  TortoiseMappingError,
  ZipError,
  WavError,
  ConfigError,
  WeightLoadError,
  ModelFolderError,
  ByteSourceError,
  ParallelismError,
  HubError,
  BackendSettingError,
];

const USER_ERRNO = new Set(['ENOENT', 'EACCES', 'EPERM', 'EISDIR', 'ENOTDIR', 'EEXIST', 'ENOSPC', 'EROFS']);

export function isUserError(e: unknown): boolean {
  if (USER_ERRORS.some((c) => e instanceof c)) return true;
  // Our checks of inputs and settings throw RangeErrors (ValidationError is one): the user's to fix.
  if (e instanceof RangeError) return true;
  const code = (e as NodeJS.ErrnoException | null)?.code;
  return typeof code === 'string' && USER_ERRNO.has(code);
}

/** Print `e` the CLI way and return the exit code. */
export function reportError(e: unknown, io: CliIO, verbose: boolean): number {
  const err = e instanceof Error ? e : new Error(String(e));
  const user = isUserError(err);
  const line = err.message.replace(/\s*\n\s*/g, ' ').trim() || err.name;
  io.stderr.write(`clvp: ${user ? '' : 'internal error: '}${line}\n`);
  if (verbose && err.stack) io.stderr.write(`${err.stack}\n`);
  else if (!user) io.stderr.write('clvp: run with --verbose for the stack trace\n');
  return err instanceof CliError ? err.exitCode : user ? EXIT_USAGE : EXIT_INTERNAL;
}

/** Parse a positive integer option value, naming the option on failure. */
export function positiveInt(option: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isSafeInteger(n) || n <= 0) throw new CliError(`${option}: expected a positive integer, got '${value}'`);
    return n;
  };
}

/**
 * The head counts a Tortoise checkpoint cannot tell (its weights fix sizes, not heads), shared by
 * `convert` and `inspect`.
 */
export function addTortoiseHeadOptions<T extends import('commander').Command>(cmd: T): T {
  return cmd
    .option('--decoder-heads <n>', 'Tortoise only: decoder / conditioning-encoder heads (default 16)', positiveInt('--decoder-heads'))
    .option('--text-heads <n>', 'Tortoise only: text encoder heads (default 12)', positiveInt('--text-heads'))
    .option('--speech-heads <n>', 'Tortoise only: speech encoder heads (default 12)', positiveInt('--speech-heads')) as T;
}
