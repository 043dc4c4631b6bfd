// The tensor-parallel context a layer runs in (Megatron-LM's model-parallel group): which rank of
// how many it is, and the two collectives the sharded layers need. With one rank (the default)
// both collectives are the identity, so every layer has one code path, sharded or not.
import * as tf from '@tensorflow/tfjs-core';
import { viewOf } from './host_io';

export interface ParallelContext {
  readonly rank: number;
  readonly size: number;
  /** The elementwise sum of every rank's `x` (same shape on every rank), identical on all ranks. */
  allReduce(x: tf.Tensor): tf.Tensor;
  /** Every rank's `x` concatenated along `axis` in rank order (ranks may differ along `axis` only). */
  allGather(x: tf.Tensor, axis: number): tf.Tensor;
  /**
   * `acc += sum over ranks of x`, on the host: the partial outputs of a row-parallel layer added
   * into this rank's copy of a replicated residual stream (ResidualStream), in one pass.
   */
  reduceInto(x: tf.Tensor, acc: Float32Array): void;
  /**
   * Every rank's 2-D `x` [rows, cols_r] concatenated along its columns, on the host
   * [rows, sum of cols_r]; `columns` lists cols_r of every rank (known to all, so no exchange of sizes).
   */
  gatherColumns(x: tf.Tensor2D, columns: readonly number[]): Float32Array;
}

/** One instance holding the whole model. */
export const SINGLE_RANK: ParallelContext = Object.freeze({
  rank: 0,
  size: 1,
  allReduce: (x: tf.Tensor) => x,
  allGather: (x: tf.Tensor) => x,
  reduceInto: (x: tf.Tensor, acc: Float32Array) => {
    const v = viewOf(x);
    for (let i = 0; i < acc.length; i++) acc[i] += v[i];
  },
  gatherColumns: (x: tf.Tensor2D) => Float32Array.from(x.dataSync() as Float32Array),
});

/**
 * The part of `units` (heads, inner features, vocabulary rows) that `rank` of `size` holds: as even
 * as possible, the first `units % size` ranks one more (5 heads over 2 ranks: 3 + 2).
 */
export function shardRange(units: number, rank: number, size: number): { start: number; count: number } {
  const base = Math.floor(units / size);
  const extra = units % size;
  return { start: rank * base + Math.min(rank, extra), count: base + (rank < extra ? 1 : 0) };
}
