// ClvpSelfAttention (modeling_clvp.py): q/k/v/out projections, q scaled by head_dim^-0.5, optional
// (partial) rotary on q, k and v, additive mask, optional KV cache. Used by the encoders (with
// rotary), the conditioning encoder's mel blocks (no mask, no rotary) and the decoder (causal, cache).
import * as tf from '@tensorflow/tfjs-core';
import { ParallelContext, shardRange } from './parallel';
import { ParamSource } from './params';
import { KVCache } from './kv_cache';
import type { DecoderCache } from './tensor_kv_cache';
import { batchedMatMul, perEntryIsFaster } from './batched_matmul';
import { hostTensor, viewOf } from './host_io';
import { Linear } from './linear';
import { applyRotary } from './rotary';
import { tidyKeeping } from './tidy';

export interface AttentionOptions {
  /** rotary cos/sin tables [T, 1, rotaryDim] for positions 0..T-1 */
  rotary?: { cos: tf.Tensor; sin: tf.Tensor };
  /** additive mask [B or 1, 1, T, S] */
  mask?: tf.Tensor4D | null;
  /** decoder cache and the layer index inside it */
  cache?: { cache: DecoderCache; layer: number };
  outputAttentions?: boolean;
  /** compute queries only for the first position (the conditioning encoder's last block only uses frame 0) */
  firstQueryOnly?: boolean;
  /** return this rank's partial out_proj product, for the caller to reduce (ResidualStream) */
  partial?: boolean;
}

export class ClvpSelfAttention {
  readonly q_proj: Linear;
  readonly k_proj: Linear;
  readonly v_proj: Linear;
  readonly out_proj: Linear;
  readonly headDim: number;
  readonly scale: number;
  /** heads this rank computes (all of them without tensor parallelism) */
  readonly localHeads: number;
  private readonly parallel: ParallelContext;

  constructor(src: ParamSource, readonly name: string, readonly embedDim: number, readonly numHeads: number, useBias: boolean) {
    if (embedDim % numHeads !== 0) throw new Error(`${name}: embed_dim ${embedDim} is not divisible by num_heads ${numHeads}`);
    this.headDim = embedDim / numHeads;
    this.scale = this.headDim ** -0.5;
    this.parallel = src.parallel;
    this.localHeads = shardRange(numHeads, this.parallel.rank, this.parallel.size).count;
    // HF creates k, v, q, then out (the order only matters for random init streams). The
    // projections split by whole heads across tensor-parallel ranks.
    const units = numHeads;
    this.k_proj = new Linear(src, `${name}.k_proj`, embedDim, embedDim, { bias: useBias, units });
    this.v_proj = new Linear(src, `${name}.v_proj`, embedDim, embedDim, { bias: useBias, units });
    this.q_proj = new Linear(src, `${name}.q_proj`, embedDim, embedDim, { bias: useBias, units });
    this.out_proj = new Linear(src, `${name}.out_proj`, embedDim, embedDim, { bias: true, units });
  }

  /** x: [B, T, E] -> output [B, T, E] (or [B, 1, E] with firstQueryOnly) and optional probabilities. */
  forward(x: tf.Tensor3D, opts: AttentionOptions = {}): { output: tf.Tensor3D; attentions?: tf.Tensor4D } {
    const [b, t] = x.shape;
    const h = this.localHeads;
    const hd = this.headDim;
    let attentions: tf.Tensor4D | undefined;
    const output = tidyKeeping(() => attentions, () => {
      const qIn = opts.firstQueryOnly ? tf.slice(x, [0, 0, 0], [-1, 1, -1]) : x;
      const tq = opts.firstQueryOnly ? 1 : t;
      let q = tf.reshape(tf.mul(this.q_proj.apply(qIn), this.scale), [b, tq, h, hd]); // [B, Tq, H, hd]
      let k = tf.reshape(this.k_proj.apply(x), [b, t, h, hd]); // [B, T, H, hd]
      let v = tf.reshape(this.v_proj.apply(x), [b, t, h, hd]);
      if (opts.rotary) {
        const { cos, sin } = opts.rotary;
        q = applyRotary(q, tq === t ? cos : tf.slice(cos, 0, tq), tq === t ? sin : tf.slice(sin, 0, tq));
        k = applyRotary(k, cos, sin);
        v = applyRotary(v, cos, sin);
      }
      const c = opts.cache;
      const q4 = tf.transpose(q, [0, 2, 1, 3]) as tf.Tensor4D; // [B, H, Tq, hd]
      let k4 = tf.transpose(k, [0, 2, 1, 3]) as tf.Tensor4D; // [B, H, T, hd]
      let v4 = tf.transpose(v, [0, 2, 1, 3]) as tf.Tensor4D; // [B, H, T, hd]
      if (c) {
        c.cache.append(c.layer, k4, v4);
        const all = c.cache.materialize(c.layer)!;
        [k4, v4] = [all.key, all.value];
      }
      const { context, probs } = attend(q4, k4, v4, opts.mask ?? null, !!opts.outputAttentions);
      if (probs) attentions = tf.keep((this.parallel.size > 1 ? this.parallel.allGather(probs, 1) : probs) as tf.Tensor4D);
      const merged = tf.reshape(tf.transpose(context, [0, 2, 1, 3]), [b, tq, h * hd]);
      return (opts.partial ? this.out_proj.applyPartial(merged) : this.out_proj.apply(merged)) as tf.Tensor3D;
    });
    return { output, attentions };
  }

