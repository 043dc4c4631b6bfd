// Checkpoint conversion to the transformers layout, following PreTrainedModel.save_pretrained(safe_serialization=True):
// model.safetensors or model-0000k-of-0000n.safetensors + model.safetensors.index.json (huggingface_hub's
// split_state_dict_into_shards_factory for the shard split), metadata {"format": "pt"}, config.json beside.
import * as fs from 'fs';
import * as path from 'path';
import { DTYPE_BYTES, SafetensorsDtype, isFloatDtype, safetensorsHeader } from './safetensors';
import { writeSafetensorsStreaming } from './safetensors_fs';
import { bf16ToF32, f16ToF32, f32ToBf16, f32ToF16 } from './dtypes';
import { ClvpConfigJson, impliedClvpConfig, impliedGenerationConfig } from './hf_layout';
import { ContainerKind, openCheckpoint } from './open';
import { SourceTensorInfo, nbytesOf } from './sources';
import { TortoiseOptions, TortoiseSource } from './tortoise';

export class ConvertError extends Error {}

export type OutputDtype = 'float32' | 'float16' | 'bfloat16';

export const OUTPUT_DTYPES: Record<OutputDtype, SafetensorsDtype> = { float32: 'F32', float16: 'F16', bfloat16: 'BF16' };

/** save_pretrained's default max_shard_size (transformers >= 4.38; "10GB" before). */
export const DEFAULT_SHARD_SIZE = '5GB';

/** Files copied from beside the input when present: generation, feature-extractor and tokenizer configs. */
export const SIDECAR_FILES = [
  'generation_config.json',
  'preprocessor_config.json',
  'processor_config.json',
  'tokenizer_config.json',
  'special_tokens_map.json',
  'added_tokens.json',
  'tokenizer.json',
  'vocab.json',
  'merges.txt',
];

export interface ConvertProgress {
  /** Tensor just written (or listed, in a dry run). */
  tensor: string;
  index: number;
  count: number;
  bytesDone: number;
  bytesTotal: number;
}

export interface ConvertOptions extends TortoiseOptions {
  /** Cast floating-point tensors to this dtype. Default: keep each tensor's dtype. Integer tensors never change. */
  dtype?: OutputDtype;
  /** Largest shard, in bytes or as '5GB' / '500MB' / '2GiB' (see parseSize). Default DEFAULT_SHARD_SIZE. */
  shardSize?: number | string;
  /** List what would be written; write nothing. Default false. */
  dryRun?: boolean;
  /** Replace model files already in the output folder. Default false. */
  overwrite?: boolean;
  onProgress?: (p: ConvertProgress) => void;
}

export interface ConvertedTensor {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  /** Source dtype before casting. */
  sourceDtype: SafetensorsDtype;
  file: string;
}

export interface ConvertResult {
  input: string[];
  inputKind: ContainerKind;
  outDir: string;
  dryRun: boolean;
  /** Weight files (relative to outDir), in shard order. */
  files: string[];
  tensors: ConvertedTensor[];
  totalSize: number;
  /** 'copied' from the input folder, 'implied' from the shapes (Tortoise), or 'none'. */
  config: 'copied' | 'implied' | 'none';
  /** Other files written beside the weights (relative to outDir). */
  extraFiles: string[];
  warnings: string[];
}

/**
 * Parse a shard size as transformers' convert_file_size_to_int does: 'GiB'/'MiB'/'KiB' are powers of 1024,
 * 'GB'/'MB'/'KB'/'TB' powers of 1000 (so '2GB' = 2,000,000,000 bytes), and a unit ending in a lowercase 'b'
 * ('5Gb', '5gb') means bits (divided by 8), exactly as transformers reads it. A bare number is bytes.
 */
