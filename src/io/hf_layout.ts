// The parameter names and shapes of transformers' ClvpModelForConditionalGeneration (models/clvp/modeling_clvp.py),
// derived from a ClvpConfig, and the reverse: the config implied by a set of HF-named shapes. Defaults follow
// models/clvp/configuration_clvp.py. These are the ground truth every converter output is checked against.

export interface ClvpEncoderConfigJson {
  vocab_size: number;
  hidden_size: number;
  intermediate_size: number;
  projection_dim: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  use_rotary_embedding: boolean;
  use_attention_bias: boolean;
  [key: string]: unknown;
}

export interface ClvpDecoderConfigJson {
  vocab_size: number;
  max_position_embeddings: number;
  max_text_tokens: number;
  hidden_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  /** null means 4 * hidden_size. */
  n_inner: number | null;
  num_mel_attn_blocks: number;
  feature_size: number;
  use_attention_bias: boolean;
  bos_token_id: number;
  eos_token_id: number;
  [key: string]: unknown;
}

export interface ClvpConfigJson {
  text_config: ClvpEncoderConfigJson;
  speech_config: ClvpEncoderConfigJson;
  decoder_config: ClvpDecoderConfigJson;
  projection_dim: number;
  [key: string]: unknown;
}

/** ClvpEncoderConfig defaults (configuration_clvp.py). */
export const ENCODER_DEFAULTS = {
  vocab_size: 256,
  hidden_size: 768,
  intermediate_size: 1536,
  projection_dim: 768,
  num_hidden_layers: 20,
  num_attention_heads: 12,
  hidden_act: 'gelu',
  layer_norm_eps: 1e-5,
  attention_dropout: 0.1,
  dropout: 0.1,
  use_rotary_embedding: true,
  use_attention_bias: false,
  summary_type: 'mean',
  initializer_factor: 1.0,
  bos_token_id: 255,
  eos_token_id: 0,
  model_type: 'clvp_encoder',
} as const;

/** ClvpDecoderConfig defaults (configuration_clvp.py). */
export const DECODER_DEFAULTS = {
  vocab_size: 8194,
  max_position_embeddings: 608,
  max_text_tokens: 404,
  hidden_size: 1024,
  num_hidden_layers: 30,
  num_attention_heads: 16,
  n_inner: null,
  num_mel_attn_blocks: 6,
  activation_function: 'gelu_new',
  resid_pdrop: 0.1,
  embd_pdrop: 0.1,
  attention_dropout: 0.1,
  layer_norm_epsilon: 1e-5,
  initializer_range: 0.02,
  summary_type: 'cls_index',
  summary_use_proj: true,
  summary_activation: null,
  summary_proj_to_labels: true,
  summary_first_dropout: 0.1,
  use_cache: true,
  bos_token_id: 8192,
  eos_token_id: 8193,
  feature_size: 80,
  use_attention_bias: true,
  initializer_factor: 1.0,
  decoder_fixing_codes: [83, 45, 45, 248],
  model_type: 'clvp_decoder',
} as const;

/** Fill absent fields with the transformers defaults (config.json stores only non-default generic fields). */
export function resolveClvpConfig(json: Record<string, unknown>): ClvpConfigJson {
  const sub = (k: string) => (typeof json[k] === 'object' && json[k] !== null ? (json[k] as Record<string, unknown>) : {});
  return {
    ...json,
    projection_dim: (json.projection_dim as number) ?? 768,
    text_config: { ...ENCODER_DEFAULTS, ...sub('text_config') } as ClvpEncoderConfigJson,
    speech_config: { ...ENCODER_DEFAULTS, ...sub('speech_config') } as ClvpEncoderConfigJson,
    decoder_config: { ...DECODER_DEFAULTS, ...sub('decoder_config') } as unknown as ClvpDecoderConfigJson,
  };
}

/** ClvpRotaryPositionalEmbedding: dim = max(projection_dim // (num_attention_heads * 2), 32); inv_freq has dim/2. */
function rotaryDim(c: Pick<ClvpEncoderConfigJson, 'projection_dim' | 'num_attention_heads'>): number {
  return Math.max(Math.floor(c.projection_dim / (c.num_attention_heads * 2)), 32);
}

