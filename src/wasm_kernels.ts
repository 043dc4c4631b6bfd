// Slice, SplitV and row gathers (GatherV2 on axis 0) for tfjs-backend-wasm without a copy of the
// whole input per output, or a loop per element; dense and batched products (_FusedMatMul,
// BatchMatMul) in our own kernel (wasm_gemm.ts says why).
//
// Why: tfjs-backend-wasm 4.22's Slice starts with readSync(x), which copies the entire input out
// of the heap, and its SplitV calls that Slice once per piece. Splitting 24 heads of [502, 64]
// therefore copies the 3 MB tensor 24 times (11 ms, against ~0.3 ms for the copies it needs);
// the encoders split and slice on every layer (heads, rotary features), so at the published size
// this was a tenth of the speech encoder's time. The replacements below read the input through a
// view of the heap, made after the output is allocated (an allocation may grow the heap and
// detach older views). The values are the same; string tensors go to the kernels replaced.
//
// GatherV2 on axis 0 (every embedding lookup) copies whole rows the same way: tfjs-wasm's kernel
// computes an index per element, 398 ms for the 8016 rows of 768 floats a 16-candidate ranking
// looks up per rank (on a 2 GHz Xeon), and 1.7 ms of every batch-16 decode step for 16 rows.
// Other axes and batch dimensions go to the kernel replaced.
import * as tf from '@tensorflow/tfjs-core';
import { hasPlatform, platform } from './platform/platform';
import { setBatchedProductsNative } from './layers/batched_matmul';
import { WasmBackendLike as GemmBackend, WasmGemm } from './wasm_gemm';
import { geluKernelSupported, registerGeluKernel } from './wasm_gelu';

interface WasmTensorInfo {
  dataId: object;
  shape: number[];
  dtype: tf.DataType;
}

interface WasmBackendLike {
  makeOutput(shape: number[], dtype: tf.DataType): WasmTensorInfo;
  typedArrayFromHeap(t: WasmTensorInfo): Float32Array | Int32Array | Uint8Array;
}

type KernelArgs = { inputs: tf.NamedTensorInfoMap; attrs?: tf.NamedAttrMap; backend: unknown };
type KernelFn = (args: KernelArgs) => tf.TensorInfo | tf.TensorInfo[];

/** out = x[begin : begin + size], with heap views of both (x stays the caller's). */
function sliceInto(backend: WasmBackendLike, x: WasmTensorInfo, begin: number[], size: number[]): WasmTensorInfo {
  const out = backend.makeOutput(size, x.dtype);
  if (tf.util.sizeFromShape(size) === 0) return out;
  const src = backend.typedArrayFromHeap(x);
  const dst = backend.typedArrayFromHeap(out);
  const rank = x.shape.length;
  const strides = new Array<number>(rank);
  strides[rank - 1] = 1;
  for (let i = rank - 2; i >= 0; i--) strides[i] = strides[i + 1] * x.shape[i + 1];
  // The innermost axes the slice takes whole, merged with the first partial one into one run.
  let inner = rank - 1;
  while (inner > 0 && size[inner] === x.shape[inner] && begin[inner] === 0) inner--;
  const run = tf.util.sizeFromShape(size.slice(inner));
  const outer = size.slice(0, inner);
  const count = tf.util.sizeFromShape(outer);
  const index = new Array<number>(inner).fill(0);
  let o = 0;
  for (let c = 0; c < count; c++) {
    let at = begin[inner] * strides[inner];
    for (let i = 0; i < inner; i++) at += (begin[i] + index[i]) * strides[i];
    dst.set(src.subarray(at, at + run), o);
    o += run;
    for (let i = inner - 1; i >= 0; i--) {
      if (++index[i] < outer[i]) break;
      index[i] = 0;
    }
  }
  return out;
}

/** tfjs-wasm's own kernels we replaced, by name (for benchmarks that compare against them). */
const originals = new Map<string, KernelFn>();

export function originalWasmKernel(name: string): KernelFn | undefined {
  return originals.get(name);
}