export function parseSize(size: number | string): number {
  if (typeof size === 'number') {
    if (!Number.isFinite(size) || size <= 0) throw new ConvertError(`bad size ${size}: must be a positive number of bytes`);
    return Math.floor(size);
  }
  const m = /^\s*(\d+(?:\.\d+)?)\s*([KMGTP]i?B|B)?\s*$/i.exec(size);
  if (!m) throw new ConvertError(`bad size '${size}': use bytes or a number with a unit, e.g. 500MB, 2GB, 2GiB`);
  const v = Number(m[1]);
  const unit = m[2] ?? '';
  const U = unit.toUpperCase();
  let bytes: number;
  if (U === '' || U === 'B') bytes = v;
  else if (U.endsWith('IB')) bytes = v * 1024 ** ('KMGTP'.indexOf(U[0]) + 1);
  else {
    bytes = v * 1000 ** ('KMGTP'.indexOf(U[0]) + 1);
    if (unit.endsWith('b')) bytes /= 8;
  }
  bytes = Math.floor(bytes);
  if (bytes <= 0) throw new ConvertError(`bad size '${size}': must be at least one byte`);
  return bytes;
}

/** Shard split of huggingface_hub.split_state_dict_into_shards_factory: greedy, oversized tensors alone. */
export function planShards(sizes: Array<[string, number]>, maxShardSize: number): string[][] {
  const shards: string[][] = [];
  let current: string[] = [];
  let currentSize = 0;
  for (const [name, size] of sizes) {
    if (size > maxShardSize) {
      shards.push([name]);
      continue;
    }
    if (currentSize + size > maxShardSize) {
      shards.push(current);
      current = [];
      currentSize = 0;
    }
    current.push(name);
    currentSize += size;
  }
  if (current.length) shards.push(current);
  return shards.filter((s) => s.length > 0);
}

export function shardFileName(k: number, n: number): string {
  return n === 1 ? 'model.safetensors' : `model-${String(k + 1).padStart(5, '0')}-of-${String(n).padStart(5, '0')}.safetensors`;
}

/** Output dtype of one tensor: floats take `dtype`, except the rotary inv_freq buffers, which HF keeps float32. */
export function outputDtype(name: string, src: SafetensorsDtype, dtype?: OutputDtype): SafetensorsDtype {
  if (!dtype || !isFloatDtype(src)) return src;
  if (/(^|\.)inv_freq$/.test(name)) return 'F32';
  return OUTPUT_DTYPES[dtype];
}

/** Re-encode float bytes (via float32, exact for F16/BF16 inputs; F64 rounds to nearest). */
export function castFloatBytes(bytes: Buffer, from: SafetensorsDtype, to: SafetensorsDtype): Buffer {
  if (from === to) return bytes;
  const n = bytes.length / DTYPE_BYTES[from];
  const ab = new ArrayBuffer(bytes.length);
  new Uint8Array(ab).set(bytes);
  let f32: Float32Array;
  switch (from) {
    case 'F32':
      f32 = new Float32Array(ab);
      break;
    case 'F16':
      f32 = f16ToF32(new Uint16Array(ab));
      break;
    case 'BF16':
      f32 = bf16ToF32(new Uint16Array(ab));
      break;
    case 'F64':
      f32 = Float32Array.from(new Float64Array(ab));
      break;
    default:
      throw new ConvertError(`cannot cast ${from} to ${to}: not a float dtype`);
  }
  let out: ArrayBufferView;
  switch (to) {
    case 'F32':
      out = f32;
      break;
    case 'F16':
      out = f32ToF16(f32);
      break;
    case 'BF16':
      out = f32ToBf16(f32);
      break;
    default:
      throw new ConvertError(`cannot cast ${from} to ${to}`);
  }
  if (out.byteLength !== n * DTYPE_BYTES[to]) throw new ConvertError(`internal: cast ${from}->${to} produced ${out.byteLength} bytes`);
  return Buffer.from(out.buffer, out.byteOffset, out.byteLength);
}

const MODEL_FILE = /^(model(-\d{5}-of-\d{5})?\.safetensors|model\.safetensors\.index\.json)$/;

/** config.json style of transformers (to_json_string: indent 2, sorted keys). */
function writeJson(file: string, value: unknown): void {
  fs.writeFileSync(file, JSON.stringify(sortKeys(value), null, 2) + '\n');
}

