// Collectives between tensor-parallel ranks through shared memory: each rank writes its partial
// result into its slot of a SharedArrayBuffer, an Atomics barrier waits for all, and every rank
// reads all slots. No message is posted on this path, which runs twice per layer (the probe: a
// barrier plus the copy costs ~0.1 ms). Every rank sums the slots in rank order, so the reduced
// values are bitwise identical on all ranks and the replicated residual streams never drift.
import * as tf from '@tensorflow/tfjs-core';
import { hostTensor, viewOf } from '../layers/host_io';
import { ParallelContext } from '../layers/parallel';

/** Int32 words of the control block. */
const COUNT = 0;
const GENERATION = 1;
/** 0, or 1 + the rank that failed (or the pool's size for an abort requested by the caller) */
const ABORT = 2;
/** bumped by the main thread after a failed call, so every rank restarts its round count */
const EPOCH = 3;
/** per-rank lengths along the gathered axis, then per-rank element counts */
const HEADER = 8;
export const CONTROL_WORDS = HEADER + 2 * 64;

/** Elements per rank slot and round; larger tensors go in several rounds. */
export const SLOT_FLOATS = 1 << 20;

/** Busy-wait this many checks before sleeping in Atomics.wait: the other ranks usually arrive within microseconds. */
const SPINS = 20000;

export class CollectiveAbortError extends Error {
  override name = 'CollectiveAbortError';
}

export interface SharedBuffers {
  control: SharedArrayBuffer;
  data: SharedArrayBuffer;
}

export function allocateSharedBuffers(size: number): SharedBuffers {
  if (size > 64) throw new RangeError(`at most 64 tensor-parallel ranks, got ${size}`);
  return {
    control: new SharedArrayBuffer(CONTROL_WORDS * 4),
    // Two buffers (rounds alternate between them) of one slot per rank.
    data: new SharedArrayBuffer(2 * size * SLOT_FLOATS * 4),
  };
}

/**
 * Called by the main thread: make every rank waiting in (or entering) a barrier throw, e.g. when
 * a rank died or the caller aborted. `reason` is 1 + the failed rank, or the pool size for an abort.
 */
export function requestAbort(control: SharedArrayBuffer, reason: number): void {
  const ctl = new Int32Array(control);
  Atomics.store(ctl, ABORT, reason);
  Atomics.notify(ctl, GENERATION);
}

/**
 * Called by the main thread after a failed call, once every rank has answered (none is inside a
 * collective): clear the abort, and since the ranks may have stopped at different rounds, have
 * them all restart their round count with the next call.
 */
export function resetCollectives(control: SharedArrayBuffer): void {
  const ctl = new Int32Array(control);
  Atomics.store(ctl, COUNT, 0);
  Atomics.store(ctl, ABORT, 0);
  Atomics.add(ctl, EPOCH, 1);
}

export class SharedMemoryComm implements ParallelContext {
  private readonly ctl: Int32Array;
  private readonly data: Float32Array;
  /** Rounds alternate between the two data buffers: a rank can write round r + 1 while another still reads round r. */
  private round = 0;
  private epoch = 0;
  /** time spent in collectives (copies and sums included) and, of that, waiting at barriers: for profiling the step */
  stats = { collectives: 0, ms: 0, waitMs: 0 };

  /** `spin`: busy-wait before sleeping at a barrier; only when every rank has its own core, or spinning steals the core a late rank needs. */
  constructor(buffers: SharedBuffers, readonly rank: number, readonly size: number, private readonly spin = true) {
    this.ctl = new Int32Array(buffers.control);
    this.data = new Float32Array(buffers.data);
  }

  /** At the start of every call: after a failed call all ranks restart from round 0 together. */
  beginCall(): void {
    const e = Atomics.load(this.ctl, EPOCH);
    if (e !== this.epoch) {
      this.epoch = e;
      this.round = 0;
    }
  }

  private slot(buffer: number, rank: number): Float32Array {
    const at = (buffer * this.size + rank) * SLOT_FLOATS;
    return this.data.subarray(at, at + SLOT_FLOATS);
  }

  private checkAbort(): void {
    const a = Atomics.load(this.ctl, ABORT);
    if (a === 0) return;
    throw new CollectiveAbortError(a === this.size + 1 ? 'aborted' : `tensor-parallel rank ${a - 1} failed`);
  }

  /** Wait until every rank has arrived. */
  private barrier(): void {
    this.checkAbort();
    const gen = Atomics.load(this.ctl, GENERATION);
    if (Atomics.add(this.ctl, COUNT, 1) === this.size - 1) {
      Atomics.store(this.ctl, COUNT, 0);
      Atomics.add(this.ctl, GENERATION, 1);
      Atomics.notify(this.ctl, GENERATION);
      return;
    }
    const t0 = performance.now();
    this.waitFor(gen);
    this.stats.waitMs += performance.now() - t0;
  }

  private waitFor(gen: number): void {
    let spins = this.spin ? 0 : SPINS;
    while (Atomics.load(this.ctl, GENERATION) === gen) {
      if (spins < SPINS) {
        spins++;
        if ((spins & 1023) === 0) this.checkAbort();
        continue;
      }
      this.checkAbort();
      Atomics.wait(this.ctl, GENERATION, gen, 100);
    }
  }

