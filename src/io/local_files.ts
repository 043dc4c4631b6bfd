// Node's side of ByteSource and ModelFolder: local files with positional reads (checkpoints of
// several GB are never read whole) and local model folders. Node-only: the browser entry never
// imports this module (src/platform/browser.ts has the page's counterparts).
import * as fs from 'fs';
import * as path from 'path';
import { ByteSource, ByteSourceError, checkRange } from './bytes';
import { FolderLocation, ModelFolder, ModelFolderError, checkRelativeName, stripBom } from './folder';

/** A local file read with positional reads (synchronous or not). */
export class FileByteSource implements ByteSource {
  readonly size: number;
  private fd: number | undefined;

  private constructor(readonly label: string, fd: number) {
    this.fd = fd;
    this.size = fs.fstatSync(fd).size;
  }

  static open(file: string): FileByteSource {
    let fd: number;
    try {
      fd = fs.openSync(file, 'r');
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      throw new ByteSourceError(code === 'ENOENT' ? `${file}: no such file` : `${file}: cannot open: ${(e as Error).message}`);
    }
    return new FileByteSource(file, fd);
  }

  private handle(): number {
    if (this.fd === undefined) throw new ByteSourceError(`${this.label}: file already closed`);
    return this.fd;
  }

  readSync(offset: number, length: number): Uint8Array {
    checkRange(this, offset, length);
    const buf = Buffer.allocUnsafe(length);
    let done = 0;
    while (done < length) {
      const n = fs.readSync(this.handle(), buf, done, length - done, offset + done);
      if (n === 0) throw new ByteSourceError(`${this.label}: unexpected end of file at byte ${offset + done}`);
      done += n;
    }
    return buf;
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    checkRange(this, offset, length);
    const buf = Buffer.allocUnsafe(length);
    let done = 0;
    while (done < length) {
      const n = await new Promise<number>((resolve, reject) => fs.read(this.handle(), buf, done, length - done, offset + done, (err, bytes) => (err ? reject(err) : resolve(bytes))));
      if (n === 0) throw new ByteSourceError(`${this.label}: unexpected end of file at byte ${offset + done}`);
      done += n;
    }
    return buf;
  }

  close(): void {
    if (this.fd !== undefined) fs.closeSync(this.fd);
    this.fd = undefined;
  }
}

/** A model folder on the local disk (or a Hugging Face cache snapshot, which is one). */
export class LocalFolder implements ModelFolder {
  readonly location: FolderLocation;

  /** `label` names the folder in messages (e.g. the Hub id it was resolved from). */
  constructor(readonly dir: string, readonly label: string = dir) {
    this.location = { kind: 'local', dir };
  }

  /** A folder that must exist, with a message naming `what` it was given as. */
  static open(dir: string, what = 'model folder'): LocalFolder {
    let st: fs.Stats;
    try {
      st = fs.statSync(dir);
    } catch {
      throw new ModelFolderError(`${dir}: no such ${what}`);
    }
    if (!st.isDirectory()) throw new ModelFolderError(`${dir}: not a folder (expected a ${what})`);
    return new LocalFolder(dir);
  }

  path(name: string): string {
    checkRelativeName(name, this.label);
    return path.join(this.dir, ...name.split('/'));
  }

  async has(name: string): Promise<boolean> {
    return this.hasSync(name);
  }

  hasSync(name: string): boolean {
    try {
      return fs.statSync(this.path(name)).isFile();
    } catch {
      return false;
    }
  }

  async readText(name: string): Promise<string> {
    const file = this.path(name);
    try {
      return stripBom(fs.readFileSync(file, 'utf8'));
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') throw new ModelFolderError(`${file}: not found`);
      if (code === 'EISDIR') throw new ModelFolderError(`${file}: is a directory, expected a file`);
      throw new ModelFolderError(`${file}: cannot be read: ${(e as Error).message}`);
    }
  }

  async open(name: string): Promise<ByteSource> {
    return FileByteSource.open(this.path(name));
  }
}
