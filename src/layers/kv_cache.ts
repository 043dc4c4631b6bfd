// The decoder's key/value cache: an explicit object, owned by whoever runs the decode loop.
//
// tfjs tensors are immutable, so "append" means building a new tensor. Concatenating the whole
// cache every step moves O(length) bytes per token (O(n^2) over a sequence). Instead each layer
// keeps a list of chunks: full chunks are never copied again, and only the open chunk (at most
// `chunkSize` positions) is rebuilt on append. Attention runs chunk by chunk (see attention.ts).
import * as tf from '@tensorflow/tfjs-core';

interface LayerCache {
  /** transposed keys, each [B, heads, headDim, len] (so q @ k needs no transposeB, slow on wasm) */
  keysT: tf.Tensor4D[];
  /** values, each [B, heads, len, headDim] */
  values: tf.Tensor4D[];
}

export class KVCache {
  private readonly layers: LayerCache[];
  private len = 0;
  private disposed = false;

  /**
   * @param numLayers decoder layers
   * @param chunkSize positions per chunk; Infinity gives the plain concatenating cache
   */
  constructor(readonly numLayers: number, readonly chunkSize = 64) {
    if (!(chunkSize >= 1)) throw new RangeError(`KVCache: chunkSize must be >= 1, got ${chunkSize}`);
    this.layers = Array.from({ length: numLayers }, () => ({ keysT: [], values: [] }));
  }

  /** Cached positions (the same in every layer once a step has run through all layers). */
  get length(): number {
    return this.len;
  }

  /** Number of positions in layer `i`. */
  layerLength(i: number): number {
    return this.layers[i].values.reduce((a, v) => a + v.shape[2], 0);
  }

  /**
   * Append new keys (transposed, [B, heads, headDim, T]) and values ([B, heads, T, headDim]) to layer
   * `i`; the cache takes ownership of both. Returns the layer's chunks for attention.
   */
  append(i: number, keyT: tf.Tensor4D, value: tf.Tensor4D): LayerCache {
    if (this.disposed) throw new Error('KVCache: used after dispose()');
    const layer = this.layers[i];
    const n = layer.values.length;
    const lastLen = n ? layer.values[n - 1].shape[2] : Infinity;
    if (n && lastLen < this.chunkSize) {
      const k = tf.concat([layer.keysT[n - 1], keyT], 3) as tf.Tensor4D;
      const v = tf.concat([layer.values[n - 1], value], 2) as tf.Tensor4D;
      layer.keysT[n - 1].dispose();
      layer.values[n - 1].dispose();
      keyT.dispose();
      value.dispose();
      layer.keysT[n - 1] = k;
      layer.values[n - 1] = v;
    } else {
      tf.keep(keyT);
      tf.keep(value);
      layer.keysT.push(keyT);
      layer.values.push(value);
    }
    tf.keep(layer.keysT[layer.keysT.length - 1]);
    tf.keep(layer.values[layer.values.length - 1]);
    if (i === this.numLayers - 1) this.len = this.layerLength(i);
    return layer;
  }

  /**
   * Rebuild every chunk from rows `indices` of the current batch (e.g. one cached prefix copied to
   * many candidates: a prefill computed once instead of once per candidate).
   */
  gatherRows(indices: Int32Array): void {
    if (this.disposed) throw new Error('KVCache: used after dispose()');
    const idx = tf.tensor1d(indices, 'int32');
    for (const l of this.layers) {
      for (const list of [l.keysT, l.values]) {
        for (let c = 0; c < list.length; c++) {
          const old = list[c];
          list[c] = tf.keep(tf.gather(old, idx, 0));
          old.dispose();
        }
      }
    }
    idx.dispose();
  }

  /** Layer `i` as one (key, value) pair in HF's legacy layout [B, heads, len, headDim] (a copy). */
  legacy(i: number): { key: tf.Tensor4D; value: tf.Tensor4D } {
    const l = this.layers[i];
    return tf.tidy(() => ({
      key: tf.transpose(tf.concat(l.keysT, 3), [0, 1, 3, 2]) as tf.Tensor4D,
      value: tf.concat(l.values, 2) as tf.Tensor4D,
    }));
  }

  /** Chunks held by layer `i` (for tests and diagnostics). */
  chunkCount(i: number): number {
    return this.layers[i].values.length;
  }

  /** Bytes held by all layers. */
  bytes(): number {
    let n = 0;
    for (const l of this.layers) for (const t of [...l.keysT, ...l.values]) n += t.size * 4;
    return n;
  }

  dispose(): void {
    for (const l of this.layers) {
      for (const t of [...l.keysT, ...l.values]) t.dispose();
      l.keysT = [];
      l.values = [];
    }
    this.len = 0;
    this.disposed = true;
  }
}
