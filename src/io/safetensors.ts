// Safetensors reader and header writer (format: https://github.com/huggingface/safetensors).
// Written here because no npm package both reads files over 2 GiB with positional reads and
// validates the header strictly; the format is small enough to own. The reader works over any
// ByteSource (a local file, HTTP Range requests, a browser File), so Node and the browser share
// this one parser; safetensors_fs.ts adds the Node file-path conveniences and the file writer.
import { ByteSource } from './bytes';
import { f16ToF32, bf16ToF32, f32ToF16, f32ToBf16 } from './dtypes';
import { ModelFolder, checkRelativeName, readJson } from './folder';

export type SafetensorsDtype = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';

export const DTYPE_BYTES: Record<SafetensorsDtype, number> = {
  F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1,
};

export function isFloatDtype(d: SafetensorsDtype): boolean {
  return d === 'F64' || d === 'F32' || d === 'F16' || d === 'BF16';
}

export interface TensorInfo {
  dtype: SafetensorsDtype;
  shape: number[];
  /** Byte offsets relative to the start of the data section, [begin, end). */
  dataOffsets: [number, number];
}

/** A decoded tensor: floats become float32, integers and bools int32. */
export interface HostTensor {
  dtype: 'float32' | 'int32';
  shape: number[];
  data: Float32Array | Int32Array;
}

/** A header bigger than this is certainly corrupt (real checkpoints have < 1 MB of header). */
export const MAX_HEADER_BYTES = 100 * 1024 * 1024;

export class SafetensorsError extends Error {}

function fail(file: string, msg: string): never {
  throw new SafetensorsError(`${file}: ${msg}`);
}

interface ParsedHeader {
  tensors: Map<string, TensorInfo>;
  metadata: Record<string, string>;
  dataStart: number;
}

/** The header length from the first 8 bytes, checked against the file size. */
function headerLength(file: string, first8: Uint8Array, size: number): number {
  if (size < 8) fail(file, `truncated: ${size} bytes, a safetensors file has at least an 8-byte header length`);
  const len = new DataView(first8.buffer, first8.byteOffset, 8).getBigUint64(0, true);
  if (len > BigInt(MAX_HEADER_BYTES)) fail(file, `header length ${len} exceeds the ${MAX_HEADER_BYTES}-byte limit (not a safetensors file, or corrupt)`);
  const hl = Number(len);
  if (8 + hl > size) fail(file, `truncated: header length ${hl} but the file has only ${size} bytes`);
  return hl;
}

/** Validate the JSON header: entries, metadata and that the offsets tile the data section. */
function parseHeader(file: string, json: Uint8Array, size: number): ParsedHeader {
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder().decode(json));
  } catch (e) {
    fail(file, `header is not valid JSON: ${(e as Error).message}`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) fail(file, 'header is not a JSON object');
  const dataStart = 8 + json.length;
  const dataLen = size - dataStart;
  const tensors = new Map<string, TensorInfo>();
  let metadata: Record<string, string> = {};
  for (const [name, raw] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      metadata = validateMetadata(file, raw);
      continue;
    }
    tensors.set(name, validateEntry(file, name, raw));
  }
  // Offsets must tile the data section exactly: no gaps, no overlaps, nothing past the end.
  const sorted = [...tensors.entries()].sort((a, b) => a[1].dataOffsets[0] - b[1].dataOffsets[0]);
  let cursor = 0;
  for (const [name, info] of sorted) {
    const [b, e] = info.dataOffsets;
    if (b < cursor) fail(file, `tensor '${name}' overlaps the previous tensor (offset ${b} < ${cursor})`);
    if (b > cursor) fail(file, `gap before tensor '${name}' (offset ${b}, expected ${cursor}): data is not contiguous`);
    if (e > dataLen) fail(file, `truncated: tensor '${name}' ends at byte ${e} of the data section, which has ${dataLen} bytes`);
    cursor = e;
  }
  if (cursor !== dataLen) fail(file, `${dataLen - cursor} trailing bytes after the last tensor`);
  return { tensors, metadata, dataStart };
}

/** The spec's `__metadata__`: a flat map of strings to strings. */
function validateMetadata(file: string, raw: unknown): Record<string, string> {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) fail(file, `__metadata__ must be an object of strings, got ${JSON.stringify(raw)}`);
  for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
    if (typeof v !== 'string') fail(file, `__metadata__ value of '${k}' must be a string (the format allows only strings), got ${JSON.stringify(v)}`);
  }
  return raw as Record<string, string>;
}

