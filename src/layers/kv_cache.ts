// The decoder's key/value cache: an explicit object, owned by whoever runs the decode loop.
//
// The keys and values live in the memory of our attention kernels (wasm_attention.ts), not in
// tfjs tensors: a decode step attends through those kernels, and tfjs tensors are immutable, so
// every append would otherwise rebuild a tensor. Each layer holds
//   - optionally a prefix shared by every row: the batch-1 prefill of the conditioning, which all
//     candidates of one text attend to, stored once ([heads][P][headDim]);
//   - the rows' own positions, [rows x heads][capacity][headDim], appended in place; the capacity
//     doubles when full (an O(n) copy every doubling, so O(1) per position).
// Steps of one new position attend here (attendStep); anything else (a prefill, a multi-token
// forward after a cache, HF's legacy output) works on tensors built from the cache (materialize).
import * as tf from '@tensorflow/tfjs-core';
import { viewOf } from './host_io';
import { LayerCache } from './layer_cache';
import { AttentionKernels, Block } from './wasm_attention';

interface Prefix {
  keys: Block;
  values: Block;
  heads: number;
  headDim: number;
  length: number;
  /** caches using it (the one it was made in and its forks) */
  users: number;
}

interface Own {
  keys: Block;
  values: Block;
  rows: number;
  heads: number;
  headDim: number;
  capacity: number;
  length: number;
}

interface Layer {
  prefix: Prefix | null;
  own: Own | null;
}

export class KVCache extends LayerCache<Prefix, Own> {
  private readonly kernels = AttentionKernels.get();

  /**
   * @param numLayers decoder layers
   * @param initialCapacity own positions room is first made for (it doubles when full)
   */
  constructor(numLayers: number, readonly initialCapacity = 64) {
    super(numLayers);
    if (!(Number.isInteger(initialCapacity) && initialCapacity >= 1)) throw new RangeError(`KVCache: initialCapacity must be a positive integer, got ${initialCapacity}`);
  }

  /** Positions in layer `i`, the shared prefix included. */
  override layerLength(i: number): number {
    const l = this.layers[i];
    return (l.prefix?.length ?? 0) + (l.own?.length ?? 0);
  }

  /** Rows of the batch layer `i` holds (1 with only a prefix). */
  private rowsOf(l: Layer): number {
    return l.own?.rows ?? 1;
  }

  private newOwn(rows: number, heads: number, headDim: number, capacity: number): Own {
    const n = rows * heads * capacity * headDim;
    return { keys: this.kernels.alloc(n), values: this.kernels.alloc(n), rows, heads, headDim, capacity, length: 0 };
  }

  private releaseOwn(o: Own | null): void {
    if (!o) return;
    this.kernels.release(o.keys);
    this.kernels.release(o.values);
  }

  /** Make room for `extra` more positions, copying into a doubled block when full. */
  private reserve(l: Layer, extra: number): Own {
    const o = l.own!;
    if (o.length + extra <= o.capacity) return o;
    let cap = o.capacity;
    while (cap < o.length + extra) cap *= 2;
    const grown = this.newOwn(o.rows, o.heads, o.headDim, cap);
    const f = this.kernels.floats();
    const span = o.length * o.headDim;
    for (const [from, to] of [[o.keys, grown.keys], [o.values, grown.values]]) {
      for (let e = 0; e < o.rows * o.heads; e++) {
        const src = from.ptr / 4 + e * o.capacity * o.headDim;
        f.copyWithin(to.ptr / 4 + e * cap * o.headDim, src, src + span);
      }
    }
    grown.length = o.length;
    this.releaseOwn(o);
    l.own = grown;
    return grown;
  }

  /**
   * Append new keys and values of layer `i`, host data [rows][heads][t][headDim] row-major (a
   * [B, H, T, D] tensor's data).
   */
  appendHost(i: number, keys: Float32Array, values: Float32Array, rows: number, heads: number, t: number, headDim: number): void {
    this.check();
    const l = this.layers[i];
    if (l.prefix && (l.prefix.heads !== heads || l.prefix.headDim !== headDim)) throw new Error(`KVCache: layer ${i} caches ${l.prefix.heads} heads of ${l.prefix.headDim}, got ${heads} of ${headDim}`);
    if (!l.own) l.own = this.newOwn(rows, heads, headDim, Math.max(this.initialCapacity, t));
    if (l.own.rows !== rows) throw new Error(`KVCache: layer ${i} holds ${l.own.rows} rows, got ${rows}`);
    const o = this.reserve(l, t);
    const f = this.kernels.floats();
    for (const [src, block] of [[keys, o.keys], [values, o.values]] as const) {
      for (let e = 0; e < rows * heads; e++) {
        f.set(src.subarray(e * t * headDim, (e + 1) * t * headDim), block.ptr / 4 + (e * o.capacity + o.length) * headDim);
      }
    }
    o.length += t;
  }

