// The decoder's key/value cache as tfjs tensors on the backend's device, for backends that cannot
// read results back synchronously. kv_cache.ts keeps the keys and values in our wasm kernels'
// memory, which every append fills from a synchronous read (dataSync); tfjs-webgpu has no
// synchronous buffer map and copies through a WebGPU canvas, which is slow and, on some Chromium
// builds, loses the device. Here an append concatenates on the device and nothing is read back.
// The same operations as KVCache: a batch-1 prefix shared by every candidate (prefilled once),
// forks of it, row gathers, HF's legacy layout.
import * as tf from '@tensorflow/tfjs-core';
import type { KVCache } from './kv_cache';
import { LayerCache } from './layer_cache';

/** A layer's prefix [1, H, P, D], shared by the cache it was made in and its forks; own positions are [B, H, T, D]. */
interface Shared {
  key: tf.Tensor4D;
  value: tf.Tensor4D;
  /** caches using it (the one it was made in and its forks) */
  users: number;
}

interface Own {
  key: tf.Tensor4D;
  value: tf.Tensor4D;
}

export class TensorKVCache extends LayerCache<Shared, Own> {
  protected override emptyLike(): this {
    return new TensorKVCache(this.numLayers) as this;
  }

  override layerLength(i: number): number {
    const l = this.layers[i];
    return (l.prefix?.key.shape[2] ?? 0) + (l.own?.key.shape[2] ?? 0);
  }

  /** Append layer `i`'s new keys and values [B, H, T, D] (which stay the caller's). */
  append(i: number, keys: tf.Tensor4D, values: tf.Tensor4D): void {
    this.check();
    const l = this.layers[i];
    const o = l.own;
    if (o && o.key.shape[0] !== keys.shape[0]) throw new Error(`KVCache: layer ${i} holds ${o.key.shape[0]} rows, got ${keys.shape[0]}`);
    // Kept: an append runs inside the tidy of the attention that made the keys.
    const next = tf.tidy(() => (o ? { key: tf.concat([o.key, keys], 2), value: tf.concat([o.value, values], 2) } : { key: tf.clone(keys), value: tf.clone(values) }));
    l.own = { key: tf.keep(next.key) as tf.Tensor4D, value: tf.keep(next.value) as tf.Tensor4D };
    if (o) tf.dispose([o.key, o.value]);
  }

  /** Layer `i` as (key, value) tensors [B, heads, length, headDim], new tensors the caller disposes. */
  override materialize(i: number): { key: tf.Tensor4D; value: tf.Tensor4D } | null {
    this.check();
    const { prefix: p, own: o } = this.layers[i];
    if (!p && !o) return null;
    return tf.tidy(() => {
      if (!p) return { key: tf.clone(o!.key), value: tf.clone(o!.value) };
      const rows = o?.key.shape[0] ?? 1;
      const tile = (t: tf.Tensor4D) => (rows === 1 ? tf.clone(t) : tf.tile(t, [rows, 1, 1, 1]));
      if (!o) return { key: tile(p.key), value: tile(p.value) };
      return { key: tf.concat([tile(p.key), o.key], 2) as tf.Tensor4D, value: tf.concat([tile(p.value), o.value], 2) as tf.Tensor4D };
    });
  }

  /** Make everything cached so far (from a batch-1 pass) a prefix shared by the rows of every fork. */
  shareAsPrefix(): void {
    this.check();
    this.layers.forEach((l, i) => {
      if (l.prefix) throw new Error('KVCache.shareAsPrefix: the cache already has a shared prefix');
      if (!l.own) return;
      if (l.own.key.shape[0] !== 1) throw new Error(`KVCache.shareAsPrefix: needs a batch-1 prefix, got batch ${l.own.key.shape[0]} in layer ${i}`);
      l.prefix = { key: l.own.key, value: l.own.value, users: 1 };
      l.own = null;
    });
  }

  /** Keep rows `indices` of every layer's own positions, in that order (the prefix is the same for all). */
  gatherRows(indices: Int32Array): void {
    this.check();
    const idx = tf.tensor1d(indices, 'int32');
    try {
      for (const l of this.layers) {
        const o = l.own;
        if (!o) continue;
        LayerCache.checkRows(indices, o.key.shape[0]);
        l.own = { key: tf.gather(o.key, idx, 0) as tf.Tensor4D, value: tf.gather(o.value, idx, 0) as tf.Tensor4D };
        tf.dispose([o.key, o.value]);
      }
    } finally {
      idx.dispose();
    }
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const l of this.layers) {
      if (l.own) tf.dispose([l.own.key, l.own.value]);
      if (l.prefix && --l.prefix.users === 0) tf.dispose([l.prefix.key, l.prefix.value]);
      l.own = null;
      l.prefix = null;
    }
  }
}

/** Either cache: what attention appends to and reads from, and what the runtime manages. */
export type DecoderCache = KVCache | TensorKVCache;