function validateEntry(file: string, name: string, raw: unknown): TensorInfo {
  const r = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
  if (typeof r !== 'object' || r === null) fail(file, `tensor '${name}': header entry is not an object`);
  if (typeof r.dtype !== 'string' || !(r.dtype in DTYPE_BYTES)) {
    fail(file, `tensor '${name}': unknown dtype ${JSON.stringify(r.dtype)} (supported: ${Object.keys(DTYPE_BYTES).join(', ')})`);
  }
  const dtype = r.dtype as SafetensorsDtype;
  if (!Array.isArray(r.shape) || !r.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    fail(file, `tensor '${name}': bad shape ${JSON.stringify(r.shape)}`);
  }
  const shape = r.shape as number[];
  const off = r.data_offsets;
  if (!Array.isArray(off) || off.length !== 2 || !off.every((d) => Number.isSafeInteger(d) && d >= 0) || off[1] < off[0]) {
    fail(file, `tensor '${name}': bad data_offsets ${JSON.stringify(off)}`);
  }
  const n = shape.reduce((a, b) => a * b, 1);
  const want = n * DTYPE_BYTES[dtype];
  if (off[1] - off[0] !== want) {
    fail(file, `tensor '${name}': data_offsets span ${off[1] - off[0]} bytes but ${dtype}${JSON.stringify(shape)} needs ${want}`);
  }
  return { dtype, shape, dataOffsets: [off[0], off[1]] };
}

/**
 * Little-endian bytes of `dtype` decoded to float32 (float dtypes) or int32 (integer dtypes).
 * The bytes may start at any offset: they are copied to an aligned buffer first.
 */
export function decodeTensorBytes(label: string, dtype: SafetensorsDtype, shape: number[], bytes: Uint8Array): HostTensor {
  const n = bytes.length / DTYPE_BYTES[dtype];
  const ab = new ArrayBuffer(bytes.length);
  new Uint8Array(ab).set(bytes);
  const f = (data: Float32Array): HostTensor => ({ dtype: 'float32', shape, data });
  const i = (data: Int32Array): HostTensor => ({ dtype: 'int32', shape, data });
  switch (dtype) {
    case 'F32':
      return f(new Float32Array(ab));
    case 'F16':
      return f(f16ToF32(new Uint16Array(ab)));
    case 'BF16':
      return f(bf16ToF32(new Uint16Array(ab)));
    case 'F64':
      return f(Float32Array.from(new Float64Array(ab)));
    case 'I32':
      return i(new Int32Array(ab));
    case 'I64': {
      const src = new BigInt64Array(ab);
      const out = new Int32Array(n);
      for (let k = 0; k < n; k++) {
        const v = src[k];
        if (v > 2147483647n || v < -2147483648n) throw new SafetensorsError(`${label}: I64 value ${v} at index ${k} does not fit int32`);
        out[k] = Number(v);
      }
      return i(out);
    }
    case 'I16':
      return i(Int32Array.from(new Int16Array(ab)));
    case 'I8':
      return i(Int32Array.from(new Int8Array(ab)));
    case 'U8':
    case 'BOOL':
      return i(Int32Array.from(new Uint8Array(ab)));
  }
}

/** One safetensors file over a ByteSource. Tensor bytes are read on demand, whole or in part. */
export class SafetensorsFile {
  private constructor(readonly src: ByteSource, private readonly h: ParsedHeader) {}

  get file(): string {
    return this.src.label;
  }

  get tensors(): Map<string, TensorInfo> {
    return this.h.tensors;
  }

  get metadata(): Record<string, string> {
    return this.h.metadata;
  }

  /** Read and validate the header (two reads: its length, then the JSON). */
  static async open(src: ByteSource): Promise<SafetensorsFile> {
    try {
      const hl = headerLength(src.label, src.size >= 8 ? await src.read(0, 8) : new Uint8Array(0), src.size);
      return new SafetensorsFile(src, parseHeader(src.label, await src.read(8, hl), src.size));
    } catch (e) {
      src.close();
      throw e;
    }
  }

