// Parity handler for ClvpProcessor cases: text and/or audio through one call.
import { ClvpFeatureExtractor } from '../../audio/feature_extraction_clvp';
import { subFolder } from '../../io/folder';
import { HostTensor } from '../../io/safetensors';
import { disposeOutput } from '../../models/modeling_clvp';
import { ClvpProcessor, ClvpProcessorCall } from '../../processing_clvp';
import { ClvpTokenizer } from '../../tokenizer/tokenization_clvp';
import { LoadedCase } from '../cases';
import type { CallHandler } from '../runner';
import { fromTf } from '../tensors';
import { rawSpeech } from './audio';

const KNOWN = new Set(['text', 'sampling_rate', 'padding', 'truncation', 'max_length', 'return_tensors']);

export const processorHandler: CallHandler = async (c: LoadedCase) => {
  const args = c.spec.args;
  for (const k of Object.keys(args)) if (!KNOWN.has(k)) throw new Error(`case ${c.spec.name}: unsupported processor argument '${k}'`);
  const tokDir = subFolder(c.reference, 'tokenizer');
  const processor = (await tokDir.has('preprocessor_config.json'))
    ? await ClvpProcessor.fromPretrained(tokDir)
    : new ClvpProcessor(await ClvpFeatureExtractor.fromPretrained(c.reference), await ClvpTokenizer.fromPretrained(tokDir));
  const hasAudio = c.hasInput('raw_speech') || c.hasInput('raw_speech.0');
  const call: ClvpProcessorCall = {
    text: args.text as string | string[] | undefined,
    rawSpeech: hasAudio ? rawSpeech(c) : undefined,
    samplingRate: args.sampling_rate as number | undefined,
    padding: args.padding as ClvpProcessorCall['padding'],
    truncation: args.truncation as boolean | undefined,
    maxLength: args.max_length as number | undefined,
  };
  const out = processor.call(call);
  const actual = new Map<string, HostTensor>();
  if (out.inputFeatures) actual.set('input_features', fromTf(out.inputFeatures));
  if (out.inputIds) actual.set('input_ids', fromTf(out.inputIds));
  if (out.attentionMask) actual.set('attention_mask', fromTf(out.attentionMask));
  disposeOutput(out);
  return { actual };
};
