// Test helpers: a byte-level protocol-2 pickle writer and a stored-entry ZIP writer (optionally ZIP64), enough to
// write torch.save-format archives from TypeScript, plus the reference-directory lookup.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { DTYPE_BYTES, SafetensorsDtype } from '../../src/io/safetensors';

export function referenceDir(): string | undefined {
  const dir = process.env.CLVP_REFERENCE_DIR ?? path.resolve(__dirname, '../../../shared/reference');
  if (fs.existsSync(path.join(dir, 'models'))) return dir;
  // eslint-disable-next-line no-console
  console.log(`reference directory ${dir} not found; skipping the checks that need it`);
  return undefined;
}

const created: string[] = [];

/** A fresh temporary folder, removed after the test file's tests have run. */
export function tmpDir(prefix = 'clvp-io-'): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  created.push(d);
  return d;
}

// Only under jest: the helpers are also usable from scripts.
if (typeof afterAll === 'function') {
  afterAll(() => {
    for (const d of created.splice(0)) fs.rmSync(d, { recursive: true, force: true });
  });
}

// ---------------------------------------------------------------- pickle writer

/** Builds protocol-2 pickle bytes opcode by opcode. */
export class PickleWriter {
  private parts: Buffer[] = [Buffer.from([0x80, 2])];
  raw(...bytes: number[]): this {
    this.parts.push(Buffer.from(bytes));
    return this;
  }
  global(module: string, name: string): this {
    this.parts.push(Buffer.from(`c${module}\n${name}\n`, 'latin1'));
    return this;
  }
  str(s: string): this {
    const b = Buffer.from(s, 'utf8');
    const len = Buffer.alloc(4);
    len.writeUInt32LE(b.length);
    this.parts.push(Buffer.from([0x58]), len, b);
    return this;
  }
  int(n: number): this {
    if (n >= 0 && n < 256) return this.raw(0x4b, n);
    if (n >= 0 && n < 65536) return this.raw(0x4d, n & 0xff, n >> 8);
    const b = Buffer.alloc(5);
    b[0] = 0x4a;
    b.writeInt32LE(n, 1);
    this.parts.push(b);
    return this;
  }
  mark(): this {
    return this.raw(0x28);
  }
  tuple(): this {
    return this.raw(0x74);
  }
  emptyTuple(): this {
    return this.raw(0x29);
  }
  emptyDict(): this {
    return this.raw(0x7d);
  }
  setitems(): this {
    return this.raw(0x75);
  }
  reduce(): this {
    return this.raw(0x52);
  }
  binpersid(): this {
    return this.raw(0x51);
  }
  false(): this {
    return this.raw(0x89);
  }
  stop(): Buffer {
    this.parts.push(Buffer.from([0x2e]));
    return Buffer.concat(this.parts);
  }
}

const STORAGE_OF: Record<SafetensorsDtype, string> = {
  F32: 'FloatStorage', F16: 'HalfStorage', BF16: 'BFloat16Storage', F64: 'DoubleStorage', I64: 'LongStorage',
  I32: 'IntStorage', I16: 'ShortStorage', I8: 'CharStorage', U8: 'ByteStorage', BOOL: 'BoolStorage',
};

export interface TensorForTorch {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  /** Contiguous little-endian bytes. */
  bytes: Buffer;
}

/** The data.pkl torch.save writes for an OrderedDict of contiguous tensors, each with its own storage key. */
export function torchStateDictPickle(tensors: TensorForTorch[]): Buffer {
  const w = new PickleWriter().global('collections', 'OrderedDict').emptyTuple().reduce().mark();
  tensors.forEach((t, k) => {
    const numel = t.shape.reduce((a, b) => a * b, 1);
    const stride = t.shape.map((_, d) => t.shape.slice(d + 1).reduce((a, b) => a * b, 1));
    w.str(t.name).global('torch._utils', '_rebuild_tensor_v2').mark();
    w.mark().str('storage').global('torch', STORAGE_OF[t.dtype]).str(String(k)).str('cpu').int(numel).tuple().binpersid();
    w.int(0).mark();
    for (const s of t.shape) w.int(s);
    w.tuple().mark();
    for (const s of stride) w.int(s);
    w.tuple().false().global('collections', 'OrderedDict').emptyTuple().reduce().tuple().reduce();
  });
  return w.setitems().stop();
}

// ---------------------------------------------------------------- zip writer

export interface ZipInput {
  name: string;
  data: Buffer;
  /** Put this entry's local header at this absolute offset (leaving a sparse gap before it). */
  at?: number;
}

/**
 * Write a stored-entry ZIP. `zip64: true` writes ZIP64 extra fields and the ZIP64 end records even where 32 bits
 * would do (entries placed past 4 GiB force it anyway). Gaps from `at` are left as holes (sparse files).
 */
