// Dense products for tfjs-backend-wasm (tf.fused.matMul: every Linear of the model) in a kernel of
// our own, working in place in tfjs-wasm's heap.
//
// Why: tfjs-backend-wasm 4.22 multiplies through XNNPACK built for baseline wasm SIMD, which has no
// fused multiply-add. Relaxed SIMD (Chrome 114+, Node behind a V8 flag that platform/node.ts sets)
// has one, f32x4.relaxed_madd, which V8 compiles to an FMA instruction where the CPU has one. With
// it, a 6 x 8 register tile (12 accumulators), measured on a 2 GHz Xeon (bench/matmul.ts, weights
// cycled through memory): a decode step's [16, 1024] x [1024, 2048] in 3.27 ms against XNNPACK's
// 5.99, one row of it in 0.90 against 1.87, a ranking chunk's [2008, 768] x [768, 1536] in 251
// against 359; without FMA the same kernel still took 3.88, 1.04 and 343 ms.
// Nothing on npm offers a wasm GEMM that works on another module's memory, and the kernel is one
// loop nest, so it is written here in the wasm binary format (layers/wasm_binary.ts).
//
// Layout. The weight (the product's right side, [K, N]) is packed once, at its first product,
// into strips of 8 columns, each strip [K][8] contiguous, the last one padded with zeros; the
// packed copy lives in the tfjs heap (as XNNPACK's own packed copy would, which is no longer made)
// and is freed when the weight tensor is disposed. The left side is packed per call into blocks of
// 6 rows, each [K][6], so a tile reads one broadcast float per row and two vectors of the strip per
// step of K. For each strip the kernel runs every row block of a chunk of rows that fits in L2, so
// a strip is read from memory once per chunk. A single row goes four strips at a time (gemv).
//
// A weight multiplied by single rows (a decode step of one candidate) is packed instead in groups
// of four strips, [K][4][8], so that gemv reads its four strips as one stream from memory, not as
// four streams a strip apart: bench:matmul on an AMD Zen 5 VM, [1, 1024] x [1024, 2048] in 0.18 ms
// against 0.25, a rank's batch-1 decode step 34-37 ms against 42-43. The tiles of many rows are
// slower on groups (their strip, spread over twice the cache lines, leaves L1: [16, 2048] x [2048,
// 1024] +13 %), so each weight takes the layout of its products: packed for the rows of its first,
// and packed again when REPACK_AFTER products in a row would rather have the other.
// Every output is one chain of multiply-adds in the order of K, started from its bias, as
// XNNPACK's are; with FMA each step rounds once instead of twice.
//
// Attention's products (tf.matMul: q k^T and probs v, every head of every row in one call) go
// through the same tiles; their right side is no weight, so each entry's is packed into scratch
// at every product, B^T read straight from its [N, K] layout.
//
// Used only where tfjs-wasm runs single-threaded (Node, and pages without cross-origin isolation):
// a threaded XNNPACK uses every core, this kernel one.
import * as tf from '@tensorflow/tfjs-core';
import { HEADER, I32, V128, addr, forRange, funcBody, hasRelaxedSimd, i32FnType, importedMemory, madd, name, op, section, uleb, vec } from './layers/wasm_binary';

/** Rows of a tile (register blocking: 6 rows x 2 vectors = 12 accumulators of x64's 16 registers). */
const MR = 6;
/** Columns of a strip. */
const NR = 8;
/** Strips of a group in the layout for single rows; 1 is the plain layout of strips one after another. */
const GROUP = 4;
type Grouping = 1 | typeof GROUP;
/** Products in a row that would rather have a weight's other layout before it is packed again in that one. */
export const REPACK_AFTER = 4;

/** Floats of a packed [K, N] right side: whole strips, or whole groups of them. */
const packedFloats = (k: number, n: number, group: Grouping) => Math.ceil(n / (NR * group)) * NR * group * k;

/** Byte offset of strip s in a packed right side of K rows: its group, then its 8 floats in each row of the group. */
const stripOffset = (s: number, k: number, group: Grouping) => (Math.floor(s / group) * k * NR * group + (s % group) * NR) * 4;
/** A chunk of packed left-side rows is kept under this many floats (512 KB, inside a core's L2). */
const CHUNK_FLOATS = 131072;

