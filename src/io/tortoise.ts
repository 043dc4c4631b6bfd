// Original Tortoise checkpoints (autoregressive.pth, clvp2.pth) → transformers CLVP names, following
// transformers/models/clvp/convert_clvp_to_hf.py (convert_encoder_weights / convert_decoder_weights), written as one
// table of regex → HF name + tensor op instead of chained substring replaces. Original module trees:
// tortoise/models/autoregressive.py (UnifiedVoice: HF GPT2Model `gpt`, ConditioningEncoder of AttentionBlocks),
// tortoise/models/clvp.py + xtransformers.py (CLVP with two x-transformers Encoders, use_rmsnorm, ff_glu, rotary).
// The weights do not say how many heads there are (q/k/v are square either way), yet the conditioning encoder's
// fused qkv is split per head: the decoder head count (Tortoise: 16) must be right for that split to be right.
// Encoder head counts (Tortoise: 12) and everything else not in the shapes go to config.json only
// (see impliedClvpConfig in ./hf_layout).
import { DTYPE_BYTES } from './safetensors';
import { ClvpConfigJson, ImpliedConfigOptions, hfClvpShapes, impliedClvpConfig } from './hf_layout';
import { SourceTensorInfo, TensorSource } from './sources';

export type TortoiseFile = 'autoregressive' | 'clvp';

/**
 * copy        unchanged
 * transpose   2-D transpose: GPT-2 Conv1D [in, out] → nn.Linear [out, in]
 * squeeze     drop the trailing kernel dim of a kernel-1 nn.Conv1d: [out, in, 1] → [out, in]
 * gpt2_qkv    GPT-2 c_attn, Conv1D [h, 3h] / bias [3h], columns [q | k | v] → three nn.Linear [h, h] / [h]
 * legacy_qkv  AttentionBlock.qkv, Conv1d [3h, h, 1] / bias [3h], rows per head [q_h k_h v_h] (QKVAttentionLegacy)
 *             → three nn.Linear [h, h] / [h] with heads concatenated; needs the head count
 * drop        not part of the HF model
 */
export type TortoiseOp = 'copy' | 'transpose' | 'squeeze' | 'gpt2_qkv' | 'legacy_qkv' | 'drop';

export interface TortoiseRule {
  file: TortoiseFile;
  from: RegExp;
  /**
   * HF name template: `{n}` is capture group n, `{n/2}` its floor half (x-transformers interleaves attention and
   * feed-forward blocks: layers.2i is block i's attention, layers.2i+1 its feed-forward), `{qkv}` is q, k or v for
   * the split ops. null for `drop`.
   */
  to: string | null;
  op: TortoiseOp;
}

const DEC = 'speech_decoder_model.model.decoder';
const ENC = '(text|speech)_transformer\\.transformer\\.attn_layers';
const EVEN = '(\\d*[02468])';
const ODD = '(\\d*[13579])';