  allReduce(x: tf.Tensor): tf.Tensor {
    if (this.size === 1) return x;
    return hostTensor(x.shape, (out) => {
      out.fill(0);
      this.reduceInto(x, out);
    });
  }

  reduceInto(x: tf.Tensor, acc: Float32Array): void {
    const t0 = performance.now();
    const src = viewOf(x);
    const n = src.length;
    if (acc.length !== n) throw new Error(`reduceInto: ${n} values into a ${acc.length}-value accumulator`);
    for (let off = 0; off < n; off += SLOT_FLOATS) {
      const len = Math.min(SLOT_FLOATS, n - off);
      const buffer = this.round++ & 1;
      this.slot(buffer, this.rank).set(src.subarray(off, off + len));
      this.barrier();
      // Sum the ranks in rank order, then add: every rank gets bitwise the same result.
      const s0 = this.slot(buffer, 0);
      const dst = acc.subarray(off, off + len);
      if (this.size === 2) {
        const s1 = this.slot(buffer, 1);
        for (let i = 0; i < len; i++) dst[i] += s0[i] + s1[i];
      } else {
        const sum = Float32Array.from(s0.subarray(0, len));
        for (let r = 1; r < this.size; r++) {
          const s = this.slot(buffer, r);
          for (let i = 0; i < len; i++) sum[i] += s[i];
        }
        for (let i = 0; i < len; i++) dst[i] += sum[i];
      }
    }
    this.stats.collectives++;
    this.stats.ms += performance.now() - t0;
  }

  gatherColumns(x: tf.Tensor2D, columns: readonly number[]): Float32Array {
    const t0 = performance.now();
    const src = viewOf(x);
    const rows = x.shape[0];
    if (columns[this.rank] !== x.shape[1]) throw new Error(`gatherColumns: rank ${this.rank} holds ${x.shape[1]} columns, expected ${columns[this.rank]}`);
    const total = columns.reduce((a, b) => a + b, 0);
    const out = new Float32Array(rows * total);
    if (Math.max(...columns) * rows > SLOT_FLOATS) return this.gather(x, 1).data;
    // One round, one barrier: sizes are known, and the next collective writes the other buffer,
    // so this one cannot be overwritten before every rank has read it.
    const buffer = this.round++ & 1;
    this.slot(buffer, this.rank).set(src);
    this.barrier();
    let col = 0;
    for (let r = 0; r < this.size; r++) {
      const c = columns[r];
      const s = this.slot(buffer, r);
      for (let i = 0; i < rows; i++) out.set(s.subarray(i * c, (i + 1) * c), i * total + col);
      col += c;
    }
    this.stats.collectives++;
    this.stats.ms += performance.now() - t0;
    return out;
  }

  allGather(x: tf.Tensor, axis: number): tf.Tensor {
    if (this.size === 1) return x;
    const g = this.gather(x, axis);
    return tf.tensor(g.data, g.shape, 'float32');
  }

  /** Every rank's x concatenated along `axis`, on the host. */
  private gather(x: tf.Tensor, axis: number): { data: Float32Array; shape: number[] } {
    const t0 = performance.now();
    const ax = axis < 0 ? x.rank + axis : axis;
    const src = x.dataSync() as Float32Array;
    // Publish this rank's length along the axis and its element count, then learn everyone's.
    this.ctl[HEADER + this.rank] = x.shape[ax];
    this.ctl[HEADER + 64 + this.rank] = src.length;
    this.barrier();
    const lens = Array.from({ length: this.size }, (_, r) => this.ctl[HEADER + r]);
    const counts = Array.from({ length: this.size }, (_, r) => this.ctl[HEADER + 64 + r]);
    const parts = counts.map((c, r) => (r === this.rank ? src : new Float32Array(c)));
    const rounds = Math.ceil(Math.max(...counts) / SLOT_FLOATS);
    for (let k = 0; k < rounds; k++) {
      const off = k * SLOT_FLOATS;
      const buffer = this.round++ & 1;
      this.slot(buffer, this.rank).set(src.subarray(off, Math.min(off + SLOT_FLOATS, src.length)));
      this.barrier();
      for (let r = 0; r < this.size; r++) {
        if (r === this.rank || off >= counts[r]) continue;
        parts[r].set(this.slot(buffer, r).subarray(0, Math.min(SLOT_FLOATS, counts[r] - off)), off);
      }
    }
    // The header words are reused by the next gather: nobody may overwrite them before all have read.
    this.barrier();
    const outer = x.shape.slice(0, ax).reduce((a, b) => a * b, 1);
    const inner = x.shape.slice(ax + 1).reduce((a, b) => a * b, 1);
    const total = lens.reduce((a, b) => a + b, 0);
    const out = new Float32Array(outer * total * inner);
    let o = 0;
    for (let i = 0; i < outer; i++) {
      for (let r = 0; r < this.size; r++) {
        const block = lens[r] * inner;
        out.set(parts[r].subarray(i * block, (i + 1) * block), o);
        o += block;
      }
    }
    this.stats.collectives++;
    this.stats.ms += performance.now() - t0;
    const shape = x.shape.slice();
    shape[ax] = total;
    return { data: out, shape };
  }
}