/** Locals of a tile: i32 pointers and counters, then the first of its 2 * rows + 5 v128 locals. */
interface TileLocals {
  ap: number;
  wp: number;
  out: number;
  k: number;
  os: number;
  bias: number;
  t: number;
  v: number;
}

/**
 * One tile: out[r][0..8) = bias[0..8) + sum_t a[t][r] * w[t][0..8) for the R rows of a packed
 * block (a: [k][R] at ap, w: [k][8] at wp, its rows 8 * group floats apart), written at out with a
 * row stride of os floats. bias is a byte pointer to 8 floats, or 0 for none. ap and wp are
 * advanced past the block.
 */
function tile(rows: number, fma: boolean, group: Grouping, l: TileLocals): number[] {
  const acc = Array.from({ length: rows * 2 }, (_, i) => l.v + i);
  const [w0, w1, s, b0, b1] = [0, 1, 2, 3, 4].map((i) => l.v + rows * 2 + i);
  const mac = (x: number, w: number) => [...madd(fma, s, w, x), ...op.set(x)];
  const step: number[] = [...op.get(l.wp), ...op.loadOff(0), ...op.set(w0), ...op.get(l.wp), ...op.loadOff(16), ...op.set(w1)];
  for (let r = 0; r < rows; r++) step.push(...op.get(l.ap), ...op.loadSplat(r * 4), ...op.set(s), ...mac(acc[2 * r], w0), ...mac(acc[2 * r + 1], w1));
  return [
    ...op.get(l.bias),
    ...op.if, ...op.get(l.bias), ...op.loadOff(0), ...op.set(b0), ...op.get(l.bias), ...op.loadOff(16), ...op.set(b1),
    ...op.else, ...op.v128Zero, ...op.set(b0), ...op.v128Zero, ...op.set(b1),
    ...op.end,
    ...acc.flatMap((x, i) => [...op.get(i % 2 ? b1 : b0), ...op.set(x)]),
    ...op.get(l.k), ...op.set(l.t),
    ...op.loop,
    ...step,
    ...op.get(l.ap), ...op.i32(rows * 4), ...op.i32Add, ...op.set(l.ap),
    ...op.get(l.wp), ...op.i32(NR * group * 4), ...op.i32Add, ...op.set(l.wp),
    ...op.get(l.t), ...op.i32(1), ...op.i32Sub, ...op.tee(l.t), ...op.brIf(0),
    ...op.end,
    ...Array.from({ length: rows }, (_, r) => [
      ...op.get(l.out), ...op.get(l.os), ...op.i32(r * 4), ...op.i32Mul, ...op.i32Add, ...op.tee(l.t), ...op.get(acc[2 * r]), ...op.storeOff(0),
      ...op.get(l.t), ...op.get(acc[2 * r + 1]), ...op.storeOff(16),
    ]).flat(),
  ];
}

/**
 * gemmR(ap, w, out, k, strips, os, blocks, bias), R = 0..5: for each strip of the packed weight,
 * `blocks` blocks of 6 packed rows and then one block of R rows (blocks of [k][6], then [k][R], one
 * after another at ap): out rows at columns strip*8.. (row stride os floats); bias, if not 0, is
 * the full bias row. Strips outside, blocks inside: a strip is read from memory once per call and
 * stays in cache for every block of rows.
 */