/** The whole mapping. Every key of both files must match exactly one rule; the first match wins. */
export const TORTOISE_TO_HF: readonly TortoiseRule[] = [
  // ---- autoregressive.pth: GPT-2 decoder (UnifiedVoice.gpt), heads and embeddings
  { file: 'autoregressive', from: /^gpt\.h\.(\d+)\.attn\.c_attn\.(weight|bias)$/, to: `${DEC}.layers.{1}.attn.{qkv}_proj.{2}`, op: 'gpt2_qkv' },
  { file: 'autoregressive', from: /^gpt\.h\.(\d+)\.attn\.c_proj\.weight$/, to: `${DEC}.layers.{1}.attn.out_proj.weight`, op: 'transpose' },
  { file: 'autoregressive', from: /^gpt\.h\.(\d+)\.attn\.c_proj\.bias$/, to: `${DEC}.layers.{1}.attn.out_proj.bias`, op: 'copy' },
  { file: 'autoregressive', from: /^gpt\.h\.(\d+)\.attn\.(bias|masked_bias)$/, to: null, op: 'drop' }, // causal-mask buffers
  { file: 'autoregressive', from: /^gpt\.h\.(\d+)\.ln_1\.(weight|bias)$/, to: `${DEC}.layers.{1}.input_layernorm.{2}`, op: 'copy' },
  { file: 'autoregressive', from: /^gpt\.h\.(\d+)\.ln_2\.(weight|bias)$/, to: `${DEC}.layers.{1}.post_attention_layernorm.{2}`, op: 'copy' },
  { file: 'autoregressive', from: /^gpt\.h\.(\d+)\.mlp\.(c_fc|c_proj)\.(weight|bias)$/, to: `${DEC}.layers.{1}.mlp.{2}.{3}`, op: 'copy' }, // HF keeps Conv1D here
  { file: 'autoregressive', from: /^gpt\.ln_f\.(weight|bias)$/, to: `${DEC}.layer_norm.{1}`, op: 'copy' },
  { file: 'autoregressive', from: /^mel_embedding\.weight$/, to: `${DEC}.input_embeds_layer.weight`, op: 'copy' },
  { file: 'autoregressive', from: /^mel_pos_embedding\.emb\.weight$/, to: `${DEC}.position_embeds_layer.weight`, op: 'copy' },
  { file: 'autoregressive', from: /^final_norm\.(weight|bias)$/, to: 'speech_decoder_model.final_norm.{1}', op: 'copy' },
  { file: 'autoregressive', from: /^mel_head\.(weight|bias)$/, to: 'speech_decoder_model.lm_head.{1}', op: 'copy' },
  { file: 'autoregressive', from: /^text_head\.(weight|bias)$/, to: null, op: 'drop' }, // text-prediction head, unused by HF
  // ---- autoregressive.pth: conditioning encoder and text embeddings
  { file: 'autoregressive', from: /^text_embedding\.weight$/, to: 'conditioning_encoder.text_token_embedding.weight', op: 'copy' },
  { file: 'autoregressive', from: /^text_pos_embedding\.emb\.weight$/, to: 'conditioning_encoder.text_position_embedding.weight', op: 'copy' },
  { file: 'autoregressive', from: /^conditioning_encoder\.init\.(weight|bias)$/, to: 'conditioning_encoder.mel_conv.{1}', op: 'copy' }, // HF keeps Conv1d [h, 80, 1]
  { file: 'autoregressive', from: /^conditioning_encoder\.attn\.(\d+)\.norm\.(weight|bias)$/, to: 'conditioning_encoder.group_norms.{1}.{2}', op: 'copy' },
  { file: 'autoregressive', from: /^conditioning_encoder\.attn\.(\d+)\.qkv\.(weight|bias)$/, to: 'conditioning_encoder.mel_attn_blocks.{1}.{qkv}_proj.{2}', op: 'legacy_qkv' },
  { file: 'autoregressive', from: /^conditioning_encoder\.attn\.(\d+)\.proj_out\.weight$/, to: 'conditioning_encoder.mel_attn_blocks.{1}.out_proj.weight', op: 'squeeze' },
  { file: 'autoregressive', from: /^conditioning_encoder\.attn\.(\d+)\.proj_out\.bias$/, to: 'conditioning_encoder.mel_attn_blocks.{1}.out_proj.bias', op: 'copy' },
  // ---- clvp2.pth: text and speech encoders
  { file: 'clvp', from: /^(text|speech)_emb\.weight$/, to: '{1}_encoder_model.token_embedding.weight', op: 'copy' },
  { file: 'clvp', from: /^to_(text|speech)_latent\.weight$/, to: '{1}_encoder_model.projection.weight', op: 'copy' },
  { file: 'clvp', from: /^temperature$/, to: 'logit_scale', op: 'copy' },
  { file: 'clvp', from: /^(text|speech)_transformer\.transformer\.norm\.(weight|bias)$/, to: '{1}_encoder_model.final_layer_norm.{2}', op: 'copy' },
  { file: 'clvp', from: new RegExp(`^${ENC}\\.rotary_pos_emb\\.inv_freq$`), to: '{1}_encoder_model.rotary_pos_emb.inv_freq', op: 'copy' },
  { file: 'clvp', from: new RegExp(`^${ENC}\\.layers\\.${EVEN}\\.0\\.0\\.g$`), to: '{1}_encoder_model.layers.{2/2}.input_rmsnorm.weight', op: 'copy' },
  { file: 'clvp', from: new RegExp(`^${ENC}\\.layers\\.${ODD}\\.0\\.0\\.g$`), to: '{1}_encoder_model.layers.{2/2}.post_attention_rmsnorm.weight', op: 'copy' },
  { file: 'clvp', from: new RegExp(`^${ENC}\\.layers\\.${EVEN}\\.1\\.wrap\\.to_(q|k|v)\\.(weight|bias)$`), to: '{1}_encoder_model.layers.{2/2}.self_attn.{3}_proj.{4}', op: 'copy' },
  { file: 'clvp', from: new RegExp(`^${ENC}\\.layers\\.${EVEN}\\.1\\.wrap\\.to_out\\.(weight|bias)$`), to: '{1}_encoder_model.layers.{2/2}.self_attn.out_proj.{3}', op: 'copy' },
  { file: 'clvp', from: new RegExp(`^${ENC}\\.layers\\.${ODD}\\.1\\.wrap\\.net\\.0\\.proj\\.(weight|bias)$`), to: '{1}_encoder_model.layers.{2/2}.mlp.fc1.proj.{3}', op: 'copy' },
  { file: 'clvp', from: new RegExp(`^${ENC}\\.layers\\.${ODD}\\.1\\.wrap\\.net\\.3\\.(weight|bias)$`), to: '{1}_encoder_model.layers.{2/2}.mlp.fc2.{3}', op: 'copy' },
];

