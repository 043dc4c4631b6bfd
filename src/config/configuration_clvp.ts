// Follows transformers/models/clvp/configuration_clvp.py: ClvpEncoderConfig, ClvpDecoderConfig, ClvpConfig.
// Field names are camelCase here; `fromJson` / `toJson` translate HF's snake_case config.json.

/** Text or speech encoder (HF `ClvpEncoderConfig`). Defaults are HF's (the text encoder's). */
export interface ClvpEncoderConfig {
  /** default 256 (text); the speech encoder of the published checkpoint uses 8192 */
  vocabSize: number;
  /** default 768 */
  hiddenSize: number;
  /** default 1536 */
  intermediateSize: number;
  /** default 768 */
  projectionDim: number;
  /** default 20 */
  numHiddenLayers: number;
  /** default 12 */
  numAttentionHeads: number;
  /** default 'gelu' (exact, erf-based) */
  hiddenAct: string;
  /** default 1e-5; used by the RMSNorms and the final LayerNorm */
  layerNormEps: number;
  /** default 0.1 (training only) */
  attentionDropout: number;
  /** default 0.1 (training only) */
  dropout: number;
  /** default true */
  useRotaryEmbedding: boolean;
  /** default false: q/k/v projections without bias (out_proj always has one) */
  useAttentionBias: boolean;
  /** default 'mean' (only 'mean' is used by CLVP) */
  summaryType: string;
  /** default 1.0 */
  initializerFactor: number;
  /** default 255 */
  bosTokenId: number;
  /** default 0 */
  eosTokenId: number;
  /** default 1 */
  padTokenId: number;
}

/** Speech decoder and conditioning encoder (HF `ClvpDecoderConfig`). Defaults are HF's. */
export interface ClvpDecoderConfig {
  /** default 8194 */
  vocabSize: number;
  /** default 608: the decoder's position table (mel tokens + conditioning) */
  maxPositionEmbeddings: number;
  /** default 404: the conditioning encoder's text position table */
  maxTextTokens: number;
  /** default 1024 */
  hiddenSize: number;
  /** default 30 */
  numHiddenLayers: number;
  /** default 16 */
  numAttentionHeads: number;
  /** default null, meaning 4 * hiddenSize */
  nInner: number | null;
  /** default 1 */
  numMelAttnBlocks: number;
  /** default 'gelu_new' (tanh approximation) */
  activationFunction: string;
  /** default 0.1 (training only) */
  residPdrop: number;
  /** default 0.1 (training only) */
  embdPdrop: number;
  /** default 0.1 (training only) */
  attentionDropout: number;
  /** default 1e-5 */
  layerNormEpsilon: number;
  /** default 0.02 */
  initializerRange: number;
  /** default 80: mel bins of the conditioning input */
  featureSize: number;
  /** default true: q/k/v projections with bias */
  useAttentionBias: boolean;
  /** default 1.0 */
  initializerFactor: number;
  /** default [83, 45, 45, 248]: eos replacement and the three closing codes */
  decoderFixingCodes: number[];
  /** default 8192 (the mel-start token) */
  bosTokenId: number;
  /** default 8193 (the mel-stop token) */
  eosTokenId: number;
  /** default null: pad is eos when unset */
  padTokenId: number | null;
  /** default true */
  useCache: boolean;
}

export interface ClvpConfig {
  textConfig: ClvpEncoderConfig;
  speechConfig: ClvpEncoderConfig;
  decoderConfig: ClvpDecoderConfig;
  /** default 768 */
  projectionDim: number;
  /** default 2.6592 */
  logitScaleInitValue: number;
  /** default 1.0 */
  initializerFactor: number;
}

export const DEFAULT_ENCODER_CONFIG: ClvpEncoderConfig = {
  vocabSize: 256, hiddenSize: 768, intermediateSize: 1536, projectionDim: 768, numHiddenLayers: 20,
  numAttentionHeads: 12, hiddenAct: 'gelu', layerNormEps: 1e-5, attentionDropout: 0.1, dropout: 0.1,
  useRotaryEmbedding: true, useAttentionBias: false, summaryType: 'mean', initializerFactor: 1.0,
  bosTokenId: 255, eosTokenId: 0, padTokenId: 1,
};

