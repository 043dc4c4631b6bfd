// A Blob (a picked File, an OPFS file, a cached download) as a ByteSource. Blob.slice is lazy, so
// a read touches only the bytes asked for, however large the file: the browser's counterpart of
// positional reads on a file descriptor.
import { ByteSource, ByteSourceError, checkRange } from './bytes';

export class BlobByteSource implements ByteSource {
  readonly size: number;
  constructor(readonly label: string, private readonly blob: Blob) {
    this.size = blob.size;
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    checkRange(this, offset, length);
    if (length === 0) return new Uint8Array(0);
    try {
      return new Uint8Array(await this.blob.slice(offset, offset + length).arrayBuffer());
    } catch (e) {
      // A picked file changed or was deleted on disk since it was picked (NotReadableError).
      throw new ByteSourceError(`${this.label}: could not read bytes [${offset}, ${offset + length}): ${(e as Error).message}`);
    }
  }

  close(): void {}
}
