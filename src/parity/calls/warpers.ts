// Parity handlers for the logits processors: `logits_warpers_synthetic` (each processor on
// synthetic logits) and the processor part of the model-based `logits_warpers` cases.
import type { CallHandler } from '../runner';
import { LoadedCase } from '../cases';
import { HostTensor } from '../../io/safetensors';
import {
  LogitsProcessorKind,
  LogitsProcessorList,
  RepetitionPenaltyLogitsProcessor,
  TemperatureLogitsWarper,
  TopKLogitsWarper,
  TopPLogitsWarper,
  softmaxF32,
} from '../../generation/logits_process';
import { buildLogitsProcessors, generationConfigFromJson } from '../../generation/generation_config';

function f32(shape: number[], data: Float32Array): HostTensor {
  return { dtype: 'float32', shape: shape.slice(), data };
}

/** Rows of a [batch, len] int tensor. */
export function idRows(t: HostTensor): Int32Array[] {
  if (t.shape.length !== 2) throw new Error(`input ids: expected a 2-D tensor, got shape [${t.shape}]`);
  const [b, l] = t.shape;
  const data = t.dtype === 'int32' ? (t.data as Int32Array) : Int32Array.from(t.data);
  return Array.from({ length: b }, (_, i) => data.slice(i * l, (i + 1) * l));
}

function num(s: string, what: string): number {
  const v = Number(s);
  if (!Number.isFinite(v)) throw new Error(`${what}: cannot parse '${s}'`);
  return v;
}

/**
 * The processors an output of `warpers_synthetic` names: `repetition_penalty_<p>`,
 * `temperature_<t>`, `top_k_<k>`, `top_p_<p>`, or `chain_rep<p>_temp<t>_topk<k>_topp<p>`
 * (those four in that order). min_tokens_to_keep is 1 throughout.
 */
export function syntheticProcessors(output: string): LogitsProcessorList {
  let m: RegExpMatchArray | null;
  if ((m = output.match(/^repetition_penalty_(.+)$/))) return new LogitsProcessorList([new RepetitionPenaltyLogitsProcessor(num(m[1], output))]);
  if ((m = output.match(/^temperature_(.+)$/))) return new LogitsProcessorList([new TemperatureLogitsWarper(num(m[1], output))]);
  if ((m = output.match(/^top_k_(\d+)$/))) return new LogitsProcessorList([new TopKLogitsWarper(num(m[1], output))]);
  if ((m = output.match(/^top_p_(.+)$/))) return new LogitsProcessorList([new TopPLogitsWarper(num(m[1], output))]);
  if (output.startsWith('chain_')) {
    const list = new LogitsProcessorList();
    for (const part of output.slice('chain_'.length).split('_')) {
      if ((m = part.match(/^rep(.+)$/))) list.push(new RepetitionPenaltyLogitsProcessor(num(m[1], output)));
      else if ((m = part.match(/^temp(.+)$/))) list.push(new TemperatureLogitsWarper(num(m[1], output)));
      else if ((m = part.match(/^topk(\d+)$/))) list.push(new TopKLogitsWarper(num(m[1], output)));
      else if ((m = part.match(/^topp(.+)$/))) list.push(new TopPLogitsWarper(num(m[1], output)));
      else throw new Error(`${output}: unknown chain element '${part}'`);
    }
    return list;
  }
  throw new Error(`warpers_synthetic: no processor for output '${output}'`);
}

/** `logits_warpers_synthetic`: every out.* of the case recomputed from in.logits / in.input_ids. */
export const warpersSyntheticHandler: CallHandler = async (c: LoadedCase) => {
  const logits = c.input('logits');
  if (logits.shape.length !== 2) throw new Error(`in.logits: expected [batch, vocab], got [${logits.shape}]`);
  const [batch, vocab] = logits.shape;
  const ids = idRows(c.input('input_ids'));
  const scores = logits.data as Float32Array;
  const actual = new Map<string, HostTensor>();
  for (const name of c.outputNames()) {
    actual.set(name, f32(logits.shape, syntheticProcessors(name).process(ids, scores, batch, vocab)));
  }
  return { actual };
};

/** The stage names of a `logits_warpers` case, in processing order, and the processor kind of each. */
export const WARPER_STAGES: readonly [string, LogitsProcessorKind][] = [
  ['after_repetition_penalty', 'repetition_penalty'],
  ['after_temperature', 'temperature'],
  ['after_top_k', 'top_k'],
  ['after_top_p', 'top_p'],
];

export interface WarperStepOptions {
  /**
   * Raw logits of step k to process instead of the case's `out.step.k.logits` (e.g. the model's own
   * logits under teacher forcing); return undefined to use the case's.
   */
  logits?: (step: number) => HostTensor | undefined;
}

/**
 * For a model-based `logits_warpers` case: for every step k, runs the processors built from
 * c.spec.args on `out.step.k.logits` (or `opts.logits(k)`) with `out.step.k.input_ids` as the
 * sequence so far, and returns `step.k.after_repetition_penalty`, `step.k.after_temperature`,
 * `step.k.after_top_k`, `step.k.after_top_p`, `step.k.scores` (= after_top_p) and `step.k.probs`
 * (float32 softmax of the scores). A stage whose processor is not in the list (e.g. penalty 1)
 * repeats the previous stage's scores. step.k.input_ids / logits / sampled_tokens are not returned.
 */
export function checkWarperSteps(c: LoadedCase, opts: WarperStepOptions = {}): Map<string, HostTensor> {
  const processors = buildLogitsProcessors(generationConfigFromJson(c.spec.args));
  const out = new Map<string, HostTensor>();
  for (let k = 0; c.tensors.has(`out.step.${k}.logits`); k++) {
    const logits = opts.logits?.(k) ?? c.expected(`step.${k}.logits`);
    if (logits.shape.length !== 2) throw new Error(`step ${k} logits: expected [batch, vocab], got [${logits.shape}]`);
    const [batch, vocab] = logits.shape;
    const ids = idRows(c.expected(`step.${k}.input_ids`));
    const { scores, trace } = processors.processWithTrace(ids, logits.data as Float32Array, batch, vocab);
    let cur = logits.data as Float32Array;
    for (const [stage, kind] of WARPER_STAGES) {
      const hit = trace.find((t) => t.kind === kind);
      if (hit) cur = hit.scores;
      out.set(`step.${k}.${stage}`, f32(logits.shape, cur.slice()));
    }
    out.set(`step.${k}.scores`, f32(logits.shape, scores));
    out.set(`step.${k}.probs`, f32(logits.shape, softmaxF32(scores, batch, vocab)));
  }
  if (out.size === 0) throw new Error(`case ${c.entry.name}: no out.step.0.logits`);
  return out;
}