export const DEFAULT_DECODER_CONFIG: ClvpDecoderConfig = {
  vocabSize: 8194, maxPositionEmbeddings: 608, maxTextTokens: 404, hiddenSize: 1024, numHiddenLayers: 30,
  numAttentionHeads: 16, nInner: null, numMelAttnBlocks: 6, activationFunction: 'gelu_new', residPdrop: 0.1,
  embdPdrop: 0.1, attentionDropout: 0.1, layerNormEpsilon: 1e-5, initializerRange: 0.02, featureSize: 80,
  useAttentionBias: true, initializerFactor: 1.0, decoderFixingCodes: [83, 45, 45, 248], bosTokenId: 8192,
  eosTokenId: 8193, padTokenId: null, useCache: true,
};

export const DEFAULT_CLVP_CONFIG = { projectionDim: 768, logitScaleInitValue: 2.6592, initializerFactor: 1.0 };

const camel = (s: string) => s.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
const snake = (s: string) => s.replace(/[A-Z]/g, (c) => '_' + c.toLowerCase());

function fromSnake<T extends object>(defaults: T, json: Record<string, unknown> | undefined): T {
  const out = { ...defaults } as Record<string, unknown>;
  for (const [k, v] of Object.entries(json ?? {})) {
    const key = camel(k);
    if (key in out && v !== undefined) out[key] = v;
  }
  return out as T;
}

function toSnake(obj: object): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) out[snake(k)] = v;
  return out;
}

export class ConfigError extends Error {}

/** The rotary dimension the reference uses: max(projection_dim // (2 * heads), 32). */
export function rotaryDim(c: ClvpEncoderConfig): number {
  return Math.max(Math.floor(c.projectionDim / (c.numAttentionHeads * 2)), 32);
}

/** HF's group count for the conditioning encoder's GroupNorms (from Tortoise's arch_util). */
export function groupNormGroups(channels: number): number {
  let groups = 32;
  if (channels <= 16) groups = 8;
  else if (channels <= 64) groups = 16;
  while (channels % groups !== 0) groups = Math.floor(groups / 2);
  return groups;
}

export function decoderInnerDim(c: ClvpDecoderConfig): number {
  return c.nInner ?? 4 * c.hiddenSize;
}

function check(cond: boolean, where: string, msg: string): void {
  if (!cond) throw new ConfigError(`${where}: ${msg}`);
}

const posInt = (v: unknown) => Number.isInteger(v) && (v as number) > 0;

/** `usesTokenIds`: the text encoder's bos/eos are used by the conditioning encoder; the speech encoder's are not. */
export function validateEncoderConfig(c: ClvpEncoderConfig, where: string, usesTokenIds = true): void {
  for (const k of ['vocabSize', 'hiddenSize', 'intermediateSize', 'projectionDim', 'numHiddenLayers', 'numAttentionHeads'] as const) {
    check(posInt(c[k]), where, `${snake(k)} must be a positive integer, got ${JSON.stringify(c[k])}`);
  }
  check(c.hiddenSize % c.numAttentionHeads === 0, where, `hidden_size ${c.hiddenSize} must be divisible by num_attention_heads ${c.numAttentionHeads}`);
  if (c.useRotaryEmbedding) {
    const rd = rotaryDim(c);
    const hd = c.hiddenSize / c.numAttentionHeads;
    check(rd <= hd, where, `the rotary dimension max(projection_dim // (2 * num_attention_heads), 32) = ${rd} exceeds head_dim ${hd}; use fewer heads or a larger hidden_size`);
  }
  check(c.summaryType === 'mean', where, `summary_type '${c.summaryType}' is not supported (CLVP uses 'mean')`);
  check(['gelu', 'gelu_new', 'relu', 'silu', 'swish'].includes(c.hiddenAct), where, `hidden_act '${c.hiddenAct}' is not supported`);
  check(c.layerNormEps > 0, where, `layer_norm_eps must be > 0, got ${c.layerNormEps}`);
  if (!usesTokenIds) return;
  for (const k of ['bosTokenId', 'eosTokenId'] as const) {
    check(Number.isInteger(c[k]) && c[k] >= 0 && c[k] < c.vocabSize, where, `${snake(k)} ${c[k]} is outside the vocabulary [0, ${c.vocabSize})`);
  }
}

