// Safe reader for torch.save zip checkpoints (torch/serialization.py: _save / _load, torch/_utils.py:
// _rebuild_tensor_v2, _rebuild_parameter). The pickle is run by the restricted VM in ./pickle with an allowlist of
// tensor-rebuilding globals; storages are the archive's `<prefix>/data/<key>` records, read with positional reads.
import * as fs from 'fs';
import { DTYPE_BYTES, SafetensorsDtype } from './safetensors';
import { PickleError, PyCallable, PyDict, unpickle } from './pickle';
import { SourceTensorInfo, TensorSource, numelOf } from './sources';
import { ZipReader, looksLikeZip } from './zip';

export class TorchCheckpointError extends Error {}

/** torch.<X>Storage classes (the legacy typed-storage names torch still pickles) and their element types. */
export const TORCH_STORAGE_DTYPES: Readonly<Record<string, SafetensorsDtype>> = {
  FloatStorage: 'F32',
  HalfStorage: 'F16',
  BFloat16Storage: 'BF16',
  DoubleStorage: 'F64',
  LongStorage: 'I64',
  IntStorage: 'I32',
  ShortStorage: 'I16',
  CharStorage: 'I8',
  ByteStorage: 'U8',
  BoolStorage: 'BOOL',
};

export class StorageType {
  constructor(readonly name: string, readonly dtype: SafetensorsDtype) {}
}

/** One storage record of the archive; several tensors may view it. */
export class TorchStorage {
  constructor(readonly key: string, readonly dtype: SafetensorsDtype, readonly numel: number, readonly location: string) {}
}

/** A tensor as the pickle describes it: a strided view of a storage. No data is read until asked. */
export class TorchTensorRef {
  constructor(
    readonly storage: TorchStorage,
    readonly offset: number,
    readonly shape: number[],
    readonly stride: number[],
  ) {}

  get dtype(): SafetensorsDtype {
    return this.storage.dtype;
  }
}

const isNat = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

function intTuple(v: unknown, what: string, where: string): number[] {
  if (!Array.isArray(v) || !v.every(isNat)) throw new PickleError(`${where}: ${what} ${JSON.stringify(v)} is not a tuple of non-negative integers`);
  return (v as number[]).slice();
}

/**
 * The allowlist: "module.name" → value. Everything a plain `torch.save(state_dict)` references, nothing that can
 * execute code. `torch.storage._load_from_bytes` (legacy storages) is deliberately absent.
 */
function allowlist(where: string): Map<string, unknown> {
  const rebuildTensorV2 = new PyCallable('torch._utils._rebuild_tensor_v2', (args) => {
    // (storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
    if (args.length < 4) throw new PickleError(`${where}: _rebuild_tensor_v2 called with ${args.length} arguments`);
    const [storage, offset, size, stride] = args;
    if (!(storage instanceof TorchStorage)) throw new PickleError(`${where}: _rebuild_tensor_v2 on something that is not a storage`);
    if (!isNat(offset)) throw new PickleError(`${where}: bad storage offset ${String(offset)}`);
    const shape = intTuple(size, 'size', where);
    const strides = intTuple(stride, 'stride', where);
    if (shape.length !== strides.length) throw new PickleError(`${where}: size ${JSON.stringify(shape)} and stride ${JSON.stringify(strides)} differ in rank`);
    return new TorchTensorRef(storage, offset, shape, strides);
  });
  const rebuildParameter = (qualname: string, n: number) =>
    new PyCallable(qualname, (args) => {
      // (data, requires_grad, backward_hooks[, state]): a Parameter is its data for inference.
      if (args.length !== n || !(args[0] instanceof TorchTensorRef)) throw new PickleError(`${where}: ${qualname} expects ${n} arguments starting with a tensor`);
      return args[0];
    });
  const orderedDict = new PyCallable('collections.OrderedDict', (args) => {
    const d: PyDict = new Map();
    if (args.length === 1 && Array.isArray(args[0])) for (const kv of args[0] as unknown[][]) d.set(kv[0], kv[1]);
    else if (args.length !== 0) throw new PickleError(`${where}: OrderedDict called with unsupported arguments`);
    return d;
  });
  const m = new Map<string, unknown>([
    ['torch._utils._rebuild_tensor_v2', rebuildTensorV2],
    ['torch._utils._rebuild_parameter', rebuildParameter('torch._utils._rebuild_parameter', 3)],
    ['torch._utils._rebuild_parameter_with_state', rebuildParameter('torch._utils._rebuild_parameter_with_state', 4)],
    ['collections.OrderedDict', orderedDict],
  ]);
  for (const [name, dtype] of Object.entries(TORCH_STORAGE_DTYPES)) m.set(`torch.${name}`, new StorageType(name, dtype));
  return m;
}