export class TortoiseMappingError extends Error {}

/** One HF tensor of the plan: where it comes from and how it is made. */
export interface PlannedTensor {
  name: string;
  file: TortoiseFile;
  sourceKey: string;
  op: Exclude<TortoiseOp, 'drop'>;
  /** 0/1/2 = q/k/v for the split ops. */
  part?: number;
  sourceShape: number[];
  info: SourceTensorInfo;
}

export interface TortoisePlan {
  tensors: PlannedTensor[];
  dropped: Array<{ file: TortoiseFile; key: string }>;
}

function fill(template: string, m: RegExpExecArray, qkv?: string): string {
  return template.replace(/\{(\d+)(\/2)?\}|\{qkv\}/g, (whole, g: string | undefined, half: string | undefined) => {
    if (whole === '{qkv}') return qkv!;
    const v = m[Number(g)];
    return half ? String(Math.floor(Number(v) / 2)) : v;
  });
}

function outShape(op: TortoiseOp, s: number[], where: string, decoderHeads: number): number[] {
  const bad = (why: string): never => {
    throw new TortoiseMappingError(`${where}: shape ${JSON.stringify(s)} ${why}`);
  };
  switch (op) {
    case 'copy':
      return s.slice();
    case 'transpose':
      if (s.length !== 2) bad('is not 2-D (transpose)');
      return [s[1], s[0]];
    case 'squeeze':
      if (s.length !== 3 || s[2] !== 1) bad('is not a kernel-1 Conv1d weight [out, in, 1]');
      return [s[0], s[1]];
    case 'gpt2_qkv':
      if (s.length === 2 && s[1] === 3 * s[0]) return [s[0], s[0]];
      if (s.length === 1 && s[0] % 3 === 0) return [s[0] / 3];
      return bad('is not a GPT-2 c_attn weight [h, 3h] or bias [3h]');
    case 'legacy_qkv': {
      const rows = s[0];
      if (rows % (3 * decoderHeads)) bad(`has ${rows} qkv channels, not divisible by 3 x ${decoderHeads} heads`);
      if (s.length === 1) return [rows / 3];
      if ((s.length === 3 && s[2] === 1) || s.length === 2) {
        if (s[1] * 3 !== rows) bad('is not a qkv Conv1d weight [3h, h, 1]');
        return [rows / 3, s[1]];
      }
      return bad('is not a qkv Conv1d weight [3h, h, 1] or bias [3h]');
    }
    default:
      return bad(`has no output for op ${op}`);
  }
}

/**
 * Match every key of both files against TORTOISE_TO_HF. Unmatched keys, HF names produced twice, and shapes an op
 * cannot take are errors, as in HF's strict load_state_dict.
 */
