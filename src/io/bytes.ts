// Random access to the bytes of one file, wherever it lives: a local file (positional reads), an
// HTTP resource (Range requests), a browser File, or memory. The safetensors reader, the model
// loader and the Hub cache all read through this, so one parser serves Node and the browser.

export interface ByteSource {
  /** What to call it in messages: a path or a URL. */
  readonly label: string;
  /** Total size in bytes. */
  readonly size: number;
  /** Bytes [offset, offset + length); rejects when the source has fewer. */
  read(offset: number, length: number): Promise<Uint8Array>;
  /** The same, synchronously, where the medium allows it (local files, memory). */
  readSync?(offset: number, length: number): Uint8Array;
  close(): void;
}

export class ByteSourceError extends Error {}

/** Checks a read's bounds against the source size, naming the source. */
export function checkRange(src: { label: string; size: number }, offset: number, length: number): void {
  if (!(Number.isSafeInteger(offset) && Number.isSafeInteger(length) && offset >= 0 && length >= 0)) {
    throw new ByteSourceError(`${src.label}: bad read of ${length} bytes at offset ${offset}`);
  }
  if (offset + length > src.size) {
    throw new ByteSourceError(`${src.label}: truncated: a read of bytes [${offset}, ${offset + length}) runs past the end of the ${src.size}-byte file`);
  }
}

/** Bytes already in memory (a fetched file, a test fixture). */
export class MemoryByteSource implements ByteSource {
  readonly size: number;
  constructor(readonly label: string, private readonly bytes: Uint8Array) {
    this.size = bytes.length;
  }
  readSync(offset: number, length: number): Uint8Array {
    checkRange(this, offset, length);
    return this.bytes.subarray(offset, offset + length);
  }
  async read(offset: number, length: number): Promise<Uint8Array> {
    return this.readSync(offset, length);
  }
  close(): void {}
}