  /**
   * One decode step of B rows (x [B, E], no mask): the new keys and values go into the cache, its
   * kernels attend, and this rank's partial out_proj product [B, E] comes back. Eight tfjs ops;
   * the head split and the query scaling happen while the rows are copied to the kernels, and
   * nothing is allocated on the host (host_io.ts).
   */
  step(x: tf.Tensor2D, cache: KVCache, layer: number): tf.Tensor2D {
    const b = x.shape[0];
    const h = this.localHeads;
    const hd = this.headDim;
    return tf.tidy(() => {
      const q = this.q_proj.applyPartial(x); // [B, H * hd] = [rows][heads][hd]
      const k = this.k_proj.applyPartial(x);
      const v = this.v_proj.applyPartial(x);
      // Views on the heap: read here, before the next tfjs op.
      cache.appendHost(layer, viewOf(k), viewOf(v), b, h, 1, hd);
      const context = hostTensor<tf.Rank.R2>([b, h * hd], (out) => cache.attendStep(layer, viewOf(q), b, h, hd, { scale: this.scale, out }));
      return this.out_proj.applyPartial(context) as tf.Tensor2D;
    });
  }

  dispose(): void {
    for (const l of [this.q_proj, this.k_proj, this.v_proj, this.out_proj]) l.dispose();
  }
}

/**
 * softmax(q @ K^T + mask) @ V: q [B, H, T, hd]; k, v [B, H, S, hd]; mask [B|1, 1, T, S]. On wasm
 * with few large heads, head by head (see batched_matmul.ts).
 */
export function attend(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, mask: tf.Tensor4D | null, needProbs = false): { context: tf.Tensor4D; probs?: tf.Tensor4D } {
  const [b, h, t, hd] = q.shape;
  if (perEntryIsFaster(b * h, t, hd, k.shape[2])) return attendPerHead(q, k, v, mask, needProbs);
  return tf.tidy(() => {
    let scores = batchedMatMul(q, k, true);
    if (mask) scores = tf.add(scores, mask);
    const probs = tf.softmax(scores, -1) as tf.Tensor4D;
    return { context: batchedMatMul(probs, v) as tf.Tensor4D, probs: needProbs ? probs : undefined };
  });
}

/**
 * The same head by head: each head's scores, softmax and product stay separate, so the
 * [B, H, T, S] probabilities are never concatenated or split (slicing them costs more on wasm
 * than the products: 50 ms for 16 x 400 x 400).
 */
function attendPerHead(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, mask: tf.Tensor4D | null, needProbs: boolean): { context: tf.Tensor4D; probs?: tf.Tensor4D } {
  return tf.tidy(() => {
    const [b, h, t, hd] = q.shape;
    const s = k.shape[2];
    const n = b * h;
    const qs = tf.split(tf.reshape(q, [n, t, hd]), n, 0);
    const kTs = tf.split(tf.transpose(tf.reshape(k, [n, s, hd]), [0, 2, 1]), n, 0);
    const vs = tf.split(tf.reshape(v, [n, s, hd]), n, 0);
    const masks = mask ? tf.split(tf.reshape(mask, [mask.shape[0], t, s]), mask.shape[0], 0) : null;
    const probs: tf.Tensor[] = [];
    const contexts = qs.map((qi, i) => {
      let scores = tf.matMul(qi, kTs[i]); // [1, T, S]
      if (masks) scores = tf.add(scores, masks[masks.length === 1 ? 0 : Math.floor(i / h)]);
      const p = tf.softmax(scores, -1);
      if (needProbs) probs.push(p);
      return tf.matMul(p, vs[i]); // [1, T, hd]
    });
    const context = tf.reshape(tf.concat(contexts, 0), [b, h, t, hd]) as tf.Tensor4D;
    return { context, probs: needProbs ? (tf.reshape(tf.concat(probs, 0), [b, h, t, s]) as tf.Tensor4D) : undefined };
  });
}
