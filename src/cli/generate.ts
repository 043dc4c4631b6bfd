// `clvp generate`: the main job. Text + voice clip(s) -> speech-token candidates sampled from the
// decoder, ranked by CLVP similarity to the text. A long text (or --text-file) is split into
// chunks as Tortoise's read.py does, and every chunk is ranked on its own.
import * as tf from '@tensorflow/tfjs-core';
import { Command, Option } from 'commander';
import * as cliProgress from 'cli-progress';
import * as fs from 'fs';
import * as path from 'path';
import { ClvpModelForConditionalGeneration } from '../clvp_model';
import { ValidationError } from '../config/errors';
import { GenerationConfig, GenerationConfigError, makeGenerationConfig } from '../generation/generation_config';
import { TORTOISE_PRESETS, TortoisePresetName, generationConfigFromPreset, resolvePreset } from '../generation/presets';
import { defaultBatchSize } from '../generation/rank';
import { ModelFolder } from '../io/folder';
import { DownloadProgress, platform, setLogger } from '../platform/platform';
import { WASM_HEAP_BYTES, wasmFootprintBytes } from '../runtime/parallelism';
import { ClvpProcessor } from '../processing_clvp';
import { chunkText, readText } from '../read_text';
import { CliError, CliIO, positiveInt } from './errors';
import { BUNDLED_MODEL_DIR } from './model_dir';

interface GenerateFlags {
  text?: string;
  textFile?: string;
  revision?: string;
  voice: string[];
  model?: string;
  preset: TortoisePresetName;
  candidates?: number;
  batchSize?: number;
  tp?: number | 'auto';
  seed?: number;
  backend?: string;
  out?: string;
  json?: boolean;
  maxNewTokens?: number;
  temperature?: number;
  topP?: number;
  topK?: number;
  repetitionPenalty?: number;
  tortoisePositions?: boolean;
  padTo?: number;
  progress: boolean;
}

const num = (name: string) => (v: string) => {
  const x = Number(v);
  if (v.trim() === '' || !Number.isFinite(x)) throw new CliError(`${name}: expected a number, got '${v}'`);
  return x;
};

const nonNegativeInt = (name: string) => (v: string) => {
  const x = Number(v);
  if (v.trim() === '' || !Number.isSafeInteger(x) || x < 0) throw new CliError(`${name}: expected an integer >= 0, got '${v}'`);
  return x;
};

/** Which flag sets which generation setting, so a bad value is reported by the flag's name. */
const FLAG_OF: Partial<Record<keyof GenerationConfig, string>> = {
  temperature: '--temperature', topP: '--top-p', topK: '--top-k', repetitionPenalty: '--repetition-penalty', maxNewTokens: '--max-new-tokens', seed: '--seed',
};

/** The generation settings, validated before any work; errors name the flag. */
export function checkedGenerationConfig(settings: Partial<GenerationConfig>): GenerationConfig {
  try {
    return makeGenerationConfig(settings);
  } catch (e) {
    if (e instanceof GenerationConfigError) {
      const flag = FLAG_OF[e.configField];
      throw new CliError(flag ? `${flag}: has to be ${e.allowed}, got ${ValidationError.show(e.value)}` : e.message);
    }
    throw e;
  }
}

