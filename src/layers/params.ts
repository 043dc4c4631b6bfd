// How layers ask for their parameters, and the two tables that say what happens to a checkpoint
// tensor on its way to a layer: LAYOUT_TABLE (the layout we compute with) and SHARDING_TABLE (the
// slice each tensor-parallel rank holds). Layers request every parameter by its HF state-dict key
// and HF shape; a ParamSource (checkpoint reader, random init; models/weights.ts) answers with the
// rank's slice in compute layout.
import * as tf from '@tensorflow/tfjs-core';
import type { HostTensor } from '../io/safetensors';
import { ParallelContext, shardRange } from './parallel';

/**
 * How an HF tensor is laid out, and what we keep. Linear weights are transposed once at load
 * because the wasm matmul is ~8x slower with transposeB (measured: 64 ms vs 7 ms for 16x1024x4096).
 */
export type Layout =
  /** kept as stored */
  | 'same'
  /** nn.Linear weight [out, in] -> [in, out] */
  | 'linear'
  /** nn.Conv1d weight with kernel 1 [out, in, 1] -> [in, out] */
  | 'conv1d_k1'
  /** GPT-2 Conv1D weight, already [in, out] */
  | 'gpt2_conv1d';

export const LAYOUT_TABLE: Record<Layout, { describe: string; toCompute(t: HostTensor): HostTensor }> = {
  same: { describe: 'as stored', toCompute: (t) => t },
  linear: { describe: 'transpose [out, in] -> [in, out]', toCompute: (t) => transpose2d(t) },
  conv1d_k1: { describe: 'drop kernel axis, transpose [out, in, 1] -> [in, out]', toCompute: (t) => transpose2d({ ...t, shape: [t.shape[0], t.shape[1]] }) },
  gpt2_conv1d: { describe: 'as stored ([in, out])', toCompute: (t) => t },
};

function transpose2d(t: HostTensor): HostTensor {
  const [r, c] = t.shape;
  const src = t.data as Float32Array;
  const out = new Float32Array(r * c);
  for (let i = 0; i < r; i++) {
    const row = i * c;
    for (let j = 0; j < c; j++) out[j * r + i] = src[row + j];
  }
  return { dtype: t.dtype, shape: [c, r], data: out };
}

/**
 * What a sharded layer does with its output across ranks: nothing (each rank keeps its slice of the
 * features), sum the partial products (the input features were split), or concatenate the slices.
 */
export type Combine = 'local' | 'sum' | 'gather';

export type ShardRule =
  | { kind: 'replicate' }
  /** Split HF axis `axis` into contiguous runs of whole units; with `groups`, each of that many equal parts of the axis is split alike. */
  | { kind: 'split'; axis: number; groups?: number };

export interface ShardingEntry {
  match: RegExp;
  rule: ShardRule;
  /** for a layer's weight: how its outputs combine across ranks */
  combine: Combine;
  why: string;
}

/**
 * Megatron-LM's scheme for a GPT-2 / CLIP style transformer. A block splits its first projection
 * by output features ("column parallel": attention by whole heads, MLPs by inner features) and its
 * second by input features ("row parallel"), so each rank computes its part of the block with no
 * communication and one all-reduce sums the partial outputs. The residual stream, LayerNorms and
 * small tables are replicated. Axes are those of the HF tensors (nn.Linear [out, in], GPT-2 Conv1D
 * [in, out]). First match wins.
 */
