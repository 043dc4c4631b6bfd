// Tortoise → HF mapping tests: the HF layout against the reference headers, a synthetic Tortoise pair built from the
// tiny reference model by an independent inverse of the mapping, and numeric equivalence of the fused-qkv splits.
import * as fs from 'fs';
import * as path from 'path';
import { SafetensorsCheckpoint, SafetensorsFile } from '../../src/io/safetensors';
import { openSafetensorsCheckpoint, openSafetensorsFile } from '../../src/io/safetensors_fs';
import { hfClvpShapes, impliedClvpConfig, resolveClvpConfig } from '../../src/io/hf_layout';
import { convertCheckpoint } from '../../src/io/convert';
import { PlannedTensor, TORTOISE_TO_HF, applyTortoiseOp, planTortoise } from '../../src/io/tortoise';
import { SourceTensorInfo } from '../../src/io/sources';
import { TensorForTorch, randomF32, referenceDir, tmpDir, writeTorchCheckpoint } from './helpers';

const MODELS = ['tiny', 'tiny-partial-rotary', 'small-real-dims'];

describe('HF CLVP layout (modeling_clvp.py module tree)', () => {
  it('matches the name and shape of every tensor of the reference models', () => {
    const ref = referenceDir();
    if (!ref) return;
    for (const m of MODELS) {
      const dir = path.join(ref, 'models', m);
      const config = resolveClvpConfig(JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8')));
      const ck = openSafetensorsCheckpoint(dir);
      try {
        const got = Object.fromEntries(ck.keys().map((k) => [k, ck.info(k).shape]));
        expect({ model: m, layout: got }).toEqual({ model: m, layout: Object.fromEntries(hfClvpShapes(config)) });
      } finally {
        ck.close();
      }
    }
  });

  it('implies the reference configs from shapes (given the head counts)', () => {
    const ref = referenceDir();
    if (!ref) return;
    for (const m of MODELS) {
      const dir = path.join(ref, 'models', m);
      const config = resolveClvpConfig(JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8')));
      const shapes = new Map(hfClvpShapes(config));
      const { config: implied, warnings } = impliedClvpConfig(shapes, {
        decoderHeads: config.decoder_config.num_attention_heads,
        textHeads: config.text_config.num_attention_heads,
        speechHeads: config.speech_config.num_attention_heads,
      });
      expect(warnings).toEqual([]);
      for (const sub of ['text_config', 'speech_config', 'decoder_config'] as const) {
        for (const [k, v] of Object.entries(config[sub])) {
          if (k === 'decoder_fixing_codes') continue; // not in the weights: HF default [83, 45, 45, 248] is implied
          expect({ model: m, key: `${sub}.${k}`, v: implied[sub][k] }).toEqual({ model: m, key: `${sub}.${k}`, v });
        }
      }
      expect(implied.projection_dim).toBe(config.projection_dim);
    }
  });
});

// ---------------------------------------------------------------- an independent inverse of the mapping

type T = { shape: number[]; data: Float32Array };

function f32(bytes: Buffer): Float32Array {
  return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
}

function transpose(t: T): T {
  const [r, c] = t.shape;
  const out = new Float32Array(r * c);
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) out[j * r + i] = t.data[i * c + j];
  return { shape: [c, r], data: out };
}

/** Rebuild Tortoise's autoregressive.pth and clvp2.pth state dicts from an HF CLVP checkpoint. */
function hfToTortoise(hf: Map<string, T>, decoderHeads: number): { ar: Map<string, T>; clvp: Map<string, T> } {
  const g = (k: string): T => {
    const t = hf.get(k);
    if (!t) throw new Error(`test inverse: no ${k}`);
    return t;
  };
  const ar = new Map<string, T>();
  const clvp = new Map<string, T>();
  const dec = 'speech_decoder_model.model.decoder';
  const h = g(`${dec}.input_embeds_layer.weight`).shape[1];
  const nLayers = [...hf.keys()].filter((k) => /^speech_decoder_model\.model\.decoder\.layers\.\d+\.input_layernorm\.weight$/.test(k)).length;
  for (let i = 0; i < nLayers; i++) {
    const p = `${dec}.layers.${i}`;
    const q = g(`${p}.attn.q_proj.weight`), k = g(`${p}.attn.k_proj.weight`), v = g(`${p}.attn.v_proj.weight`);
    // GPT-2 Conv1D c_attn: [h, 3h], y = x @ W + b, columns [q | k | v]
    const W = new Float32Array(h * 3 * h);
    [q, k, v].forEach((P, part) => {
      for (let r = 0; r < h; r++) for (let j = 0; j < h; j++) W[r * 3 * h + part * h + j] = P.data[j * h + r];
    });
    ar.set(`gpt.h.${i}.attn.c_attn.weight`, { shape: [h, 3 * h], data: W });
    const b = new Float32Array(3 * h);
    ['q', 'k', 'v'].forEach((x, part) => b.set(g(`${p}.attn.${x}_proj.bias`).data, part * h));
    ar.set(`gpt.h.${i}.attn.c_attn.bias`, { shape: [3 * h], data: b });
    ar.set(`gpt.h.${i}.attn.c_proj.weight`, transpose(g(`${p}.attn.out_proj.weight`)));
    ar.set(`gpt.h.${i}.attn.c_proj.bias`, g(`${p}.attn.out_proj.bias`));
    ar.set(`gpt.h.${i}.attn.masked_bias`, { shape: [], data: new Float32Array([-1e4]) });
    for (const [from, to] of [['ln_1', 'input_layernorm'], ['ln_2', 'post_attention_layernorm'], ['mlp.c_fc', 'mlp.c_fc'], ['mlp.c_proj', 'mlp.c_proj']]) {
      ar.set(`gpt.h.${i}.${from}.weight`, g(`${p}.${to}.weight`));
      ar.set(`gpt.h.${i}.${from}.bias`, g(`${p}.${to}.bias`));
    }
  }
  ar.set('gpt.ln_f.weight', g(`${dec}.layer_norm.weight`));
  ar.set('gpt.ln_f.bias', g(`${dec}.layer_norm.bias`));
  ar.set('mel_embedding.weight', g(`${dec}.input_embeds_layer.weight`));
  ar.set('mel_pos_embedding.emb.weight', g(`${dec}.position_embeds_layer.weight`));
  ar.set('final_norm.weight', g('speech_decoder_model.final_norm.weight'));
  ar.set('final_norm.bias', g('speech_decoder_model.final_norm.bias'));
  ar.set('mel_head.weight', g('speech_decoder_model.lm_head.weight'));
  ar.set('mel_head.bias', g('speech_decoder_model.lm_head.bias'));
  ar.set('text_head.weight', { shape: [3, h], data: new Float32Array(3 * h).fill(0.5) });
  ar.set('text_head.bias', { shape: [3], data: new Float32Array(3) });
  ar.set('text_embedding.weight', g('conditioning_encoder.text_token_embedding.weight'));
  ar.set('text_pos_embedding.emb.weight', g('conditioning_encoder.text_position_embedding.weight'));
  ar.set('conditioning_encoder.init.weight', g('conditioning_encoder.mel_conv.weight'));
  ar.set('conditioning_encoder.init.bias', g('conditioning_encoder.mel_conv.bias'));
  const nBlocks = [...hf.keys()].filter((k) => /^conditioning_encoder\.group_norms\.\d+\.weight$/.test(k)).length;
  const ch = h / decoderHeads;
  for (let i = 0; i < nBlocks; i++) {
    const p = `conditioning_encoder.mel_attn_blocks.${i}`;
    ar.set(`conditioning_encoder.attn.${i}.norm.weight`, g(`conditioning_encoder.group_norms.${i}.weight`));
    ar.set(`conditioning_encoder.attn.${i}.norm.bias`, g(`conditioning_encoder.group_norms.${i}.bias`));
    // QKVAttentionLegacy layout: channel hd*3ch + part*ch + c
    const W = new Float32Array(3 * h * h);
    const B = new Float32Array(3 * h);
    ['q', 'k', 'v'].forEach((x, part) => {
      const P = g(`${p}.${x}_proj.weight`).data;
      const pb = g(`${p}.${x}_proj.bias`).data;
      for (let hd = 0; hd < decoderHeads; hd++) {
        for (let c = 0; c < ch; c++) {
          const row = hd * 3 * ch + part * ch + c;
          W.set(P.subarray((hd * ch + c) * h, (hd * ch + c + 1) * h), row * h);
          B[row] = pb[hd * ch + c];
        }
      }
    });
    ar.set(`conditioning_encoder.attn.${i}.qkv.weight`, { shape: [3 * h, h, 1], data: W });
    ar.set(`conditioning_encoder.attn.${i}.qkv.bias`, { shape: [3 * h], data: B });
    const o = g(`${p}.out_proj.weight`);
    ar.set(`conditioning_encoder.attn.${i}.proj_out.weight`, { shape: [h, h, 1], data: o.data });
    ar.set(`conditioning_encoder.attn.${i}.proj_out.bias`, g(`${p}.out_proj.bias`));
  }

  for (const kind of ['text', 'speech']) {
    const e = `${kind}_encoder_model`;
    const x = `${kind}_transformer.transformer`;
    clvp.set(`${kind}_emb.weight`, g(`${e}.token_embedding.weight`));
    clvp.set(`to_${kind}_latent.weight`, g(`${e}.projection.weight`));
    clvp.set(`${x}.norm.weight`, g(`${e}.final_layer_norm.weight`));
    clvp.set(`${x}.norm.bias`, g(`${e}.final_layer_norm.bias`));
    clvp.set(`${x}.attn_layers.rotary_pos_emb.inv_freq`, g(`${e}.rotary_pos_emb.inv_freq`));
    const n = [...hf.keys()].filter((k) => new RegExp(`^${e}\\.layers\\.\\d+\\.input_rmsnorm\\.weight$`).test(k)).length;
    for (let i = 0; i < n; i++) {
      const a = `${x}.attn_layers.layers.${2 * i}`;
      const f = `${x}.attn_layers.layers.${2 * i + 1}`;
      const p = `${e}.layers.${i}`;
      clvp.set(`${a}.0.0.g`, g(`${p}.input_rmsnorm.weight`));
      clvp.set(`${f}.0.0.g`, g(`${p}.post_attention_rmsnorm.weight`));
      for (const q of ['q', 'k', 'v']) clvp.set(`${a}.1.wrap.to_${q}.weight`, g(`${p}.self_attn.${q}_proj.weight`));
      clvp.set(`${a}.1.wrap.to_out.weight`, g(`${p}.self_attn.out_proj.weight`));
      clvp.set(`${a}.1.wrap.to_out.bias`, g(`${p}.self_attn.out_proj.bias`));
      clvp.set(`${f}.1.wrap.net.0.proj.weight`, g(`${p}.mlp.fc1.proj.weight`));
      clvp.set(`${f}.1.wrap.net.0.proj.bias`, g(`${p}.mlp.fc1.proj.bias`));
      clvp.set(`${f}.1.wrap.net.3.weight`, g(`${p}.mlp.fc2.weight`));
      clvp.set(`${f}.1.wrap.net.3.bias`, g(`${p}.mlp.fc2.bias`));
    }
  }
  clvp.set('temperature', g('logit_scale'));
  return { ar, clvp };
}

function toTorch(m: Map<string, T>): TensorForTorch[] {
  return [...m].map(([name, t]) => ({ name, dtype: 'F32', shape: t.shape, bytes: Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength) }));
}

