// The tensor-parallel context a layer runs in (Megatron-LM's model-parallel group): which rank of
// how many it is, and the two collectives the sharded layers need. With one rank (the default)
// both collectives are the identity, so every layer has one code path, sharded or not.
import * as tf from '@tensorflow/tfjs-core';

export interface ParallelContext {
  readonly rank: number;
  readonly size: number;
  /** The elementwise sum of every rank's `x` (same shape on every rank), identical on all ranks. */
  allReduce(x: tf.Tensor): tf.Tensor;
  /** Every rank's `x` concatenated along `axis` in rank order (ranks may differ along `axis` only). */
  allGather(x: tf.Tensor, axis: number): tf.Tensor;
}

/** One instance holding the whole model. */
export const SINGLE_RANK: ParallelContext = Object.freeze({
  rank: 0,
  size: 1,
  allReduce: (x: tf.Tensor) => x,
  allGather: (x: tf.Tensor) => x,
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