  /** The same from [B, H, T, D] tensors (which stay the caller's). */
  append(i: number, keys: tf.Tensor4D, values: tf.Tensor4D): void {
    const [b, h, t, d] = keys.shape;
    this.appendHost(i, viewOf(keys), viewOf(values), b, h, t, d);
  }

  /**
   * One decode step of layer `i`: softmax(q . k) . v over the prefix and the rows' own positions
   * (the new one already appended), for queries [rows][heads][headDim], multiplied by `scale` as
   * they are copied in. Returns the context [rows][heads][headDim] (into `out` when given). No
   * mask: a step sees every cached position, as in the reference.
   */
  attendStep(i: number, q: Float32Array, rows: number, heads: number, headDim: number, opts: { scale?: number; out?: Float32Array } = {}): Float32Array {
    this.check();
    const l = this.layers[i];
    const p = l.prefix;
    const o = l.own;
    const P = p?.length ?? 0;
    const C = o?.length ?? 0;
    const S = P + C;
    if (S === 0) throw new Error(`KVCache: layer ${i} is empty`);
    if (o && o.rows !== rows) throw new Error(`KVCache: layer ${i} holds ${o.rows} rows, got ${rows} queries`);
    const E = rows * heads;
    const out = opts.out ?? new Float32Array(E * headDim);
    if (out.length !== E * headDim) throw new Error(`KVCache: a context of ${E * headDim} values into ${out.length}`);
    const K = this.kernels;
    // Score rows padded to whole vectors for the softmax kernel; the padding scores -Infinity.
    const S4 = Math.ceil(S / 4) * 4;
    const qb = K.alloc(E * headDim);
    const sb = K.alloc(E * S4);
    const cb = K.alloc(E * headDim);
    try {
      const f = K.floats();
      const scale = opts.scale ?? 1;
      // float32 storage rounds each product once, as HF's scaling of the projected queries does
      for (let j = 0, at = qb.ptr / 4; j < q.length; j++) f[at + j] = q[j] * scale;
      // scores [E][S4]: the prefix (shared keys of each head), then each row's own keys
      if (p) for (let h = 0; h < heads; h++) K.scores(qb.ptr + h * headDim * 4, p.keys.ptr + h * P * headDim * 4, sb.ptr + h * S4 * 4, rows, P, headDim, heads * headDim, headDim, heads * S4);
      if (o) for (let e = 0; e < E; e++) K.scores(qb.ptr + e * headDim * 4, o.keys.ptr + e * o.capacity * headDim * 4, sb.ptr + (e * S4 + P) * 4, 1, C, headDim, headDim, headDim, S4);
      if (S4 > S) {
        for (let e = 0; e < E; e++) f.fill(-Infinity, sb.ptr / 4 + e * S4 + S, sb.ptr / 4 + (e + 1) * S4);
      }
      K.softmax(sb.ptr, E, S4);
      if (p) for (let h = 0; h < heads; h++) K.context(sb.ptr + h * S4 * 4, p.values.ptr + h * P * headDim * 4, cb.ptr + h * headDim * 4, rows, P, headDim, heads * S4, headDim, heads * headDim, false);
      if (o) for (let e = 0; e < E; e++) K.context(sb.ptr + (e * S4 + P) * 4, o.values.ptr + e * o.capacity * headDim * 4, cb.ptr + e * headDim * 4, 1, C, headDim, S4, headDim, headDim, p !== null);
      out.set(f.subarray(cb.ptr / 4, cb.ptr / 4 + E * headDim));
      return out;
    } finally {
      K.release(cb);
      K.release(sb);
      K.release(qb);
    }
  }

