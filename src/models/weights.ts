// Where parameters come from: a checkpoint (HF state-dict names, unchanged) or HF's random init.
// Loading is planned: the module tree is first built with a PlanningSource that only records
// what each module asks for, every problem (missing, unexpected, misshapen keys) is reported at
// once before a byte of weights is read, then each tensor is read in storage order (only the
// rank's slice, SHARDING_TABLE) and the tree is built again from the loaded tensors. Reads are
// asynchronous, so the same loader serves local files, HTTP and browser Files.
import * as tf from '@tensorflow/tfjs-core';
import { DTYPE_BYTES, HostTensor, decodeTensorBytes, isFloatDtype } from '../io/safetensors';
import { TensorReader } from '../io/tensor_reader';
import { ParallelContext, SINGLE_RANK } from '../layers/parallel';
import { LAYOUT_TABLE, ParamRequest, ParamSource, shardRuns, shardShape, shardingFor, sliceShard } from '../layers/params';
import { Rng } from './rng';

export { LAYOUT_TABLE, SHARDING_TABLE } from '../layers/params';
export type { Init, Layout, ParamRequest, ParamSource } from '../layers/params';

export class WeightLoadError extends Error {}

/**
 * Records every request and hands out stand-ins: planning builds a tree that is thrown away, so
 * no tensor (and no tfjs backend) is needed. The only parameters a module reads while it is being
 * built are buffers (rotary inv_freq), whose stand-ins carry the real values.
 */
export class PlanningSource implements ParamSource {
  readonly requests: ParamRequest[] = [];
  constructor(readonly parallel: ParallelContext = SINGLE_RANK) {}
  take(req: ParamRequest): tf.Tensor {
    this.requests.push(req);
    const values = req.init.kind === 'buffer' ? req.init.values : new Float32Array(0);
    return { shape: req.shape, dataSync: () => values, dispose: () => {} } as unknown as tf.Tensor;
  }
  dispose(): void {}
}

/** Tensors loaded ahead (loadParameters), handed to the modules that asked for them. */
export class PreloadedSource implements ParamSource {
  constructor(readonly parallel: ParallelContext, private readonly tensors: Map<string, tf.Tensor>) {}
  take(req: ParamRequest): tf.Tensor {
    const t = this.tensors.get(req.name);
    if (t) return t;
    if (req.init.kind === 'buffer') return tf.tensor(req.init.values, req.shape, 'float32');
    throw new WeightLoadError(`'${req.name}' was not loaded (the module tree asked for a parameter the plan did not have)`);
  }
}

/**
 * Buffers HF never saves (the attention `bias` causal masks) may still appear in checkpoints
 * written by other tools; they carry no information, so they are accepted and ignored.
 */
function isNonPersistentBuffer(key: string): boolean {
  return /(\.attn|\.self_attn|mel_attn_blocks\.\d+)\.(bias|masked_bias)$/.test(key) && !/_proj\.bias$/.test(key);
}

const sameShape = (a: number[], b: number[]) => a.length === b.length && a.every((d, i) => d === b[i]);

/** Every problem with the checkpoint against the plan, found from headers alone. */
function checkPlan(reader: TensorReader, plan: ParamRequest[]): string[] {
  const problems: string[] = [];
  const wanted = new Set<string>();
  for (const req of plan) {
    wanted.add(req.name);
    if (!reader.has(req.name)) {
      if (req.init.kind !== 'buffer') problems.push(`missing key '${req.name}' (expected shape [${req.shape}])`);
      continue;
    }
    const info = reader.info(req.name);
    if (!sameShape(info.shape, req.shape)) problems.push(`shape mismatch for '${req.name}': checkpoint has [${info.shape}], the config implies [${req.shape}]`);
    else if (!isFloatDtype(info.dtype)) problems.push(`'${req.name}' has integer dtype ${info.dtype}, expected a float tensor`);
  }
  for (const k of reader.keys()) if (!wanted.has(k) && !isNonPersistentBuffer(k)) problems.push(`unexpected key '${k}' [${reader.info(k).shape}]`);
  return problems;
}

/**
 * The rank's slice of one tensor, reading only its bytes: one read per run when the split axis is
 * the outermost, else (a column slice of a row-major matrix) one positional read per row and run
 * where the files are local. Over HTTP that would be a request per row, so there the tensor is
 * read whole and sliced: one tensor's transient copy.
 */
async function readSlice(reader: TensorReader, req: ParamRequest, rank: number, size: number, synchronous: boolean): Promise<HostTensor> {
  const info = reader.info(req.name);
  const runs = shardRuns(req, rank, size);
  const axis = runs ? (shardingFor(req.name).rule as { axis: number }).axis : -1;
  if (!runs) return decodeTensorBytes(`'${req.name}'`, info.dtype, info.shape.slice(), await reader.readBytes(req.name));
  const shape = shardShape(req, rank, size);
  const outer = info.shape.slice(0, axis).reduce((a, b) => a * b, 1);
  const unitBytes = info.shape.slice(axis + 1).reduce((a, b) => a * b, 1) * DTYPE_BYTES[info.dtype];
  const ranges: Array<[number, number]> = [];
  for (let i = 0; i < outer; i++) for (const [b, e] of runs) ranges.push([(i * info.shape[axis] + b) * unitBytes, (i * info.shape[axis] + e) * unitBytes]);
  let bytes: Uint8Array;
  if (ranges.length <= runs.length) {
    const parts = await Promise.all(ranges.map(([b, e]) => reader.readBytes(req.name, b, e)));
    bytes = parts.length === 1 ? parts[0] : concatBytes(parts);
  } else if (synchronous && reader.readBytesSync) {
    bytes = new Uint8Array(ranges.reduce((n, [b, e]) => n + e - b, 0));
    let o = 0;
    for (const [b, e] of ranges) {
      bytes.set(reader.readBytesSync(req.name, b, e), o);
      o += e - b;
    }
  } else {
    return sliceShard(decodeTensorBytes(`'${req.name}'`, info.dtype, info.shape.slice(), await reader.readBytes(req.name)), req, rank, size);
  }
  return decodeTensorBytes(`'${req.name}'`, info.dtype, shape, bytes);
}

