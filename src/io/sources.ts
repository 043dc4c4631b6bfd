// A uniform view over checkpoint containers (safetensors, torch zip, Tortoise mapping) for conversion and
// inspection: names, dtypes and shapes up front, contiguous little-endian bytes on demand, one tensor at a time.
import { DTYPE_BYTES, SafetensorsCheckpoint, SafetensorsDtype } from './safetensors';
import { openSafetensorsCheckpoint } from './safetensors_fs';

export interface SourceTensorInfo {
  dtype: SafetensorsDtype;
  shape: number[];
}

export interface TensorSource {
  /** What the tensors come from, for messages. */
  readonly description: string;
  /** Tensor names in storage order, with dtype and shape; nothing is read yet. */
  list(): Array<[string, SourceTensorInfo]>;
  /** The tensor's bytes: contiguous, row-major, little-endian, in `dtype`. */
  readBytes(name: string): Buffer;
  close(): void;
}

export function numelOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

export function nbytesOf(info: SourceTensorInfo): number {
  return numelOf(info.shape) * DTYPE_BYTES[info.dtype];
}

/** A safetensors file, folder or shard index as a TensorSource. */
export class SafetensorsSource implements TensorSource {
  private constructor(readonly description: string, private readonly ckpt: SafetensorsCheckpoint) {}

  static open(pathOrDir: string): SafetensorsSource {
    return new SafetensorsSource(pathOrDir, openSafetensorsCheckpoint(pathOrDir));
  }

  list(): Array<[string, SourceTensorInfo]> {
    // Data-offset order within each file keeps the source's own order when re-sharding.
    const out: Array<[string, SourceTensorInfo, string, number]> = [];
    for (const name of this.ckpt.keys()) {
      const i = this.ckpt.info(name);
      out.push([name, { dtype: i.dtype, shape: i.shape.slice() }, i.file, i.dataOffsets[0]]);
    }
    const fileOrder = new Map(this.ckpt.files.map((f, k) => [f.file, k]));
    out.sort((a, b) => fileOrder.get(a[2])! - fileOrder.get(b[2])! || a[3] - b[3]);
    return out.map(([n, i]) => [n, i]);
  }

  readBytes(name: string): Buffer {
    const b = this.ckpt.readBytesSync(name);
    return Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  }

  close(): void {
    this.ckpt.close();
  }
}