  /** Layer `i` as (key, value) tensors [B, heads, length, headDim], the prefix repeated for every row. */
  override materialize(i: number): { key: tf.Tensor4D; value: tf.Tensor4D } | null {
    this.check();
    const l = this.layers[i];
    const p = l.prefix;
    const o = l.own;
    if (!p && !o) return null;
    const heads = (p ?? o)!.heads;
    const d = (p ?? o)!.headDim;
    const rows = this.rowsOf(l);
    const P = p?.length ?? 0;
    const C = o?.length ?? 0;
    const L = P + C;
    const f = this.kernels.floats();
    const build = (pb: Block | undefined, ob: Block | undefined) => {
      const out = new Float32Array(rows * heads * L * d);
      for (let r = 0; r < rows; r++) {
        for (let h = 0; h < heads; h++) {
          const dst = ((r * heads + h) * L) * d;
          if (pb) out.set(f.subarray(pb.ptr / 4 + h * P * d, pb.ptr / 4 + (h + 1) * P * d), dst);
          if (ob) {
            const src = ob.ptr / 4 + (r * heads + h) * o!.capacity * d;
            out.set(f.subarray(src, src + C * d), dst + P * d);
          }
        }
      }
      return tf.tensor4d(out, [rows, heads, L, d]);
    };
    return { key: build(p?.keys, o?.keys), value: build(p?.values, o?.values) };
  }

  /**
   * Make everything cached so far (from a batch-1 pass) a prefix shared by all rows of later
   * steps, whatever their batch size. No copy: a batch-1 block already is [heads][P][headDim].
   */
  shareAsPrefix(): void {
    this.check();
    this.layers.forEach((l, i) => {
      if (l.prefix) throw new Error('KVCache.shareAsPrefix: the cache already has a shared prefix');
      const o = l.own;
      if (!o) return;
      if (o.rows !== 1) throw new Error(`KVCache.shareAsPrefix: needs a batch-1 prefix, got batch ${o.rows} in layer ${i}`);
      // Compact to exactly `length` positions per head, the prefix layout.
      const n = o.heads * o.length * o.headDim;
      const keys = this.kernels.alloc(n);
      const values = this.kernels.alloc(n);
      const f = this.kernels.floats();
      for (const [from, to] of [[o.keys, keys], [o.values, values]]) {
        for (let h = 0; h < o.heads; h++) {
          const src = from.ptr / 4 + h * o.capacity * o.headDim;
          f.copyWithin(to.ptr / 4 + h * o.length * o.headDim, src, src + o.length * o.headDim);
        }
      }
      l.prefix = { keys, values, heads: o.heads, headDim: o.headDim, length: o.length, users: 1 };
      this.releaseOwn(o);
      l.own = null;
    });
  }

  protected override emptyLike(): this {
    return new KVCache(this.numLayers, this.initialCapacity) as this;
  }

  /**
   * Rebuild every layer from rows `indices` of the current batch (e.g. each text's prefix copied
   * to its candidates when several texts are decoded together).
   */
  gatherRows(indices: Int32Array): void {
    this.check();
    for (const l of this.layers) {
      const o = l.own;
      if (!o) continue;
      LayerCache.checkRows(indices, o.rows);
      const g = this.newOwn(indices.length, o.heads, o.headDim, o.capacity);
      const f = this.kernels.floats();
      const rowFloats = o.heads * o.capacity * o.headDim;
      for (const [from, to] of [[o.keys, g.keys], [o.values, g.values]]) {
        indices.forEach((src, r) => {
          f.copyWithin(to.ptr / 4 + r * rowFloats, from.ptr / 4 + src * rowFloats, from.ptr / 4 + (src + 1) * rowFloats);
        });
      }
      g.length = o.length;
      this.releaseOwn(o);
      l.own = g;
    }
  }

  /** Bytes the cache's positions take (a fork counts the prefix it shares too). */
  bytes(): number {
    return this.layers.reduce((n, l) => n + 4 * 2 * ((l.prefix ? l.prefix.heads * l.prefix.length * l.prefix.headDim : 0) + (l.own ? l.own.rows * l.own.heads * l.own.length * l.own.headDim : 0)), 0);
  }

  dispose(): void {
    if (this.disposed) return;
    for (const l of this.layers) {
      this.releaseOwn(l.own);
      if (l.prefix && --l.prefix.users === 0) {
        this.kernels.release(l.prefix.keys);
        this.kernels.release(l.prefix.values);
      }
      l.own = null;
      l.prefix = null;
    }
    this.disposed = true;
  }
}