export function writeZip(file: string, entries: ZipInput[], opts: { zip64?: boolean } = {}): void {
  const fd = fs.openSync(file, 'w');
  try {
    let pos = 0;
    const central: Buffer[] = [];
    const write = (b: Buffer) => {
      fs.writeSync(fd, b, 0, b.length, pos);
      pos += b.length;
    };
    for (const e of entries) {
      if (e.at !== undefined) pos = e.at;
      const offset = pos;
      const big = !!opts.zip64 || offset >= 0xffffffff || e.data.length >= 0xffffffff;
      const name = Buffer.from(e.name, 'utf8');
      const crc = crc32(e.data);
      const local = Buffer.alloc(30);
      local.writeUInt32LE(0x04034b50, 0);
      local.writeUInt16LE(big ? 45 : 20, 4);
      local.writeUInt32LE(crc, 14);
      local.writeUInt32LE(big ? 0xffffffff : e.data.length, 18);
      local.writeUInt32LE(big ? 0xffffffff : e.data.length, 22);
      local.writeUInt16LE(name.length, 26);
      const localExtra = big ? zip64Extra([e.data.length, e.data.length]) : Buffer.alloc(0);
      local.writeUInt16LE(localExtra.length, 28);
      write(Buffer.concat([local, name, localExtra]));
      write(e.data);
      const c = Buffer.alloc(46);
      c.writeUInt32LE(0x02014b50, 0);
      c.writeUInt16LE(45, 4);
      c.writeUInt16LE(big ? 45 : 20, 6);
      c.writeUInt32LE(crc, 16);
      c.writeUInt32LE(big ? 0xffffffff : e.data.length, 20);
      c.writeUInt32LE(big ? 0xffffffff : e.data.length, 24);
      c.writeUInt16LE(name.length, 28);
      const extra = big ? zip64Extra([e.data.length, e.data.length, offset]) : Buffer.alloc(0);
      c.writeUInt16LE(extra.length, 30);
      c.writeUInt32LE(big ? 0xffffffff : offset, 42);
      central.push(Buffer.concat([c, name, extra]));
    }
    const cdOffset = pos;
    const cd = Buffer.concat(central);
    write(cd);
    const big = !!opts.zip64 || cdOffset >= 0xffffffff;
    if (big) {
      const z = Buffer.alloc(56);
      const zPos = pos;
      z.writeUInt32LE(0x06064b50, 0);
      z.writeBigUInt64LE(44n, 4);
      z.writeUInt16LE(45, 12);
      z.writeUInt16LE(45, 14);
      z.writeBigUInt64LE(BigInt(entries.length), 24);
      z.writeBigUInt64LE(BigInt(entries.length), 32);
      z.writeBigUInt64LE(BigInt(cd.length), 40);
      z.writeBigUInt64LE(BigInt(cdOffset), 48);
      write(z);
      const loc = Buffer.alloc(20);
      loc.writeUInt32LE(0x07064b50, 0);
      loc.writeBigUInt64LE(BigInt(zPos), 8);
      loc.writeUInt32LE(1, 16);
      write(loc);
    }
    const end = Buffer.alloc(22);
    end.writeUInt32LE(0x06054b50, 0);
    end.writeUInt16LE(big ? 0xffff : entries.length, 8);
    end.writeUInt16LE(big ? 0xffff : entries.length, 10);
    end.writeUInt32LE(big ? 0xffffffff : cd.length, 12);
    end.writeUInt32LE(big ? 0xffffffff : cdOffset, 16);
    write(end);
  } finally {
    fs.closeSync(fd);
  }
}

function zip64Extra(values: number[]): Buffer {
  const b = Buffer.alloc(4 + 8 * values.length);
  b.writeUInt16LE(0x0001, 0);
  b.writeUInt16LE(8 * values.length, 2);
  values.forEach((v, i) => b.writeBigUInt64LE(BigInt(v), 4 + 8 * i));
  return b;
}

let crcTable: Uint32Array | undefined;
function crc32(data: Buffer): number {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let c = 0xffffffff;
  for (let i = 0; i < data.length; i++) c = crcTable[(c ^ data[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** Write tensors as a torch.save zip checkpoint (archive folder named after the file, as torch does). */
export function writeTorchCheckpoint(file: string, tensors: TensorForTorch[], opts: { zip64?: boolean } = {}): void {
  const archive = path.basename(file).replace(/\.[^.]*$/, '');
  for (const t of tensors) {
    const want = t.shape.reduce((a, b) => a * b, 1) * DTYPE_BYTES[t.dtype];
    if (t.bytes.length !== want) throw new Error(`${t.name}: ${t.bytes.length} bytes, need ${want}`);
  }
  writeZip(
    file,
    [
      { name: `${archive}/data.pkl`, data: torchStateDictPickle(tensors) },
      ...tensors.map((t, k) => ({ name: `${archive}/data/${k}`, data: t.bytes })),
      { name: `${archive}/version`, data: Buffer.from('3\n') },
    ],
    opts,
  );
}

/** Deterministic pseudo-random float32 bytes. */
export function randomF32(n: number, seed: number): Buffer {
  const a = new Float32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    a[i] = ((s >>> 0) / 2 ** 32) * 2 - 1;
  }
  return Buffer.from(a.buffer);
}