/** A safetensors file: a u64 header length, then a JSON object. */
export function looksLikeSafetensors(head: Buffer): boolean {
  return head.length >= 9 && head[8] === 0x7b;
}

/**
 * Legacy torch.save (torch < 1.6 or _use_new_zipfile_serialization=False) starts with a pickled magic number
 * (PROTO n, then LONG1); the even older format is a tar archive. A safetensors header length can also start with
 * 0x80, hence the check for its '{'.
 */
export function isLegacyTorch(head: Buffer): boolean {
  if (head.length >= 262 && head.toString('latin1', 257, 262) === 'ustar') return true;
  return head.length >= 3 && head[0] === 0x80 && head[1] >= 2 && head[1] <= 5 && !looksLikeSafetensors(head);
}

/** Error for files that are torch checkpoints but not the zip format. */
function legacyError(file: string): TorchCheckpointError {
  return new TorchCheckpointError(
    `${file}: legacy torch serialization format; re-save with torch>=1.6 (torch.save(sd, path)) to get the zip format this reader supports`,
  );
}

export interface FlattenResult {
  tensors: Map<string, TorchTensorRef>;
  /** Dotted paths of non-tensor values that were left out (epoch counters, config strings, ...). */
  skipped: string[];
  /** The wrapper key that was unwrapped ('state_dict', 'model', ...), if any. */
  unwrapped?: string;
}

/** Keys under which training scripts nest the weights, tried in order when the top level holds no tensors. */
const WRAPPER_KEYS = ['state_dict', 'model_state_dict', 'model', 'module', 'ema', 'net', 'generator', 'params', 'weights'];

function containsTensor(v: unknown, depth = 0): boolean {
  if (v instanceof TorchTensorRef) return true;
  if (depth > 32) return false;
  if (v instanceof Map) return [...v.values()].some((x) => containsTensor(x, depth + 1));
  if (Array.isArray(v)) return v.some((x) => containsTensor(x, depth + 1));
  return false;
}

/**
 * Turn an unpickled object into name → tensor. A flat state dict is taken as is; a dict with no tensors at its top
 * level but a `state_dict`/`model`/... entry is unwrapped (so optimizer state beside it is ignored); other nesting is
 * flattened with dotted names; a common `module.` prefix (DataParallel) is stripped.
 */
export function flattenStateDict(root: unknown, where: string): FlattenResult {
  if (!(root instanceof Map)) {
    throw new TorchCheckpointError(`${where}: the checkpoint is a ${root instanceof TorchTensorRef ? 'single tensor' : Array.isArray(root) ? 'list' : typeof root}, not a dict of tensors`);
  }
  let obj: PyDict = root;
  let unwrapped: string | undefined;
  for (;;) {
    if ([...obj.values()].some((v) => v instanceof TorchTensorRef)) break;
    const key = WRAPPER_KEYS.find((k) => obj.get(k) instanceof Map && containsTensor(obj.get(k)));
    if (!key) break;
    unwrapped = unwrapped ? `${unwrapped}.${key}` : key;
    obj = obj.get(key) as PyDict;
  }
  const tensors = new Map<string, TorchTensorRef>();
  const skipped: string[] = [];
  const walk = (v: unknown, name: string, depth: number): void => {
    if (v instanceof TorchTensorRef) {
      if (tensors.has(name)) throw new TorchCheckpointError(`${where}: two tensors flatten to the same name '${name}'`);
      tensors.set(name, v);
    } else if (v instanceof Map && depth < 32) {
      for (const [k, x] of v) walk(x, name ? `${name}.${String(k)}` : String(k), depth + 1);
    } else if (Array.isArray(v) && containsTensor(v) && depth < 32) {
      v.forEach((x, i) => walk(x, name ? `${name}.${i}` : String(i), depth + 1));
    } else {
      skipped.push(name);
    }
  };
  walk(obj, '', 0);
  const names = [...tensors.keys()];
  if (names.length && names.every((n) => n.startsWith('module.'))) {
    const stripped = new Map<string, TorchTensorRef>();
    for (const [n, t] of tensors) stripped.set(n.slice('module.'.length), t);
    return { tensors: stripped, skipped, unwrapped: unwrapped ? `${unwrapped}.module` : 'module' };
  }
  return { tensors, skipped, unwrapped };
}

