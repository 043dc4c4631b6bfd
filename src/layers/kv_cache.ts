// The decoder's key/value cache: an explicit object, owned by whoever runs the decode loop.
//
// tfjs tensors are immutable, so "append" means building a new tensor. Concatenating the whole
// cache every step moves O(length) bytes per token (O(n^2) over a sequence). Instead each layer
// keeps a list of chunks: full chunks are never copied again, and only the open chunk (at most
// `chunkSize` positions) is rebuilt on append. Attention runs chunk by chunk (see attention.ts).
//
// Candidates sampled for one text share their prefix (the conditioning): `shareAsPrefix` turns a
// batch-1 prefill into a prefix every row attends to, stored once rather than once per candidate,
// and split by head so attention can use one fast batch-1 product per head (batched_matmul.ts).
import * as tf from '@tensorflow/tfjs-core';

export interface SharedPrefix {
  /** per head: keys transposed [1, headDim, P] */
  keysT: tf.Tensor3D[];
  /** per head: values [1, P, headDim] */
  values: tf.Tensor3D[];
  length: number;
}

export interface LayerChunks {
  /** a prefix shared by every row of the batch */
  shared: SharedPrefix | null;
  /** keys, each [B, heads, len, headDim] (appending concatenates on axis 2, a contiguous copy) */
  keys: tf.Tensor4D[];
  /** values, each [B, heads, len, headDim] */
  values: tf.Tensor4D[];
}

export class KVCache {
  private readonly layers: LayerChunks[];
  private len = 0;
  private disposed = false;
  /** false for a fork: the shared prefix belongs to the cache it was forked from */
  private ownsShared = true;

  /**
   * @param numLayers decoder layers
   * @param chunkSize positions per chunk; Infinity gives the plain concatenating cache
   */
  constructor(readonly numLayers: number, readonly chunkSize = 64) {
    if (!(chunkSize >= 1)) throw new RangeError(`KVCache: chunkSize must be >= 1, got ${chunkSize}`);
    this.layers = Array.from({ length: numLayers }, () => ({ shared: null, keys: [], values: [] }));
  }

  /** Cached positions (the same in every layer once a step has run through all layers). */
  get length(): number {
    return this.len;
  }

  /** Number of positions in layer `i`. */
  layerLength(i: number): number {
    const l = this.layers[i];
    return (l.shared?.length ?? 0) + l.values.reduce((a, v) => a + v.shape[2], 0);
  }

  private check(): void {
    if (this.disposed) throw new Error('KVCache: used after dispose()');
  }

  /**
   * Append new keys and values ([B, heads, T, headDim]) to layer `i`; the cache takes ownership of
   * both. Returns the layer's chunks for attention.
   */
  append(i: number, key: tf.Tensor4D, value: tf.Tensor4D): LayerChunks {
    this.check();
    const layer = this.layers[i];
    const n = layer.values.length;
    const lastLen = n ? layer.values[n - 1].shape[2] : Infinity;
    if (n && lastLen < this.chunkSize) {
      const k = tf.keep(tf.concat([layer.keys[n - 1], key], 2) as tf.Tensor4D);
      const v = tf.keep(tf.concat([layer.values[n - 1], value], 2) as tf.Tensor4D);
      [layer.keys[n - 1], layer.values[n - 1], key, value].forEach((t) => t.dispose());
      layer.keys[n - 1] = k;
      layer.values[n - 1] = v;
    } else {
      layer.keys.push(tf.keep(key));
      layer.values.push(tf.keep(value));
    }
    if (i === this.numLayers - 1) this.len = this.layerLength(i);
    return layer;
  }

  /**
   * Make everything cached so far (from a batch-1 pass) a prefix shared by all rows of later
   * steps, whatever their batch size.
   */
  shareAsPrefix(): void {
    this.check();
    for (const l of this.layers) {
      if (l.shared) throw new Error('KVCache.shareAsPrefix: the cache already has a shared prefix');
      if (!l.values.length) continue;
      if (l.values[0].shape[0] !== 1) throw new Error(`KVCache.shareAsPrefix: needs a batch-1 prefix, got batch ${l.values[0].shape[0]}`);
      const heads = l.values[0].shape[1];
      l.shared = tf.tidy(() => {
        const k = l.keys.length === 1 ? l.keys[0] : tf.concat(l.keys, 2);
        const v = l.values.length === 1 ? l.values[0] : tf.concat(l.values, 2);
        const [, h, p, hd] = k.shape;
        const keysT = tf.split(tf.reshape(tf.transpose(k, [1, 0, 3, 2]), [h, hd, p]), heads, 0).map((t) => tf.keep(t as tf.Tensor3D));
        const values = tf.split(tf.reshape(v, [h, p, hd]), heads, 0).map((t) => tf.keep(t as tf.Tensor3D));
        return { keysT, values, length: p } as never;
      }) as unknown as SharedPrefix;
      [...l.keys, ...l.values].forEach((t) => t.dispose());
      l.keys = [];
      l.values = [];
    }
  }

  /**
   * A new cache that attends to this cache's shared prefix (no copy) and has no positions of its
   * own yet: one prefill serves every batch of candidates for the same text. The prefix stays
   * owned by this cache, which must outlive its forks.
   */
  forkSharedPrefix(): KVCache {
    this.check();
    const fork = new KVCache(this.numLayers, this.chunkSize);
    this.layers.forEach((l, i) => {
      if (!l.shared || l.values.length) throw new Error('KVCache.forkSharedPrefix: call shareAsPrefix first, before appending');
      fork.layers[i].shared = l.shared;
    });
    fork.ownsShared = false;
    fork.len = this.len;
    return fork;
  }

  /**
   * Rebuild every chunk from rows `indices` of the current batch (e.g. each text's prefix copied
   * to its candidates when several texts are decoded together).
   */
  gatherRows(indices: Int32Array): void {
    this.check();
    const idx = tf.tensor1d(indices, 'int32');
    for (const l of this.layers) {
      for (const list of [l.keys, l.values]) {
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
    return tf.tidy(() => {
      const b = l.values.length ? l.values[0].shape[0] : 1;
      const keys: tf.Tensor[] = [...l.keys];
      const values: tf.Tensor[] = [...l.values];
      if (l.shared) {
        const k = tf.expandDims(tf.transpose(tf.concat(l.shared.keysT, 0), [0, 2, 1]), 0); // [1, H, P, hd]
        const v = tf.expandDims(tf.concat(l.shared.values, 0), 0);
        keys.unshift(tf.tile(k, [b, 1, 1, 1]));
        values.unshift(tf.tile(v, [b, 1, 1, 1]));
      }
      return { key: tf.concat(keys, 2) as tf.Tensor4D, value: tf.concat(values, 2) as tf.Tensor4D };
    });
  }

  /** Chunks held by layer `i`, the shared prefix counted as one (for tests and diagnostics). */
  chunkCount(i: number): number {
    return this.layers[i].values.length + (this.layers[i].shared ? 1 : 0);
  }

  private all(withShared: boolean): tf.Tensor[] {
    return this.layers.flatMap((l) => [...l.keys, ...l.values, ...(l.shared && withShared ? [...l.shared.keysT, ...l.shared.values] : [])]);
  }

  /** Bytes held by all layers (a fork counts the prefix it shares too). */
  bytes(): number {
    return this.all(true).reduce((n, t) => n + t.size * 4, 0);
  }

  dispose(): void {
    for (const t of this.all(this.ownsShared)) t.dispose();
    for (const l of this.layers) {
      l.shared = null;
      l.keys = [];
      l.values = [];
    }
    this.len = 0;
    this.disposed = true;
  }
}