/** Sorted-key JSON, as transformers writes the shard index (json.dumps(..., indent=2, sort_keys=True)). */
function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === 'object') return Object.fromEntries(Object.keys(v).sort().map((k) => [k, sortKeys((v as Record<string, unknown>)[k])]));
  return v;
}

/**
 * Convert `input` (a torch zip, a safetensors file/folder/index, or a Tortoise autoregressive.pth + clvp2.pth
 * pair as two paths or their folder) into an HF-layout folder `outDir`.
 */
export async function convertCheckpoint(input: string | string[], outDir: string, opts: ConvertOptions = {}): Promise<ConvertResult> {
  if (opts.dtype && !(opts.dtype in OUTPUT_DTYPES)) throw new ConvertError(`bad dtype '${opts.dtype}': use float32, float16 or bfloat16`);
  const maxShard = parseSize(opts.shardSize ?? DEFAULT_SHARD_SIZE);
  const inputs = Array.isArray(input) ? input : [input];
  const opened = openCheckpoint(inputs, opts);
  const src = opened.source;
  try {
    const warnings: string[] = src instanceof TortoiseSource ? [...src.warnings] : [];
    const listed: Array<[string, SourceTensorInfo]> = src.list();
    const out = listed.map(([name, info]) => ({ name, info, dtype: outputDtype(name, info.dtype, opts.dtype) }));
    const sizes: Array<[string, number]> = out.map((t) => [t.name, nbytesOf({ dtype: t.dtype, shape: t.info.shape })]);
    const sizeOf = new Map(sizes);
    const shards = planShards(sizes, maxShard);
    const fileOf = new Map<string, string>();
    shards.forEach((names, k) => names.forEach((n) => fileOf.set(n, shardFileName(k, shards.length))));
    const tensors: ConvertedTensor[] = out.map((t) => ({ name: t.name, dtype: t.dtype, shape: t.info.shape.slice(), sourceDtype: t.info.dtype, file: fileOf.get(t.name)! }));
    const totalSize = sizes.reduce((a, [, s]) => a + s, 0);

    // config.json: the input folder's, else the one the Tortoise shapes imply.
    let config: ConvertResult['config'] = 'none';
    let configJson: Record<string, unknown> | undefined;
    const srcConfig = path.join(opened.dir, 'config.json');
    if (opened.kind !== 'tortoise-pair' && fs.existsSync(srcConfig)) {
      try {
        configJson = JSON.parse(fs.readFileSync(srcConfig, 'utf8'));
      } catch (e) {
        throw new ConvertError(`${srcConfig}: not valid JSON: ${(e as Error).message}`);
      }
      config = 'copied';
    } else if (src instanceof TortoiseSource) {
      configJson = { ...src.config, torch_dtype: opts.dtype ?? dominantFloat(tensors) };
      config = 'implied';
    } else {
      try {
        const implied = impliedClvpConfig(new Map(listed.map(([n, i]) => [n, i.shape])), opts);
        configJson = { ...implied.config, torch_dtype: opts.dtype ?? dominantFloat(tensors) };
        config = 'implied';
        warnings.push(`no config.json beside ${inputs.join(', ')}: wrote one implied by the tensor shapes (head counts are defaults unless given)`, ...implied.warnings);
      } catch (e) {
        warnings.push(`no config.json beside ${inputs.join(', ')} and none could be implied (${(e as Error).message}); none written`);
      }
    }
    if (config === 'copied' && opts.dtype && configJson) configJson = { ...configJson, torch_dtype: opts.dtype };

    const extraFiles: string[] = [];
    if (config !== 'none') extraFiles.push('config.json');
    const sidecars = SIDECAR_FILES.filter((f) => opened.kind !== 'tortoise-pair' && fs.existsSync(path.join(opened.dir, f)));
    extraFiles.push(...sidecars);
    const writeGeneration = !sidecars.includes('generation_config.json') && opened.kind === 'tortoise-pair';
    if (writeGeneration) extraFiles.push('generation_config.json');
    if (shards.length > 1) extraFiles.push('model.safetensors.index.json');

    const result: ConvertResult = {
      input: opened.files,
      inputKind: opened.kind,
      outDir,
      dryRun: !!opts.dryRun,
      files: shards.map((_, k) => shardFileName(k, shards.length)),
      tensors,
      totalSize,
      config,
      extraFiles,
      warnings,
    };
    if (opts.dryRun) return result;

    prepareOutDir(outDir, opened.files, opened.dir, !!opts.overwrite);
    let done = 0;
    let index = 0;
    const byName = new Map(out.map((t) => [t.name, t]));
    for (let k = 0; k < shards.length; k++) {
      const entries = shards[k].map((name) => ({ name, dtype: byName.get(name)!.dtype, shape: byName.get(name)!.info.shape }));
      await writeSafetensorsStreaming(path.join(outDir, shardFileName(k, shards.length)), entries, { format: 'pt' }, (name) => {
        const t = byName.get(name)!;
        const bytes = src.readBytes(name);
        const want = nbytesOf(t.info);
        if (bytes.length !== want) throw new ConvertError(`${src.description}: tensor '${name}' gave ${bytes.length} bytes, ${t.info.dtype}${JSON.stringify(t.info.shape)} needs ${want}`);
        return t.dtype !== t.info.dtype ? castFloatBytes(bytes, t.info.dtype, t.dtype) : bytes;
      }, (name) => {
        done += sizeOf.get(name)!;
        opts.onProgress?.({ tensor: name, index: index++, count: out.length, bytesDone: done, bytesTotal: totalSize });
      });
    }
    if (shards.length > 1) {
      const weightMap = Object.fromEntries(tensors.map((t) => [t.name, t.file]));
      fs.writeFileSync(path.join(outDir, 'model.safetensors.index.json'), JSON.stringify(sortKeys({ metadata: { total_size: totalSize }, weight_map: weightMap }), null, 2) + '\n');
    }
    if (config === 'copied' && !opts.dtype) copyFile(srcConfig, path.join(outDir, 'config.json'));
    else if (configJson) writeJson(path.join(outDir, 'config.json'), configJson);
    for (const f of sidecars) copyFile(path.join(opened.dir, f), path.join(outDir, f));
    if (writeGeneration && configJson) writeJson(path.join(outDir, 'generation_config.json'), impliedGenerationConfig(configJson as ClvpConfigJson));
    return result;
  } finally {
    src.close();
  }
}

