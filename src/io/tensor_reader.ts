// What the model loader reads tensors from: names, dtypes and shapes up front, the bytes of a
// tensor (or a byte range of it) on demand. SafetensorsCheckpoint is one over any ByteSource;
// the torch .bin reader (Node only) is adapted to it below.
import type { SafetensorsDtype } from './safetensors';
import type { TensorSource } from './sources';

export interface ReaderTensorInfo {
  dtype: SafetensorsDtype;
  shape: number[];
  /** the file holding it, and where, for reading in storage order */
  file?: string;
  dataOffsets?: [number, number];
}

export interface TensorReader {
  keys(): string[];
  has(name: string): boolean;
  info(name: string): ReaderTensorInfo;
  /** Little-endian bytes of the tensor, or of bytes [begin, end) of it. */
  readBytes(name: string, begin?: number, end?: number): Promise<Uint8Array>;
  /** The same synchronously, where every file is local: cheap enough to read a slice row by row. */
  readBytesSync?(name: string, begin?: number, end?: number): Uint8Array;
  close(): void;
}

/**
 * A (synchronous, Node) TensorSource as a TensorReader: a torch zip is read tensor by tensor, and
 * a range is cut from the whole tensor (its records can be strided views of a storage).
 */
export class TensorSourceReader implements TensorReader {
  private readonly infos: Map<string, ReaderTensorInfo>;
  constructor(private readonly src: TensorSource) {
    this.infos = new Map(src.list().map(([n, i]) => [n, { dtype: i.dtype, shape: i.shape }]));
  }
  keys(): string[] {
    return [...this.infos.keys()];
  }
  has(name: string): boolean {
    return this.infos.has(name);
  }
  info(name: string): ReaderTensorInfo {
    const i = this.infos.get(name);
    if (!i) throw new Error(`${this.src.description}: no tensor '${name}'`);
    return i;
  }
  async readBytes(name: string, begin?: number, end?: number): Promise<Uint8Array> {
    const b = this.src.readBytes(name);
    return begin === undefined && end === undefined ? b : b.subarray(begin ?? 0, end ?? b.length);
  }
  close(): void {
    this.src.close();
  }
}
