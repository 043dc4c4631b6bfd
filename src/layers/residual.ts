// The decoder's residual stream, kept on the host. At a decode step the tensors are a few rows
// of 1024 floats, so what costs is not arithmetic but the number of tfjs ops (each ~10-15 us of
// dispatch on wasm here): a LayerNorm is nine of them, a residual add one, and under tensor
// parallelism every block ends in an all-reduce that brings the partial sums to the host anyway.
// Here the reduction, the residual add and the next LayerNorm are one pass over host memory.
// Every rank holds the same stream, bitwise (the ranks' partials are summed in rank order).
import * as tf from '@tensorflow/tfjs-core';
import { hostTensor, viewOf } from './host_io';
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
    return new ResidualStream(Float32Array.from(viewOf(x)), x.shape as [number, number, number], parallel);
  }

  /** ln(stream) as a tensor [B, T, E], the input of the next block. */
  normalized(ln: LayerNorm): tf.Tensor3D {
    return hostTensor<tf.Rank.R3>(this.shape, (out) => ln.applyHost(this.data, out));
  }

  /** The same as rows [B * T, E], what the projections multiply without a reshape. */
  normalizedRows(ln: LayerNorm): tf.Tensor2D {
    return hostTensor<tf.Rank.R2>([this.shape[0] * this.shape[1], this.shape[2]], (out) => ln.applyHost(this.data, out));
  }

  /** stream += the block's output: its ranks' partial sums, reduced (ParallelContext.reduceInto). */
  add(partial: tf.Tensor): void {
    this.parallel.reduceInto(partial, this.data);
  }

  /** A snapshot as a tensor (a copy: the cpu backend would keep the array, which the stream goes on changing). */
  toTensor(): tf.Tensor3D {
    return tf.tensor3d(this.data.slice(), this.shape);
  }

  dispose(): void {
    // plain host memory
  }
}

/**
 * The same stream kept as a tensor on the backend's device, for backends whose synchronous reads
 * are slow or unsafe (tfjs-webgpu: see tensor_kv_cache.ts). One instance only: the tensor-parallel
 * all-reduce works on host memory.
 */
export class DeviceResidualStream {
  private constructor(private tensor: tf.Tensor3D) {}

  static fromTensor(x: tf.Tensor3D, parallel: ParallelContext): DeviceResidualStream {
    if (parallel.size > 1) throw new Error('DeviceResidualStream: tensor parallelism reduces on the host stream');
    // Kept: the stream outlives the tidy scope of each block that adds to it.
    return new DeviceResidualStream(tf.keep(tf.clone(x)));
  }

  get shape(): [number, number, number] {
    return this.tensor.shape;
  }

  normalized(ln: LayerNorm): tf.Tensor3D {
    return ln.apply(this.tensor) as tf.Tensor3D;
  }

  normalizedRows(ln: LayerNorm): tf.Tensor2D {
    const [b, t, e] = this.shape;
    return tf.reshape(ln.apply(this.tensor), [b * t, e]);
  }

  add(partial: tf.Tensor): void {
    const next = tf.keep(tf.add(this.tensor, tf.reshape(partial, this.shape)) as tf.Tensor3D);
    this.tensor.dispose();
    this.tensor = next;
  }

  toTensor(): tf.Tensor3D {
    return tf.clone(this.tensor);
  }

  /** The last position of every row [B, E] (a new tensor). */
  lastRows(): tf.Tensor2D {
    const [b, t, e] = this.shape;
    return tf.tidy(() => tf.reshape(tf.slice(this.tensor, [0, t - 1, 0], [b, 1, e]), [b, e]));
  }

  dispose(): void {
    this.tensor.dispose();
  }
}