/** Every persistent parameter/buffer of ClvpModelForConditionalGeneration with its shape, in module order. */
export function hfClvpShapes(config: ClvpConfigJson): Map<string, number[]> {
  const m = new Map<string, number[]>();
  const attn = (p: string, h: number, bias: boolean) => {
    for (const x of ['k', 'v', 'q']) {
      m.set(`${p}.${x}_proj.weight`, [h, h]); // nn.Linear [out, in]
      if (bias) m.set(`${p}.${x}_proj.bias`, [h]);
    }
    m.set(`${p}.out_proj.weight`, [h, h]);
    m.set(`${p}.out_proj.bias`, [h]);
  };
  const d = config.decoder_config;
  const t = config.text_config;
  const H = d.hidden_size;
  const inner = d.n_inner ?? 4 * H;

  // ClvpConditioningEncoder
  m.set('conditioning_encoder.text_token_embedding.weight', [t.vocab_size, H]);
  m.set('conditioning_encoder.text_position_embedding.weight', [d.max_text_tokens, H]);
  m.set('conditioning_encoder.mel_conv.weight', [H, d.feature_size, 1]); // nn.Conv1d, kernel 1
  m.set('conditioning_encoder.mel_conv.bias', [H]);
  for (let i = 0; i < d.num_mel_attn_blocks; i++) {
    m.set(`conditioning_encoder.group_norms.${i}.weight`, [H]);
    m.set(`conditioning_encoder.group_norms.${i}.bias`, [H]);
  }
  for (let i = 0; i < d.num_mel_attn_blocks; i++) attn(`conditioning_encoder.mel_attn_blocks.${i}`, H, d.use_attention_bias);

  // ClvpForCausalLM
  const dec = 'speech_decoder_model.model.decoder';
  m.set(`${dec}.input_embeds_layer.weight`, [d.vocab_size, H]);
  m.set(`${dec}.position_embeds_layer.weight`, [d.max_position_embeddings, H]);
  for (let i = 0; i < d.num_hidden_layers; i++) {
    const p = `${dec}.layers.${i}`;
    m.set(`${p}.input_layernorm.weight`, [H]);
    m.set(`${p}.input_layernorm.bias`, [H]);
    attn(`${p}.attn`, H, d.use_attention_bias);
    m.set(`${p}.post_attention_layernorm.weight`, [H]);
    m.set(`${p}.post_attention_layernorm.bias`, [H]);
    m.set(`${p}.mlp.c_fc.weight`, [H, inner]); // GPT-2 Conv1D [in, out]
    m.set(`${p}.mlp.c_fc.bias`, [inner]);
    m.set(`${p}.mlp.c_proj.weight`, [inner, H]);
    m.set(`${p}.mlp.c_proj.bias`, [H]);
  }
  m.set(`${dec}.layer_norm.weight`, [H]);
  m.set(`${dec}.layer_norm.bias`, [H]);
  m.set('speech_decoder_model.final_norm.weight', [H]);
  m.set('speech_decoder_model.final_norm.bias', [H]);
  m.set('speech_decoder_model.lm_head.weight', [d.vocab_size, H]);
  m.set('speech_decoder_model.lm_head.bias', [d.vocab_size]);

  // ClvpEncoder x2
  for (const [prefix, c] of [['text_encoder_model', config.text_config], ['speech_encoder_model', config.speech_config]] as const) {
    const h = c.hidden_size;
    m.set(`${prefix}.token_embedding.weight`, [c.vocab_size, h]);
    if (c.use_rotary_embedding) m.set(`${prefix}.rotary_pos_emb.inv_freq`, [rotaryDim(c) / 2]);
    for (let i = 0; i < c.num_hidden_layers; i++) {
      const p = `${prefix}.layers.${i}`;
      attn(`${p}.self_attn`, h, c.use_attention_bias);
      m.set(`${p}.mlp.fc1.proj.weight`, [2 * c.intermediate_size, h]); // gated: value and gate halves
      m.set(`${p}.mlp.fc1.proj.bias`, [2 * c.intermediate_size]);
      m.set(`${p}.mlp.fc2.weight`, [h, c.intermediate_size]);
      m.set(`${p}.mlp.fc2.bias`, [h]);
      m.set(`${p}.input_rmsnorm.weight`, [h]);
      m.set(`${p}.post_attention_rmsnorm.weight`, [h]);
    }
    m.set(`${prefix}.final_layer_norm.weight`, [h]);
    m.set(`${prefix}.final_layer_norm.bias`, [h]);
    m.set(`${prefix}.projection.weight`, [c.projection_dim, h]); // no bias
  }
  m.set('logit_scale', []);
  return m;
}

export interface ImpliedConfigOptions {
  /** Decoder (and conditioning-encoder) heads; not recoverable from shapes. Default 16 (Tortoise UnifiedVoice). */
  decoderHeads?: number;
  /** Text encoder heads; not recoverable from shapes. Default 12 (Tortoise CLVP text_heads). */
  textHeads?: number;
  /** Speech encoder heads; not recoverable from shapes. Default 12 (Tortoise CLVP speech_heads). */
  speechHeads?: number;
  /** Written as torch_dtype. Default 'float32'. */
  torchDtype?: string;
}

export class ImpliedConfigError extends Error {}

function countIndices(names: Iterable<string>, re: RegExp): number {
  const seen = new Set<number>();
  for (const n of names) {
    const m = re.exec(n);
    if (m) seen.add(Number(m[1]));
  }
  for (let i = 0; i < seen.size; i++) if (!seen.has(i)) throw new ImpliedConfigError(`layer indices matching ${re} are not 0..${seen.size - 1} (missing ${i})`);
  return seen.size;
}

/**
 * The ClvpConfig implied by HF-named shapes. Sizes, layer counts, vocabularies and bias flags are read off the
 * shapes; head counts cannot be (q/k/v are square either way) and come from `opts` or the Tortoise defaults;
 * everything else (dropouts, eps, fixing codes, text bos/eos, logit_scale_init_value) takes the transformers
 * defaults. The decoder's bos/eos are vocab-2 / vocab-1, Tortoise's start/stop mel tokens (8192/8193 of 8194).
 */
