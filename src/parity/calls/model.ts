// Parity handlers for the model-side call types (encoders, conditioning, decoder, composite model).
// Every handler goes through the model's runtime, so `clvp parity --tp N` runs each case on N
// tensor-parallel workers with no other change.
import * as tf from '@tensorflow/tfjs-core';
import { ClvpModelForConditionalGeneration, RuntimeOptions } from '../../clvp_model';
import { HostTensor } from '../../io/safetensors';
import { padExtraBosEosTokens } from '../../models/conditioning_encoder';
import { disposeOutput, fixSpeechDecoderOutput } from '../../models/modeling_clvp';
import { EncoderResult } from '../../runtime/runtime';
import { LoadedCase } from '../cases';
import type { CallHandler } from '../runner';
import { fromTf, hostIds, idsOf } from '../tensors';

/** Models loaded during one parity run, keyed by what the case names. */
const models = new Map<string, Promise<ClvpModelForConditionalGeneration>>();
let runtimeOptions: RuntimeOptions = {};

/** How parity runs its models (e.g. tp: 2); drops the models loaded with other settings. */
export async function configureParityModels(opts: RuntimeOptions): Promise<void> {
  await disposeCachedModels();
  runtimeOptions = opts;
}

export function modelFor(c: LoadedCase): Promise<ClvpModelForConditionalGeneration> {
  const { key, folder, weightsFile } = c.model();
  let m = models.get(key);
  if (!m) {
    m = ClvpModelForConditionalGeneration.fromPretrained(folder, { ...runtimeOptions, weightsFile });
    models.set(key, m);
  }
  return m;
}

/** Free every model a run loaded. */
export async function disposeCachedModels(): Promise<void> {
  for (const m of models.values()) await (await m.catch(() => undefined))?.dispose();
  models.clear();
}

function encoderOutputs(out: EncoderResult, into: Map<string, HostTensor>): void {
  into.set('embeds', out.embeds);
  into.set('pooler_output', out.poolerOutput);
  if (out.lastHiddenState) into.set('last_hidden_state', out.lastHiddenState);
  out.hiddenStates?.forEach((h, i) => into.set(`hidden_states.${i}`, h));
  out.attentions?.forEach((a, i) => into.set(`attentions.${i}`, a));
}

const maybeIds = (c: LoadedCase, name: string) => (c.hasInput(name) ? idsOf(c.input(name), name) : undefined);

const encoderCall = (which: 'text' | 'speech'): CallHandler => async (c) => {
  const model = await modelFor(c);
  const actual = new Map<string, HostTensor>();
  const out = await model.runtime.encoder({ which, ids: idsOf(c.input('input_ids'), 'input_ids'), mask: maybeIds(c, 'attention_mask'), lastHiddenState: true, hiddenStates: true, attentions: true });
  encoderOutputs(out, actual);
  return { actual };
};

const getFeatures: CallHandler = async (c) => {
  const model = await modelFor(c);
  const text = await model.getTextFeatures({ inputIds: idsOf(c.input('input_ids'), 'input_ids'), attentionMask: maybeIds(c, 'attention_mask') });
  const speech = await model.getSpeechFeatures({ speechIds: idsOf(c.input('speech_ids'), 'speech_ids'), attentionMask: maybeIds(c, 'speech_attention_mask') });
  const actual = new Map([['text_features', fromTf(text)], ['speech_features', fromTf(speech)]]);
  text.dispose();
  speech.dispose();
  return { actual };
};

const conditioning: CallHandler = async (c) => {
  const model = await modelFor(c);
  const out = await model.runtime.conditioningEncoder({ features: c.input('input_features'), ids: idsOf(c.input('input_ids'), 'input_ids'), mask: maybeIds(c, 'attention_mask') });
  return { actual: new Map([['conditioning_embeds', out]]) };
};

const padBosEos: CallHandler = async (c) => {
  const a = c.spec.args as { pad_token_id?: number; bos_token_id: number; eos_token_id: number; add_bos_token?: boolean; add_eos_token?: boolean };
  const r = padExtraBosEosTokens(idsOf(c.input('input_ids'), 'input_ids'), maybeIds(c, 'attention_mask') ?? null, {
    padTokenId: a.pad_token_id, bosTokenId: a.bos_token_id, eosTokenId: a.eos_token_id, addBosToken: a.add_bos_token, addEosToken: a.add_eos_token,
  });
  const actual = new Map([['input_ids', hostIds(r.ids)]]);
  if (r.mask) actual.set('attention_mask', hostIds(r.mask));
  return { actual };
};