function driverBody(rem: number, fma: boolean, group: Grouping): number[] {
  const [ap, w, out, k, strips, os, blocks, bias, s, b, wStrip, tap, twp, tout, tbias, t] = Array.from({ length: 16 }, (_, i) => i);
  const v = 16;
  // the block's packed rows, the strip, its output and bias pointers; then the tile
  const block = (rows: number) => [
    ...op.get(ap), ...op.get(b), ...op.get(k), ...op.i32Mul, ...op.i32(MR * 4), ...op.i32Mul, ...op.i32Add, ...op.set(tap),
    ...op.get(wStrip), ...op.set(twp),
    // out + (b * 6 * os + s * 8) * 4
    ...op.get(out), ...op.get(b), ...op.i32(MR), ...op.i32Mul, ...op.get(os), ...op.i32Mul, ...op.get(s), ...op.i32(NR), ...op.i32Mul, ...op.i32Add, ...op.i32(2), ...op.i32Shl, ...op.i32Add, ...op.set(tout),
    // bias ? bias + s * 32 : 0
    ...op.get(bias), ...op.get(s), ...op.i32(NR * 4), ...op.i32Mul, ...op.i32Add, ...op.i32(0), ...op.get(bias), ...op.select, ...op.set(tbias),
    ...tile(rows, fma, group, { ap: tap, wp: twp, out: tout, k, os, bias: tbias, t, v }),
  ];
  return forRange(s, strips, [
    ...(group === 1
      ? [...op.get(w), ...op.get(s), ...op.get(k), ...op.i32Mul, ...op.i32(NR * 4), ...op.i32Mul, ...op.i32Add, ...op.set(wStrip)]
      : // w + ((s / 4) * k * 32 + (s % 4) * 8) * 4: the strip inside its group
        [...op.get(w), ...op.get(s), ...op.i32(Math.log2(GROUP)), ...op.i32ShrU, ...op.get(k), ...op.i32Mul, ...op.i32(NR * GROUP * 4), ...op.i32Mul, ...op.i32Add,
          ...op.get(s), ...op.i32(GROUP - 1), ...op.i32And, ...op.i32(NR * 4), ...op.i32Mul, ...op.i32Add, ...op.set(wStrip)]),
    ...forRange(b, blocks, block(MR)),
    // after the loop b == blocks: the remainder block
    ...(rem > 0 ? [...op.get(blocks), ...op.set(b), ...block(rem)] : []),
  ]);
}

/** Strips a one-row product takes at a time (gemv): one group of the grouped layout. */
const GEMV_STRIPS = GROUP;

/**
 * gemv(ap, w, out, k, strips, os, blocks, bias): the same for one row (blocks 0, one row at ap),
 * four strips at a time. One row through the 1-row tile is two chains of multiply-adds, so it
 * waits on the FMA's latency; four strips give eight chains, and the product is bound by how fast
 * the weight streams in, as a one-row product should be.
 */
function gemvBody(fma: boolean, group: Grouping): number[] {
  const [ap, w, out, k, strips, , , bias, s, t, tap, g, groups] = Array.from({ length: 13 }, (_, i) => i);
  const wp = [13, 14, 15, 16];
  const v = 17;
  const acc = Array.from({ length: GEMV_STRIPS * 2 }, (_, i) => v + i);
  const x = v + GEMV_STRIPS * 2;
  const madd = (a: number, wAt: number, off: number) =>
    fma
      ? [...op.get(x), ...op.get(wAt), ...op.loadOff(off), ...op.get(a), ...op.f32x4RelaxedMadd, ...op.set(a)]
      : [...op.get(a), ...op.get(x), ...op.get(wAt), ...op.loadOff(off), ...op.f32x4Mul, ...op.f32x4Add, ...op.set(a)];
  // the next strip: a strip further on, or in a group 8 floats further in each row
  const stripBytes = group === 1 ? [...op.get(k), ...op.i32(NR * 4), ...op.i32Mul] : [...op.i32(NR * 4)];
  const four = [
    // s = g * 4: the first of the four strips, whose start is the same in both layouts; their pointers
    ...op.get(g), ...op.i32(GEMV_STRIPS), ...op.i32Mul, ...op.set(s),
    ...op.get(w), ...op.get(s), ...op.get(k), ...op.i32Mul, ...op.i32(NR * 4), ...op.i32Mul, ...op.i32Add, ...op.set(wp[0]),
    ...wp.slice(1).flatMap((p, j) => [...op.get(wp[j]), ...stripBytes, ...op.i32Add, ...op.set(p)]),
    ...acc.flatMap((a, i) => [
      ...op.get(bias),
      ...op.if, ...op.get(bias), ...op.get(s), ...op.i32(NR * 4), ...op.i32Mul, ...op.i32Add, ...op.loadOff(i * 16), ...op.set(a),
      ...op.else, ...op.v128Zero, ...op.set(a),
      ...op.end,
    ]),
    ...op.get(ap), ...op.set(tap),
    ...op.get(k), ...op.set(t),
    ...op.loop,
    ...op.get(tap), ...op.loadSplat(0), ...op.set(x),
    ...wp.flatMap((p, j) => [...madd(acc[2 * j], p, 0), ...madd(acc[2 * j + 1], p, 16)]),
    ...op.get(tap), ...op.i32(4), ...op.i32Add, ...op.set(tap),
    ...wp.flatMap((p) => [...op.get(p), ...op.i32(NR * group * 4), ...op.i32Add, ...op.set(p)]),
    ...op.get(t), ...op.i32(1), ...op.i32Sub, ...op.tee(t), ...op.brIf(0),
    ...op.end,
    // out + s * 32 .. : the four strips' 32 columns side by side
    ...acc.flatMap((a, i) => [...op.get(out), ...op.get(s), ...op.i32(NR * 4), ...op.i32Mul, ...op.i32Add, ...op.get(a), ...op.storeOff(i * 16)]),
  ];
  return [
    ...op.get(strips), ...op.i32(2), ...op.i32ShrU, ...op.set(groups), // whole groups of four
    ...forRange(g, groups, four),
  ];
}

