// `clvp score`: CLVP similarity between a text and given speech-token candidates.
import { Command } from 'commander';
import * as fs from 'fs';
import { scoreCandidates } from '../generation/generate';
import { padExtraBosEosTokens } from '../models/conditioning_encoder';
import { CliError, CliIO, positiveInt } from './errors';
import { loadJob, tpOption } from './generate';

interface ScoreFlags {
  text: string;
  speechIds: string;
  model?: string;
  backend?: string;
  tp?: number | 'auto';
  chunk?: number;
  json?: boolean;
}

/**
 * Accepts [[ids...], ...], [ids...], or the JSON `clvp generate --out` writes
 * ({chunks: [{candidates: [{speechIds}]}]}; `chunk` picks one when there are several).
 */
export function readSpeechIds(file: string, chunk?: number): number[][] {
  let json: unknown;
  try {
    json = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new CliError(`--speech-ids ${file}: ${(e as Error).message}`);
  }
  const candidatesOf = (x: unknown) => (x as { candidates: { speechIds?: unknown }[] }).candidates.map((c) => c.speechIds);
  let rows: unknown;
  if (Array.isArray(json)) rows = json.length && typeof json[0] === 'number' ? [json] : json;
  else if (json && typeof json === 'object' && Array.isArray((json as { chunks?: unknown }).chunks)) {
    const chunks = (json as { chunks: unknown[] }).chunks;
    if (chunk === undefined && chunks.length !== 1) throw new CliError(`--speech-ids ${file}: the result has ${chunks.length} text chunks: pick one with --chunk 1..${chunks.length}`);
    const k = (chunk ?? 1) - 1;
    if (k >= chunks.length) throw new CliError(`--chunk: has to be at most ${chunks.length} (the chunks in ${file}), got ${chunk}`);
    rows = candidatesOf(chunks[k]);
  } else if (json && typeof json === 'object' && Array.isArray((json as { candidates?: unknown }).candidates)) {
    rows = candidatesOf(json);
  } else throw new CliError(`--speech-ids ${file}: expected a list of id lists, or the JSON of clvp generate --out`);
  const out = rows as unknown[];
  if (!out.length) throw new CliError(`--speech-ids ${file}: no candidates`);
  out.forEach((r, i) => {
    if (!Array.isArray(r) || !r.length || !r.every((v) => Number.isInteger(v) && v >= 0)) throw new CliError(`--speech-ids ${file}: candidate ${i} is not a non-empty list of non-negative integer ids`);
  });
  return out as number[][];
}

export function registerScore(program: Command, io: CliIO): void {
  program
    .command('score')
    .description('CLVP similarity between a text and speech-token candidates')
    .requiredOption('--text <text>', 'the text')
    .requiredOption('--speech-ids <file>', 'JSON: [[ids...], ...] or the output of clvp generate --out')
    .option('--model <dir>', 'Hugging Face CLVP folder (default: the bundled random-weight model)')
    .option('--backend <name>', 'tensorflow | wasm | cpu | auto (default: $CLVP_BACKEND, else the best available)')
    .option('--tp <n>', 'tensor-parallel workers (default: auto)', tpOption)
    .option('--chunk <n>', 'which text chunk of a clvp generate result to score (1-based; needed when it has several)', positiveInt('--chunk'))
    .option('--json', 'print JSON')
    .addHelpText('after', `
Candidates of different lengths are scored one by one (the speech encoder averages over every
position, so padding would change the score). The text gets the eos that generate adds.

Examples:
  $ clvp score --text "Hello there." --speech-ids result.json
  $ clvp score --model ~/models/clvp_dev --text "Hi." --speech-ids ids.json --json`)
    .action(async (flags: ScoreFlags) => {
      if (flags.text.trim() === '') throw new CliError('--text: the text is empty');
      const rows = readSpeechIds(flags.speechIds, flags.chunk);
      const job = await loadJob(flags.model, flags.backend, io, flags.tp);
      const { model, processor } = job;
      try {
        const vocab = model.config.speechConfig.vocabSize;
        rows.forEach((r, i) => {
          const bad = r.find((v) => v >= vocab);
          if (bad !== undefined) throw new CliError(`--speech-ids: candidate ${i} has id ${bad}, outside the speech vocabulary [0, ${vocab})`);
        });
        if (processor.tokenizer.normalize(flags.text).trim() === '') throw new CliError('--text: nothing is left after the English normaliser (it drops non-ASCII characters)');
        const tokens = processor.tokenizer.encode(flags.text);
        const maxText = model.config.decoderConfig.maxTextTokens - 3;
        if (tokens.length > maxText) throw new CliError(`--text: has ${tokens.length} tokens, at most ${maxText} fit (score one chunk of a long text at a time)`);
        const ids0 = { data: Int32Array.from(tokens), shape: [1, tokens.length] as [number, number] };
        const tc = model.config.textConfig;
        const text = padExtraBosEosTokens(ids0, { data: new Int32Array(ids0.data.length).fill(1), shape: ids0.shape }, { bosTokenId: tc.bosTokenId, eosTokenId: tc.eosTokenId, addBosToken: false });
        const scores: number[] = [];
        for (const r of rows) {
          const s = await scoreCandidates(model.runtime, { ids: text.ids, mask: text.mask! }, { data: Int32Array.from(r), shape: [1, r.length] });
          scores.push(s.logitsPerText.data[0]);
        }
        const result = scores.map((score, index) => ({ index, score, length: rows[index].length })).sort((a, b) => b.score - a.score);
        if (flags.json) io.stdout.write(JSON.stringify({ model: job.modelName, text: flags.text, scores: result }) + '\n');
        else io.stdout.write([' rank  cand   score    len', ...result.map((r, k) => `${String(k + 1).padStart(5)}  ${String(r.index).padStart(4)}  ${r.score.toFixed(4).padStart(7)}  ${String(r.length).padStart(5)}`)].join('\n') + '\n');
      } finally {
        await model.dispose();
      }
    });
}