export const SHARDING_TABLE: readonly ShardingEntry[] = [
  { match: /\.(q_proj|k_proj|v_proj)\.(weight|bias)$/, rule: { kind: 'split', axis: 0 }, combine: 'local', why: 'column parallel: the rank\'s heads' },
  { match: /\.out_proj\.weight$/, rule: { kind: 'split', axis: 1 }, combine: 'sum', why: 'row parallel: the input features of the rank\'s heads' },
  { match: /\.mlp\.c_fc\.weight$/, rule: { kind: 'split', axis: 1 }, combine: 'local', why: 'column parallel (Conv1D [in, out]): a slice of the inner features' },
  { match: /\.mlp\.c_fc\.bias$/, rule: { kind: 'split', axis: 0 }, combine: 'local', why: 'follows c_fc\'s output features' },
  { match: /\.mlp\.c_proj\.weight$/, rule: { kind: 'split', axis: 0 }, combine: 'sum', why: 'row parallel (Conv1D [in, out]): the same inner features' },
  { match: /\.mlp\.fc1\.proj\.(weight|bias)$/, rule: { kind: 'split', axis: 0, groups: 2 }, combine: 'local', why: 'column parallel; the hidden and gate halves split alike so each rank gates its own features' },
  { match: /\.mlp\.fc2\.weight$/, rule: { kind: 'split', axis: 1 }, combine: 'sum', why: 'row parallel: the inner features of fc1' },
  { match: /\.(input_embeds_layer|token_embedding|text_token_embedding)\.weight$/, rule: { kind: 'split', axis: 0 }, combine: 'sum', why: 'vocabulary rows; ids outside a rank\'s rows look up zeros, so the sum is the lookup' },
  { match: /\.lm_head\.(weight|bias)$/, rule: { kind: 'split', axis: 0 }, combine: 'gather', why: 'vocabulary columns of the logits, gathered for sampling' },
  { match: /.*/, rule: { kind: 'replicate' }, combine: 'local', why: 'norms, position tables, mel_conv, projections, logit_scale, and the biases of row-parallel layers (added once, by rank 0, before the sum)' },
];

export function shardingFor(name: string): ShardingEntry {
  return SHARDING_TABLE.find((e) => e.match.test(name))!;
}

/** HF `_init_weights` for each kind of parameter. */
export type Init =
  | { kind: 'normal'; std: number }
  | { kind: 'zeros' }
  | { kind: 'ones' }
  | { kind: 'const'; value: number }
  /** a persisted buffer we recompute; given values are checked against it */
  | { kind: 'buffer'; values: Float32Array };

export interface ParamRequest {
  name: string;
  /** the shape in the HF checkpoint */
  shape: number[];
  layout: Layout;
  init: Init;
  /** Units the split axis (of one group) holds: heads for attention projections. Default: its length. */
  units?: number;
}

export interface ParamSource {
  /** the rank these parameters are for (SINGLE_RANK: the whole model) */
  readonly parallel: ParallelContext;
  /** The rank's slice of the parameter, in compute layout. */
  take(req: ParamRequest): tf.Tensor;
}

/** The element runs of the split axis that `rank` holds: one per group, [begin, end). */
export function shardRuns(req: ParamRequest, rank: number, size: number): Array<[number, number]> | null {
  const rule = shardingFor(req.name).rule;
  if (rule.kind === 'replicate' || size === 1) return null;
  const groups = rule.groups ?? 1;
  const len = req.shape[rule.axis] / groups;
  const units = req.units ?? len;
  if (!Number.isInteger(len) || len % units !== 0) throw new Error(`${req.name}: axis ${rule.axis} of [${req.shape}] does not split into ${groups} x ${units} units`);
  if (units < size) throw new Error(`${req.name}: ${units} units cannot be split over ${size} tensor-parallel ranks`);
  const unit = len / units;
  const { start, count } = shardRange(units, rank, size);
  return Array.from({ length: groups }, (_, g) => [g * len + start * unit, g * len + (start + count) * unit] as [number, number]);
}

/** The HF shape of the rank's slice. */
export function shardShape(req: ParamRequest, rank: number, size: number): number[] {
  const runs = shardRuns(req, rank, size);
  if (!runs) return req.shape.slice();
  const axis = (shardingFor(req.name).rule as { axis: number }).axis;
  const out = req.shape.slice();
  out[axis] = runs.reduce((n, [b, e]) => n + e - b, 0);
  return out;
}

/** The rank's slice of a whole HF tensor (the runs of its split axis, concatenated). */
export function sliceShard(t: HostTensor, req: ParamRequest, rank: number, size: number): HostTensor {
  const runs = shardRuns(req, rank, size);
  if (!runs) return t;
  const axis = (shardingFor(req.name).rule as { axis: number }).axis;
  const outer = t.shape.slice(0, axis).reduce((a, b) => a * b, 1);
  const inner = t.shape.slice(axis + 1).reduce((a, b) => a * b, 1);
  const shape = shardShape(req, rank, size);
  const out = new (t.data.constructor as Float32ArrayConstructor)(shape.reduce((a, b) => a * b, 1));
  let o = 0;
  for (let i = 0; i < outer; i++) {
    for (const [b, e] of runs) {
      const from = (i * t.shape[axis] + b) * inner;
      const n = (e - b) * inner;
      out.set((t.data as Float32Array).subarray(from, from + n), o);
      o += n;
    }
  }
  return { dtype: t.dtype, shape, data: out };
}