/**
 * copy2d(src, dst, n1, n2, ss1, ss2, ds1, ds2): dst[i*ds1 + j*ds2] = src[i*ss1 + j*ss2] for
 * i < n1, j < n2 (byte pointers, strides in floats). Every packing is one of these: a block of
 * left-side rows into [K][rows], a weight's 8 columns into a strip [K][8], or 8 rows of a
 * transposed right side into one. In JS the same loops took ~3 ns a float, which for attention's
 * [T, T] probabilities came to a third of the product's time.
 */
function copy2dBody(): number[] {
  const [src, dst, n1, n2, ss1, ss2, ds1, ds2, i, j, sp, dp] = Array.from({ length: 12 }, (_, x) => x);
  const bytes = (stride: number) => [...op.get(stride), ...op.i32(2), ...op.i32Shl];
  return forRange(i, n1, [
    ...addr(src, i, ss1), ...op.set(sp),
    ...addr(dst, i, ds1), ...op.set(dp),
    ...forRange(j, n2, [
      ...op.get(dp), ...op.get(sp), ...op.f32Load, ...op.f32Store,
      ...op.get(sp), ...bytes(ss2), ...op.i32Add, ...op.set(sp),
      ...op.get(dp), ...bytes(ds2), ...op.i32Add, ...op.set(dp),
    ]),
  ]);
}

/**
 * The module: gemm0..gemm5 (functions 0..5, by the rows of the last block), gemv (6, whole
 * groups of four strips of one row; the caller runs the strips left over through gemm1) and
 * copy2d (7); it imports env.memory.
 */
export function gemmModuleBytes(fma: boolean, shared: boolean, group: Grouping = 1): Uint8Array {
  const rems = Array.from({ length: MR }, (_, i) => i);
  return Uint8Array.from([
    ...HEADER,
    ...section(1, vec([i32FnType(8)])),
    ...importedMemory(shared),
    ...section(3, vec([...rems.map(() => [0x00]), [0x00], [0x00]])),
    ...section(7, vec([...rems.map((r) => [...name(`gemm${r}`), 0x00, ...uleb(r)]), [...name('gemv'), 0x00, ...uleb(MR)], [...name('copy2d'), 0x00, ...uleb(MR + 1)]])),
    // locals: 8 i32 after the parameters, then the tile's v128s (the widest tile: 6 rows)
    ...section(10, vec([
      ...rems.map((r) => funcBody([[8, I32], [MR * 2 + 5, V128]], driverBody(r, fma, group))),
      funcBody([[9, I32], [GEMV_STRIPS * 2 + 1, V128]], gemvBody(fma, group)),
      funcBody([[4, I32]], copy2dBody()),
    ])),
  ]);
}

export { hasRelaxedSimd };

/** gemmR / gemv (ap, w, out, k, strips, os, blocks, bias), and copy2d (src, dst, n1, n2, ss1, ss2, ds1, ds2): eight i32s each */
type Driver = (a0: number, a1: number, a2: number, a3: number, a4: number, a5: number, a6: number, a7: number) => void;

interface Kernels {
  drivers: Driver[];
  copy2d: Driver;
}

interface WasmModuleLike {
  /** the module's exports: the heap is `memory` among them in the single-threaded builds */
  asm?: { memory?: WebAssembly.Memory };
  /** the threaded build makes its (shared) heap in JS and imports it */
  wasmMemory?: WebAssembly.Memory;
  _malloc(bytes: number): number;
  _free(ptr: number): void;
  tfjs: { getThreadsCount?: () => number };
}

interface TensorInfoLike {
  dataId: object;
  shape: number[];
  dtype: tf.DataType;
}

export interface WasmBackendLike {
  wasm: WasmModuleLike;
  makeOutput(shape: number[], dtype: tf.DataType): TensorInfoLike;
  typedArrayFromHeap(t: TensorInfoLike): Float32Array | Int32Array | Uint8Array;
  disposeData(dataId: object, force?: boolean): boolean;
}