function concatBytes(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** A NaN or infinite weight would surface much later as a NaN score: refuse it here, by name. */
function checkFinite(name: string, data: Float32Array): void {
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (v - v !== 0) throw new WeightLoadError(`'${name}' holds ${v} at flat index ${i}: the checkpoint is corrupt (weights must be finite)`);
  }
}

export interface LoadProgress {
  tensors: number;
  totalTensors: number;
  bytes: number;
  totalBytes: number;
}

/**
 * Read the rank's slice of every planned parameter, in storage order, as tensors in compute
 * layout. Throws one WeightLoadError listing every problem before reading any weights.
 */
export async function loadParameters(
  reader: TensorReader,
  plan: ParamRequest[],
  opts: { label: string; parallel?: ParallelContext; onProgress?: (p: LoadProgress) => void },
): Promise<Map<string, tf.Tensor>> {
  const problems = checkPlan(reader, plan);
  if (problems.length) throw new WeightLoadError(`${opts.label}: ${problems.length} problem(s) loading weights:\n  ${problems.join('\n  ')}`);
  const { rank, size } = opts.parallel ?? SINGLE_RANK;
  const present = plan.filter((r) => reader.has(r.name));
  const order = (r: ParamRequest) => {
    const i = reader.info(r.name);
    return [i.file ?? '', i.dataOffsets?.[0] ?? 0] as const;
  };
  present.sort((a, b) => {
    const [fa, oa] = order(a);
    const [fb, ob] = order(b);
    return fa < fb ? -1 : fa > fb ? 1 : oa - ob;
  });
  const bytesOf = (r: ParamRequest) => shardShape(r, rank, size).reduce((x, y) => x * y, 1) * DTYPE_BYTES[reader.info(r.name).dtype];
  const totalBytes = present.reduce((n, r) => n + bytesOf(r), 0);
  const out = new Map<string, tf.Tensor>();
  const synchronous = (reader as { synchronous?: boolean }).synchronous === true;
  let bytes = 0;
  try {
    for (const req of present) {
      const host = await readSlice(reader, req, rank, size, synchronous);
      checkFinite(req.name, host.data as Float32Array);
      if (req.init.kind === 'buffer') checkBuffer(req.name, req.init.values, host.data as Float32Array);
      const t = LAYOUT_TABLE[req.layout].toCompute(host);
      out.set(req.name, tf.tensor(t.data, t.shape, 'float32'));
      bytes += bytesOf(req);
      opts.onProgress?.({ tensors: out.size, totalTensors: present.length, bytes, totalBytes });
    }
  } catch (e) {
    for (const t of out.values()) t.dispose();
    throw e;
  }
  return out;
}

function checkBuffer(name: string, want: Float32Array, got: Float32Array): void {
  let worst = 0;
  for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(want[i] - got[i]) / Math.max(Math.abs(want[i]), 1e-30));
  if (worst > 1e-5) throw new WeightLoadError(`buffer '${name}' differs from the value the config implies (max rel diff ${worst.toExponential(2)}): wrong rotary dimension?`);
}

/**
 * HF's `_init_weights` scheme with a seeded generator, for tests and benchmarks. Every rank draws
 * the whole stream and keeps its slice, so a sharded random model equals the unsharded one.
 */
export class RandomInitSource implements ParamSource {
  private readonly rng: Rng;
  /**
   * @param onParam sees each parameter whole, in the HF layout, e.g. to save a random model as a checkpoint
   */
  constructor(seed = 0, private readonly onParam?: (req: ParamRequest, hfData: Float32Array) => void, readonly parallel: ParallelContext = SINGLE_RANK) {
    this.rng = new Rng(seed);
  }

  take(req: ParamRequest): tf.Tensor {
    const data = initialValues(req, this.rng);
    this.onParam?.(req, data);
    const shard = sliceShard({ dtype: 'float32', shape: req.shape, data }, req, this.parallel.rank, this.parallel.size);
    const t = LAYOUT_TABLE[req.layout].toCompute(shard);
    return tf.tensor(t.data, t.shape, 'float32');
  }
}

/** The values HF's `_init_weights` gives a parameter, drawn from `rng` (whole, in the HF layout). */
export function initialValues(req: ParamRequest, rng: Rng): Float32Array {
  const n = req.shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  const init = req.init;
  switch (init.kind) {
    case 'normal':
      for (let i = 0; i < n; i++) data[i] = rng.normal() * init.std;
      break;
    case 'ones':
      data.fill(1);
      break;
    case 'const':
      data.fill(init.value);
      break;
    case 'buffer':
      data.set(init.values);
      break;
    case 'zeros':
      break;
  }
  return data;
}
