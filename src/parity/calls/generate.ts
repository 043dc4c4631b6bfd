// Parity handlers for generation: greedy `generate` cases, and the sampling-step (`logits_warpers`)
// cases, whose model logits we reproduce by teacher-forcing the reference's sampled tokens.
import * as tf from '@tensorflow/tfjs-core';
import { generationConfigFromJson } from '../../generation/generation_config';
import { ClvpGenerateOptions, decodeSpeechTokens, prepareConditioning, resolveGenerationConfig } from '../../generation/generate';
import { HostTensor } from '../../io/safetensors';
import { disposeOutput } from '../../models/modeling_clvp';
import { LoadedCase } from '../cases';
import type { CallHandler } from '../runner';
import { fromTf, hostIds, idsOf, toTf } from '../tensors';
import { modelFor } from './model';
import { checkWarperSteps } from './warpers';

/** A case's args (transformers' snake_case generate kwargs) as generate options. */
function optionsFromArgs(args: Record<string, unknown>): ClvpGenerateOptions {
  const o: ClvpGenerateOptions = { ...generationConfigFromJson(args) };
  if (args.pad_to_max_mel_tokens !== undefined) o.padToMaxMelTokens = args.pad_to_max_mel_tokens as number;
  const sem = args.generation_semantics;
  if (sem !== undefined) {
    if (sem !== 'v4.44' && sem !== 'v4.45') throw new Error(`unknown generation_semantics '${String(sem)}'`);
    o.semantics = sem;
  }
  return o;
}

const f32 = (shape: number[], data: Float32Array): HostTensor => ({ dtype: 'float32', shape, data });
const i32 = (shape: number[], data: Int32Array): HostTensor => ({ dtype: 'int32', shape, data });

export const generateHandler: CallHandler = async (c: LoadedCase) => {
  const model = await modelFor(c);
  const features = toTf(c.input('input_features')) as tf.Tensor3D;
  try {
    const out = await model.generate(
      { inputIds: idsOf(c.input('input_ids'), 'input_ids'), inputFeatures: features, attentionMask: c.hasInput('attention_mask') ? idsOf(c.input('attention_mask'), 'attention_mask') : undefined },
      { ...optionsFromArgs(c.spec.args), outputScores: true },
    );
    const rows = out.sequences.shape[0];
    const pp = out.prefillPositionIds;
    const prefill = new Int32Array(rows * pp.shape[1]);
    for (let r = 0; r < rows; r++) prefill.set(pp.data, r * pp.shape[1]);
    try {
      const actual = new Map<string, HostTensor>([
        ['sequences', hostIds(out.sequences)],
        ['speech_ids', hostIds(out.speechIds)],
        ['text_embeds', fromTf(out.textEmbeds)],
        ['speech_embeds', fromTf(out.speechEmbeds)],
        ['logits_per_text', fromTf(out.logitsPerText)],
        ['logits_per_speech', fromTf(out.logitsPerSpeech)],
        ['text_pooler_output', fromTf(out.textPoolerOutput)],
        ['speech_pooler_output', fromTf(out.speechPoolerOutput)],
        ['text_input_ids_with_eos', hostIds(out.textInputIdsWithEos)],
        ['text_attention_mask_with_eos', hostIds(out.textAttentionMaskWithEos)],
        ['conditioning_embeds', fromTf(out.conditioningEmbeds)],
        ['decoder_inputs_embeds', fromTf(out.decoderInputsEmbeds)],
        ['prefill_position_ids', i32([rows, pp.shape[1]], prefill)],
      ]);
      const vocab = model.config.decoderConfig.vocabSize;
      out.steps?.forEach((s, k) => {
        actual.set(`step.${k}.logits`, f32([rows, vocab], s.logits));
        actual.set(`step.${k}.scores`, f32([rows, vocab], s.scores));
        if (s.positionIds) actual.set(`step.${k}.position_ids`, i32([s.positionIds.length], s.positionIds));
      });
      return { actual };
    } finally {
      disposeOutput(out);
    }
  } finally {
    features.dispose();
  }
};

export const logitsWarpersHandler: CallHandler = async (c: LoadedCase) => {
  const model = await modelFor(c);
  const opts = optionsFromArgs(c.spec.args);
  const config = resolveGenerationConfig(model.config, model.generationDefaults, opts);
  const features = toTf(c.input('input_features')) as tf.Tensor3D;
  let decIn;
  try {
    ({ decoderInputs: decIn } = await prepareConditioning(model.runtime, {
      inputIds: idsOf(c.input('input_ids'), 'input_ids'), inputFeatures: features, attentionMask: c.hasInput('attention_mask') ? idsOf(c.input('attention_mask'), 'attention_mask') : undefined,
    }));
  } finally {
    features.dispose();
  }
  const forced = (k: number) => (c.tensors.has(`out.step.${k}.sampled_tokens`) ? (c.expected(`step.${k}.sampled_tokens`).data as Int32Array) : undefined);
  const dec = await decodeSpeechTokens(model.runtime, decIn, config, { ...opts, outputScores: true, forcedTokens: forced });
  const steps = dec.steps ?? [];
  const rows = decIn.shape[0];
  const vocab = model.config.decoderConfig.vocabSize;
  // Our own model logits for each step, pushed through our processors.
  const actual = checkWarperSteps(c, { logits: (k) => (steps[k] ? f32([rows, vocab], steps[k].logits) : undefined) });
  steps.forEach((s, k) => {
    if (!c.tensors.has(`out.step.${k}.logits`)) return;
    actual.set(`step.${k}.logits`, f32([rows, vocab], s.logits));
    const seqLen = k + 1;
    const inIds = new Int32Array(rows * seqLen);
    for (let r = 0; r < rows; r++) inIds.set(dec.sequences.data.subarray(r * dec.sequences.shape[1], r * dec.sequences.shape[1] + seqLen), r * seqLen);
    actual.set(`step.${k}.input_ids`, i32([rows, seqLen], inIds));
    // Sampling is not portable across frameworks: the reference's draws are teacher-forced, so
    // they are echoed here (raw draws: a finished row's sequence holds the pad id instead).
    const sampled = forced(k);
    if (sampled) actual.set(`step.${k}.sampled_tokens`, i32([rows], Int32Array.from(sampled)));
  });
  return { actual };
};