export function planTortoise(
  files: Partial<Record<TortoiseFile, Array<[string, SourceTensorInfo]>>>,
  opts: { decoderHeads?: number } = {},
): TortoisePlan {
  const decoderHeads = opts.decoderHeads ?? 16;
  const tensors: PlannedTensor[] = [];
  const dropped: TortoisePlan['dropped'] = [];
  const produced = new Map<string, string>();
  const unmatched: string[] = [];
  for (const file of ['autoregressive', 'clvp'] as const) {
    for (const [key, info] of files[file] ?? []) {
      let rule: TortoiseRule | undefined;
      let m: RegExpExecArray | null = null;
      for (const r of TORTOISE_TO_HF) {
        if (r.file !== file) continue;
        m = r.from.exec(key);
        if (m) {
          rule = r;
          break;
        }
      }
      if (!rule || !m) {
        unmatched.push(`${file}:${key}`);
        continue;
      }
      if (rule.op === 'drop') {
        dropped.push({ file, key });
        continue;
      }
      const where = `${file} '${key}'`;
      const shape = outShape(rule.op, info.shape, where, decoderHeads);
      const parts = rule.op === 'gpt2_qkv' || rule.op === 'legacy_qkv' ? ['q', 'k', 'v'] : [undefined];
      parts.forEach((qkv, part) => {
        const name = fill(rule!.to!, m!, qkv);
        const prev = produced.get(name);
        if (prev) throw new TortoiseMappingError(`both ${prev} and ${where} map to '${name}'`);
        produced.set(name, where);
        tensors.push({ name, file, sourceKey: key, op: rule!.op as PlannedTensor['op'], part: qkv ? part : undefined, sourceShape: info.shape.slice(), info: { dtype: info.dtype, shape } });
      });
    }
  }
  if (unmatched.length) {
    const shown = unmatched.slice(0, 12).join(', ');
    throw new TortoiseMappingError(`${unmatched.length} key(s) match no rule of the Tortoise → HF table: ${shown}${unmatched.length > 12 ? ', ...' : ''}`);
  }
  tensors.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return { tensors, dropped };
}

/** Apply a planned op to the source tensor's contiguous bytes (any element size; dtype is preserved). */
export function applyTortoiseOp(t: PlannedTensor, src: Buffer, decoderHeads = 16): Buffer {
  const isz = DTYPE_BYTES[t.info.dtype];
  const s = t.sourceShape;
  switch (t.op) {
    case 'copy':
    case 'squeeze':
      return src;
    case 'transpose':
      return transpose2d(src, s[0], s[1], isz);
    case 'gpt2_qkv': {
      const h = s[0];
      const p = t.part!;
      if (s.length === 1) return Buffer.from(src.subarray(p * (h / 3) * isz, (p + 1) * (h / 3) * isz));
      // W is [h, 3h]; the Linear weight of part p is W[:, p*h:(p+1)*h] transposed: out[i, j] = W[j, p*h + i].
      return gather(src, isz, h * h, (o) => (o % h) * 3 * h + p * h + Math.floor(o / h));
    }
    case 'legacy_qkv': {
      // QKVAttentionLegacy reshapes the 3h channels to [heads, 3, ch]: channel hd*3ch + p*ch + c is part p of head hd.
      const h = s[0] / 3;
      const ch = h / decoderHeads;
      const rowBytes = (s.length === 1 ? 1 : s[1]) * isz;
      const out = Buffer.allocUnsafe(h * rowBytes);
      for (let hd = 0; hd < decoderHeads; hd++) {
        const from = (hd * 3 * ch + t.part! * ch) * rowBytes;
        src.copy(out, hd * ch * rowBytes, from, from + ch * rowBytes);
      }
      return out;
    }
  }
}

export function transpose2d(src: Buffer, rows: number, cols: number, isz: number): Buffer {
  // out[c, r] = src[r, c]
  return gather(src, isz, rows * cols, (o) => (o % rows) * cols + Math.floor(o / rows));
}

/**
 * out[o] = src[index(o)] element-wise, moving bit patterns through unsigned integer views (never through floats, so
 * NaN payloads survive). 8-byte elements move as two 32-bit words.
 */
export function gather(src: Buffer, isz: number, n: number, index: (o: number) => number): Buffer {
  const aligned = src.byteOffset % 4 === 0 ? src : Buffer.from(src);
  const out = Buffer.allocUnsafe(n * isz);
  if (isz === 1) {
    for (let o = 0; o < n; o++) out[o] = aligned[index(o)];
  } else if (isz === 2) {
    const a = new Uint16Array(aligned.buffer, aligned.byteOffset, aligned.length / 2);
    const b = new Uint16Array(out.buffer, out.byteOffset, n);
    for (let o = 0; o < n; o++) b[o] = a[index(o)];
  } else {
    const w = isz / 4;
    const a = new Uint32Array(aligned.buffer, aligned.byteOffset, aligned.length / 4);
    const b = new Uint32Array(out.buffer, out.byteOffset, n * w);
    for (let o = 0; o < n; o++) {
      const i = index(o) * w;
      for (let k = 0; k < w; k++) b[o * w + k] = a[i + k];
    }
  }
  return out;
}

