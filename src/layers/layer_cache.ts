// What both KV caches (kv_cache.ts in our kernels' memory, tensor_kv_cache.ts on the device) share:
// per layer, a prefix shared by every fork (refcounted) and the cache's own positions; forks of
// the shared prefix; HF's legacy layout.
import * as tf from '@tensorflow/tfjs-core';

export abstract class LayerCache<P extends { users: number }, O> {
  protected disposed = false;
  protected readonly layers: Array<{ prefix: P | null; own: O | null }>;

  constructor(readonly numLayers: number) {
    this.layers = Array.from({ length: numLayers }, () => ({ prefix: null, own: null }));
  }

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

  /** An empty cache of the same kind and settings. */
  protected abstract emptyLike(): this;

  /** Layer `i` in HF's legacy layout [B, heads, len, headDim] (a copy). */
  legacy(i: number): { key: tf.Tensor4D; value: tf.Tensor4D } {
    const m = this.materialize(i);
    if (!m) throw new Error(`KVCache: layer ${i} is empty`);
    return m;
  }

  /**
   * A new cache that attends to this cache's shared prefix (no copy) and has no positions of its
   * own yet: one prefill serves every batch of candidates for the same text. The prefix is freed
   * when the last cache using it is disposed.
   */
  forkSharedPrefix(): this {
    this.check();
    const fork = this.emptyLike();
    this.layers.forEach((l, i) => {
      if (!l.prefix || l.own) throw new Error('KVCache.forkSharedPrefix: call shareAsPrefix first, before appending');
      l.prefix.users++;
      fork.layers[i].prefix = l.prefix;
    });
    return fork;
  }

  /** Check rows asked for by gatherRows against the `rows` a layer holds. */
  protected static checkRows(indices: Int32Array, rows: number): void {
    for (const src of indices) if (!(src >= 0 && src < rows)) throw new RangeError(`KVCache.gatherRows: row ${src} of ${rows}`);
  }
}