export function impliedClvpConfig(shapes: Map<string, number[]>, opts: ImpliedConfigOptions = {}): { config: ClvpConfigJson; warnings: string[] } {
  const warnings: string[] = [];
  const get = (name: string): number[] => {
    const s = shapes.get(name);
    if (!s) throw new ImpliedConfigError(`cannot derive the config: no tensor '${name}'`);
    return s;
  };
  const names = [...shapes.keys()];
  const encoder = (prefix: string, heads: number): ClvpEncoderConfigJson => {
    const [vocab, hidden] = get(`${prefix}.token_embedding.weight`);
    const c: ClvpEncoderConfigJson = {
      ...ENCODER_DEFAULTS,
      vocab_size: vocab,
      hidden_size: hidden,
      intermediate_size: get(`${prefix}.layers.0.mlp.fc2.weight`)[1],
      projection_dim: get(`${prefix}.projection.weight`)[0],
      num_hidden_layers: countIndices(names, new RegExp(`^${prefix}\\.layers\\.(\\d+)\\.`)),
      num_attention_heads: heads,
      use_rotary_embedding: shapes.has(`${prefix}.rotary_pos_emb.inv_freq`),
      use_attention_bias: shapes.has(`${prefix}.layers.0.self_attn.q_proj.bias`),
    };
    if (hidden % heads) throw new ImpliedConfigError(`${prefix}: hidden size ${hidden} is not divisible by ${heads} heads; pass the right head count`);
    const inv = shapes.get(`${prefix}.rotary_pos_emb.inv_freq`);
    if (inv && inv[0] * 2 !== rotaryDim(c)) {
      warnings.push(`${prefix}: rotary inv_freq has ${inv[0]} entries but HF would build ${rotaryDim(c) / 2} from projection_dim ${c.projection_dim} and ${heads} heads`);
    }
    return c;
  };
  const text = encoder('text_encoder_model', opts.textHeads ?? 12);
  const speech = encoder('speech_encoder_model', opts.speechHeads ?? 12);
  const dec = 'speech_decoder_model.model.decoder';
  const [vocab, hidden] = get(`${dec}.input_embeds_layer.weight`);
  const heads = opts.decoderHeads ?? 16;
  if (hidden % heads) throw new ImpliedConfigError(`decoder: hidden size ${hidden} is not divisible by ${heads} heads; pass the right head count`);
  const inner = get(`${dec}.layers.0.mlp.c_fc.weight`)[1];
  const decoder: ClvpDecoderConfigJson = {
    ...(DECODER_DEFAULTS as unknown as ClvpDecoderConfigJson),
    decoder_fixing_codes: [...DECODER_DEFAULTS.decoder_fixing_codes],
    vocab_size: vocab,
    max_position_embeddings: get(`${dec}.position_embeds_layer.weight`)[0],
    max_text_tokens: get('conditioning_encoder.text_position_embedding.weight')[0],
    hidden_size: hidden,
    num_hidden_layers: countIndices(names, new RegExp(`^${dec.replace(/\./g, '\\.')}\\.layers\\.(\\d+)\\.`)),
    num_attention_heads: heads,
    n_inner: inner === 4 * hidden ? null : inner,
    num_mel_attn_blocks: countIndices(names, /^conditioning_encoder\.mel_attn_blocks\.(\d+)\./),
    feature_size: get('conditioning_encoder.mel_conv.weight')[1],
    use_attention_bias: shapes.has(`${dec}.layers.0.attn.q_proj.bias`),
    bos_token_id: vocab - 2,
    eos_token_id: vocab - 1,
  };
  const condVocab = get('conditioning_encoder.text_token_embedding.weight')[0];
  if (condVocab !== text.vocab_size) {
    warnings.push(`conditioning encoder text vocabulary (${condVocab}) differs from the text encoder's (${text.vocab_size}); HF builds both from text_config.vocab_size`);
  }
  if (text.projection_dim !== speech.projection_dim) throw new ImpliedConfigError(`text and speech projections differ (${text.projection_dim} vs ${speech.projection_dim})`);
  const config: ClvpConfigJson = {
    architectures: ['ClvpModelForConditionalGeneration'],
    decoder_config: decoder,
    initializer_factor: 1.0,
    logit_scale_init_value: 2.6592,
    model_type: 'clvp',
    projection_dim: text.projection_dim,
    speech_config: speech,
    text_config: text,
    torch_dtype: opts.torchDtype ?? 'float32',
  };
  return { config, warnings };
}

/** generation_config.json for the speech decoder: Tortoise's start/stop mel tokens; pad = eos as in transformers. */
export function impliedGenerationConfig(config: ClvpConfigJson): Record<string, unknown> {
  const d = config.decoder_config;
  return { bos_token_id: d.bos_token_id, eos_token_id: d.eos_token_id, pad_token_id: d.eos_token_id, return_dict_in_generate: true };
}
