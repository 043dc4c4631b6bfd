// `clvp generate`: the main job. Text + voice clip(s) -> speech-token candidates sampled from the
// decoder, ranked by CLVP similarity to the text.
import * as tf from '@tensorflow/tfjs-core';
import { Command, Option } from 'commander';
import * as cliProgress from 'cli-progress';
import * as fs from 'fs';
import * as path from 'path';
import { ClvpModelForConditionalGeneration } from '../clvp_model';
import { TORTOISE_PRESETS, TortoisePresetName, generationConfigFromPreset, resolvePreset } from '../generation/presets';
import { RankResult, defaultBatchSize } from '../generation/rank';
import { ModelFolder } from '../io/folder';
import { platform, setLogger } from '../platform/platform';
import { WASM_HEAP_BYTES, wasmFootprintBytes } from '../runtime/parallelism';
import { ClvpProcessor } from '../processing_clvp';
import { CliError, CliIO, positiveInt } from './errors';
import { BUNDLED_MODEL_DIR } from './model_dir';

interface GenerateFlags {
  text: string;
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
  if (!Number.isFinite(x)) throw new CliError(`${name}: '${v}' is not a number`);
  return x;
};

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
export async function loadJob(modelFlag: string | undefined, backendFlag: string | undefined, io: CliIO, tp?: number | 'auto'): Promise<LoadedJob> {
  setLogger((m) => io.stderr.write(m + '\n'));
  const modelName = modelFlag ?? BUNDLED_MODEL_DIR;
  // Resolved once (a Hub id downloads here), then read by the processor and the model alike.
  let folder: ModelFolder;
  try {
    folder = await platform().openModel(modelName);
  } catch (e) {
    throw new CliError(`--model: ${(e as Error).message}`);
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
    .requiredOption('--text <text>', 'the text to speak')
    .requiredOption('--voice <wav...>', 'voice clip(s), any WAV (resampled to 22.05 kHz); several clips are averaged into one voice, as Tortoise does')
    .option('--model <dir>', 'Hugging Face CLVP folder (default: the random-weight model bundled in weights/)')
    .addOption(new Option('--preset <name>', 'Tortoise sampling preset (ultra_fast: 16 candidates, fast: 96, standard / high_quality: 256)').choices(Object.keys(TORTOISE_PRESETS)).default('ultra_fast'))
    .option('--candidates <n>', 'candidates to sample (default: the preset\'s: 16 / 96 / 256 / 256)', positiveInt('--candidates'))
    .option('--batch-size <n>', 'candidates decoded together (bounds memory; default 16, fewer when a large model would not fit the wasm heap)', positiveInt('--batch-size'))
    .option('--tp <n>', 'tensor-parallel workers, each holding 1/n of every layer on its own core and wasm heap; same candidates whatever n (default: $CLVP_TP, else auto: one instance when the model fits one wasm heap, else one worker per core)', tpOption)
    .option('--seed <n>', 'sampling seed: the same seed gives the same candidates on the same backend (default: random, printed)', positiveInt('--seed'))
    .option('--backend <name>', 'tensorflow | wasm | cpu (default: best available)')
    .option('--max-new-tokens <n>', 'speech tokens per candidate at most (default: the preset\'s 500, capped by the model\'s position table)', positiveInt('--max-new-tokens'))
    .option('--temperature <t>', 'override the preset temperature', num('--temperature'))
    .option('--top-p <p>', 'override the preset top-p', num('--top-p'))
    .option('--top-k <k>', 'override the preset top-k (Tortoise inherits 50)', num('--top-k'))
    .option('--repetition-penalty <r>', 'override the preset repetition penalty', num('--repetition-penalty'))
    .option('--tortoise-positions', 'original Tortoise decode positions (first new token at position 1, not 2)')
    .option('--pad-to <n>', 'pad candidates with the stop token to n positions before scoring (501 reproduces Tortoise\'s 500 codes)', positiveInt('--pad-to'))
    .option('--out <file>', 'write every candidate (speech ids, score) and the settings as JSON')
    .option('--json', 'print the JSON result on stdout instead of the table')
    .option('--no-progress', 'no progress bar')
    .addHelpText('after', `
The bundled default model has random weights: its candidates and scores are meaningless. Point
--model at a real checkpoint folder (e.g. a local copy of susnato/clvp_dev; convert a
pytorch_model.bin first with 'clvp convert' for faster loads).

Examples:
  $ clvp generate --text "Hello there." --voice examples/voice.wav
  $ clvp generate --text "Hello there." --voice a.wav --voice b.wav --preset ultra_fast --seed 1 --out result.json
  $ clvp generate --model ~/models/clvp_dev --text "Hi." --voice me.wav --candidates 32 --batch-size 8`)
    .action(async (flags: GenerateFlags) => {
      const job = await loadJob(flags.model, flags.backend, io, flags.tp);
      const { model, processor } = job;
      let features: tf.Tensor3D | undefined;
      let ids: tf.Tensor2D | undefined;
      const ctl = new AbortController();
      const onSigint = () => ctl.abort();
      process.once('SIGINT', onSigint);
      try {
        const clips = await processor.loadVoices(flags.voice);
        const enc = processor.call({ text: flags.text, rawSpeech: clips, samplingRate: processor.featureExtractor.config.samplingRate });
        features = enc.inputFeatures!;
        ids = enc.inputIds!;
        enc.attentionMask?.dispose();

        const settings = resolvePreset(flags.preset, flags.candidates ? { numAutoregressiveSamples: flags.candidates } : {});
        const gen = generationConfigFromPreset(settings);
        const dc = model.config.decoderConfig;
        // Positions used: the prefill, then one per new token (see generate.ts); cap to the table.
        const cap = dc.maxPositionEmbeddings - (flags.tortoisePositions ? 0 : 1);
        let maxNew = flags.maxNewTokens ?? gen.maxNewTokens!;
        if (maxNew > cap) {
          if (flags.maxNewTokens !== undefined) throw new CliError(`--max-new-tokens ${maxNew}: this model's position table allows at most ${cap}`);
          io.stderr.write(`clvp: the model has ${dc.maxPositionEmbeddings} decoder positions: generating at most ${cap} tokens (preset: ${maxNew})\n`);
          maxNew = cap;
        }
        const numCandidates = settings.numAutoregressiveSamples;
        // The preset's sampling settings with the command line's overrides.
        const sampling = {
          temperature: flags.temperature ?? gen.temperature,
          topP: flags.topP ?? gen.topP,
          topK: flags.topK ?? gen.topK,
          repetitionPenalty: flags.repetitionPenalty ?? gen.repetitionPenalty,
        };
        const seed = flags.seed ?? Math.floor(Math.random() * 2 ** 31);
        // Independent of --tp and of the machine, so a seed means the same candidates everywhere.
        const batchSize = Math.min(flags.batchSize ?? cliBatchSize(model, ids.shape[1] + 4 + maxNew), numCandidates);
        const numBatches = Math.ceil(numCandidates / batchSize);
        const bar = flags.progress && !flags.json
          ? new cliProgress.SingleBar({ stream: io.stderr as NodeJS.WritableStream, format: 'generating {bar} {percentage}% | batch {batchNo}/{batches} | {eta_formatted} left', hideCursor: true, clearOnComplete: true }, cliProgress.Presets.shades_classic)
          : undefined;
        bar?.start(numBatches * maxNew, 0, { batchNo: 1, batches: numBatches });
        const t0 = Date.now();
        let result: RankResult;
        try {
          result = await model.rankCandidates({ inputIds: ids, inputFeatures: features }, {
            ...gen,
            ...sampling,
            maxNewTokens: maxNew,
            numCandidates,
            batchSize,
            seed,
            averageConditioning: clips.length > 1,
            correctedDecodePositions: !!flags.tortoisePositions,
            padToMaxMelTokens: flags.padTo,
            signal: ctl.signal,
            onProgress: (p) => bar?.update(p.batch * maxNew + p.step, { batchNo: p.batch + 1 }),
          });
        } finally {
          bar?.stop();
        }
        const seconds = (Date.now() - t0) / 1000;
        const report = {
          model: job.modelName,
          backend: job.backend,
          text: flags.text,
          textIds: Array.from(ids.dataSync()),
          voices: flags.voice.map((v) => path.resolve(v)),
          preset: flags.preset,
          settings: { numCandidates, maxNewTokens: maxNew, ...sampling, batchSize, tp: model.tp, tortoisePositions: !!flags.tortoisePositions, padTo: flags.padTo ?? null, averagedVoices: clips.length > 1 },
          seed,
          seconds,
          candidates: result.candidates.map((c, rank) => ({ rank: rank + 1, index: c.index, score: c.score, length: c.length, finished: c.finished, speechIds: c.speechIds })),
        };
        if (flags.out) fs.writeFileSync(flags.out, JSON.stringify(report, null, 1) + '\n');
        if (flags.json) {
          io.stdout.write(JSON.stringify(report) + '\n');
          return;
        }
        const lines = [
          `model ${job.modelName}${flags.model ? '' : '  (bundled random weights: scores are meaningless)'}`,
          `text "${flags.text}" -> ${report.textIds.length} tokens; ${clips.length} voice clip(s); preset ${flags.preset}; seed ${seed}; ${numCandidates} candidates in ${seconds.toFixed(1)} s on ${job.backend}${model.tp > 1 ? ` x ${model.tp} tensor-parallel workers` : ''}`,
          '',
          ' rank  cand   score    len  end  first ids',
          ...report.candidates.slice(0, 20).map((c) => `${String(c.rank).padStart(5)}  ${String(c.index).padStart(4)}  ${c.score.toFixed(4).padStart(7)}  ${String(c.length).padStart(5)}  ${c.finished ? 'eos' : ' - '}  ${c.speechIds.slice(0, 8).join(' ')}${c.speechIds.length > 8 ? ' …' : ''}`),
        ];
        if (report.candidates.length > 20) lines.push(`  … ${report.candidates.length - 20} more${flags.out ? ` in ${flags.out}` : ' (use --out to save them all)'}`);
        else if (flags.out) lines.push('', `all candidates written to ${flags.out}`);
        io.stdout.write(lines.join('\n') + '\n');
      } finally {
        process.removeListener('SIGINT', onSigint);
        features?.dispose();
        ids?.dispose();
        await model.dispose();
      }
    });
}