/** The text to read: --text or --text-file (exactly one), not empty. */
export function textFromFlags(flags: { text?: string; textFile?: string }): string {
  if ((flags.text === undefined) === (flags.textFile === undefined)) throw new CliError('give the text with exactly one of --text and --text-file');
  let text = flags.text;
  if (flags.textFile !== undefined) {
    try {
      text = fs.readFileSync(flags.textFile, 'utf8');
    } catch (e) {
      throw new CliError(`--text-file ${flags.textFile}: cannot read it: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
    }
  }
  if (text!.trim() === '') throw new CliError(`${flags.textFile !== undefined ? `--text-file ${flags.textFile}` : '--text'}: the text is empty`);
  return text!;
}

/** One progress bar per downloaded file, on stderr. */
function downloadBars(io: CliIO, enabled: boolean): { onProgress?: (p: DownloadProgress) => void; stop(): void } {
  if (!enabled) return { stop: () => {} };
  let multi: cliProgress.MultiBar | undefined;
  const bars = new Map<string, cliProgress.SingleBar>();
  return {
    onProgress: (p) => {
      multi ??= new cliProgress.MultiBar({ stream: io.stderr as NodeJS.WritableStream, format: 'downloading {file} {bar} {percentage}% | {value}/{total} bytes', hideCursor: true, clearOnComplete: false }, cliProgress.Presets.shades_classic);
      let bar = bars.get(p.file);
      if (!bar) bars.set(p.file, (bar = multi.create(p.total ?? 0, 0, { file: p.file })));
      if (p.total !== null) bar.setTotal(p.total);
      bar.update(p.loaded, { file: p.file });
    },
    stop: () => multi?.stop(),
  };
}

export interface LoadedJob {
  model: ClvpModelForConditionalGeneration;
  processor: ClvpProcessor;
  /** what --model named (or the bundled model's folder) */
  modelName: string;
  backend: string;
}

/** `--tp N` or `--tp auto`. */
export function tpOption(value: string): number | 'auto' {
  if (value.trim().toLowerCase() === 'auto') return 'auto';
  return positiveInt('--tp')(value);
}

/** Model and processor for a command; user errors name the model and what is wrong. */
export async function loadJob(modelFlag: string | undefined, backendFlag: string | undefined, io: CliIO, tp?: number | 'auto', opts: { progress?: boolean; revision?: string } = {}): Promise<LoadedJob> {
  setLogger((m) => io.stderr.write(m + '\n'));
  const modelName = modelFlag ?? BUNDLED_MODEL_DIR;
  // Resolved once (a Hub id downloads here), then read by the processor and the model alike.
  let folder: ModelFolder;
  const bars = downloadBars(io, opts.progress ?? false);
  try {
    folder = await platform().openModel(modelName, { revision: opts.revision, onProgress: bars.onProgress });
  } catch (e) {
    throw new CliError(`--model: ${(e as Error).message}`);
  } finally {
    bars.stop();
  }
  let processor: ClvpProcessor;
  try {
    processor = await ClvpProcessor.fromPretrained(folder);
  } catch (e) {
    throw new CliError(`cannot load the tokenizer / feature extractor of ${modelName}: ${(e as Error).message}`);
  }
  const model = await ClvpModelForConditionalGeneration.fromPretrained(folder, { backend: backendFlag, tp });
  return { model, processor, modelName, backend: model.runtime.backend };
}

/** Candidates per batch that keep every rank's KV caches inside its wasm heap (16 at most). */
export function cliBatchSize(model: ClvpModelForConditionalGeneration, positions: number): number {
  const free = model.runtime.backend === 'wasm' ? WASM_HEAP_BYTES - wasmFootprintBytes(model.numParameters() / model.tp) : null;
  return defaultBatchSize(model.runtime, positions, free);
}

export function registerGenerate(program: Command, io: CliIO): void {
  program
    .command('generate')
    .description('sample speech-token candidates for a text in a voice and rank them with CLVP (the main job)')
    .option('--text <text>', 'the text to speak (split into chunks of about 200 characters when longer, as Tortoise does)')
    .option('--text-file <file>', 'read the text from a UTF-8 file instead')
    .requiredOption('--voice <wav...>', 'voice clip(s), any WAV (resampled to 22.05 kHz); several clips are averaged into one voice, as Tortoise does')
    .option('--model <dir-or-id>', 'a Hugging Face CLVP folder, or a Hub model id (org/name), read through the HF cache (default: the random-weight model bundled in weights/)')
    .option('--revision <rev>', 'Hub branch, tag or commit for a model id (default: main)')
    .addOption(new Option('--preset <name>', 'Tortoise sampling preset (ultra_fast: 16 candidates, fast: 96, standard / high_quality: 256)').choices(Object.keys(TORTOISE_PRESETS)).default('ultra_fast'))
    .option('--candidates <n>', 'candidates to sample per chunk (default: the preset\'s: 16 / 96 / 256 / 256)', positiveInt('--candidates'))
    .option('--batch-size <n>', 'candidates decoded together (bounds memory; default 16, fewer when a large model would not fit the wasm heap)', positiveInt('--batch-size'))
    .option('--tp <n>', 'tensor-parallel workers, each holding 1/n of every layer on its own core and wasm heap; same candidates whatever n (default: $CLVP_TP, else auto: one instance when the model fits one wasm heap, else one worker per core)', tpOption)
    .option('--seed <n>', 'sampling seed (chunk k uses seed + k): the same seed gives the same candidates (default: random, printed)', nonNegativeInt('--seed'))
    .option('--backend <name>', 'tensorflow | wasm | cpu | auto (default: $CLVP_BACKEND, else the best available)')
    .option('--max-new-tokens <n>', 'speech tokens per candidate at most (default: the preset\'s 500, capped by the model\'s position table)', positiveInt('--max-new-tokens'))
    .option('--temperature <t>', 'override the preset temperature (> 0)', num('--temperature'))
    .option('--top-p <p>', 'override the preset top-p (0 < p <= 1)', num('--top-p'))
    .option('--top-k <k>', 'override the preset top-k (an integer >= 0, 0 = off; Tortoise inherits 50)', nonNegativeInt('--top-k'))
    .option('--repetition-penalty <r>', 'override the preset repetition penalty (> 0)', num('--repetition-penalty'))
    .option('--tortoise-positions', 'original Tortoise decode positions (first new token at position 1, not 2)')
    .option('--pad-to <n>', 'pad candidates with the stop token to n positions before scoring, at least 1 + --max-new-tokens (501 reproduces Tortoise\'s 500 codes)', positiveInt('--pad-to'))
    .option('--out <file>', 'write every candidate (speech ids, score) of every chunk and the settings as JSON')
    .option('--json', 'print the JSON result on stdout instead of the table')
    .option('--no-progress', 'no progress bars')
    .addHelpText('after', `
The bundled default model has random weights: its candidates and scores are meaningless. Point
--model at a real checkpoint: a local folder, or a Hub id such as susnato/clvp_dev (downloaded once
into the Hugging Face cache; HF_HUB_OFFLINE=1 uses the cache only).

Examples:
  $ clvp generate --text "Hello there." --voice examples/voice.wav
  $ clvp generate --text-file chapter1.txt --voice a.wav --voice b.wav --seed 1 --out result.json
  $ clvp generate --model susnato/clvp_dev --text "Hi." --voice me.wav --candidates 32 --batch-size 8`)
    .action(async (flags: GenerateFlags) => {
      // Everything that can be checked before the model loads is checked here, first.
      const text = textFromFlags(flags);
      const settings = resolvePreset(flags.preset, flags.candidates ? { numAutoregressiveSamples: flags.candidates } : {});
      const preset = generationConfigFromPreset(settings);
      const sampling = {
        temperature: flags.temperature ?? preset.temperature,
        topP: flags.topP ?? preset.topP,
        topK: flags.topK ?? preset.topK,
        repetitionPenalty: flags.repetitionPenalty ?? preset.repetitionPenalty,
      };
      const seed = flags.seed ?? Math.floor(Math.random() * 2 ** 31);
      let maxNew = flags.maxNewTokens ?? preset.maxNewTokens!;
      checkedGenerationConfig({ ...preset, ...sampling, maxNewTokens: maxNew, seed });
      const showProgress = flags.progress && !flags.json;
      const job = await loadJob(flags.model, flags.backend, io, flags.tp, { progress: showProgress, revision: flags.revision });
      const { model, processor } = job;
      let features: tf.Tensor3D | undefined;
      const ctl = new AbortController();
      const onSigint = () => ctl.abort();
      process.once('SIGINT', onSigint);
      try {
        const dc = model.config.decoderConfig;
        // Positions used: the prefill, then one per new token (see generate.ts); cap to the table.
        const cap = dc.maxPositionEmbeddings - (flags.tortoisePositions ? 0 : 1);
        if (maxNew > cap) {
          if (flags.maxNewTokens !== undefined) throw new CliError(`--max-new-tokens: has to be at most ${cap} for this model's position table, got ${maxNew}`);
          io.stderr.write(`clvp: the model has ${dc.maxPositionEmbeddings} decoder positions: generating at most ${cap} tokens (preset: ${maxNew})\n`);
          maxNew = cap;
        }
        if (flags.padTo !== undefined && flags.padTo < maxNew + 1) {
          throw new CliError(`--pad-to: has to be at least ${maxNew + 1} (the longest candidate: the start token and ${maxNew} new tokens), got ${flags.padTo}`);
        }
        let chunks;
        try {
          chunks = chunkText(text, processor.tokenizer, dc.maxTextTokens);
        } catch (e) {
          if (e instanceof ValidationError) throw new CliError(`${flags.textFile !== undefined ? `--text-file ${flags.textFile}` : '--text'}: ${e.message}`);
          throw e;
        }
        const clips = await processor.loadVoices(flags.voice);
        const extracted = processor.featureExtractor.call(clips, { samplingRate: processor.featureExtractor.config.samplingRate, returnTensors: 'tf' });
        extracted.attentionMask?.dispose();
        features = extracted.inputFeatures;
        const numCandidates = settings.numAutoregressiveSamples;
        const longest = Math.max(...chunks.map((c) => c.ids.length));
        // Independent of --tp and of the machine, so a seed means the same candidates everywhere.
        const batchSize = Math.min(flags.batchSize ?? cliBatchSize(model, longest + 4 + maxNew), numCandidates);
        const numBatches = Math.ceil(numCandidates / batchSize);
        const bar = showProgress
          ? new cliProgress.SingleBar({ stream: io.stderr as NodeJS.WritableStream, format: 'generating {bar} {percentage}% | chunk {chunkNo}/{chunks}, batch {batchNo}/{batches} | {eta_formatted} left', hideCursor: true, clearOnComplete: true }, cliProgress.Presets.shades_classic)
          : undefined;
        bar?.start(chunks.length * numBatches * maxNew, 0, { chunkNo: 1, chunks: chunks.length, batchNo: 1, batches: numBatches });
        const t0 = Date.now();
        let results;
        try {
          results = await readText(model, processor.tokenizer, text, features, {
            ...preset,
            ...sampling,
            maxNewTokens: maxNew,
            numCandidates,
            batchSize,
            seed,
            averageConditioning: clips.length > 1,
            correctedDecodePositions: !!flags.tortoisePositions,
            padToMaxMelTokens: flags.padTo,
            signal: ctl.signal,
            onProgress: (p) => bar?.update((p.chunk * numBatches + p.batch) * maxNew + p.step, { chunkNo: p.chunk + 1, batchNo: p.batch + 1 }),
          });
        } finally {
          bar?.stop();
        }
        const seconds = (Date.now() - t0) / 1000;
        const report = {
          model: job.modelName,
          backend: job.backend,
          tp: model.tp,
          text,
          voices: flags.voice.map((v) => path.resolve(v)),
          preset: flags.preset,
          settings: { numCandidates, maxNewTokens: maxNew, ...sampling, batchSize, tortoisePositions: !!flags.tortoisePositions, padTo: flags.padTo ?? null, averagedVoices: clips.length > 1 },
          seed,
          seconds,
          chunks: results.map((r) => ({
            index: r.index,
            text: r.text,
            textIds: r.ids,
            seed: seed + r.index,
            candidates: r.result.candidates.map((c, rank) => ({ rank: rank + 1, index: c.index, score: c.score, length: c.length, finished: c.finished, speechIds: c.speechIds })),
          })),
        };
        if (flags.out) fs.writeFileSync(flags.out, JSON.stringify(report, null, 1) + '\n');
        if (flags.json) {
          io.stdout.write(JSON.stringify(report) + '\n');
          return;
        }
        const lines = [
          `model ${job.modelName}${flags.model ? '' : '  (bundled random weights: scores are meaningless)'}`,
          `${chunks.length} chunk(s); ${clips.length} voice clip(s); preset ${flags.preset}; seed ${seed}; ${numCandidates} candidates per chunk in ${seconds.toFixed(1)} s on ${job.backend}${model.tp > 1 ? ` x ${model.tp} tensor-parallel workers` : ''}`,
        ];
        for (const c of report.chunks) {
          lines.push('', `chunk ${c.index + 1}: "${c.text}" -> ${c.textIds.length} tokens`, ' rank  cand   score    len  end  first ids');
          lines.push(...c.candidates.slice(0, 20).map((x) => `${String(x.rank).padStart(5)}  ${String(x.index).padStart(4)}  ${x.score.toFixed(4).padStart(7)}  ${String(x.length).padStart(5)}  ${x.finished ? 'eos' : ' - '}  ${x.speechIds.slice(0, 8).join(' ')}${x.speechIds.length > 8 ? ' …' : ''}`));
          if (c.candidates.length > 20) lines.push(`  … ${c.candidates.length - 20} more${flags.out ? ` in ${flags.out}` : ' (use --out to save them all)'}`);
        }
        if (flags.out) lines.push('', `all candidates written to ${flags.out}`);
        io.stdout.write(lines.join('\n') + '\n');
      } finally {
        process.removeListener('SIGINT', onSigint);
        features?.dispose();
        await model.dispose();
      }
    });
}
