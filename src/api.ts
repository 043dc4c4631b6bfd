// Everything the library offers in Node and in the browser alike. The entry points add their
// platform: src/index.ts (Node: files, the Hub cache, worker_threads) and src/browser.ts (pages).
export * from './backend';
export * from './io/safetensors';
export { f16ToF32, bf16ToF32, f32ToF16, f32ToBf16 } from './io/dtypes';
export type { ByteSource } from './io/bytes';
export { MemoryByteSource } from './io/bytes';
export { MemoryFolder, ModelFolderError, subFolder } from './io/folder';
export type { FolderLocation, ModelFolder } from './io/folder';
export { setLogger } from './platform/platform';
export type { DownloadProgress, Platform } from './platform/platform';

// models
export * from './config/configuration_clvp';
export { ValidationError } from './config/errors';
export { ClvpModelForConditionalGeneration } from './clvp_model';
export type { ClvpForwardInputs, ClvpOutput, FromPretrainedOptions, RuntimeOptions } from './clvp_model';
export { ClvpModules, clvpLoss, disposeOutput, fixSpeechDecoderOutput } from './models/modeling_clvp';
export { ClvpEncoder } from './models/clvp_encoder';
export type { ClvpEncoderInputs, ClvpEncoderOutput } from './models/clvp_encoder';
export { ClvpConditioningEncoder, padExtraBosEosTokens } from './models/conditioning_encoder';
export { ClvpDecoder, ClvpForCausalLM, ClvpModel } from './models/clvp_decoder';
export type { CausalLMOutput, DecoderInputs, DecoderOutput, PositionIds } from './models/clvp_decoder';
export { RandomInitSource, WeightLoadError, LAYOUT_TABLE, SHARDING_TABLE } from './models/weights';
export type { LoadProgress } from './models/weights';
export { WEIGHT_FILES, loadModules, planParameters, readClvpConfig } from './models/loading';
export type { HostIds, IdsInput } from './models/ids';
export { KVCache } from './layers/kv_cache';

// runtimes
export { AbortError } from './runtime/runtime';
export type { ClvpRuntime, InstanceMemory } from './runtime/runtime';
export { LocalRuntime } from './runtime/local';
export { TensorParallelRuntime, WorkerFailedError } from './runtime/pool';
export { ParallelismError, chooseTensorParallel, maxTensorParallel, wasmFootprintBytes, WASM_HEAP_BYTES } from './runtime/parallelism';

// generation
export * from './generation';
export { generate, decodeSpeechTokens, prepareConditioning, resolveGenerationConfig } from './generation/generate';
export type { ClvpGenerateInputs, ClvpGenerateOptions, ClvpGenerateOutput, DecodeStep, GenerateProgress } from './generation/generate';
export { rankCandidates } from './generation/rank';
export type { RankOptions, RankResult, RankedCandidate } from './generation/rank';
export { GenerationConfigError } from './generation/generation_config';
export { chunkText, readText } from './read_text';
export type { ChunkResult, ReadTextOptions, TextChunk } from './read_text';
export { splitText } from './tokenizer/split_text';
export type { SplitTextOptions } from './tokenizer/split_text';

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
export { configureParityModels, disposeCachedModels } from './parity/calls/model';