export function validateDecoderConfig(c: ClvpDecoderConfig, where: string): void {
  for (const k of ['vocabSize', 'hiddenSize', 'numHiddenLayers', 'numAttentionHeads', 'maxPositionEmbeddings', 'maxTextTokens', 'featureSize'] as const) {
    check(posInt(c[k]), where, `${snake(k)} must be a positive integer, got ${JSON.stringify(c[k])}`);
  }
  check(Number.isInteger(c.numMelAttnBlocks) && c.numMelAttnBlocks >= 0, where, `num_mel_attn_blocks must be >= 0`);
  check(c.hiddenSize % c.numAttentionHeads === 0, where, `hidden_size ${c.hiddenSize} must be divisible by num_attention_heads ${c.numAttentionHeads}`);
  check(c.nInner === null || posInt(c.nInner), where, `n_inner must be null or a positive integer, got ${c.nInner}`);
  const groups = groupNormGroups(c.hiddenSize);
  check(groups > 2, where, `hidden_size ${c.hiddenSize} gives ${groups} GroupNorm groups; the conditioning encoder needs more than 2 (use a hidden_size divisible by 4 or more groups)`);
  check(['gelu_new', 'gelu', 'relu', 'silu'].includes(c.activationFunction), where, `activation_function '${c.activationFunction}' is not supported`);
  for (const k of ['bosTokenId', 'eosTokenId'] as const) {
    check(Number.isInteger(c[k]) && c[k] >= 0 && c[k] < c.vocabSize, where, `${snake(k)} ${c[k]} is outside the vocabulary [0, ${c.vocabSize})`);
  }
  if (c.padTokenId !== null) check(Number.isInteger(c.padTokenId) && c.padTokenId >= 0 && c.padTokenId < c.vocabSize, where, `pad_token_id ${c.padTokenId} is outside the vocabulary [0, ${c.vocabSize})`);
  check(Array.isArray(c.decoderFixingCodes) && c.decoderFixingCodes.length === 4, where, `decoder_fixing_codes must list 4 ids, got ${JSON.stringify(c.decoderFixingCodes)}`);
  for (const id of c.decoderFixingCodes) check(Number.isInteger(id) && id >= 0 && id < c.vocabSize, where, `decoder_fixing_codes entry ${id} is outside the vocabulary [0, ${c.vocabSize})`);
}

export function validateConfig(c: ClvpConfig, where = 'config'): void {
  validateEncoderConfig(c.textConfig, `${where}: text_config`);
  validateEncoderConfig(c.speechConfig, `${where}: speech_config`, false);
  validateDecoderConfig(c.decoderConfig, `${where}: decoder_config`);
  check(c.textConfig.projectionDim === c.speechConfig.projectionDim, where, `text_config.projection_dim ${c.textConfig.projectionDim} != speech_config.projection_dim ${c.speechConfig.projectionDim}: the two embeddings must be comparable`);
  check(c.textConfig.vocabSize >= 1, where, 'text vocabulary is empty');
  const maxCode = Math.max(...c.decoderConfig.decoderFixingCodes);
  check(c.speechConfig.vocabSize > maxCode, where, `speech_config.vocab_size ${c.speechConfig.vocabSize} cannot encode decoder_fixing_codes up to ${maxCode}`);
}

