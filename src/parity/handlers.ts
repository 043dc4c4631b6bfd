// The registry of parity call handlers: one entry per implemented call type.
import { featureExtractorHandler, melFilterBankHandler } from './calls/audio';
import { generateHandler, logitsWarpersHandler } from './calls/generate';
import { MODEL_HANDLERS } from './calls/model';
import { processorHandler } from './calls/processor';
import { tokenizerHandler } from './calls/tokenizer';
import { warpersSyntheticHandler } from './calls/warpers';
import type { CallHandler } from './runner';

export const HANDLERS: Record<string, CallHandler> = {
  ...MODEL_HANDLERS,
  generate: generateHandler,
  logits_warpers: logitsWarpersHandler,
  logits_warpers_synthetic: warpersSyntheticHandler,
  feature_extractor: featureExtractorHandler,
  mel_filter_bank: melFilterBankHandler,
  tokenizer: tokenizerHandler,
  processor: processorHandler,
};
