// Parity handlers for the model-side call types (encoders, conditioning, decoder, composite model).
import * as tf from '@tensorflow/tfjs-core';
import * as path from 'path';
import { HostTensor } from '../../io/safetensors';
import { KVCache } from '../../layers/kv_cache';
import { ClvpEncoderOutput } from '../../models/clvp_encoder';
import { padExtraBosEosTokens } from '../../models/conditioning_encoder';
import { ClvpModelForConditionalGeneration, disposeOutput, fixSpeechDecoderOutput } from '../../models/modeling_clvp';
import { LoadedCase } from '../cases';
import type { CallHandler } from '../runner';
import { fromTf, hostIds, idsOf, toTf } from '../tensors';

/** Models loaded during one parity run, keyed by their path (a folder, or folder/weights-file). */
const models = new Map<string, Promise<ClvpModelForConditionalGeneration>>();

export function modelFor(c: LoadedCase): Promise<ClvpModelForConditionalGeneration> {
  const p = c.modelPath();
  let m = models.get(p);
  if (!m) {
    m = p.endsWith('.safetensors')
      ? ClvpModelForConditionalGeneration.fromPretrained(path.dirname(p), { weightsFile: path.basename(p) })
      : ClvpModelForConditionalGeneration.fromPretrained(p);
    models.set(p, m);
  }
  return m;
}

/** Free every model a run loaded. */
export async function disposeCachedModels(): Promise<void> {
  for (const m of models.values()) (await m.catch(() => undefined))?.dispose();
  models.clear();
}

function encoderOutputs(out: ClvpEncoderOutput, into: Map<string, HostTensor>): void {
  into.set('embeds', fromTf(out.embeds));
  into.set('pooler_output', fromTf(out.poolerOutput));
  into.set('last_hidden_state', fromTf(out.lastHiddenState));
  out.hiddenStates?.forEach((h, i) => into.set(`hidden_states.${i}`, fromTf(h)));
  out.attentions?.forEach((a, i) => into.set(`attentions.${i}`, fromTf(a)));
  disposeOutput(out);
}

const maybeIds = (c: LoadedCase, name: string) => (c.hasInput(name) ? idsOf(c.input(name), name) : undefined);

const encoderCall = (which: 'text_encoder_model' | 'speech_encoder_model'): CallHandler => async (c) => {
  const model = await modelFor(c);
  const actual = new Map<string, HostTensor>();
  const out = model[which].forward({ inputIds: idsOf(c.input('input_ids'), 'input_ids'), attentionMask: maybeIds(c, 'attention_mask'), outputHiddenStates: true, outputAttentions: true });
  encoderOutputs(out, actual);
  return { actual };
};

const getFeatures: CallHandler = async (c) => {
  const model = await modelFor(c);
  const text = model.getTextFeatures({ inputIds: idsOf(c.input('input_ids'), 'input_ids'), attentionMask: maybeIds(c, 'attention_mask') });
  const speech = model.getSpeechFeatures({ speechIds: idsOf(c.input('speech_ids'), 'speech_ids'), attentionMask: maybeIds(c, 'speech_attention_mask') });
  const actual = new Map([['text_features', fromTf(text)], ['speech_features', fromTf(speech)]]);
  text.dispose();
  speech.dispose();
  return { actual };
};

const conditioning: CallHandler = async (c) => {
  const model = await modelFor(c);
  const features = toTf(c.input('input_features')) as tf.Tensor3D;
  try {
    const out = model.conditioning_encoder.forward({ inputFeatures: features, inputIds: idsOf(c.input('input_ids'), 'input_ids'), attentionMask: maybeIds(c, 'attention_mask') });
    const actual = new Map([['conditioning_embeds', fromTf(out)]]);
    out.dispose();
    return { actual };
  } finally {
    features.dispose();
  }
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
  const embeds = c.hasInput('inputs_embeds') ? (toTf(c.input('inputs_embeds')) as tf.Tensor3D) : undefined;
  try {
    const out = model.speech_decoder_model.forward({
      inputIds: embeds ? undefined : idsOf(c.input('input_ids'), 'input_ids'),
      inputsEmbeds: embeds,
      attentionMask: maybeIds(c, 'attention_mask'),
      outputHiddenStates: true,
    });
    const actual = new Map([['logits', fromTf(out.logits)]]);
    out.hiddenStates?.forEach((h, i) => actual.set(`hidden_states.${i}`, fromTf(h)));
    disposeOutput(out);
    return { actual };
  } finally {
    embeds?.dispose();
  }
};

