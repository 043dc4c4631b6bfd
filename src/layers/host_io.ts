// Tensors to the host and back without a new ArrayBuffer, for the decode step's few small reads
// and writes per layer. tfjs-wasm's dataSync slices its heap into a fresh buffer; at ~300 of them
// a step, their external-memory pressure had V8 run a mark-compact in each tensor-parallel worker
// about once a step (1.5-12 ms, seen with --trace-gc), and one rank's pause stalls every other
// rank at its next barrier: 15-20 ms of the 206 ms batch-16 step waited on the other rank's GC.
import * as tf from '@tensorflow/tfjs-core';

/** The part of tfjs-wasm's backend this needs: its heap, seen through typed-array views. */
interface HeapBackend {
  typedArrayFromHeap(t: tf.TensorInfo): Float32Array | Int32Array | Uint8Array;
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
}

function heapBackend(): HeapBackend | null {
  if (tf.getBackend() !== 'wasm') return null;
  const b = tf.backend() as unknown as Partial<HeapBackend>;
  return typeof b.typedArrayFromHeap === 'function' && typeof b.makeOutput === 'function' ? (b as HeapBackend) : null;
}

/** Whether tensors of the current backend can be read and written in place on the host (wasm's heap). */
export function onHostHeap(): boolean {
  return heapBackend() !== null;
}

/**
 * A float32 tensor's values. On wasm a view on the backend's heap, not a copy: read it before the
 * next tfjs op (which may grow the heap, detaching the view, or reuse a freed tensor's memory) and
 * never keep it. Elsewhere dataSync.
 */
export function viewOf(t: tf.Tensor): Float32Array {
  if (t.dtype !== 'float32') throw new Error(`viewOf: a ${t.dtype} tensor, expected float32`);
  const b = heapBackend();
  return b ? (b.typedArrayFromHeap(t) as Float32Array) : (t.dataSync() as Float32Array);
}

/**
 * A float32 tensor of `shape` whose values `fill` writes. On wasm `fill` writes straight into the
 * new tensor's heap memory, so it must not run tfjs ops; elsewhere into a fresh array.
 */
export function hostTensor<R extends tf.Rank>(shape: tf.ShapeMap[R], fill: (out: Float32Array) => void): tf.Tensor<R> {
  const b = heapBackend();
  if (!b) {
    const out = new Float32Array(tf.util.sizeFromShape(shape));
    fill(out);
    return tf.tensor(out, shape, 'float32') as tf.Tensor<R>;
  }
  const info = b.makeOutput(shape, 'float32');
  const t = tf.engine().makeTensorFromTensorInfo(info) as tf.Tensor<R>;
  try {
    fill(b.typedArrayFromHeap(info) as Float32Array);
  } catch (e) {
    t.dispose();
    throw e;
  }
  return t;
}