function replace(name: string, make: (original: KernelFn) => KernelFn): void {
  const k = tf.getKernel(name, 'wasm');
  if (!k) return;
  const original = k.kernelFunc as unknown as KernelFn;
  originals.set(name, original);
  tf.unregisterKernel(name, 'wasm');
  // The setup (binding the C function the original calls) runs when the backend starts: keep it.
  tf.registerKernel({ kernelName: name, backendName: 'wasm', kernelFunc: make(original) as unknown as tf.KernelFunc, setupFunc: k.setupFunc, disposeFunc: k.disposeFunc });
}

/** x[indices] along axis 0: whole rows, copied through heap views. */
function gatherRows(backend: WasmBackendLike, x: WasmTensorInfo, indices: WasmTensorInfo): WasmTensorInfo {
  const rows = x.shape[0];
  // Checked before the output exists (nothing to dispose on a throw), in the message tfjs-wasm gives.
  const idx = Int32Array.from(backend.typedArrayFromHeap(indices) as Int32Array);
  for (const r of idx) if (!(r >= 0 && r <= rows - 1)) throw new Error(`GatherV2: the index value ${r} is not in [0, ${rows - 1}]`);
  const out = backend.makeOutput([...indices.shape, ...x.shape.slice(1)], x.dtype);
  const inner = tf.util.sizeFromShape(x.shape.slice(1));
  if (idx.length === 0 || inner === 0) return out;
  const src = backend.typedArrayFromHeap(x);
  const dst = backend.typedArrayFromHeap(out);
  for (let i = 0; i < idx.length; i++) dst.set(src.subarray(idx[i] * inner, (idx[i] + 1) * inner), i * inner);
  return out;
}

let installed = false;

/**
 * Which kernel multiplies (CLVP_MATMUL, read when the kernels are installed): 'auto' is ours, with
 * FMA where the engine has relaxed SIMD; 'simd' ours without FMA; 'xnnpack' tfjs-wasm's own.
 * For benchmarks that compare them.
 */
export type MatMulKernel = 'auto' | 'simd' | 'xnnpack';

export function matMulKernelSetting(): MatMulKernel {
  const v = hasPlatform() ? platform().env('CLVP_MATMUL') : undefined;
  if (v === undefined || v === '' || v === 'auto') return 'auto';
  if (v === 'simd' || v === 'xnnpack') return v;
  // a RangeError: a setting the user got wrong (the CLI reports it as such)
  throw new RangeError(`CLVP_MATMUL must be auto, simd or xnnpack, got '${v}'`);
}

/** a [batch, M, K] @ b [1, K, N] (+ bias [N]) with no transposes or activation: what Linear runs. */
function ownProduct(args: KernelArgs, fma: boolean | undefined): tf.TensorInfo | null {
  const { a, b, bias, preluActivationWeights } = args.inputs as Record<string, WasmTensorInfo | undefined>;
  const attrs = args.attrs!;
  if (!a || !b || a.dtype !== 'float32' || b.dtype !== 'float32' || attrs.transposeA || attrs.transposeB || preluActivationWeights) return null;
  if ((attrs.activation ?? 'linear') !== 'linear' || a.shape.length !== 3 || b.shape.length !== 3 || b.shape[0] !== 1) return null;
  const [batch, m, k] = a.shape;
  const n = b.shape[2];
  if (batch * m === 0 || k === 0 || n === 0 || (bias && (bias.shape.length !== 1 || bias.shape[0] !== n || bias.dtype !== 'float32'))) return null;
  const gemm = WasmGemm.for(args.backend as GemmBackend, { fma });
  return gemm ? (gemm.matMul(a, b, bias ?? null, batch * m, k, n, [batch, m, n]) as tf.TensorInfo) : null;
}

/**
 * a [..., M, K] @ b [..., K, N] (b [..., N, K] with transposeB), both batched alike or b a single
 * matrix: attention's products, every entry in one call. tfjs-wasm runs a batch of more than one
 * entry through a scalar loop and sends one-entry products to XNNPACK.
 */
