// Checkpoint inspection: what a file or folder holds (names, dtypes, shapes, parameter counts), which family it is,
// and the CLVP config it carries or implies. Reads headers and pickles only, never tensor data.
import * as fs from 'fs';
import * as path from 'path';
import { DTYPE_BYTES, SafetensorsDtype } from './safetensors';
import { ClvpConfigJson, hfClvpShapes, resolveClvpConfig } from './hf_layout';
import { ContainerKind, OpenedCheckpoint, openCheckpoint, openSingle } from './open';
import { numelOf } from './sources';
import { TorchCheckpoint } from './torch_pickle';
import { TortoiseOptions, TortoiseSource, detectTortoiseFile } from './tortoise';

export type CheckpointFamily =
  | 'hf-safetensors'
  | 'hf-sharded'
  | 'hf-pytorch-bin'
  | 'tortoise-autoregressive'
  | 'tortoise-clvp'
  /** Both Tortoise files, given as two paths or their folder. */
  | 'tortoise-pair'
  | 'unknown';

export interface InspectTensor {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  numel: number;
}

export interface ModuleSummary {
  /** First component of the tensor names (text_encoder_model, speech_decoder_model, ...). */
  name: string;
  tensors: number;
  /** Elements, buffers excluded. */
  parameters: number;
}

export interface EncoderSummary {
  hidden_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  intermediate_size: number;
  projection_dim: number;
  vocab_size: number;
}

export interface ConfigSummary {
  source: 'config.json' | 'implied';
  text: EncoderSummary;
  speech: EncoderSummary;
  decoder: {
    hidden_size: number;
    num_hidden_layers: number;
    num_attention_heads: number;
    n_inner: number;
    vocab_size: number;
    max_position_embeddings: number;
    max_text_tokens: number;
    num_mel_attn_blocks: number;
  };
  projection_dim: number;
  torch_dtype?: unknown;
}

export interface InspectReport {
  path: string[];
  family: CheckpointFamily;
  container: ContainerKind;
  files: string[];
  tensors: InspectTensor[];
  /** Element count per dtype (parameters and buffers). */
  dtypes: Partial<Record<SafetensorsDtype, number>>;
  /** Elements of all tensors except the rotary inv_freq buffers: what model.num_parameters() counts. */
  totalParameters: number;
  /** Elements of persistent buffers (the rotary inv_freq tables). */
  totalBuffers: number;
  totalBytes: number;
  modules: ModuleSummary[];
  config?: ConfigSummary;
  /** Non-tensor entries of a torch pickle that were skipped (training counters and such). */
  skipped: string[];
  warnings: string[];
}

/** Persistent buffers, not parameters: the rotary tables (HF and x-transformers name them inv_freq). */
function isBuffer(name: string): boolean {
  return /(^|\.)inv_freq$/.test(name);
}

function isHfClvp(names: string[]): boolean {
  return names.some((n) => /^(text_encoder_model|speech_encoder_model|speech_decoder_model|conditioning_encoder\.mel_conv)\./.test(n));
}

function summarize(c: ClvpConfigJson, source: ConfigSummary['source']): ConfigSummary {
  const enc = (e: ClvpConfigJson['text_config']): EncoderSummary => ({
    hidden_size: e.hidden_size,
    num_hidden_layers: e.num_hidden_layers,
    num_attention_heads: e.num_attention_heads,
    intermediate_size: e.intermediate_size,
    projection_dim: e.projection_dim,
    vocab_size: e.vocab_size,
  });
  const d = c.decoder_config;
  return {
    source,
    text: enc(c.text_config),
    speech: enc(c.speech_config),
    decoder: {
      hidden_size: d.hidden_size,
      num_hidden_layers: d.num_hidden_layers,
      num_attention_heads: d.num_attention_heads,
      n_inner: d.n_inner ?? 4 * d.hidden_size,
      vocab_size: d.vocab_size,
      max_position_embeddings: d.max_position_embeddings,
      max_text_tokens: d.max_text_tokens,
      num_mel_attn_blocks: d.num_mel_attn_blocks,
    },
    projection_dim: c.projection_dim,
    torch_dtype: c.torch_dtype,
  };
}

/**
 * Inspect one checkpoint path (file or folder) or a Tortoise pair (two paths). A single Tortoise file is reported
 * under its original names (its family says which file it is) since the HF model needs both.
 */