interface Packed {
  ptr: number;
  k: number;
  n: number;
  group: Grouping;
  /** products in a row that would rather have had the other layout */
  misfits: number;
}

/** tfjs-wasm's heap as a WebAssembly.Memory, which a module of ours can import; null if this build does not show it. */
export function heapMemory(wasm: WasmModuleLike): WebAssembly.Memory | null {
  for (const m of [wasm.asm?.memory, wasm.wasmMemory]) if (m instanceof WebAssembly.Memory) return m;
  return null;
}

/** The kernel bound to one tfjs-wasm backend instance (its heap), with the packed weights it made. */
export class WasmGemm {
  /** the compiled kernels, without FMA and with it, in the plain layout and in groups (made when first asked for) */
  private readonly drivers: (Kernels | undefined)[] = [];
  /** by the weight's data: a reshape shares the data under another [K, N], so one copy per shape */
  private readonly packed = new Map<object, Packed[]>();
  /** the packed chunk of left rows (and a partial strip's outputs); attention's packed right side */
  private readonly scratch = { left: { ptr: 0, floats: 0 }, right: { ptr: 0, floats: 0 } };
  /** products run (for tests: which products came here) */
  products = 0;

  private readonly memory: WebAssembly.Memory;

  private constructor(private readonly backend: WasmBackendLike, readonly fma: boolean) {
    this.memory = heapMemory(backend.wasm)!;
    this.kernels(fma);
    // A weight's packed copy goes when its last reference does.
    const dispose = backend.disposeData.bind(backend);
    backend.disposeData = (dataId: object, force?: boolean) => {
      const done = dispose(dataId, force);
      if (done) this.forget(dataId);
      return done;
    };
  }

  private static readonly perBackend = new WeakMap<object, WasmGemm | null>();

  /**
   * The kernel for this backend, or null where XNNPACK should keep the products: a threaded
   * tfjs-wasm (all cores), or an engine without wasm SIMD.
   */
  static for(backend: WasmBackendLike, opts: { fma?: boolean } = {}): WasmGemm | null {
    let g = WasmGemm.perBackend.get(backend);
    if (g === undefined) {
      const threads = backend.wasm.tfjs.getThreadsCount?.() ?? 1;
      g = null;
      if (threads <= 1 && heapMemory(backend.wasm)) {
        try {
          g = new WasmGemm(backend, opts.fma ?? hasRelaxedSimd());
        } catch {
          g = null; // no wasm SIMD: XNNPACK's scalar build does the products
        }
      }
      WasmGemm.perBackend.set(backend, g);
    }
    return g;
  }

  private kernels(fma: boolean, group: Grouping = 1): Kernels {
    const slot = (fma ? 2 : 0) + (group === 1 ? 0 : 1);
    let d = this.drivers[slot];
    if (!d) {
      const memory = this.memory;
      const shared = typeof SharedArrayBuffer !== 'undefined' && memory.buffer instanceof SharedArrayBuffer;
      const instance = new WebAssembly.Instance(new WebAssembly.Module(gemmModuleBytes(fma, shared, group) as Uint8Array<ArrayBuffer>), { env: { memory } });
      d = {
        drivers: [...Array.from({ length: MR }, (_, r) => instance.exports[`gemm${r}`] as unknown as Driver), instance.exports.gemv as unknown as Driver],
        copy2d: instance.exports.copy2d as unknown as Driver,
      };
      this.drivers[slot] = d;
    }
    return d;
  }

  /** Floats of packed weights held (for tests: disposed weights must give theirs back). */
  get packedFloats(): number {
    let n = 0;
    for (const copies of this.packed.values()) for (const p of copies) n += packedFloats(p.k, p.n, p.group);
    return n;
  }

  private forget(dataId: object): void {
    const copies = this.packed.get(dataId);
    if (!copies) return;
    this.packed.delete(dataId);
    for (const p of copies) this.backend.wasm._free(p.ptr);
  }

  private malloc(floats: number, what: string): number {
    // unsigned: the heap grows past 2 GiB at the published size
    const ptr = this.backend.wasm._malloc(floats * 4) >>> 0;
    if (!ptr) throw new RangeError(`matMul: the wasm heap has no room for ${what} (${((floats * 4) / 1e6).toFixed(1)} MB): the model does not fit one wasm instance, use tensor parallelism (tp) or a smaller batch`);
    return ptr;
  }