/** Build a ClvpConfig from a parsed HF `config.json` (nested text/speech/decoder configs), HF defaults for absent keys. */
export function configFromJson(json: Record<string, unknown>, where = 'config.json'): ClvpConfig {
  if (typeof json !== 'object' || json === null) throw new ConfigError(`${where}: not a JSON object`);
  if (json.model_type !== undefined && json.model_type !== 'clvp') throw new ConfigError(`${where}: model_type is '${json.model_type}', expected 'clvp'`);
  const cfg: ClvpConfig = {
    ...fromSnake(DEFAULT_CLVP_CONFIG, json),
    textConfig: fromSnake(DEFAULT_ENCODER_CONFIG, json.text_config as Record<string, unknown>),
    speechConfig: fromSnake({ ...DEFAULT_ENCODER_CONFIG, vocabSize: 8192 }, json.speech_config as Record<string, unknown>),
    decoderConfig: fromSnake(DEFAULT_DECODER_CONFIG, json.decoder_config as Record<string, unknown>),
  };
  validateConfig(cfg, where);
  return cfg;
}

/** The nested HF layout, for writing `config.json`. */
export function configToJson(c: ClvpConfig): Record<string, unknown> {
  return {
    architectures: ['ClvpModelForConditionalGeneration'],
    model_type: 'clvp',
    projection_dim: c.projectionDim,
    logit_scale_init_value: c.logitScaleInitValue,
    initializer_factor: c.initializerFactor,
    text_config: { ...toSnake(c.textConfig), model_type: 'clvp_encoder' },
    speech_config: { ...toSnake(c.speechConfig), model_type: 'clvp_encoder' },
    decoder_config: { ...toSnake(c.decoderConfig), model_type: 'clvp_decoder' },
    torch_dtype: 'float32',
  };
}

/** A config with overrides on HF's defaults, validated. */
export function makeConfig(overrides: {
  textConfig?: Partial<ClvpEncoderConfig>; speechConfig?: Partial<ClvpEncoderConfig>; decoderConfig?: Partial<ClvpDecoderConfig>;
  projectionDim?: number; logitScaleInitValue?: number; initializerFactor?: number;
} = {}): ClvpConfig {
  const cfg: ClvpConfig = {
    ...DEFAULT_CLVP_CONFIG,
    projectionDim: overrides.projectionDim ?? DEFAULT_CLVP_CONFIG.projectionDim,
    logitScaleInitValue: overrides.logitScaleInitValue ?? DEFAULT_CLVP_CONFIG.logitScaleInitValue,
    initializerFactor: overrides.initializerFactor ?? DEFAULT_CLVP_CONFIG.initializerFactor,
    textConfig: { ...DEFAULT_ENCODER_CONFIG, ...overrides.textConfig },
    speechConfig: { ...DEFAULT_ENCODER_CONFIG, vocabSize: 8192, ...overrides.speechConfig },
    decoderConfig: { ...DEFAULT_DECODER_CONFIG, ...overrides.decoderConfig },
  };
  validateConfig(cfg);
  return cfg;
}

/** Parameters a config implies (what the checkpoint holds, rotary buffers excluded). */
export function countParameters(c: ClvpConfig): number {
  const enc = (e: ClvpEncoderConfig) => {
    const h = e.hiddenSize;
    const layer = (e.useAttentionBias ? 3 * (h * h + h) : 3 * h * h) + h * h + h + h * 2 * e.intermediateSize + 2 * e.intermediateSize + e.intermediateSize * h + h + 2 * h;
    return e.vocabSize * h + e.numHiddenLayers * layer + 2 * h + h * e.projectionDim;
  };
  const d = c.decoderConfig;
  const h = d.hiddenSize;
  const inner = decoderInnerDim(d);
  const attn = (d.useAttentionBias ? 3 * (h * h + h) : 3 * h * h) + h * h + h;
  const layer = 4 * h + attn + h * inner + inner + inner * h + h;
  const decoder = (d.vocabSize + d.maxPositionEmbeddings) * h + d.numHiddenLayers * layer + 2 * h + 2 * h + h * d.vocabSize + d.vocabSize;
  const conditioning = (c.textConfig.vocabSize + d.maxTextTokens) * h + d.featureSize * h + h + d.numMelAttnBlocks * (2 * h + attn);
  return enc(c.textConfig) + enc(c.speechConfig) + decoder + conditioning + 1;
}
