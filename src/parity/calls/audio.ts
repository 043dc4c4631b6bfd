// Parity handlers for the audio front end: `feature_extractor` cases (ClvpFeatureExtractor.__call__)
// and `mel_filter_bank` cases (transformers audio_utils.mel_filter_bank + window_function).
import { subFolder } from '../../io/folder';
import type { CallHandler } from '../runner';
import type { LoadedCase } from '../cases';
import type { HostTensor } from '../../io/safetensors';
import { ClvpFeatureExtractor, ClvpFeatureExtractorConfig, PaddingOption } from '../../audio/feature_extraction_clvp';
import { MelScale, melFilterBank, windowFunction } from '../../audio/audio_utils';

/** Fails on arguments this handler does not know, so a new case cannot pass by ignoring one. */
function checkArgs(c: LoadedCase, known: readonly string[]): Record<string, unknown> {
  const args = c.spec.args;
  const unknown = Object.keys(args).filter((k) => !known.includes(k));
  if (unknown.length) throw new Error(`case ${c.spec.name}: unsupported argument(s) ${unknown.join(', ')}`);
  return args;
}

/** `in.raw_speech` (one clip) or `in.raw_speech.0`, `in.raw_speech.1`, ... (a batch, in index order). */
export function rawSpeech(c: LoadedCase): Float32Array | Float32Array[] {
  const asF32 = (t: HostTensor, name: string): Float32Array => {
    if (t.dtype !== 'float32' || t.shape.length !== 1) throw new Error(`case ${c.spec.name}: ${name} must be 1-D float32, got ${t.dtype}[${t.shape}]`);
    return t.data as Float32Array;
  };
  if (c.hasInput('raw_speech')) return asF32(c.input('raw_speech'), 'raw_speech');
  const items: Float32Array[] = [];
  for (let i = 0; c.hasInput(`raw_speech.${i}`); i++) items.push(asF32(c.input(`raw_speech.${i}`), `raw_speech.${i}`));
  if (items.length === 0) throw new Error(`case ${c.spec.name}: no in.raw_speech or in.raw_speech.<i> tensors`);
  return items;
}

/** The extractor a case runs: `preprocessor_config` from the case (if it names one) or the reference's. */
async function extractorFor(c: LoadedCase, args: Record<string, unknown>): Promise<ClvpFeatureExtractor> {
  const named = c.spec.raw.preprocessor_config;
  const name = typeof named === 'string' ? named : 'preprocessor_config.json';
  const cut = name.lastIndexOf('/');
  const folder = cut < 0 ? c.reference : subFolder(c.reference, name.slice(0, cut));
  if (name.slice(cut + 1) !== 'preprocessor_config.json') throw new Error(`case ${c.spec.name}: preprocessor_config '${name}' must name a preprocessor_config.json`);
  const overrides: Partial<ClvpFeatureExtractorConfig> = {};
  // `mel_norms: null` stands for a default-constructed extractor (no normalisation).
  if ('mel_norms' in args) overrides.melNorms = (args.mel_norms as number[] | null) ?? null;
  return ClvpFeatureExtractor.fromPretrained(folder, overrides);
}

const FEATURE_ARGS = ['sampling_rate', 'batched', 'padding', 'max_length', 'truncation', 'pad_to_multiple_of', 'return_attention_mask', 'return_tensors', 'mel_norms'] as const;

export const featureExtractorHandler: CallHandler = async (c) => {
  const args = checkArgs(c, FEATURE_ARGS);
  const speech = rawSpeech(c);
  if (args.batched === true && !Array.isArray(speech)) throw new Error(`case ${c.spec.name}: batched=true but a single raw_speech tensor`);
  const fe = await extractorFor(c, args);
  const out = fe.call(speech, {
    samplingRate: args.sampling_rate as number,
    padding: (args.padding ?? undefined) as PaddingOption | undefined,
    maxLength: (args.max_length ?? undefined) as number | undefined,
    truncation: (args.truncation ?? undefined) as boolean | undefined,
    padToMultipleOf: (args.pad_to_multiple_of ?? undefined) as number | undefined,
    returnAttentionMask: (args.return_attention_mask ?? undefined) as boolean | undefined,
  });
  const actual = new Map<string, HostTensor>();
  actual.set('input_features', { dtype: 'float32', shape: out.inputFeatures.shape, data: out.inputFeatures.data });
  if (out.attentionMask) actual.set('attention_mask', { dtype: 'int32', shape: out.attentionMask.shape, data: out.attentionMask.data });
  return { actual };
};

const MEL_ARGS = ['num_frequency_bins', 'num_mel_filters', 'min_frequency', 'max_frequency', 'sampling_rate', 'norm', 'mel_scale', 'triangularize_in_mel_space'] as const;

export const melFilterBankHandler: CallHandler = async (c) => {
  const args = checkArgs(c, MEL_ARGS);
  const bank = melFilterBank({
    numFrequencyBins: args.num_frequency_bins as number,
    numMelFilters: args.num_mel_filters as number,
    minFrequency: args.min_frequency as number,
    maxFrequency: args.max_frequency as number,
    samplingRate: args.sampling_rate as number,
    norm: (args.norm ?? null) as 'slaney' | null,
    melScale: (args.mel_scale ?? 'htk') as MelScale,
    triangularizeInMelSpace: (args.triangularize_in_mel_space ?? false) as boolean,
  });
  const actual = new Map<string, HostTensor>();
  actual.set('mel_filters', { dtype: 'float32', shape: [bank.numFrequencyBins, bank.numMelFilters], data: Float32Array.from(bank.data) });
  // The extractor's window: periodic Hann over the FFT size implied by the bin count.
  const nFft = (bank.numFrequencyBins - 1) * 2;
  actual.set('window', { dtype: 'float32', shape: [nFft], data: Float32Array.from(windowFunction(nFft, 'hann')) });
  const norms = (await extractorFor(c, {})).config.melNorms;
  if (norms) actual.set('mel_norms', { dtype: 'float32', shape: [norms.length], data: Float32Array.from(norms) });
  return { actual };
};