  /** Layouts of the packed weights (for tests): 1 for strips, 4 for groups of them. */
  layoutOf(b: TensorInfoLike): Grouping[] {
    return (this.packed.get(b.dataId) ?? []).map((c) => c.group);
  }

  /**
   * The packed copy of weight b [K, N] for a product of `rows` rows: made at its first product in
   * the layout those rows prefer, packed again in the other once REPACK_AFTER products in a row
   * preferred that one (the decode steps after a prefill, or the other way round).
   */
  private packedOf(b: TensorInfoLike, k: number, n: number, rows: number): Packed {
    const want: Grouping = rows === 1 ? GROUP : 1;
    // the weight's offset read after the allocation (which may grow the heap)
    const packInto = (ptr: number) => this.packStrips((this.backend.typedArrayFromHeap(b) as Float32Array).byteOffset, ptr, k, n, false, want);
    const copies = this.packed.get(b.dataId) ?? [];
    const made = copies.find((c) => c.k === k && c.n === n);
    if (!made) {
      const p: Packed = { ptr: this.malloc(packedFloats(k, n, want), `the packed copy of a [${k}, ${n}] weight`), k, n, group: want, misfits: 0 };
      packInto(p.ptr);
      this.packed.set(b.dataId, [...copies, p]);
      return p;
    }
    if (made.group === want) made.misfits = 0;
    else if (++made.misfits >= REPACK_AFTER) {
      const ptr = this.backend.wasm._malloc(packedFloats(k, n, want) * 4) >>> 0;
      // No room for the other layout: this one gives the same products, a little slower.
      if (!ptr) return made;
      packInto(ptr);
      this.backend.wasm._free(made.ptr);
      Object.assign(made, { ptr, group: want, misfits: 0 });
    }
    return made;
  }

  /**
   * Strips [K][8] at dst (byte pointer) of the right side at src: [K, N] row-major, or with
   * `transposed` [N, K] (a product with B^T, as attention's q k^T); with `group` 4, in groups
   * [K][4][8]. The last strip, or group, is padded with zeros.
   */
  private packStrips(src: number, dst: number, k: number, n: number, transposed: boolean, group: Grouping): void {
    const { copy2d } = this.kernels(this.fma);
    const strips = Math.ceil(n / NR);
    const last = Math.floor((strips - 1) / group) * group;
    if (n % (NR * group)) new Float32Array(this.memory.buffer, dst + stripOffset(last, k, group), k * NR * group).fill(0);
    const rowFloats = NR * group;
    for (let s = 0; s < strips; s++) {
      const width = Math.min(NR, n - s * NR);
      const to = dst + stripOffset(s, k, group);
      // row t of the strip takes columns s*8.. of B's row t; transposed, column c takes B's row s*8+c
      if (transposed) copy2d(src + s * NR * k * 4, to, width, k, k, 1, 1, rowFloats);
      else copy2d(src + s * NR * 4, to, k, width, n, 1, rowFloats, 1);
    }
  }

  /** Scratch slot `which` of at least `floats` floats (grown, never shrunk). */
  private scratchOf(which: 'left' | 'right', floats: number): number {
    const slot = this.scratch[which];
    if (slot.floats < floats) {
      if (slot.ptr) this.backend.wasm._free(slot.ptr);
      this.scratch[which] = { ptr: 0, floats: 0 }; // freed: not held if the next malloc throws
      this.scratch[which] = { ptr: this.malloc(floats, which === 'left' ? 'the product scratch' : 'the packed right side of a product'), floats };
    }
    return this.scratch[which].ptr;
  }

  /** out [rows, n] = a [rows, k] @ b [k, n] (+ bias [n]), all float32 tensors of this backend. */
  matMul(a: TensorInfoLike, b: TensorInfoLike, bias: TensorInfoLike | null, rows: number, k: number, n: number, outShape: number[], fma = this.fma): TensorInfoLike {
    this.products++;
    const w = this.packedOf(b, k, n, rows);
    const out = this.backend.makeOutput(outShape, 'float32');
    // Byte offsets: they stay valid when an allocation grows the heap (views do not).
    const at = (t: TensorInfoLike) => (this.backend.typedArrayFromHeap(t) as Float32Array).byteOffset;
    this.product(fma, at(a), w.ptr, w.group, bias ? at(bias) : 0, rows, k, n, at(out));
    return out;
  }