export function inspectCheckpoint(input: string | string[], opts: TortoiseOptions = {}): InspectReport {
  const inputs = Array.isArray(input) ? input : [input];
  let opened: OpenedCheckpoint;
  try {
    opened = openCheckpoint(inputs, opts);
  } catch (e) {
    // A lone Tortoise file cannot be mapped, but it can be listed.
    if (inputs.length === 1 && /this is Tortoise's/.test((e as Error).message)) opened = openSingle(inputs[0]);
    else throw e;
  }
  const src = opened.source;
  try {
    const listed = src.list();
    const names = listed.map(([n]) => n);
    const warnings: string[] = src instanceof TortoiseSource ? [...src.warnings] : [];
    const tortoise = detectTortoiseFile(names);
    let family: CheckpointFamily;
    if (src instanceof TortoiseSource) family = 'tortoise-pair';
    else if (tortoise) family = tortoise === 'autoregressive' ? 'tortoise-autoregressive' : 'tortoise-clvp';
    else if (!isHfClvp(names)) family = 'unknown';
    else family = opened.kind === 'safetensors' ? 'hf-safetensors' : opened.kind === 'safetensors-sharded' ? 'hf-sharded' : 'hf-pytorch-bin';

    const tensors: InspectTensor[] = listed.map(([name, i]) => ({ name, dtype: i.dtype, shape: i.shape, numel: numelOf(i.shape) }));
    const dtypes: InspectReport['dtypes'] = {};
    const modules = new Map<string, ModuleSummary>();
    let totalBytes = 0;
    for (const t of tensors) {
      dtypes[t.dtype] = (dtypes[t.dtype] ?? 0) + t.numel;
      const top = t.name.split('.')[0];
      const m = modules.get(top) ?? { name: top, tensors: 0, parameters: 0 };
      m.tensors++;
      if (!isBuffer(t.name)) m.parameters += t.numel;
      modules.set(top, m);
      totalBytes += t.numel * DTYPE_BYTES[t.dtype];
    }

    let config: ConfigSummary | undefined;
    const cfgPath = path.join(opened.dir, 'config.json');
    if (src instanceof TortoiseSource) config = summarize(src.config, 'implied');
    else if (family.startsWith('hf-') && fs.existsSync(cfgPath)) {
      try {
        const c = resolveClvpConfig(JSON.parse(fs.readFileSync(cfgPath, 'utf8')));
        config = summarize(c, 'config.json');
        // Strict layout check: the names and shapes the config implies against what the file holds.
        const want = hfClvpShapes(c);
        const got = new Map(listed.map(([n, i]) => [n, i.shape]));
        const missing = [...want.keys()].filter((k) => !got.has(k));
        const unexpected = [...got.keys()].filter((k) => !want.has(k));
        const wrong = [...want].filter(([k, s]) => got.has(k) && JSON.stringify(got.get(k)) !== JSON.stringify(s));
        if (missing.length) warnings.push(`${missing.length} tensor(s) the config implies are missing, e.g. ${missing.slice(0, 3).join(', ')}`);
        if (unexpected.length) warnings.push(`${unexpected.length} tensor(s) the config does not account for, e.g. ${unexpected.slice(0, 3).join(', ')}`);
        if (wrong.length) warnings.push(`${wrong.length} tensor(s) differ in shape from the config, e.g. ${wrong[0][0]} ${JSON.stringify(got.get(wrong[0][0]))} vs ${JSON.stringify(wrong[0][1])}`);
      } catch (e) {
        warnings.push(`${cfgPath}: unreadable: ${(e as Error).message}`);
      }
    } else if (family.startsWith('hf-')) warnings.push(`no config.json beside ${opened.files[0]}`);

    return {
      path: inputs,
      family,
      container: opened.kind,
      files: opened.files,
      tensors,
      dtypes,
      totalParameters: tensors.reduce((a, t) => a + (isBuffer(t.name) ? 0 : t.numel), 0),
      totalBuffers: tensors.reduce((a, t) => a + (isBuffer(t.name) ? t.numel : 0), 0),
      totalBytes,
      modules: [...modules.values()],
      config,
      skipped: src instanceof TorchCheckpoint ? src.skipped : [],
      warnings,
    };
  } finally {
    src.close();
  }
}
