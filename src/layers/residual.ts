// The decoder's residual stream, kept on the host. At a decode step the tensors are a few rows
// of 1024 floats, so what costs is not arithmetic but the number of tfjs ops (each ~10-15 us of
// dispatch on wasm here): a LayerNorm is nine of them, a residual add one, and under tensor
// parallelism every block ends in an all-reduce that brings the partial sums to the host anyway.
// Here the reduction, the residual add and the next LayerNorm are one pass over host memory.
// Every rank holds the same stream, bitwise (the ranks' partials are summed in rank order).
import * as tf from '@tensorflow/tfjs-core';
import { LayerNorm } from './layer_norm';
import { ParallelContext } from './parallel';

export class ResidualStream {
  private constructor(
    /** [B, T, E] row-major, float32 */
    readonly data: Float32Array,
    readonly shape: [number, number, number],
    private readonly parallel: ParallelContext,
  ) {}

  /** The stream starting from a replicated tensor (the embeddings). */
  static fromTensor(x: tf.Tensor3D, parallel: ParallelContext): ResidualStream {
    return new ResidualStream(Float32Array.from(x.dataSync() as Float32Array), x.shape as [number, number, number], parallel);
  }

  /** ln(stream) as a tensor [B, T, E], the input of the next block. */
  normalized(ln: LayerNorm): tf.Tensor3D {
    return tf.tensor3d(ln.applyHost(this.data), this.shape);
  }

  /** The same as rows [B * T, E], what the projections multiply without a reshape. */
  normalizedRows(ln: LayerNorm): tf.Tensor2D {
    return tf.tensor2d(ln.applyHost(this.data), [this.shape[0] * this.shape[1], this.shape[2]]);
  }

  /** stream += the block's output: its ranks' partial sums, reduced (ParallelContext.reduceInto). */
  add(partial: tf.Tensor): void {
    this.parallel.reduceInto(partial, this.data);
  }

  /** A snapshot as a tensor (a copy: the cpu backend would keep the array, which the stream goes on changing). */
  toTensor(): tf.Tensor3D {
    return tf.tensor3d(this.data.slice(), this.shape);
  }
}
