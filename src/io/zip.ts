// Minimal ZIP reader following PKWARE APPNOTE 6.3 (central directory, ZIP64), enough for torch.save archives.
// torch writes every record uncompressed ("stored"), so entries are read in place with positional reads and a
// multi-GiB checkpoint is never loaded whole. Deflated entries are accepted too (small metadata files only).
import * as fs from 'fs';
import * as zlib from 'zlib';

const SIG_LOCAL = 0x04034b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_EOCD = 0x06054b50;
const SIG_ZIP64_EOCD = 0x06064b50;
const SIG_ZIP64_LOCATOR = 0x07064b50;
const EOCD_MIN = 22;
/** The EOCD record ends the file, followed by at most a 65535-byte comment. */
const EOCD_SEARCH = EOCD_MIN + 0xffff;
/** Deflated entries are inflated in memory; anything bigger is not a metadata record and is refused. */
const MAX_INFLATE_BYTES = 256 * 1024 * 1024;

export class ZipError extends Error {}

export interface ZipEntry {
  name: string;
  /** 0 = stored, 8 = deflate. */
  method: number;
  compressedSize: number;
  size: number;
  localHeaderOffset: number;
}

function readExact(fd: number, file: string, pos: number, len: number, what: string): Buffer {
  const buf = Buffer.allocUnsafe(len);
  let done = 0;
  while (done < len) {
    const n = fs.readSync(fd, buf, done, len - done, pos + done);
    if (n === 0) throw new ZipError(`${file}: truncated while reading ${what} (wanted ${len} bytes at offset ${pos})`);
    done += n;
  }
  return buf;
}

function u64(buf: Buffer, off: number, file: string, what: string): number {
  const v = buf.readBigUInt64LE(off);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new ZipError(`${file}: ${what} ${v} is too large`);
  return Number(v);
}

/** A ZIP archive opened for random access. Close it when done. */
export class ZipReader {
  readonly entries: Map<string, ZipEntry>;
  private fd: number | undefined;
  /** Byte offset where each entry's data starts, filled lazily from its local header. */
  private readonly dataStart = new Map<string, number>();

  private constructor(readonly file: string, fd: number, readonly size: number, entries: Map<string, ZipEntry>) {
    this.fd = fd;
    this.entries = entries;
  }

  static open(file: string): ZipReader {
    let fd: number;
    try {
      fd = fs.openSync(file, 'r');
    } catch (e) {
      throw new ZipError(`${file}: cannot open: ${(e as Error).message}`);
    }
    try {
      const size = fs.fstatSync(fd).size;
      return new ZipReader(file, fd, size, readCentralDirectory(fd, file, size));
    } catch (e) {
      fs.closeSync(fd);
      throw e;
    }
  }

  private handle(): number {
    if (this.fd === undefined) throw new ZipError(`${this.file}: archive already closed`);
    return this.fd;
  }

  entry(name: string): ZipEntry {
    const e = this.entries.get(name);
    if (!e) throw new ZipError(`${this.file}: no entry '${name}' in the archive`);
    return e;
  }

  private start(e: ZipEntry): number {
    let s = this.dataStart.get(e.name);
    if (s !== undefined) return s;
    const h = readExact(this.handle(), this.file, e.localHeaderOffset, 30, `the local header of '${e.name}'`);
    if (h.readUInt32LE(0) !== SIG_LOCAL) throw new ZipError(`${this.file}: bad local header signature for '${e.name}' at offset ${e.localHeaderOffset}`);
    // The local name/extra lengths may differ from the central ones (torch pads the local extra field for alignment).
    s = e.localHeaderOffset + 30 + h.readUInt16LE(26) + h.readUInt16LE(28);
    if (s + e.compressedSize > this.size) {
      throw new ZipError(`${this.file}: entry '${e.name}' (${e.compressedSize} bytes at offset ${s}) runs past the end of the file (${this.size} bytes)`);
    }
    this.dataStart.set(e.name, s);
    return s;
  }

  /** The whole (decompressed) content of an entry. */
  read(name: string): Buffer {
    const e = this.entry(name);
    if (e.method === 0) return this.readRange(name, 0, e.size);
    if (e.method !== 8) throw new ZipError(`${this.file}: entry '${name}' uses compression method ${e.method}; only stored (0) and deflate (8) are supported`);
    if (e.size > MAX_INFLATE_BYTES) throw new ZipError(`${this.file}: deflated entry '${name}' is ${e.size} bytes; only stored entries may be that large`);
    const raw = readExact(this.handle(), this.file, this.start(e), e.compressedSize, `entry '${name}'`);
    const out = zlib.inflateRawSync(raw, { maxOutputLength: Math.max(e.size, 1) });
    if (out.length !== e.size) throw new ZipError(`${this.file}: entry '${name}' inflated to ${out.length} bytes, the directory says ${e.size}`);
    return out;
  }