/** Copy content only: the source's permissions (often read-only in caches) must not stop a later overwrite. */
function copyFile(from: string, to: string): void {
  fs.writeFileSync(to, fs.readFileSync(from));
}

function dominantFloat(tensors: ConvertedTensor[]): string {
  const names: Partial<Record<SafetensorsDtype, string>> = { F32: 'float32', F16: 'float16', BF16: 'bfloat16', F64: 'float64' };
  const count = new Map<string, number>();
  for (const t of tensors) if (names[t.dtype]) count.set(names[t.dtype]!, (count.get(names[t.dtype]!) ?? 0) + 1);
  return [...count].sort((a, b) => b[1] - a[1])[0]?.[0] ?? 'float32';
}

function prepareOutDir(outDir: string, inputFiles: string[], inputDir: string, overwrite: boolean): void {
  if (fs.existsSync(outDir) && !fs.statSync(outDir).isDirectory()) throw new ConvertError(`${outDir}: exists and is not a folder`);
  const real = (p: string) => {
    try {
      return fs.realpathSync(p);
    } catch {
      return path.resolve(p);
    }
  };
  if (fs.existsSync(outDir) && (real(outDir) === real(inputDir) || inputFiles.some((f) => real(path.dirname(f)) === real(outDir)))) {
    throw new ConvertError(`${outDir}: is the input folder; write the converted model to another folder`);
  }
  fs.mkdirSync(outDir, { recursive: true });
  const existing = fs.readdirSync(outDir).filter((f) => MODEL_FILE.test(f));
  if (existing.length && !overwrite) {
    throw new ConvertError(`${outDir}: already holds ${existing.join(', ')}; choose an empty folder or allow overwriting (--force)`);
  }
  // Stale shards from an earlier conversion would be picked up by a loader; remove them before writing.
  for (const f of existing) fs.rmSync(path.join(outDir, f));
}