  /** The same for sources with synchronous reads (local files). */
  static openSync(src: ByteSource): SafetensorsFile {
    const read = src.readSync?.bind(src);
    if (!read) throw new SafetensorsError(`${src.label}: this source has no synchronous reads`);
    try {
      const hl = headerLength(src.label, src.size >= 8 ? read(0, 8) : new Uint8Array(0), src.size);
      return new SafetensorsFile(src, parseHeader(src.label, read(8, hl), src.size));
    } catch (e) {
      src.close();
      throw e;
    }
  }

  info(name: string): TensorInfo {
    const info = this.h.tensors.get(name);
    if (!info) throw new SafetensorsError(`${this.file}: no tensor named '${name}'`);
    return info;
  }

  /** Absolute file offset and length of bytes [begin, end) of a tensor (the whole tensor by default). */
  private span(name: string, begin?: number, end?: number): [number, number] {
    const [b, e] = this.info(name).dataOffsets;
    const from = begin ?? 0;
    const to = end ?? e - b;
    if (!(from >= 0 && to >= from && to <= e - b)) throw new SafetensorsError(`${this.file}: bad byte range [${from}, ${to}) of tensor '${name}' (${e - b} bytes)`);
    return [this.h.dataStart + b + from, to - from];
  }

  /** Raw little-endian bytes of a tensor, or of its bytes [begin, end). */
  readBytes(name: string, begin?: number, end?: number): Promise<Uint8Array> {
    const [off, len] = this.span(name, begin, end);
    return this.src.read(off, len);
  }

  readBytesSync(name: string, begin?: number, end?: number): Uint8Array {
    if (!this.src.readSync) throw new SafetensorsError(`${this.file}: this source has no synchronous reads`);
    const [off, len] = this.span(name, begin, end);
    return this.src.readSync(off, len);
  }

  async read(name: string): Promise<HostTensor> {
    const info = this.info(name);
    return decodeTensorBytes(`${this.file}: tensor '${name}'`, info.dtype, info.shape.slice(), await this.readBytes(name));
  }

  readSync(name: string): HostTensor {
    const info = this.info(name);
    return decodeTensorBytes(`${this.file}: tensor '${name}'`, info.dtype, info.shape.slice(), this.readBytesSync(name));
  }

  close(): void {
    this.src.close();
  }
}

/** A shard index's weight_map (tensor -> shard file), validated. */
export function parseShardIndex(label: string, json: unknown): Map<string, string> {
  const map = (json as { weight_map?: unknown } | null)?.weight_map;
  if (!map || typeof map !== 'object' || Array.isArray(map)) throw new SafetensorsError(`${label}: no 'weight_map' object`);
  const out = new Map<string, string>();
  for (const [name, shard] of Object.entries(map as Record<string, unknown>)) {
    if (typeof shard !== 'string') throw new SafetensorsError(`${label}: bad shard name for '${name}': ${JSON.stringify(shard)}`);
    try {
      checkRelativeName(shard, label);
    } catch (e) {
      throw new SafetensorsError(`${label}: bad shard name for '${name}': ${JSON.stringify(shard)}`);
    }
    out.set(name, shard);
  }
  return out;
}

/** Tensors spread over one or more safetensors files (a single file, or shards with an index). */
export class SafetensorsCheckpoint {
  readonly where: Map<string, SafetensorsFile>;

  /** `weightMap` (from an index) must agree with what the shards hold. */
  constructor(readonly files: SafetensorsFile[], weightMap?: Map<string, string>, shardOf?: (shard: string) => SafetensorsFile) {
    this.where = new Map();
    if (!weightMap) {
      for (const f of files) for (const k of f.tensors.keys()) this.where.set(k, f);
      return;
    }
    for (const [name, shard] of weightMap) {
      const f = shardOf!(shard);
      if (!f.tensors.has(name)) throw new SafetensorsError(`${f.file}: tensor '${name}' is mapped to ${shard} by the index, but that shard does not contain it`);
      this.where.set(name, f);
    }
  }

  /** Open `name` (a .safetensors file or a .index.json) inside a model folder. */
  static async openInFolder(folder: ModelFolder, name: string): Promise<SafetensorsCheckpoint> {
    if (!name.endsWith('.index.json')) return new SafetensorsCheckpoint([await SafetensorsFile.open(await folder.open(name))]);
    const label = `${folder.label}/${name}`;
    const map = parseShardIndex(label, await readJson(folder, name));
    const dir = name.includes('/') ? name.slice(0, name.lastIndexOf('/') + 1) : '';
    const shards = new Map<string, SafetensorsFile>();
    try {
      for (const shard of new Set(map.values())) shards.set(shard, await SafetensorsFile.open(await folder.open(dir + shard)));
      return new SafetensorsCheckpoint([...shards.values()], map, (s) => shards.get(s)!);
    } catch (e) {
      for (const f of shards.values()) f.close();
      throw e;
    }
  }

