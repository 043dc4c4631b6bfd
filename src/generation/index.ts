// Sampling side of speech-token generation: logits processors, seeded sampling, stopping, presets.
export {
  LogitsProcessor,
  LogitsProcessorList,
  RepetitionPenaltyLogitsProcessor,
  TemperatureLogitsWarper,
  TopKLogitsWarper,
  TopPLogitsWarper,
  softmaxF32,
  TORCH_VEC_LANES,
} from './logits_process';
export type { InputIds, LogitsProcessorKind } from './logits_process';
export { Sampler, Xoshiro128ss, argmaxRow, greedyTokens, selectNextTokens } from './sampling';
export { EosStoppingTracker } from './stopping_criteria';
export type { EosStoppingOptions } from './stopping_criteria';
export {
  DEFAULT_GENERATION_CONFIG,
  buildLogitsProcessors,
  generationConfigFromJson,
  makeGenerationConfig,
  validateGenerationConfig,
} from './generation_config';
export type { GenerationConfig } from './generation_config';
export {
  DEFAULT_TORTOISE_PRESET,
  TORTOISE_BASE_SETTINGS,
  TORTOISE_PRESETS,
  generationConfigFromPreset,
  resolvePreset,
} from './presets';
export type { TortoisePresetName, TortoiseSettings } from './presets';
