// Safetensors reader and writer (format: https://github.com/huggingface/safetensors).
// Written here because no npm package both reads files over 2 GiB with positional reads
// and validates the header strictly; the format is small enough to own.
import * as fs from 'fs';
import * as path from 'path';
import { f16ToF32, bf16ToF32, f32ToF16, f32ToBf16 } from './dtypes';

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

/** One open safetensors file. Tensor bytes are read on demand with positional reads. */
export class SafetensorsFile {
  readonly tensors: Map<string, TensorInfo>;
  readonly metadata: Record<string, string>;
  private readonly dataStart: number;
  private fd: number | undefined;

  private constructor(readonly file: string, fd: number, tensors: Map<string, TensorInfo>, metadata: Record<string, string>, dataStart: number) {
    this.fd = fd;
    this.tensors = tensors;
    this.metadata = metadata;
    this.dataStart = dataStart;
  }

  static open(file: string): SafetensorsFile {
    let fd: number;
    try {
      fd = fs.openSync(file, 'r');
    } catch (e) {
      fail(file, `cannot open: ${(e as Error).message}`);
    }
    try {
      const size = fs.fstatSync(fd).size;
      if (size < 8) fail(file, `truncated: ${size} bytes, a safetensors file has at least an 8-byte header length`);
      const lenBuf = Buffer.alloc(8);
      fs.readSync(fd, lenBuf, 0, 8, 0);
      const headerLen = lenBuf.readBigUInt64LE(0);
      if (headerLen > BigInt(MAX_HEADER_BYTES)) {
        fail(file, `header length ${headerLen} exceeds the ${MAX_HEADER_BYTES}-byte limit (not a safetensors file, or corrupt)`);
      }
      const hl = Number(headerLen);
      if (8 + hl > size) fail(file, `truncated: header length ${hl} but the file has only ${size} bytes`);
      const hbuf = Buffer.alloc(hl);
      fs.readSync(fd, hbuf, 0, hl, 8);
      let header: unknown;
      try {
        header = JSON.parse(hbuf.toString('utf8'));
      } catch (e) {
        fail(file, `header is not valid JSON: ${(e as Error).message}`);
      }
      if (typeof header !== 'object' || header === null || Array.isArray(header)) fail(file, 'header is not a JSON object');
      const dataStart = 8 + hl;
      const dataLen = size - dataStart;
      const tensors = new Map<string, TensorInfo>();
      let metadata: Record<string, string> = {};
      for (const [name, raw] of Object.entries(header as Record<string, unknown>)) {
        if (name === '__metadata__') {
          metadata = raw as Record<string, string>;
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
      return new SafetensorsFile(file, fd, tensors, metadata, dataStart);
    } catch (e) {
      fs.closeSync(fd);
      throw e;
    }
  }

  private handle(): number {
    if (this.fd === undefined) throw new SafetensorsError(`${this.file}: file already closed`);
    return this.fd;
  }

  info(name: string): TensorInfo {
    const info = this.tensors.get(name);
    if (!info) throw new SafetensorsError(`${this.file}: no tensor named '${name}'`);
    return info;
  }

  /** The raw little-endian bytes of one tensor. */
  readBytes(name: string): Buffer {
    const info = this.info(name);
    const [b, e] = info.dataOffsets;
    const buf = Buffer.allocUnsafe(e - b);
    let done = 0;
    while (done < buf.length) {
      const n = fs.readSync(this.handle(), buf, done, buf.length - done, this.dataStart + b + done);
      if (n === 0) throw new SafetensorsError(`${this.file}: unexpected end of file reading '${name}'`);
      done += n;
    }
    return buf;
  }

  /** One tensor decoded to float32 (float dtypes) or int32 (integer dtypes). */
  read(name: string): HostTensor {
    const info = this.info(name);
    return { ...decode(this.file, name, info.dtype, this.readBytes(name)), shape: info.shape.slice() };
  }

  close(): void {
    if (this.fd !== undefined) fs.closeSync(this.fd);
    this.fd = undefined;
  }
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

function decode(file: string, name: string, dtype: SafetensorsDtype, buf: Buffer): Omit<HostTensor, 'shape'> {
  const n = buf.length / DTYPE_BYTES[dtype];
  // Copy into an aligned buffer: the slice may start at any byte offset.
  const ab = new ArrayBuffer(buf.length);
  new Uint8Array(ab).set(buf);
  switch (dtype) {
    case 'F32':
      return { dtype: 'float32', data: new Float32Array(ab) };
    case 'F16':
      return { dtype: 'float32', data: f16ToF32(new Uint16Array(ab)) };
    case 'BF16':
      return { dtype: 'float32', data: bf16ToF32(new Uint16Array(ab)) };
    case 'F64':
      return { dtype: 'float32', data: Float32Array.from(new Float64Array(ab)) };
    case 'I32':
      return { dtype: 'int32', data: new Int32Array(ab) };
    case 'I64': {
      const src = new BigInt64Array(ab);
      const out = new Int32Array(n);
      for (let i = 0; i < n; i++) {
        const v = src[i];
        if (v > 2147483647n || v < -2147483648n) fail(file, `tensor '${name}': I64 value ${v} at index ${i} does not fit int32`);
        out[i] = Number(v);
      }
      return { dtype: 'int32', data: out };
    }
    case 'I16':
      return { dtype: 'int32', data: Int32Array.from(new Int16Array(ab)) };
    case 'I8':
      return { dtype: 'int32', data: Int32Array.from(new Int8Array(ab)) };
    case 'U8':
    case 'BOOL':
      return { dtype: 'int32', data: Int32Array.from(new Uint8Array(ab)) };
  }
}

/** Read every tensor of a safetensors file into host memory. */
export function readSafetensors(file: string): Map<string, HostTensor> {
  const f = SafetensorsFile.open(file);
  try {
    const out = new Map<string, HostTensor>();
    for (const name of f.tensors.keys()) out.set(name, f.read(name));
    return out;
  } finally {
    f.close();
  }
}

/** Tensors spread over one or more safetensors files (a single file, or shards with an index). */
export class SafetensorsCheckpoint {
  private constructor(readonly files: SafetensorsFile[], readonly where: Map<string, SafetensorsFile>) {}

  /**
   * Open `pathOrDir`: a `.safetensors` file, a `model.safetensors.index.json`, or a folder
   * holding either `model.safetensors` or `model.safetensors.index.json`.
   */
  static open(pathOrDir: string): SafetensorsCheckpoint {
    let target = pathOrDir;
    if (fs.existsSync(pathOrDir) && fs.statSync(pathOrDir).isDirectory()) {
      const single = path.join(pathOrDir, 'model.safetensors');
      const index = path.join(pathOrDir, 'model.safetensors.index.json');
      if (fs.existsSync(single)) target = single;
      else if (fs.existsSync(index)) target = index;
      else throw new SafetensorsError(`${pathOrDir}: no model.safetensors or model.safetensors.index.json in this folder`);
    }
    if (target.endsWith('.index.json')) return SafetensorsCheckpoint.openIndex(target);
    const f = SafetensorsFile.open(target);
    return new SafetensorsCheckpoint([f], new Map([...f.tensors.keys()].map((k) => [k, f])));
  }

  private static openIndex(indexFile: string): SafetensorsCheckpoint {
    let index: { weight_map?: Record<string, string> };
    try {
      index = JSON.parse(fs.readFileSync(indexFile, 'utf8'));
    } catch (e) {
      throw new SafetensorsError(`${indexFile}: cannot read shard index: ${(e as Error).message}`);
    }
    if (!index.weight_map || typeof index.weight_map !== 'object') throw new SafetensorsError(`${indexFile}: no 'weight_map' object`);
    const dir = path.dirname(indexFile);
    const byShard = new Map<string, SafetensorsFile>();
    const where = new Map<string, SafetensorsFile>();
    try {
      for (const [name, shard] of Object.entries(index.weight_map)) {
        if (typeof shard !== 'string' || shard.includes('..') || path.isAbsolute(shard)) {
          throw new SafetensorsError(`${indexFile}: bad shard name for '${name}': ${JSON.stringify(shard)}`);
        }
        let f = byShard.get(shard);
        if (!f) {
          f = SafetensorsFile.open(path.join(dir, shard));
          byShard.set(shard, f);
        }
        if (!f.tensors.has(name)) throw new SafetensorsError(`${indexFile}: tensor '${name}' is mapped to ${shard}, which does not contain it`);
        where.set(name, f);
      }
    } catch (e) {
      for (const f of byShard.values()) f.close();
      throw e;
    }
    return new SafetensorsCheckpoint([...byShard.values()], where);
  }

  keys(): string[] {
    return [...this.where.keys()];
  }

  has(name: string): boolean {
    return this.where.has(name);
  }

  info(name: string): TensorInfo & { file: string } {
    const f = this.where.get(name);
    if (!f) throw new SafetensorsError(`checkpoint has no tensor '${name}'`);
    return { ...f.info(name), file: f.file };
  }

  read(name: string): HostTensor {
    const f = this.where.get(name);
    if (!f) throw new SafetensorsError(`checkpoint has no tensor '${name}'`);
    return f.read(name);
  }

  readBytes(name: string): Buffer {
    const f = this.where.get(name);
    if (!f) throw new SafetensorsError(`checkpoint has no tensor '${name}'`);
    return f.readBytes(name);
  }

  close(): void {
    for (const f of this.files) f.close();
  }
}

// ---------------------------------------------------------------- writer

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
export function safetensorsHeader(file: string, entries: { name: string; dtype: SafetensorsDtype; shape: number[] }[], metadata?: Record<string, string>): { bytes: Buffer; sizes: number[] } {
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length) header.__metadata__ = metadata;
  let offset = 0;
  const sizes = entries.map((e) => {
    if (header[e.name] !== undefined) throw new SafetensorsError(`${file}: duplicate tensor name '${e.name}'`);
    const n = e.shape.reduce((a, b) => a * b, 1) * DTYPE_BYTES[e.dtype];
    header[e.name] = { dtype: e.dtype, shape: e.shape, data_offsets: [offset, offset + n] };
    offset += n;
    return n;
  });
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - ((8 + Buffer.byteLength(json)) % 8)) % 8);
  const h = Buffer.from(json, 'utf8');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(h.length));
  return { bytes: Buffer.concat([len, h]), sizes };
}

