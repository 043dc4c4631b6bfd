// gelu_new (the decoder MLP's activation, layers/activations.ts) for tfjs-backend-wasm as one
// kernel of our own, working in place in tfjs-wasm's heap.
//
// Why: composed from tfjs ops, x * sigmoid(x (a x^2 + b)) is six of them (a square, two products
// with a scalar, an add, the sigmoid, a product), each a dispatch and a pass over memory. Every
// decode step runs one per layer; at batch 1 each is a row of 2048 floats per rank, so what
// costs is the dispatch. Nothing on npm adds a kernel to tfjs-wasm, and the loop is one line of
// arithmetic and the exp that softmax already uses (wasm_binary.ts's expF32x4).
//
// The arithmetic is the composition's, lane by lane and in float32 (no fused multiply-add):
// u = x * ((x * x) * a + b), then x / (1 + exp(-u)): one rounding fewer than x * (1 / (1 + e)).
// Where exp(-u) overflows float32 the result is 0, the limit (the composition gives -0, and NaN
// at -Infinity).
import * as tf from '@tensorflow/tfjs-core';
import { GELU_NEW_CUBIC, GELU_NEW_KERNEL, GELU_NEW_LINEAR } from './layers/activations';
import { heapMemory } from './wasm_gemm';
import { EXP_MAX, HEADER, I32, V128, expF32x4, f32x4, funcBody, i32FnType, importedMemory, name, op, section, vec } from './layers/wasm_binary';

/** gelu(x, out, n): out[i] = gelu_new(x[i]) for n floats at byte pointers x and out (any alignment; out may be x). */
function geluBody(): number[] {
  // params 0..2: x out n; i32 locals 3 p (bytes done), 4 vectorEnd, 5 end; v128 locals 6 v, 7 t, 8 k, 9 j, 10 overflow
  const [x, out, n, p, vectorEnd, end, v, t, k, j, overflow] = Array.from({ length: 11 }, (_, i) => i);
  const { f32x4Mul: mul, f32x4Add: add } = op;
  // the result of gelu on the lanes of v, left on the stack
  const gelu = [
    ...op.get(v), ...op.get(v), ...mul, ...f32x4(GELU_NEW_CUBIC), ...mul, ...f32x4(GELU_NEW_LINEAR), ...add, ...op.get(v), ...mul, // u
    ...op.f32x4Neg, ...op.tee(t), ...f32x4(EXP_MAX), ...op.f32x4Gt, ...op.set(overflow),
    ...expF32x4(t, k, j),
    ...op.get(v), ...op.get(t), ...f32x4(1), ...add, ...op.f32x4Div, ...op.get(overflow), ...op.v128AndNot,
  ];
  const at = (base: number) => [...op.get(base), ...op.get(p), ...op.i32Add];
  // while (p < limit) { body; p += step }
  const sweep = (limit: number, step: number, body: number[]) => [
    ...op.block, ...op.loop,
    ...op.get(p), ...op.get(limit), ...op.i32GeU, ...op.brIf(1),
    ...body,
    ...op.get(p), ...op.i32(step), ...op.i32Add, ...op.set(p),
    ...op.br(0),
    ...op.end, ...op.end,
  ];
  return [
    ...op.get(n), ...op.i32(-4), ...op.i32And, ...op.i32(2), ...op.i32Shl, ...op.set(vectorEnd),
    ...op.get(n), ...op.i32(2), ...op.i32Shl, ...op.set(end),
    ...op.i32(0), ...op.set(p),
    // four floats at a time, then the last n % 4 one by one (splat into every lane, lane 0 kept)
    ...sweep(vectorEnd, 16, [...at(x), ...op.loadOff(0), ...op.set(v), ...at(out), ...gelu, ...op.storeOff(0)]),
    ...sweep(end, 4, [...at(x), ...op.loadSplat(0), ...op.set(v), ...at(out), ...gelu, ...op.f32x4Lane(0), ...op.f32Store]),
  ];
}

export function geluModuleBytes(shared: boolean): Uint8Array {
  return Uint8Array.from([
    ...HEADER,
    ...section(1, vec([i32FnType(3)])),
    ...importedMemory(shared),
    ...section(3, vec([[0x00]])),
    ...section(7, vec([[...name('gelu'), 0x00, 0x00]])),
    ...section(10, vec([funcBody([[3, I32], [5, V128]], geluBody())])),
  ]);
}

interface HeapBackend {
  wasm: Parameters<typeof heapMemory>[0];
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(t: tf.TensorInfo): Float32Array | Int32Array | Uint8Array;
}

type GeluFn = (x: number, out: number, n: number) => void;
const perMemory = new WeakMap<WebAssembly.Memory, GeluFn>();

function geluOn(memory: WebAssembly.Memory): GeluFn {
  let f = perMemory.get(memory);
  if (!f) {
    const shared = typeof SharedArrayBuffer !== 'undefined' && memory.buffer instanceof SharedArrayBuffer;
    const instance = new WebAssembly.Instance(new WebAssembly.Module(geluModuleBytes(shared) as Uint8Array<ArrayBuffer>), { env: { memory } });
    f = instance.exports.gelu as unknown as GeluFn;
    perMemory.set(memory, f);
  }
  return f;
}

/** Whether this engine compiles the kernel (wasm SIMD); where not, gelu_new stays composed of tfjs ops. */
export function geluKernelSupported(): boolean {
  try {
    return WebAssembly.validate(geluModuleBytes(false) as Uint8Array<ArrayBuffer>);
  } catch {
    return false;
  }
}

/**
 * The same in JS, for a build of tfjs-wasm that does not show its heap as a WebAssembly.Memory:
 * in float64, rounded once (within an ulp of the wasm kernel).
 */
function geluHost(x: Float32Array, out: Float32Array): void {
  for (let i = 0; i < x.length; i++) {
    const v = x[i];
    const e = Math.exp(-v * (v * v * GELU_NEW_CUBIC + GELU_NEW_LINEAR));
    out[i] = e === Infinity ? 0 : v / (1 + e);
  }
}

/** The tfjs kernel: x (float32) -> gelu_new(x), a new tensor of x's shape. */
export function registerGeluKernel(): void {
  if (tf.getKernel(GELU_NEW_KERNEL, 'wasm')) return;
  tf.registerKernel({
    kernelName: GELU_NEW_KERNEL,
    backendName: 'wasm',
    kernelFunc: ({ inputs, backend }) => {
      const x = inputs.x as tf.TensorInfo;
      if (x.dtype !== 'float32') throw new TypeError(`${GELU_NEW_KERNEL}: a ${x.dtype} tensor, expected float32`);
      const b = backend as unknown as HeapBackend;
      const out = b.makeOutput(x.shape, 'float32');
      const n = tf.util.sizeFromShape(x.shape);
      if (n === 0) return out;
      const memory = heapMemory(b.wasm);
      // byte offsets after the allocation (which may grow the heap): they stay valid, views do not
      if (memory) geluOn(memory)(b.typedArrayFromHeap(x).byteOffset, b.typedArrayFromHeap(out).byteOffset, n);
      else geluHost(b.typedArrayFromHeap(x) as Float32Array, b.typedArrayFromHeap(out) as Float32Array);
      return out;
    },
  });
}