  /**
   * out [batch, m, n] = a [batch, m, k] @ b [batch or 1, k, n] (b [.., n, k] with `transposeB`):
   * attention's products, each entry's right side packed into scratch for it (they are not weights).
   */
  batchMatMul(a: TensorInfoLike, b: TensorInfoLike, batch: number, bBatch: number, m: number, k: number, n: number, transposeB: boolean, outShape: number[], fma = this.fma): TensorInfoLike {
    this.products++;
    const out = this.backend.makeOutput(outShape, 'float32');
    if (batch * m * n === 0) return out;
    const group: Grouping = m === 1 ? GROUP : 1;
    const packed = this.scratchOf('right', packedFloats(k, n, group));
    const at = (t: TensorInfoLike) => (this.backend.typedArrayFromHeap(t) as Float32Array).byteOffset;
    const [aAt, bAt, outAt] = [at(a), at(b), at(out)];
    for (let e = 0; e < batch; e++) {
      if (e < bBatch) this.packStrips(bAt + e * k * n * 4, packed, k, n, transposeB, group);
      this.product(fma, aAt + e * m * k * 4, packed, group, 0, m, k, n, outAt + e * m * n * 4);
    }
    return out;
  }

  private chunkRows(k: number): number {
    return Math.max(MR, Math.floor(CHUNK_FLOATS / k / MR) * MR);
  }

  /**
   * The product over packed strips at wAt in layout `group` (byte pointers throughout): rows of a
   * are packed chunk by chunk into the left scratch, and each chunk runs every strip.
   */
  private product(fma: boolean, aAt: number, wAt: number, group: Grouping, biasAt: number, rows: number, k: number, n: number, outAt: number): void {
    const { drivers, copy2d } = this.kernels(fma, group);
    const chunk = this.chunkRows(k);
    const full = Math.floor(n / NR);
    const tail = n - full * NR;
    const aFloats = Math.min(chunk, rows) * k;
    // scratch: the packed chunk of rows, then (for a partial last strip) its [chunk][8] outputs and 8 bias floats
    const base = this.scratchOf('left', aFloats + (tail ? Math.min(chunk, rows) * NR + NR : 0));
    // a view made after the allocation (one that grows the heap detaches older views)
    const tailOut = base + aFloats * 4;
    const tailBias = tailOut + Math.min(chunk, rows) * NR * 4;
    const heap = new Float32Array(this.memory.buffer);
    if (tail && biasAt) {
      for (let c = 0; c < NR; c++) heap[(tailBias >>> 2) + c] = c < tail ? heap[(biasAt >>> 2) + full * NR + c] : 0;
    }
    for (let r0 = 0; r0 < rows; r0 += chunk) {
      const mc = Math.min(chunk, rows - r0);
      const blocks = Math.floor(mc / MR);
      const rem = mc - blocks * MR;
      // pack: block b holds rows r0 + b*MR .. as [k][MR]; the remainder block [k][rem]
      for (let blk = 0; blk <= blocks; blk++) {
        const height = blk < blocks ? MR : rem;
        if (height) copy2d(aAt + (r0 + blk * MR) * k * 4, base + blk * MR * k * 4, height, k, k, 1, 1, height);
      }
      const run = (w: number, strips: number, to: number, os: number, biasPtr: number) => {
        let done = 0;
        if (mc === 1 && strips >= GEMV_STRIPS) {
          done = strips - (strips % GEMV_STRIPS);
          drivers[MR](base, w, to, k, done, os, 0, biasPtr);
        }
        // done is a multiple of 4, so the rest starts a group; a lone tail strip is passed where it lies
        if (done < strips) drivers[rem](base, w + stripOffset(done, k, group), to + done * NR * 4, k, strips - done, os, blocks, biasPtr && biasPtr + done * NR * 4);
      };
      if (full > 0) run(wAt, full, outAt + r0 * n * 4, n, biasAt);
      if (tail) {
        run(wAt + stripOffset(full, k, group), 1, tailOut, NR, biasAt ? tailBias : 0);
        for (let r = 0; r < mc; r++) {
          const o = (outAt >>> 2) + (r0 + r) * n + full * NR;
          const t = (tailOut >>> 2) + r * NR;
          for (let c = 0; c < tail; c++) heap[o + c] = heap[t + c];
        }
      }
    }
  }
}