/** A torch.save zip checkpoint, opened without running any of its code. */
export class TorchCheckpoint implements TensorSource {
  readonly description: string;

  private constructor(
    readonly file: string,
    private readonly zip: ZipReader,
    /** Archive folder name: torch uses the file's base name (or 'archive'). */
    readonly prefix: string,
    readonly tensors: Map<string, TorchTensorRef>,
    readonly skipped: string[],
    readonly unwrapped: string | undefined,
  ) {
    this.description = file;
  }

  static open(file: string): TorchCheckpoint {
    let head: Buffer;
    try {
      const fd = fs.openSync(file, 'r');
      try {
        head = Buffer.alloc(512);
        head = head.subarray(0, fs.readSync(fd, head, 0, 512, 0));
      } finally {
        fs.closeSync(fd);
      }
    } catch (e) {
      throw new TorchCheckpointError(`${file}: cannot open: ${(e as Error).message}`);
    }
    if (!looksLikeZip(head)) {
      if (isLegacyTorch(head)) throw legacyError(file);
      if (looksLikeSafetensors(head)) throw new TorchCheckpointError(`${file}: this is a safetensors file, not a torch zip checkpoint`);
      throw new TorchCheckpointError(`${file}: not a torch zip checkpoint (does not start with 'PK')`);
    }
    const zip = ZipReader.open(file);
    try {
      const pkls = [...zip.entries.keys()].filter((n) => /^[^/]+\/data\.pkl$/.test(n) || n === 'data.pkl');
      if (pkls.length !== 1) {
        throw new TorchCheckpointError(`${file}: expected one '<name>/data.pkl' record in the archive, found ${pkls.length ? pkls.join(', ') : 'none'} (is this a torch.save checkpoint?)`);
      }
      const prefix = pkls[0].slice(0, -'data.pkl'.length);
      const byteorder = zip.entries.has(`${prefix}byteorder`) ? zip.read(`${prefix}byteorder`).toString('latin1').trim() : 'little';
      if (byteorder !== 'little') throw new TorchCheckpointError(`${file}: storages are ${byteorder}-endian; only little-endian checkpoints are supported`);
      const where = `${file}: ${pkls[0]}`;
      const storages = new Map<string, TorchStorage>();
      const allowed = allowlist(where);
      const root = unpickle(zip.read(pkls[0]), {
        where,
        resolveGlobal: (module, name) => allowed.get(`${module}.${name}`),
        persistentLoad: (pid) => loadStorage(pid, storages, zip, prefix, where),
      });
      const flat = flattenStateDict(root, file);
      return new TorchCheckpoint(file, zip, prefix, flat.tensors, flat.skipped, flat.unwrapped);
    } catch (e) {
      zip.close();
      throw e;
    }
  }

  list(): Array<[string, SourceTensorInfo]> {
    return [...this.tensors].map(([n, t]) => [n, { dtype: t.dtype, shape: t.shape.slice() }]);
  }

  /** Contiguous little-endian bytes of one tensor; strided views are materialised. */
  readBytes(name: string): Buffer {
    const t = this.tensors.get(name);
    if (!t) throw new TorchCheckpointError(`${this.file}: no tensor named '${name}'`);
    return materialize(t, (off, len) => this.zip.readRange(`${this.prefix}data/${t.storage.key}`, off, len), `${this.file}: tensor '${name}'`);
  }

