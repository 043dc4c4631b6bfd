// What both KV caches (kv_cache.ts in our kernels' memory, tensor_kv_cache.ts on the device) share:
// a per-layer store of keys and values that can be read back in HF's legacy layout.
import * as tf from '@tensorflow/tfjs-core';

export abstract class LayerCache {
  protected disposed = false;

  constructor(readonly numLayers: number) {}

  protected check(): void {
    if (this.disposed) throw new Error('KVCache: used after dispose()');
  }

  /** Cached positions (the same in every layer once a step has run through all layers). */
  get length(): number {
    return this.layerLength(this.numLayers - 1);
  }

  /** Positions in layer `i`, the shared prefix included. */
  abstract layerLength(i: number): number;

  /** Layer `i` as (key, value) tensors [B, heads, length, headDim], new tensors the caller disposes. */
  abstract materialize(i: number): { key: tf.Tensor4D; value: tf.Tensor4D } | null;

  /** Layer `i` in HF's legacy layout [B, heads, len, headDim] (a copy). */
  legacy(i: number): { key: tf.Tensor4D; value: tf.Tensor4D } {
    const m = this.materialize(i);
    if (!m) throw new Error(`KVCache: layer ${i} is empty`);
    return m;
  }
}