const decoderWithCache: CallHandler = async (c) => {
  const model = await modelFor(c);
  const lm = model.speech_decoder_model;
  const prefix = idsOf(c.input('prefix_ids'), 'prefix_ids');
  const next = idsOf(c.input('next_ids'), 'next_ids');
  const cache = new KVCache(lm.config.numHiddenLayers, 4);
  const actual = new Map<string, HostTensor>();
  try {
    const p = lm.forward({ inputIds: prefix, cache });
    actual.set('prefix_logits', fromTf(p.logits));
    disposeOutput(p);
    const pos = c.hasInput('position_ids') ? c.input('position_ids') : undefined;
    const s = lm.forward({ inputIds: next, cache, positionIds: pos ? { data: pos.data as Int32Array, shape: [1, pos.data.length] } : undefined });
    actual.set('step_logits', fromTf(s.logits));
    disposeOutput(s);
    for (let i = 0; i < lm.config.numHiddenLayers; i++) {
      const { key, value } = cache.legacy(i);
      actual.set(`present.${i}.key`, fromTf(key));
      actual.set(`present.${i}.value`, fromTf(value));
      key.dispose();
      value.dispose();
    }
  } finally {
    cache.dispose();
  }
  const [b, t] = prefix.shape;
  const full = new Int32Array(b * (t + 1));
  for (let i = 0; i < b; i++) {
    full.set(prefix.data.subarray(i * t, (i + 1) * t), i * (t + 1));
    full[i * (t + 1) + t] = next.data[i];
  }
  const f = lm.forward({ inputIds: { data: full, shape: [b, t + 1] } });
  actual.set('full_logits', fromTf(f.logits));
  disposeOutput(f);
  return { actual };
};

const fixOutput: CallHandler = async (c) => {
  const a = c.spec.args as { eos_token_id: number; decoder_fixing_codes: number[] };
  const fixed = fixSpeechDecoderOutput(idsOf(c.input('speech_ids'), 'speech_ids'), a.eos_token_id, a.decoder_fixing_codes);
  return { actual: new Map([['fixed_ids', hostIds(fixed)]]) };
};

const modelForward: CallHandler = async (c) => {
  const model = await modelFor(c);
  const features = toTf(c.input('input_features')) as tf.Tensor3D;
  try {
    const out = model.forward({
      inputIds: idsOf(c.input('input_ids'), 'input_ids'), inputFeatures: features, attentionMask: maybeIds(c, 'attention_mask'),
      returnLoss: (c.spec.args.return_loss as boolean | undefined) ?? true,
    });
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
    disposeOutput(out);
    return { actual };
  } finally {
    features.dispose();
  }
};

const textEncoderAndDecoder: CallHandler = async (c) => {
  const model = await modelFor(c);
  const text = model.getTextFeatures({ inputIds: idsOf(c.input('input_ids'), 'input_ids'), attentionMask: maybeIds(c, 'attention_mask') });
  const dec = model.speech_decoder_model.forward({ inputIds: idsOf(c.input('decoder_input_ids'), 'decoder_input_ids') });
  const actual = new Map([['text_embeds', fromTf(text)], ['decoder_logits', fromTf(dec.logits)]]);
  text.dispose();
  disposeOutput(dec);
  return { actual };
};

export const MODEL_HANDLERS: Record<string, CallHandler> = {
  text_encoder: encoderCall('text_encoder_model'),
  speech_encoder: encoderCall('speech_encoder_model'),
  get_features: getFeatures,
  conditioning_encoder: conditioning,
  pad_extra_bos_eos_tokens: padBosEos,
  decoder_forward: decoderForward,
  decoder_forward_with_cache: decoderWithCache,
  fix_speech_decoder_output: fixOutput,
  model_forward: modelForward,
  'text_encoder+decoder_forward': textEncoderAndDecoder,
};
