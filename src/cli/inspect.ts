// `clvp inspect`: what a checkpoint holds (see src/io/inspect.ts).
import { Command } from 'commander';
import { InspectReport, inspectCheckpoint } from '../io/inspect';
import { CliError, CliIO, positiveInt, addTortoiseHeadOptions } from './errors';

interface InspectFlags {
  json?: boolean;
  tensors?: boolean;
  decoderHeads?: number;
  textHeads?: number;
  speechHeads?: number;
}

const fmt = (n: number) => n.toLocaleString('en-US');

function printHuman(r: InspectReport, io: CliIO, withTensors: boolean): void {
  const out = (s = '') => io.stdout.write(s + '\n');
  out(`path:       ${r.path.join(' + ')}`);
  out(`family:     ${r.family} (${r.container}, ${r.files.length} file${r.files.length === 1 ? '' : 's'})`);
  out(`tensors:    ${fmt(r.tensors.length)}, ${(r.totalBytes / 1e6).toFixed(2)} MB`);
  out(`parameters: ${fmt(r.totalParameters)}${r.totalBuffers ? ` (+ ${fmt(r.totalBuffers)} buffer elements)` : ''}`);
  out(`dtypes:     ${Object.entries(r.dtypes).map(([d, n]) => `${d} ${fmt(n!)}`).join(', ')}`);
  out('modules:');
  const w = Math.max(...r.modules.map((m) => m.name.length));
  for (const m of r.modules) out(`  ${m.name.padEnd(w)}  ${fmt(m.parameters).padStart(14)} params  ${String(m.tensors).padStart(5)} tensors`);
  if (r.config) {
    const c = r.config;
    out(`config (${c.source}):`);
    for (const [k, e] of [['text', c.text], ['speech', c.speech]] as const) {
      out(`  ${(k + ' encoder:').padEnd(16)}hidden ${e.hidden_size}, ${e.num_hidden_layers} layers, ${e.num_attention_heads} heads, intermediate ${e.intermediate_size}, projection ${e.projection_dim}, vocab ${e.vocab_size}`);
    }
    const d = c.decoder;
    out(`  decoder:        hidden ${d.hidden_size}, ${d.num_hidden_layers} layers, ${d.num_attention_heads} heads, n_inner ${d.n_inner}, vocab ${d.vocab_size}, positions ${d.max_position_embeddings}, text positions ${d.max_text_tokens}, ${d.num_mel_attn_blocks} mel attention blocks`);
  }
  if (r.skipped.length) out(`skipped non-tensor entries: ${r.skipped.join(', ')}`);
  if (withTensors) {
    const nw = Math.max(...r.tensors.map((t) => t.name.length));
    out('tensors:');
    for (const t of r.tensors) out(`  ${t.name.padEnd(nw)}  ${t.dtype.padEnd(4)}  [${t.shape.join(', ')}]`);
  }
}

export function registerInspect(program: Command, io: CliIO): void {
  addTortoiseHeadOptions(program.command('inspect'))
    .description('show the tensors, dtypes, shapes, parameter counts, config and family of a checkpoint')
    .argument('<paths...>', 'a checkpoint file or folder, or the two Tortoise files')
    .option('--json', 'print the report as JSON (includes every tensor)')
    .option('--tensors', 'list every tensor in the text report')
    .addHelpText(
      'after',
      `
Families: hf-safetensors, hf-sharded, hf-pytorch-bin, tortoise-autoregressive, tortoise-clvp, tortoise-pair, unknown.

Examples:
  $ clvp inspect models/clvp
  $ clvp inspect models/clvp/pytorch_model.bin --json
  $ clvp inspect autoregressive.pth clvp2.pth --tensors`,
    )
    .action((paths: string[], flags: InspectFlags) => {
      if (paths.length > 2) throw new CliError(`inspect: expected one path or a Tortoise pair, got ${paths.length} paths`);
      const report = inspectCheckpoint(paths.length === 1 ? paths[0] : paths, {
        decoderHeads: flags.decoderHeads,
        textHeads: flags.textHeads,
        speechHeads: flags.speechHeads,
      });
      for (const w of report.warnings) io.stderr.write(`clvp: warning: ${w}\n`);
      if (flags.json) io.stdout.write(JSON.stringify(report, null, 2) + '\n');
      else printHuman(report, io, !!flags.tensors);
    });
}