const decoderForward: CallHandler = async (c) => {
  const model = await modelFor(c);
  const embeds = c.hasInput('inputs_embeds') ? c.input('inputs_embeds') : undefined;
  const out = await model.runtime.decoder({
    ids: embeds ? undefined : idsOf(c.input('input_ids'), 'input_ids'),
    embeds,
    mask: maybeIds(c, 'attention_mask'),
    hiddenStates: true,
  });
  const actual = new Map([['logits', out.logits]]);
  out.hiddenStates?.forEach((h, i) => actual.set(`hidden_states.${i}`, h));
  return { actual };
};

const decoderWithCache: CallHandler = async (c) => {
  const rt = (await modelFor(c)).runtime;
  const prefix = idsOf(c.input('prefix_ids'), 'prefix_ids');
  const next = idsOf(c.input('next_ids'), 'next_ids');
  const cache = await rt.newCache(4);
  const actual = new Map<string, HostTensor>();
  try {
    actual.set('prefix_logits', (await rt.decoder({ ids: prefix, cache })).logits);
    const pos = c.hasInput('position_ids') ? c.input('position_ids') : undefined;
    const s = await rt.decoder({ ids: next, cache, positionIds: pos ? { data: pos.data as Int32Array, shape: [1, pos.data.length] } : undefined, present: true });
    actual.set('step_logits', s.logits);
    s.present!.forEach(({ key, value }, i) => {
      actual.set(`present.${i}.key`, key);
      actual.set(`present.${i}.value`, value);
    });
  } finally {
    await rt.releaseCache(cache);
  }
  const [b, t] = prefix.shape;
  const full = new Int32Array(b * (t + 1));
  for (let i = 0; i < b; i++) {
    full.set(prefix.data.subarray(i * t, (i + 1) * t), i * (t + 1));
    full[i * (t + 1) + t] = next.data[i];
  }
  actual.set('full_logits', (await rt.decoder({ ids: { data: full, shape: [b, t + 1] } })).logits);
  return { actual };
};

const fixOutput: CallHandler = async (c) => {
  const a = c.spec.args as { eos_token_id: number; decoder_fixing_codes: number[] };
  const fixed = fixSpeechDecoderOutput(idsOf(c.input('speech_ids'), 'speech_ids'), a.eos_token_id, a.decoder_fixing_codes);
  return { actual: new Map([['fixed_ids', hostIds(fixed)]]) };
};

const modelForward: CallHandler = async (c) => {
  const model = await modelFor(c);
  const features = c.input('input_features');
  const inputFeatures = tf.tensor3d(features.data as Float32Array, features.shape as [number, number, number]);
  try {
    const out = await model.forward({
      inputIds: idsOf(c.input('input_ids'), 'input_ids'), inputFeatures, attentionMask: maybeIds(c, 'attention_mask'),
      returnLoss: (c.spec.args.return_loss as boolean | undefined) ?? true,
    });
    try {
      const actual = new Map<string, HostTensor>([
        ['logits_per_text', fromTf(out.logitsPerText)],
        ['logits_per_speech', fromTf(out.logitsPerSpeech)],
        ['text_embeds', fromTf(out.textEmbeds)],
        ['speech_embeds', fromTf(out.speechEmbeds)],
        ['text_pooler_output', fromTf(out.textModelOutput.poolerOutput)],
        ['speech_pooler_output', fromTf(out.speechModelOutput.poolerOutput)],
        ['conditioning_embeds', fromTf(out.conditioningEmbeds)],
        ['decoder_logits', fromTf(out.decoderLogits)],
        ['speech_ids', fromTf(out.speechIds)],
      ]);
      if (out.loss) actual.set('loss', { ...fromTf(out.loss), shape: [1] });
      return { actual };
    } finally {
      disposeOutput(out);
    }
  } finally {
    inputFeatures.dispose();
  }
};

const textEncoderAndDecoder: CallHandler = async (c) => {
  const model = await modelFor(c);
  const text = await model.getTextFeatures({ inputIds: idsOf(c.input('input_ids'), 'input_ids'), attentionMask: maybeIds(c, 'attention_mask') });
  try {
    const dec = await model.runtime.decoder({ ids: idsOf(c.input('decoder_input_ids'), 'decoder_input_ids') });
    return { actual: new Map([['text_embeds', fromTf(text)], ['decoder_logits', dec.logits]]) };
  } finally {
    text.dispose();
  }
};

export const MODEL_HANDLERS: Record<string, CallHandler> = {
  text_encoder: encoderCall('text'),
  speech_encoder: encoderCall('speech'),
  get_features: getFeatures,
  conditioning_encoder: conditioning,
  pad_extra_bos_eos_tokens: padBosEos,
  decoder_forward: decoderForward,
  decoder_forward_with_cache: decoderWithCache,
  fix_speech_decoder_output: fixOutput,
  model_forward: modelForward,
  'text_encoder+decoder_forward': textEncoderAndDecoder,
};