  keys(): string[] {
    return [...this.where.keys()];
  }

  has(name: string): boolean {
    return this.where.has(name);
  }

  private fileOf(name: string): SafetensorsFile {
    const f = this.where.get(name);
    if (!f) throw new SafetensorsError(`checkpoint has no tensor '${name}'`);
    return f;
  }

  info(name: string): TensorInfo & { file: string } {
    const f = this.fileOf(name);
    return { ...f.info(name), file: f.file };
  }

  read(name: string): Promise<HostTensor> {
    return this.fileOf(name).read(name);
  }

  readSync(name: string): HostTensor {
    return this.fileOf(name).readSync(name);
  }

  readBytes(name: string, begin?: number, end?: number): Promise<Uint8Array> {
    return this.fileOf(name).readBytes(name, begin, end);
  }

  readBytesSync(name: string, begin?: number, end?: number): Uint8Array {
    return this.fileOf(name).readBytesSync(name, begin, end);
  }

  /** Whether every file reads synchronously (local files). */
  get synchronous(): boolean {
    return this.files.every((f) => f.src.readSync !== undefined);
  }

  close(): void {
    for (const f of this.files) f.close();
  }
}

// ---------------------------------------------------------------- writing

export interface TensorToWrite {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  /** Raw little-endian bytes in `dtype`, or values to encode into `dtype`. */
  data: Uint8Array | Float32Array | Int32Array | Float64Array;
}

/** Encode host values into the bytes of `dtype`. */
export function encodeTensorBytes(dtype: SafetensorsDtype, data: TensorToWrite['data']): Uint8Array {
  if (data instanceof Uint8Array && dtype !== 'U8' && dtype !== 'BOOL') return data;
  const asBytes = (a: ArrayBufferView) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  switch (dtype) {
    case 'F32':
      return asBytes(data instanceof Float32Array ? data : Float32Array.from(data));
    case 'F64':
      return asBytes(data instanceof Float64Array ? data : Float64Array.from(data));
    case 'F16':
      return asBytes(f32ToF16(data instanceof Float32Array ? data : Float32Array.from(data)));
    case 'BF16':
      return asBytes(f32ToBf16(data instanceof Float32Array ? data : Float32Array.from(data)));
    case 'I32':
      return asBytes(data instanceof Int32Array ? data : Int32Array.from(data));
    case 'I64':
      return asBytes(BigInt64Array.from(Array.from(data, (v) => BigInt(Math.trunc(v)))));
    case 'I16':
      return asBytes(Int16Array.from(data));
    case 'I8':
      return asBytes(Int8Array.from(data));
    case 'U8':
    case 'BOOL':
      return data instanceof Uint8Array ? data : Uint8Array.from(data);
  }
}

/**
 * The 8-byte length and JSON header of a safetensors file holding `entries` in order: __metadata__
 * first, offsets contiguous, the header padded with spaces so the data starts 8-byte aligned (as
 * the reference writer does). Also returns each tensor's byte size.
 */
export function safetensorsHeader(file: string, entries: { name: string; dtype: SafetensorsDtype; shape: number[] }[], metadata?: Record<string, string>): { bytes: Uint8Array; sizes: number[] } {
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length) header.__metadata__ = validateMetadata(file, metadata);
  let offset = 0;
  const sizes = entries.map((e) => {
    if (header[e.name] !== undefined) throw new SafetensorsError(`${file}: duplicate tensor name '${e.name}'`);
    const n = e.shape.reduce((a, b) => a * b, 1) * DTYPE_BYTES[e.dtype];
    header[e.name] = { dtype: e.dtype, shape: e.shape, data_offsets: [offset, offset + n] };
    offset += n;
    return n;
  });
  const enc = new TextEncoder();
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - ((8 + enc.encode(json).length) % 8)) % 8);
  const h = enc.encode(json);
  const out = new Uint8Array(8 + h.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(h.length), true);
  out.set(h, 8);
  return { bytes: out, sizes };
}
