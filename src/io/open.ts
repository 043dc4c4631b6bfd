// Opening any supported checkpoint as a TensorSource: torch zip (.bin/.pt/.pth, single or sharded with
// pytorch_model.bin.index.json), safetensors (file, folder, shards), or an original Tortoise pair. The layouts
// recognised follow transformers' modeling_utils (WEIGHTS_NAME, SAFE_WEIGHTS_NAME and their index files).
import * as fs from 'fs';
import * as path from 'path';
import { WEIGHT_FILES } from './folder';
import { SafetensorsSource, SourceTensorInfo, TensorSource } from './sources';
import { TorchCheckpoint, TorchCheckpointError, isLegacyTorch } from './torch_pickle';
import { TortoiseFile, TortoiseOptions, TortoiseSource, detectTortoiseFile } from './tortoise';
import { looksLikeZip } from './zip';

export class CheckpointOpenError extends Error {}

export type ContainerKind = 'safetensors' | 'safetensors-sharded' | 'torch' | 'torch-sharded' | 'tortoise-pair';

export interface OpenedCheckpoint {
  source: TensorSource;
  kind: ContainerKind;
  /** The weight files read. */
  files: string[];
  /** The folder whose config/tokenizer files belong to this checkpoint (the input folder, or the file's folder). */
  dir: string;
  /** For Tortoise inputs: which path is which. */
  tortoise?: Record<TortoiseFile, string>;
}

export const TORTOISE_FILE_NAMES: Record<TortoiseFile, string> = { autoregressive: 'autoregressive.pth', clvp: 'clvp2.pth' };

function isDir(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}

function head(file: string, n = 512): Buffer {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new CheckpointOpenError(code === 'ENOENT' ? `${file}: no such file or directory` : `${file}: cannot open: ${(e as Error).message}`);
  }
  try {
    const b = Buffer.alloc(n);
    return b.subarray(0, fs.readSync(fd, b, 0, n, 0));
  } finally {
    fs.closeSync(fd);
  }
}

/** Tensors spread over several torch files by a pytorch_model.bin.index.json. */
class MultiSource implements TensorSource {
  private readonly where = new Map<string, TensorSource>();
  constructor(readonly description: string, private readonly parts: TensorSource[]) {
    for (const p of parts) {
      for (const [n] of p.list()) {
        if (this.where.has(n)) throw new CheckpointOpenError(`${description}: tensor '${n}' appears in two shards`);
        this.where.set(n, p);
      }
    }
  }
  list(): Array<[string, SourceTensorInfo]> {
    return this.parts.flatMap((p) => p.list());
  }
  readBytes(name: string): Buffer {
    const p = this.where.get(name);
    if (!p) throw new CheckpointOpenError(`${this.description}: no tensor '${name}'`);
    return p.readBytes(name);
  }
  close(): void {
    for (const p of this.parts) p.close();
  }
}

function openTorchIndex(indexFile: string): OpenedCheckpoint {
  let index: { weight_map?: Record<string, string> };
  try {
    index = JSON.parse(fs.readFileSync(indexFile, 'utf8'));
  } catch (e) {
    throw new CheckpointOpenError(`${indexFile}: cannot read shard index: ${(e as Error).message}`);
  }
  if (!index.weight_map || typeof index.weight_map !== 'object') throw new CheckpointOpenError(`${indexFile}: no 'weight_map' object`);
  const dir = path.dirname(indexFile);
  const shards = [...new Set(Object.values(index.weight_map))];
  for (const s of shards) {
    if (typeof s !== 'string' || s.includes('..') || path.isAbsolute(s)) throw new CheckpointOpenError(`${indexFile}: bad shard name ${JSON.stringify(s)}`);
  }
  const parts: TorchCheckpoint[] = [];
  try {
    for (const s of shards) parts.push(TorchCheckpoint.open(path.join(dir, s)));
    const src = new MultiSource(indexFile, parts);
    const have = new Set(src.list().map(([n]) => n));
    const missing = Object.keys(index.weight_map).filter((k) => !have.has(k));
    if (missing.length) throw new CheckpointOpenError(`${indexFile}: ${missing.length} tensor(s) of the weight_map are in no shard, e.g. '${missing[0]}'`);
    return { source: src, kind: 'torch-sharded', files: shards.map((s) => path.join(dir, s)), dir };
  } catch (e) {
    for (const p of parts) p.close();
    throw e;
  }
}