describe('Tortoise pair → HF', () => {
  it('converts a synthetic autoregressive.pth + clvp2.pth (tiny dims) to exactly the tiny reference tensors and config', async () => {
    const ref = referenceDir();
    if (!ref) return;
    const tiny = path.join(ref, 'models/tiny');
    const st = openSafetensorsFile(path.join(tiny, 'model.safetensors'));
    const hf = new Map<string, T>();
    for (const k of st.tensors.keys()) hf.set(k, { shape: st.info(k).shape, data: f32(Buffer.from(st.readBytesSync(k))) });
    const { ar, clvp } = hfToTortoise(hf, 4);
    // The synthetic pair exercises every rule of the table.
    for (const r of TORTOISE_TO_HF) {
      const keys = [...(r.file === 'autoregressive' ? ar : clvp).keys()];
      expect({ rule: String(r.from), used: keys.some((k) => r.from.test(k)) }).toEqual({ rule: String(r.from), used: true });
    }
    const dir = tmpDir();
    const src = path.join(dir, 'tortoise');
    fs.mkdirSync(src);
    writeTorchCheckpoint(path.join(src, 'autoregressive.pth'), toTorch(ar));
    writeTorchCheckpoint(path.join(src, 'clvp2.pth'), toTorch(clvp));
    const out = path.join(dir, 'hf');
    const res = await convertCheckpoint(src, out, { decoderHeads: 4, textHeads: 2, speechHeads: 2 });
    expect(res.inputKind).toBe('tortoise-pair');
    expect(res.config).toBe('implied');
    const conv = openSafetensorsFile(path.join(out, 'model.safetensors'));
    try {
      expect(new Set(conv.tensors.keys())).toEqual(new Set(st.tensors.keys()));
      for (const k of st.tensors.keys()) {
        expect({ k, shape: conv.info(k).shape }).toEqual({ k, shape: st.info(k).shape });
        expect({ k, same: Buffer.from(conv.readBytesSync(k)).equals(st.readBytesSync(k)) }).toEqual({ k, same: true });
      }
    } finally {
      conv.close();
      st.close();
    }
    const written = JSON.parse(fs.readFileSync(path.join(out, 'config.json'), 'utf8'));
    const want = JSON.parse(fs.readFileSync(path.join(tiny, 'config.json'), 'utf8'));
    for (const sub of ['text_config', 'speech_config', 'decoder_config']) {
      for (const [k, v] of Object.entries(want[sub])) {
        if (k === 'decoder_fixing_codes') continue;
        expect({ key: `${sub}.${k}`, v: written[sub][k] }).toEqual({ key: `${sub}.${k}`, v });
      }
    }
    const gen = JSON.parse(fs.readFileSync(path.join(out, 'generation_config.json'), 'utf8'));
    expect(gen).toMatchObject({ bos_token_id: 62, eos_token_id: 63, pad_token_id: 63 });

    // Two paths in either order give the same plan; a lone file is refused with advice.
    const twoPaths = await convertCheckpoint([path.join(src, 'clvp2.pth'), path.join(src, 'autoregressive.pth')], path.join(dir, 'x'), { decoderHeads: 4, textHeads: 2, speechHeads: 2, dryRun: true });
    expect(twoPaths.tensors.map((t) => t.name)).toEqual(res.tensors.map((t) => t.name));
    await expect(convertCheckpoint(path.join(src, 'clvp2.pth'), path.join(dir, 'y'))).rejects.toThrow(/this is Tortoise's clvp2\.pth; the HF model also needs autoregressive\.pth/);
    // With the default 12 heads the tiny 64-wide encoders do not divide: the error says what to pass.
    await expect(convertCheckpoint(src, path.join(dir, 'z'), { decoderHeads: 4, dryRun: true })).rejects.toThrow(/hidden size 64 is not divisible by 12 heads/);
  });

  it('covers interleaved encoder indices past 9 and drops buffers, failing loudly on unknown keys', () => {
    const f = (shape: number[]): SourceTensorInfo => ({ dtype: 'F32', shape });
    const clvp: Array<[string, SourceTensorInfo]> = [];
    for (let j = 0; j < 24; j++) {
      const base = `text_transformer.transformer.attn_layers.layers.${j}`;
      clvp.push([`${base}.0.0.g`, f([8])]);
      if (j % 2 === 0) clvp.push([`${base}.1.wrap.to_q.weight`, f([8, 8])]);
      else clvp.push([`${base}.1.wrap.net.3.weight`, f([8, 16])]);
    }
    const plan = planTortoise({ clvp });
    const names = plan.tensors.map((t) => t.name);
    expect(names).toContain('text_encoder_model.layers.11.input_rmsnorm.weight');
    expect(names).toContain('text_encoder_model.layers.11.post_attention_rmsnorm.weight');
    expect(names).toContain('text_encoder_model.layers.10.self_attn.q_proj.weight');
    expect(names).toContain('text_encoder_model.layers.11.mlp.fc2.weight');
    expect(names.length).toBe(48);
    // An attention block at an odd index is not the x-transformers layout: no rule matches it.
    expect(() => planTortoise({ clvp: [['text_transformer.transformer.attn_layers.layers.3.1.wrap.to_q.weight', f([8, 8])]] })).toThrow(/match no rule/);
    expect(() => planTortoise({ autoregressive: [['gpt.wte.weight', f([4, 4])]] })).toThrow(/autoregressive:gpt\.wte\.weight/);
    const dropped = planTortoise({ autoregressive: [['gpt.h.0.attn.bias', f([1, 1, 4, 4])], ['text_head.weight', f([3, 4])]] });
    expect(dropped.tensors).toEqual([]);
    expect(dropped.dropped.map((d) => d.key)).toEqual(['gpt.h.0.attn.bias', 'text_head.weight']);
  });

  it('every rule is a drop without a template or an op with one', () => {
    for (const r of TORTOISE_TO_HF) expect(r.op === 'drop' ? r.to === null : typeof r.to === 'string').toBe(true);
  });
});

// ---------------------------------------------------------------- numeric equivalence of the split ops

function softmax(v: number[]): number[] {
  const m = Math.max(...v);
  const e = v.map((x) => Math.exp(x - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / s);
}

function planned(op: PlannedTensor['op'], part: number, sourceShape: number[], shape: number[]): PlannedTensor {
  return { name: 'x', file: 'autoregressive', sourceKey: 'x', op, part, sourceShape, info: { dtype: 'F32', shape } };
}

describe('fused qkv splits compute what the original modules compute', () => {
  it('legacy_qkv: QKVAttentionLegacy over the fused conv = HF attention over q/k/v projections', () => {
    const h = 12, heads = 3, ch = h / heads, T = 5;
    const W = f32(randomF32(3 * h * h, 1)), B = f32(randomF32(3 * h, 2)), x = f32(randomF32(h * T, 3)); // x: [h, T]
    // Tortoise: qkv = conv1x1(x) → [3h, T]; reshape [heads, 3ch, T]; q, k, v = split(ch)
    const qkv = (o: number, t: number) => { let s = B[o]; for (let i = 0; i < h; i++) s += W[o * h + i] * x[i * T + t]; return s; };
    const legacy = new Float64Array(h * T); // [h, T]
    for (let hd = 0; hd < heads; hd++) {
      for (let t = 0; t < T; t++) {
        const w = softmax([...Array(T)].map((_, s) => { let d = 0; for (let c = 0; c < ch; c++) d += qkv(hd * 3 * ch + c, t) * qkv(hd * 3 * ch + ch + c, s); return d / Math.sqrt(ch); }));
        for (let c = 0; c < ch; c++) legacy[(hd * ch + c) * T + t] = w.reduce((a, ws, s) => a + ws * qkv(hd * 3 * ch + 2 * ch + c, s), 0);
      }
    }
    // HF: q_proj etc. from the split, heads are consecutive blocks of head_dim.
    const split = (part: number, bias: boolean) =>
      f32(applyTortoiseOp(planned('legacy_qkv', part, bias ? [3 * h] : [3 * h, h, 1], bias ? [h] : [h, h]), Buffer.from((bias ? B : W).buffer), heads));
    const [Wq, Wk, Wv] = [0, 1, 2].map((p) => split(p, false));
    const [bq, bk, bv] = [0, 1, 2].map((p) => split(p, true));
    const lin = (Wp: Float32Array, bp: Float32Array, j: number, t: number) => { let s = bp[j]; for (let i = 0; i < h; i++) s += Wp[j * h + i] * x[i * T + t]; return s; };
    for (let hd = 0; hd < heads; hd++) {
      for (let t = 0; t < T; t++) {
        const w = softmax([...Array(T)].map((_, s) => { let d = 0; for (let c = 0; c < ch; c++) d += lin(Wq, bq, hd * ch + c, t) * lin(Wk, bk, hd * ch + c, s); return d / Math.sqrt(ch); }));
        for (let c = 0; c < ch; c++) {
          const hfOut = w.reduce((a, ws, s) => a + ws * lin(Wv, bv, hd * ch + c, s), 0);
          expect(Math.abs(hfOut - legacy[(hd * ch + c) * T + t])).toBeLessThan(1e-9);
        }
      }
    }
  });

  it('gpt2_qkv: Conv1D c_attn (x @ W + b, columns q|k|v) = three nn.Linear', () => {
    const h = 6;
    const W = f32(randomF32(h * 3 * h, 4)), B = f32(randomF32(3 * h, 5)), x = f32(randomF32(h, 6));
    for (let part = 0; part < 3; part++) {
      const Wp = f32(applyTortoiseOp(planned('gpt2_qkv', part, [h, 3 * h], [h, h]), Buffer.from(W.buffer)));
      const bp = f32(applyTortoiseOp(planned('gpt2_qkv', part, [3 * h], [h]), Buffer.from(B.buffer)));
      for (let j = 0; j < h; j++) {
        let conv = B[part * h + j];
        for (let i = 0; i < h; i++) conv += x[i] * W[i * 3 * h + part * h + j];
        let linear = bp[j];
        for (let i = 0; i < h; i++) linear += Wp[j * h + i] * x[i];
        expect(Math.abs(conv - linear)).toBeLessThan(1e-12);
      }
    }
  });
});