  close(): void {
    this.zip.close();
  }
}

function loadStorage(pid: unknown, cache: Map<string, TorchStorage>, zip: ZipReader, prefix: string, where: string): TorchStorage {
  // ('storage', storage_type, key, location, numel) — torch/serialization.py persistent_id.
  if (!Array.isArray(pid) || pid.length !== 5 || pid[0] !== 'storage') {
    throw new PickleError(`${where}: unsupported persistent id ${JSON.stringify(pid, (_, v) => (typeof v === 'bigint' ? String(v) : v))}`);
  }
  const [, type, key, location, numel] = pid;
  if (!(type instanceof StorageType)) throw new PickleError(`${where}: persistent id names a storage type that is not a torch.<X>Storage class`);
  if (typeof key !== 'string' || !/^[A-Za-z0-9_.-]+$/.test(key)) throw new PickleError(`${where}: bad storage key ${JSON.stringify(key)}`);
  if (!isNat(numel)) throw new PickleError(`${where}: bad element count ${String(numel)} for storage '${key}'`);
  const cached = cache.get(key);
  if (cached) {
    if (cached.dtype !== type.dtype) throw new PickleError(`${where}: storage '${key}' is used as both ${cached.dtype} and ${type.dtype}`);
    return cached;
  }
  const entry = `${prefix}data/${key}`;
  const e = zip.entries.get(entry);
  if (!e) throw new TorchCheckpointError(`${where}: storage '${key}' has no record '${entry}' in the archive`);
  const want = numel * DTYPE_BYTES[type.dtype];
  if (e.size < want) throw new TorchCheckpointError(`${where}: record '${entry}' has ${e.size} bytes but storage '${key}' is ${numel} x ${type.dtype} = ${want} bytes`);
  const s = new TorchStorage(key, type.dtype, numel, String(location));
  cache.set(key, s);
  return s;
}

/**
 * Gather a strided view into contiguous row-major bytes. `read(off, len)` reads bytes of the storage; only the span
 * the view touches is read, so a small slice of a large shared storage costs only its own span.
 */
export function materialize(t: TorchTensorRef, read: (byteOffset: number, length: number) => Buffer, where: string): Buffer {
  const isz = DTYPE_BYTES[t.dtype];
  const n = numelOf(t.shape);
  if (n === 0) return Buffer.alloc(0);
  let last = t.offset;
  for (let d = 0; d < t.shape.length; d++) last += (t.shape[d] - 1) * t.stride[d];
  if (last >= t.storage.numel) {
    throw new TorchCheckpointError(
      `${where}: view (offset ${t.offset}, size ${JSON.stringify(t.shape)}, stride ${JSON.stringify(t.stride)}) reaches element ${last} of storage '${t.storage.key}', which has ${t.storage.numel}`,
    );
  }
  const span = read(t.offset * isz, (last - t.offset + 1) * isz);
  if (isContiguous(t.shape, t.stride)) return span;
  const out = Buffer.allocUnsafe(n * isz);
  const rank = t.shape.length;
  const inner = t.shape[rank - 1];
  const innerStride = t.stride[rank - 1];
  const idx = new Array<number>(rank - 1).fill(0);
  let o = 0;
  for (let row = 0; row < n / inner; row++) {
    let base = 0;
    for (let d = 0; d < rank - 1; d++) base += idx[d] * t.stride[d];
    if (innerStride === 1) {
      span.copy(out, o, base * isz, (base + inner) * isz);
      o += inner * isz;
    } else {
      for (let j = 0; j < inner; j++, o += isz) {
        const s = (base + j * innerStride) * isz;
        span.copy(out, o, s, s + isz);
      }
    }
    for (let d = rank - 2; d >= 0; d--) {
      if (++idx[d] < t.shape[d]) break;
      idx[d] = 0;
    }
  }
  return out;
}

/** Row-major contiguity; dimensions of size 1 may carry any stride (torch gives them arbitrary ones). */
export function isContiguous(shape: readonly number[], stride: readonly number[]): boolean {
  let expected = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    if (shape[d] !== 1 && stride[d] !== expected) return false;
    expected *= shape[d];
  }
  return true;
}