function ownBatchProduct(args: KernelArgs, fma: boolean | undefined): tf.TensorInfo | null {
  const { a, b } = args.inputs as Record<string, WasmTensorInfo | undefined>;
  const { transposeA, transposeB } = args.attrs as { transposeA: boolean; transposeB: boolean };
  if (!a || !b || a.dtype !== 'float32' || b.dtype !== 'float32' || transposeA || a.shape.length < 2 || b.shape.length < 2) return null;
  const [m, k] = a.shape.slice(-2);
  const [bk, n] = transposeB ? b.shape.slice(-2).reverse() : b.shape.slice(-2);
  const lead = a.shape.slice(0, -2);
  const bLead = b.shape.slice(0, -2);
  const batch = tf.util.sizeFromShape(lead);
  const bBatch = tf.util.sizeFromShape(bLead);
  const sameLead = lead.length === bLead.length && lead.every((d, i) => d === bLead[i]);
  // anything else (broadcast batch dimensions, a shape error) goes to tfjs-wasm, which says what is wrong
  if (bk !== k || !(sameLead || (bBatch === 1 && bLead.length <= lead.length)) || k === 0) return null;
  const gemm = WasmGemm.for(args.backend as GemmBackend);
  return gemm ? (gemm.batchMatMul(a, b, batch, bBatch, m, k, n, !!transposeB, [...lead, m, n], fma) as tf.TensorInfo) : null;
}

/** Swap in the kernels (once per thread, after tfjs-backend-wasm registered its own). */
export function installWasmKernels(): void {
  if (installed) return;
  const matMul = matMulKernelSetting(); // a bad setting throws before anything is replaced
  installed = true;
  if (matMul !== 'xnnpack') {
    const fma = matMul === 'simd' ? false : undefined;
    replace(tf._FusedMatMul, (original) => (args) => ownProduct(args, fma) ?? original(args));
    replace(tf.BatchMatMul, (original) => (args) => ownBatchProduct(args, fma) ?? original(args));
    // Batched products are then one fast call however many entries: no need to split them.
    setBatchedProductsNative(() => tf.getBackend() === 'wasm' && WasmGemm.for(tf.backend() as unknown as GemmBackend) !== null);
  }
  if (geluKernelSupported()) registerGeluKernel();
  replace(tf.Slice, (original) => (args) => {
    const x = args.inputs.x as WasmTensorInfo;
    if (x.dtype === 'string') return original(args);
    const [begin, size] = tf.slice_util.parseSliceParams(x as unknown as tf.TensorInfo, args.attrs!.begin as number[], args.attrs!.size as number[]);
    return sliceInto(args.backend as WasmBackendLike, x, begin, size);
  });
  replace(tf.GatherV2, (original) => (args) => {
    const { x, indices } = args.inputs as { x: WasmTensorInfo; indices: WasmTensorInfo };
    const axis = tf.util.parseAxisParam(args.attrs!.axis as number, x.shape)[0];
    if (x.dtype === 'string' || indices.dtype !== 'int32' || axis !== 0 || (args.attrs!.batchDims as number) !== 0) return original(args);
    return gatherRows(args.backend as WasmBackendLike, x, indices);
  });
  replace(tf.SplitV, (original) => (args) => {
    const x = args.inputs.x as WasmTensorInfo;
    if (x.dtype === 'string') return original(args);
    const axis = tf.util.parseAxisParam(args.attrs!.axis as number, x.shape)[0];
    const sizes = tf.backend_util.prepareSplitSize(x as unknown as tf.Tensor, args.attrs!.numOrSizeSplits as number[] | number, axis);
    const begin = new Array<number>(x.shape.length).fill(0);
    return sizes.map((s) => {
      const size = x.shape.slice();
      size[axis] = s;
      const out = sliceInto(args.backend as WasmBackendLike, x, begin, size);
      begin[axis] += s;
      return out;
    });
  });
}