function openTortoisePair(a: string, b: string, opts: TortoiseOptions): OpenedCheckpoint {
  const opened: TensorSource[] = [];
  try {
    const byFile: Partial<Record<TortoiseFile, { path: string; src: TensorSource }>> = {};
    for (const p of [a, b]) {
      const o = openSingle(p);
      opened.push(o.source);
      const which = detectTortoiseFile(o.source.list().map(([n]) => n));
      if (!which) throw new CheckpointOpenError(`${p}: not a Tortoise autoregressive.pth or clvp2.pth (no GPT-2 'gpt.h.*' or CLVP '*_transformer.transformer.*' keys)`);
      if (byFile[which]) throw new CheckpointOpenError(`${byFile[which]!.path} and ${p} are both Tortoise ${TORTOISE_FILE_NAMES[which]} checkpoints; pass one autoregressive.pth and one clvp2.pth`);
      byFile[which] = { path: p, src: o.source };
    }
    const ar = byFile.autoregressive!;
    const clvp = byFile.clvp!;
    const source = new TortoiseSource({ autoregressive: ar.src, clvp: clvp.src }, opts);
    return {
      source,
      kind: 'tortoise-pair',
      files: [ar.path, clvp.path],
      dir: path.dirname(ar.path),
      tortoise: { autoregressive: ar.path, clvp: clvp.path },
    };
  } catch (e) {
    for (const s of opened) s.close();
    throw e;
  }
}

/** One weights file or HF folder, without Tortoise mapping. */
export function openSingle(p: string): OpenedCheckpoint {
  if (isDir(p)) {
    const pick = WEIGHT_FILES.find((f) => fs.existsSync(path.join(p, f)));
    if (!pick) {
      throw new CheckpointOpenError(`${p}: no model.safetensors, model.safetensors.index.json, pytorch_model.bin or pytorch_model.bin.index.json in this folder (nor a Tortoise autoregressive.pth + clvp2.pth pair)`);
    }
    return openSingle(path.join(p, pick));
  }
  const dir = path.dirname(p);
  if (p.endsWith('.index.json')) {
    let map: Record<string, string> = {};
    try {
      map = JSON.parse(fs.readFileSync(p, 'utf8')).weight_map ?? {};
    } catch (e) {
      throw new CheckpointOpenError(`${p}: cannot read shard index: ${(e as Error).message}`);
    }
    const first = Object.values(map)[0];
    if (typeof first === 'string' && !first.endsWith('.safetensors')) return openTorchIndex(p);
    const src = SafetensorsSource.open(p);
    return { source: src, kind: 'safetensors-sharded', files: [...new Set(Object.values(map))].map((s) => path.join(dir, s)), dir };
  }
  const h = head(p);
  if (looksLikeZip(h)) return { source: TorchCheckpoint.open(p), kind: 'torch', files: [p], dir };
  if (isLegacyTorch(h)) return { source: TorchCheckpoint.open(p), kind: 'torch', files: [p], dir }; // raises the legacy-format error
  try {
    return { source: SafetensorsSource.open(p), kind: 'safetensors', files: [p], dir };
  } catch (e) {
    if (/\.(bin|pt|pth|ckpt)$/i.test(p)) throw new TorchCheckpointError(`${p}: not a torch zip checkpoint (does not start with 'PK') and not safetensors`);
    throw e;
  }
}

/**
 * Open `input`: one path (file or folder) or two paths (a Tortoise autoregressive.pth + clvp2.pth in any order).
 * A folder holding both Tortoise files is opened as the pair.
 */
export function openCheckpoint(input: string | string[], opts: TortoiseOptions = {}): OpenedCheckpoint {
  const inputs = Array.isArray(input) ? input : [input];
  if (inputs.length === 2) return openTortoisePair(inputs[0], inputs[1], opts);
  if (inputs.length !== 1) throw new CheckpointOpenError(`expected one checkpoint path or a Tortoise pair, got ${inputs.length} paths`);
  const p = inputs[0];
  if (!fs.existsSync(p)) throw new CheckpointOpenError(`${p}: no such file or directory`);
  if (isDir(p)) {
    const ar = path.join(p, TORTOISE_FILE_NAMES.autoregressive);
    const clvp = path.join(p, TORTOISE_FILE_NAMES.clvp);
    if (fs.existsSync(ar) && fs.existsSync(clvp)) return openTortoisePair(ar, clvp, opts);
  }
  const o = openSingle(p);
  const which = detectTortoiseFile(o.source.list().map(([n]) => n));
  if (which) {
    o.source.close();
    const other = which === 'autoregressive' ? 'clvp2.pth (the CLVP text/speech encoders)' : 'autoregressive.pth (the decoder and conditioning encoder)';
    throw new CheckpointOpenError(`${p}: this is Tortoise's ${TORTOISE_FILE_NAMES[which]}; the HF model also needs ${other}: pass both paths`);
  }
  return o;
}
