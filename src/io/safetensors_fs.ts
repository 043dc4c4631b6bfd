// Safetensors by local file path (Node): the reader of safetensors.ts over a FileByteSource, and
// the writer. A file is written as `<file>.partial` and renamed, so a failure never leaves a
// truncated checkpoint behind.
import * as fs from 'fs';
import * as path from 'path';
import { FileByteSource, LocalFolder } from './local_files';
import { HostTensor, SafetensorsCheckpoint, SafetensorsDtype, SafetensorsError, SafetensorsFile, TensorToWrite, encodeTensorBytes, parseShardIndex, safetensorsHeader } from './safetensors';

export function openSafetensorsFile(file: string): SafetensorsFile {
  let src: FileByteSource;
  try {
    src = FileByteSource.open(file);
  } catch (e) {
    throw new SafetensorsError((e as Error).message);
  }
  return SafetensorsFile.openSync(src);
}

/**
 * Open `pathOrDir`: a `.safetensors` file, a `model.safetensors.index.json`, or a folder holding
 * either `model.safetensors` or `model.safetensors.index.json`.
 */
export function openSafetensorsCheckpoint(pathOrDir: string): SafetensorsCheckpoint {
  let target = pathOrDir;
  if (fs.existsSync(pathOrDir) && fs.statSync(pathOrDir).isDirectory()) {
    const folder = new LocalFolder(pathOrDir);
    const pick = ['model.safetensors', 'model.safetensors.index.json'].find((f) => folder.hasSync(f));
    if (!pick) throw new SafetensorsError(`${pathOrDir}: no model.safetensors or model.safetensors.index.json in this folder`);
    target = folder.path(pick);
  }
  if (!target.endsWith('.index.json')) return new SafetensorsCheckpoint([openSafetensorsFile(target)]);
  let json: unknown;
  try {
    json = JSON.parse(fs.readFileSync(target, 'utf8'));
  } catch (e) {
    throw new SafetensorsError(`${target}: cannot read shard index: ${(e as Error).message}`);
  }
  const map = parseShardIndex(target, json);
  const shards = new Map<string, SafetensorsFile>();
  try {
    for (const s of new Set(map.values())) shards.set(s, openSafetensorsFile(path.join(path.dirname(target), s)));
    return new SafetensorsCheckpoint([...shards.values()], map, (s) => shards.get(s)!);
  } catch (e) {
    for (const f of shards.values()) f.close();
    throw e;
  }
}

/** Read every tensor of a safetensors file into host memory. */
export function readSafetensors(file: string): Map<string, HostTensor> {
  const f = openSafetensorsFile(file);
  try {
    const out = new Map<string, HostTensor>();
    for (const name of f.tensors.keys()) out.set(name, f.readSync(name));
    return out;
  } finally {
    f.close();
  }
}

/** Write all of `b` at the current position of `fd`. */
export function writeAll(fd: number, b: Uint8Array): void {
  let done = 0;
  while (done < b.length) done += fs.writeSync(fd, b, done, b.length - done);
}

/**
 * A file written as `<file>.partial` and renamed into place by commit(), so a failure never
 * leaves a truncated checkpoint behind (abort() removes the partial file).
 */
function partialFile(file: string): { fd: number; commit(): void; abort(): void } {
  const partial = `${file}.partial`;
  const fd = fs.openSync(partial, 'w');
  return {
    fd,
    commit: () => {
      fs.closeSync(fd);
      fs.renameSync(partial, file);
    },
    abort: () => {
      fs.closeSync(fd);
      fs.rmSync(partial, { force: true });
    },
  };
}

/**
 * Write one safetensors file tensor by tensor, asking `produce` for each tensor's bytes in turn,
 * so a file is never held in memory whole; yields between tensors so a progress bar can repaint.
 */
export async function writeSafetensorsStreaming(
  file: string,
  entries: Array<{ name: string; dtype: SafetensorsDtype; shape: number[] }>,
  metadata: Record<string, string>,
  produce: (name: string) => Uint8Array,
  onTensor?: (name: string) => void,
): Promise<void> {
  const { bytes: header, sizes } = safetensorsHeader(file, entries, metadata);
  const out = partialFile(file);
  try {
    writeAll(out.fd, header);
    for (let i = 0; i < entries.length; i++) {
      writeChecked(file, out.fd, entries[i], produce(entries[i].name), sizes[i]);
      onTensor?.(entries[i].name);
      await new Promise((r) => setImmediate(r));
    }
  } catch (e) {
    out.abort();
    throw e;
  }
  out.commit();
}

function writeChecked(file: string, fd: number, e: { name: string; dtype: SafetensorsDtype; shape: number[] }, bytes: Uint8Array, size: number): void {
  if (bytes.length !== size) throw new SafetensorsError(`${file}: tensor '${e.name}' has ${bytes.length} bytes but ${e.dtype}${JSON.stringify(e.shape)} needs ${size}`);
  writeAll(fd, bytes);
}

/** Write tensors (in the given order) to a safetensors file (synchronously, for tests and scripts). */
export function writeSafetensors(file: string, tensors: TensorToWrite[], metadata?: Record<string, string>): void {
  const { bytes, sizes } = safetensorsHeader(file, tensors, metadata);
  const out = partialFile(file);
  try {
    writeAll(out.fd, bytes);
    tensors.forEach((t, i) => writeChecked(file, out.fd, t, encodeTensorBytes(t.dtype, t.data), sizes[i]));
  } catch (e) {
    out.abort();
    throw e;
  }
  out.commit();
}
