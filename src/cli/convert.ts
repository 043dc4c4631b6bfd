// `clvp convert`: checkpoint conversion to the transformers layout (see src/io/convert.ts).
import { Command, Option } from 'commander';
import * as cliProgress from 'cli-progress';
import { ConvertProgress, ConvertResult, DEFAULT_SHARD_SIZE, OutputDtype, convertCheckpoint, parseSize } from '../io/convert';
import { CliError, CliIO, positiveInt, addTortoiseHeadOptions } from './errors';

/**
 * The bar shows only on a TTY stderr and for inputs of at least `minBytes` (below that a conversion takes about a
 * second and a bar would only flicker). Mutable for tests.
 */
export const progressSettings = { minBytes: 64 * 1024 * 1024 };

interface ConvertFlags {
  dtype?: OutputDtype;
  shardSize: string;
  dryRun?: boolean;
  json?: boolean;
  force?: boolean;
  progress: boolean;
  decoderHeads?: number;
  textHeads?: number;
  speechHeads?: number;
}

function formatShape(s: number[]): string {
  return `[${s.join(', ')}]`;
}

function mb(n: number): string {
  return `${(n / 1e6).toFixed(n < 1e7 ? 2 : 1)} MB`;
}

function printHuman(r: ConvertResult, io: CliIO): void {
  if (r.dryRun) {
    const w = Math.max(...r.tensors.map((t) => t.name.length), 4);
    io.stdout.write(`dry run: ${r.tensors.length} tensors, ${mb(r.totalSize)} from ${r.input.join(' + ')} (${r.inputKind})\n`);
    for (const t of r.tensors) {
      const cast = t.sourceDtype !== t.dtype ? ` (from ${t.sourceDtype})` : '';
      io.stdout.write(`${t.name.padEnd(w)}  ${(t.dtype + cast).padEnd(16)}  ${formatShape(t.shape).padEnd(18)}  ${t.file}\n`);
    }
    io.stdout.write(`would write to ${r.outDir}: ${[...r.files, ...r.extraFiles].join(', ')} (config: ${r.config})\n`);
  } else {
    io.stdout.write(`wrote ${r.tensors.length} tensors, ${mb(r.totalSize)} to ${r.outDir}: ${[...r.files, ...r.extraFiles].join(', ')} (config: ${r.config})\n`);
  }
}

export function registerConvert(program: Command, io: CliIO): void {
  addTortoiseHeadOptions(program.command('convert'))
    .description('convert a checkpoint (pytorch_model.bin / .pt / .pth, safetensors, or Tortoise autoregressive.pth + clvp2.pth) to a transformers-layout folder')
    .argument('<paths...>', 'IN [IN2] OUT: a checkpoint file or folder (two files for a Tortoise pair), then the output folder')
    .addOption(new Option('--dtype <dtype>', 'cast floating-point tensors (rotary inv_freq stays float32); default: keep').choices(['float32', 'float16', 'bfloat16']))
    .option('--shard-size <size>', 'largest shard: 2GB = 2e9 bytes, 2GiB = 2^30; a lowercase b means bits, as in transformers', DEFAULT_SHARD_SIZE)
    .option('--dry-run', 'list the tensors, dtypes and shapes that would be written; write nothing')
    .option('--json', 'print the result as JSON')
    .option('--force', 'replace model files already in OUT')
    .option('--no-progress', 'never show a progress bar')
    .addHelpText(
      'after',
      `
Examples:
  $ clvp convert models/clvp/pytorch_model.bin out/clvp
  $ clvp convert models/clvp out/clvp-fp16 --dtype float16 --shard-size 500MB
  $ clvp convert autoregressive.pth clvp2.pth out/clvp          # original Tortoise weights
  $ clvp convert tortoise-models/ out/clvp --dry-run --json      # folder holding both Tortoise files

Pickles are read by a restricted unpickler: only torch tensor-rebuilding globals are allowed and nothing is executed;
anything else is refused with the name of the global. A config.json, generation_config.json and tokenizer/feature
extractor files beside the input are copied; for Tortoise weights config.json is derived from the shapes.`,
    )
    .action(async (paths: string[], flags: ConvertFlags) => {
      if (paths.length < 2 || paths.length > 3) throw new CliError(`convert: expected IN [IN2] OUT, got ${paths.length} path(s)`);
      parseSize(flags.shardSize); // fail before opening anything
      const inputs = paths.slice(0, -1);
      const outDir = paths[paths.length - 1];
      let bar: cliProgress.SingleBar | undefined;
      const onProgress = (p: ConvertProgress) => {
        if (!bar && flags.progress && io.stderr.isTTY && p.bytesTotal >= progressSettings.minBytes) {
          bar = new cliProgress.SingleBar(
            { stream: io.stderr, format: 'converting [{bar}] {percentage}% | {value}/{total} MB | {tensor}', hideCursor: true, clearOnComplete: true },
            cliProgress.Presets.shades_classic,
          );
          bar.start(Math.ceil(p.bytesTotal / 1e6), 0, { tensor: '' });
        }
        bar?.update(Math.floor(p.bytesDone / 1e6), { tensor: p.tensor });
      };
      let result: ConvertResult;
      try {
        result = await convertCheckpoint(inputs.length === 1 ? inputs[0] : inputs, outDir, {
          dtype: flags.dtype,
          shardSize: flags.shardSize,
          dryRun: flags.dryRun,
          overwrite: flags.force,
          decoderHeads: flags.decoderHeads,
          textHeads: flags.textHeads,
          speechHeads: flags.speechHeads,
          onProgress,
        });
      } finally {
        bar?.stop();
      }
      for (const w of result.warnings) io.stderr.write(`clvp: warning: ${w}\n`);
      if (flags.json) io.stdout.write(JSON.stringify(result, null, 2) + '\n');
      else printHuman(result, io);
    });
}