/** Which Tortoise file a key set looks like, from keys only one of them has. */
export function detectTortoiseFile(keys: Iterable<string>): TortoiseFile | undefined {
  let ar = 0;
  let clvp = 0;
  for (const k of keys) {
    if (/^gpt\.h\.\d+\./.test(k) || k.startsWith('conditioning_encoder.init.') || k.startsWith('mel_pos_embedding.')) ar++;
    if (/^(text|speech)_transformer\.transformer\./.test(k) || k.startsWith('to_text_latent.')) clvp++;
  }
  if (ar && !clvp) return 'autoregressive';
  if (clvp && !ar) return 'clvp';
  return undefined;
}

export interface TortoiseOptions extends ImpliedConfigOptions {}

/**
 * The two original files seen as one HF-named TensorSource. Reads one source tensor per HF tensor (a fused qkv is
 * read once for its three parts thanks to a one-entry cache). Checks the result against the HF layout implied by
 * the shapes, listing missing and unexpected names.
 */
export class TortoiseSource implements TensorSource {
  readonly description: string;
  readonly plan: TortoisePlan;
  readonly config: ClvpConfigJson;
  readonly warnings: string[];
  private readonly byName: Map<string, PlannedTensor>;
  private cache: { key: string; bytes: Buffer } | undefined;

  constructor(private readonly sources: Record<TortoiseFile, TensorSource>, private readonly opts: TortoiseOptions = {}) {
    this.description = `${sources.autoregressive.description} + ${sources.clvp.description}`;
    this.plan = planTortoise({ autoregressive: sources.autoregressive.list(), clvp: sources.clvp.list() }, opts);
    this.byName = new Map(this.plan.tensors.map((t) => [t.name, t]));
    const shapes = new Map(this.plan.tensors.map((t) => [t.name, t.info.shape]));
    const implied = impliedClvpConfig(shapes, opts);
    this.config = implied.config;
    this.warnings = implied.warnings;
    checkAgainstLayout(shapes, hfClvpShapes(this.config), this.description);
  }

  list(): Array<[string, SourceTensorInfo]> {
    return this.plan.tensors.map((t) => [t.name, { dtype: t.info.dtype, shape: t.info.shape.slice() }]);
  }

  readBytes(name: string): Buffer {
    const t = this.byName.get(name);
    if (!t) throw new TortoiseMappingError(`${this.description}: no tensor '${name}' in the mapped checkpoint`);
    const cacheKey = `${t.file}:${t.sourceKey}`;
    let src: Buffer;
    if (this.cache?.key === cacheKey) src = this.cache.bytes;
    else {
      src = this.sources[t.file].readBytes(t.sourceKey);
      this.cache = t.part !== undefined ? { key: cacheKey, bytes: src } : undefined;
    }
    return applyTortoiseOp(t, src, this.opts.decoderHeads ?? 16);
  }

  close(): void {
    this.sources.autoregressive.close();
    this.sources.clvp.close();
  }
}

/** Strict comparison of produced shapes with the HF layout: every name present, nothing extra, shapes equal. */
export function checkAgainstLayout(got: Map<string, number[]>, want: Map<string, number[]>, where: string): void {
  const missing = [...want.keys()].filter((k) => !got.has(k));
  const unexpected = [...got.keys()].filter((k) => !want.has(k));
  const wrong = [...want].filter(([k, s]) => got.has(k) && JSON.stringify(got.get(k)) !== JSON.stringify(s)).map(([k, s]) => `${k}: ${JSON.stringify(got.get(k))} vs HF ${JSON.stringify(s)}`);
  if (missing.length || unexpected.length || wrong.length) {
    const parts: string[] = [];
    if (missing.length) parts.push(`missing ${missing.length}: ${missing.slice(0, 8).join(', ')}${missing.length > 8 ? ', ...' : ''}`);
    if (unexpected.length) parts.push(`unexpected ${unexpected.length}: ${unexpected.slice(0, 8).join(', ')}${unexpected.length > 8 ? ', ...' : ''}`);
    if (wrong.length) parts.push(`wrong shape ${wrong.length}: ${wrong.slice(0, 8).join('; ')}`);
    throw new TortoiseMappingError(`${where}: the mapped tensors do not form the HF CLVP layout (${parts.join('; ')})`);
  }
}
