// clvp-tfjs: CLVP (the Contrastive Language-Voice Pretrained model of Tortoise TTS) on TensorFlow.js.
export * from './backend';
export * from './io/safetensors';
export { f16ToF32, bf16ToF32, f32ToF16, f32ToBf16 } from './io/dtypes';

// models
export * from './models/configuration_clvp';
export { ClvpModelForConditionalGeneration, clvpLoss, disposeOutput, fixSpeechDecoderOutput } from './models/modeling_clvp';
export type { ClvpForwardInputs, ClvpOutput, FromPretrainedOptions } from './models/modeling_clvp';
export { ClvpEncoder } from './models/clvp_encoder';
export type { ClvpEncoderInputs, ClvpEncoderOutput } from './models/clvp_encoder';
export { ClvpConditioningEncoder, padExtraBosEosTokens } from './models/conditioning_encoder';
export { ClvpDecoder, ClvpForCausalLM, ClvpModel } from './models/clvp_decoder';
export type { CausalLMOutput, DecoderInputs, DecoderOutput, PositionIds } from './models/clvp_decoder';
export { CheckpointSource, RandomInitSource, WeightLoadError, LAYOUT_TABLE } from './models/weights';
export type { HostIds, IdsInput } from './models/ids';
export { KVCache } from './layers/kv_cache';

// generation
export * from './generation';
export { AbortError, generate, decodeSpeechTokens, decoderInputsEmbeds, prepareConditioning, resolveGenerationConfig } from './generation/generate';
export type { ClvpGenerateInputs, ClvpGenerateOptions, ClvpGenerateOutput, DecodeStep, GenerateProgress } from './generation/generate';
export { rankCandidates } from './generation/rank';
export type { RankOptions, RankResult, RankedCandidate } from './generation/rank';

// front ends
export * from './audio';
export { ClvpTokenizer, VOCAB_FILES_NAMES, EnglishNormalizer, ABBREVIATIONS, numberToWords, normalizeNumbers, BytePairEncoding } from './tokenizer';
export type { BatchEncoding, CallOptions, ClvpTokenizerOptions, DecodeOptions, TextInput, TruncationOption } from './tokenizer';
export type { PaddingOption as TokenizerPaddingOption } from './tokenizer';

export { ClvpProcessor } from './processing_clvp';
export type { ClvpProcessorCall, ClvpProcessorOutput } from './processing_clvp';

// parity
export { runParity, formatReportTable, PENDING_CALLS } from './parity/runner';
export type { CaseReport, ParityReport } from './parity/runner';
export { HANDLERS as PARITY_HANDLERS } from './parity/handlers';