  /** `length` bytes of a stored entry starting `offset` bytes into it, read in place. */
  readRange(name: string, offset: number, length: number): Buffer {
    const e = this.entry(name);
    if (e.method !== 0) {
      if (offset === 0 && length === e.size) return this.read(name);
      return this.read(name).subarray(offset, offset + length);
    }
    if (offset < 0 || length < 0 || offset + length > e.size) {
      throw new ZipError(`${this.file}: read of bytes [${offset}, ${offset + length}) is outside entry '${name}' (${e.size} bytes)`);
    }
    return readExact(this.handle(), this.file, this.start(e) + offset, length, `entry '${name}'`);
  }

  close(): void {
    if (this.fd !== undefined) fs.closeSync(this.fd);
    this.fd = undefined;
  }
}

/** True when the file starts with a ZIP local header ("PK\x03\x04") or is an empty archive ("PK\x05\x06"). */
export function looksLikeZip(head: Buffer): boolean {
  return head.length >= 4 && head[0] === 0x50 && head[1] === 0x4b && (head.readUInt32LE(0) === SIG_LOCAL || head.readUInt32LE(0) === SIG_EOCD);
}

function readCentralDirectory(fd: number, file: string, size: number): Map<string, ZipEntry> {
  if (size < EOCD_MIN) throw new ZipError(`${file}: ${size} bytes is too small to be a ZIP archive`);
  const tailLen = Math.min(size, EOCD_SEARCH);
  const tail = readExact(fd, file, size - tailLen, tailLen, 'the end of central directory record');
  let eocd = -1;
  for (let i = tailLen - EOCD_MIN; i >= 0; i--) {
    if (tail.readUInt32LE(i) === SIG_EOCD && i + EOCD_MIN + tail.readUInt16LE(i + 20) <= tailLen) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new ZipError(`${file}: no end of central directory record: not a ZIP archive, or truncated`);
  const eocdPos = size - tailLen + eocd;
  let count = tail.readUInt16LE(eocd + 10);
  let cdSize = tail.readUInt32LE(eocd + 12);
  let cdOffset = tail.readUInt32LE(eocd + 16);

  // ZIP64: a locator sits right before the EOCD and points at the ZIP64 EOCD record with the real values.
  if (eocdPos >= 20) {
    const loc = readExact(fd, file, eocdPos - 20, 20, 'the ZIP64 locator');
    if (loc.readUInt32LE(0) === SIG_ZIP64_LOCATOR) {
      const z64Pos = u64(loc, 8, file, 'ZIP64 EOCD offset');
      const z = readExact(fd, file, z64Pos, 56, 'the ZIP64 end of central directory record');
      if (z.readUInt32LE(0) !== SIG_ZIP64_EOCD) throw new ZipError(`${file}: bad ZIP64 end of central directory signature at offset ${z64Pos}`);
      count = u64(z, 32, file, 'entry count');
      cdSize = u64(z, 40, file, 'central directory size');
      cdOffset = u64(z, 48, file, 'central directory offset');
    }
  }
  if (cdOffset + cdSize > size) throw new ZipError(`${file}: central directory (${cdSize} bytes at ${cdOffset}) runs past the end of the file (${size} bytes)`);
  const cd = readExact(fd, file, cdOffset, cdSize, 'the central directory');
  const entries = new Map<string, ZipEntry>();
  let p = 0;
  for (let i = 0; i < count; i++) {
    if (p + 46 > cd.length || cd.readUInt32LE(p) !== SIG_CENTRAL) throw new ZipError(`${file}: corrupt central directory at entry ${i}`);
    const flags = cd.readUInt16LE(p + 8);
    const method = cd.readUInt16LE(p + 10);
    let compressedSize = cd.readUInt32LE(p + 20);
    let usize = cd.readUInt32LE(p + 24);
    const nameLen = cd.readUInt16LE(p + 28);
    const extraLen = cd.readUInt16LE(p + 30);
    const commentLen = cd.readUInt16LE(p + 32);
    let localHeaderOffset = cd.readUInt32LE(p + 42);
    const name = cd.toString('utf8', p + 46, p + 46 + nameLen);
    if (flags & 1) throw new ZipError(`${file}: entry '${name}' is encrypted`);
    // ZIP64 extended information: only the fields whose 32-bit value is 0xFFFFFFFF are present, in this order.
    let x = p + 46 + nameLen;
    const xEnd = x + extraLen;
    while (x + 4 <= xEnd) {
      const id = cd.readUInt16LE(x);
      const len = cd.readUInt16LE(x + 2);
      if (id === 0x0001) {
        let q = x + 4;
        const take = (what: string): number => {
          if (q + 8 > x + 4 + len) throw new ZipError(`${file}: ZIP64 extra field of '${name}' lacks the ${what}`);
          const v = u64(cd, q, file, what);
          q += 8;
          return v;
        };
        if (usize === 0xffffffff) usize = take('size');
        if (compressedSize === 0xffffffff) compressedSize = take('compressed size');
        if (localHeaderOffset === 0xffffffff) localHeaderOffset = take('local header offset');
      }
      x += 4 + len;
    }
    if (method === 0 && compressedSize !== usize) throw new ZipError(`${file}: stored entry '${name}' has compressed size ${compressedSize} != size ${usize}`);
    entries.set(name, { name, method, compressedSize, size: usize, localHeaderOffset });
    p += 46 + nameLen + extraLen + commentLen;
  }
  return entries;
}