/** Write all of `b` at the current position of `fd`. */
export function writeAll(fd: number, b: Uint8Array): void {
  let done = 0;
  while (done < b.length) done += fs.writeSync(fd, b, done, b.length - done);
}

/**
 * Write tensors (in the given order) to a safetensors file, encoding one tensor at a time. The file
 * is written as `<file>.partial` and renamed, so a failure never leaves a truncated file.
 */
export function writeSafetensors(file: string, tensors: TensorToWrite[], metadata?: Record<string, string>): void {
  const { bytes, sizes } = safetensorsHeader(file, tensors, metadata);
  const partial = `${file}.partial`;
  const fd = fs.openSync(partial, 'w');
  let ok = false;
  try {
    writeAll(fd, bytes);
    tensors.forEach((t, i) => {
      const data = encodeTensorBytes(t.dtype, t.data);
      if (data.length !== sizes[i]) throw new SafetensorsError(`${file}: tensor '${t.name}' has ${data.length} bytes but ${t.dtype}${JSON.stringify(t.shape)} needs ${sizes[i]}`);
      writeAll(fd, data);
    });
    ok = true;
  } finally {
    fs.closeSync(fd);
    if (!ok) fs.rmSync(partial, { force: true });
  }
  fs.renameSync(partial, file);
}
