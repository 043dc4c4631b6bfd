// How many tensor-parallel ranks a model runs on, and why. One wasm instance has a 4 GiB heap
// and one core (tfjs-wasm is single-threaded in Node), so a model that does not fit one heap, or
// that runs faster over several cores, is split across workers; tfjs-node's kernels are already
// multi-threaded, so there the default stays one instance.
import { ClvpConfig, countParameters } from '../config/configuration_clvp';

/** The wasm backend's heap cannot grow past 4 GiB (32-bit addresses). */
export const WASM_HEAP_BYTES = 4 * 1024 ** 3;

/** Working memory beside the weights: activations, the largest transient tensors, allocator slack. */
export const WASM_WORKING_BYTES = 512 * 1024 ** 2;

/**
 * Bytes an instance holding `parameters` needs on wasm: every weight matrix is held twice, once as
 * the tensor and once packed for the products (by our kernel, wasm_gemm.ts, or by the XNNPACK
 * operator tfjs-wasm caches for it where XNNPACK multiplies; measured with XNNPACK: 840 MB of
 * weights grew the heap by 907 MB after one matmul each), plus working memory.
 */
export function wasmFootprintBytes(parameters: number): number {
  return 2 * parameters * 4 + WASM_WORKING_BYTES;
}

/** The most ranks every attention stack can be split over (each rank needs at least one head). */
export function maxTensorParallel(c: ClvpConfig): number {
  return Math.min(c.textConfig.numAttentionHeads, c.speechConfig.numAttentionHeads, c.decoderConfig.numAttentionHeads);
}

/**
 * From this decoder width on, N workers decode faster than one instance even when the model fits
 * it; below it the barrier of every block costs more than the split products save. Measured with
 * bench:decode on 2 vCPUs (a 2 GHz Xeon), one instance against 2 workers in the same run, ms/step
 * ratio at batch 16 (the main job's candidates) / batch 1, with our product kernel: hidden 128
 * (3 layers) 1.91 / 5.89; hidden 512 (6 layers) 1.02, 0.81, 1.00 / 1.71, 1.39, 1.86 in three runs;
 * hidden 768 (6 layers) 0.48 / 0.94; hidden 1024, 4 layers 0.60 / 0.78. (With XNNPACK's slower
 * products 512 already gained: 0.67 / 0.89.)
 */
export const TP_FASTER_FROM_HIDDEN = 768;

export class ParallelismError extends Error {}

export interface ParallelismChoice {
  tp: number;
  /** the one-line reason, for the log */
  reason: string;
  /** estimated wasm heap each rank needs for its weights (wasm only) */
  heapBytesPerRank: number | null;
}

const gb = (x: number) => `${(x / 1e9).toFixed(1)} GB`;

/**
 * The ranks to use. `requested`: a positive integer, or 'auto' / undefined for the default: as many
 * ranks as the cores and the heads allow when the model does not fit one wasm heap, or when its
 * decoder is wide enough to decode faster split (TP_FASTER_FROM_HIDDEN); else one instance, and
 * always one when the backend is not wasm. Throws ParallelismError for a request that cannot work.
 */
export function chooseTensorParallel(
  config: ClvpConfig,
  backend: string,
  cores: number,
  requested?: number | 'auto',
  /**
   * Whether one wasm instance computes on one core only (Node: tfjs-wasm runs single-threaded
   * there), so that splitting a model that fits can pay. A cross-origin-isolated page runs wasm on
   * every core already.
   */
  wasmSingleThreaded = false,
): ParallelismChoice {
  const params = countParameters(config);
  const maxTp = maxTensorParallel(config);
  const perRank = (tp: number) => (backend === 'wasm' ? wasmFootprintBytes(params / tp) : null);
  if (requested !== undefined && requested !== 'auto') {
    if (!Number.isInteger(requested) || requested < 1) throw new ParallelismError(`tp: expected a positive integer or 'auto', got ${JSON.stringify(requested)}`);
    if (requested > maxTp) throw new ParallelismError(`tp ${requested}: this model's attention has ${maxTp} heads in its smallest stack, so at most ${maxTp} tensor-parallel ranks (each rank computes whole heads)`);
    return { tp: requested, reason: requested === 1 ? 'one instance (tp=1 requested)' : `tensor parallelism over ${requested} ${backend} workers (requested)`, heapBytesPerRank: perRank(requested) };
  }
  const whole = wasmFootprintBytes(params);
  if (backend !== 'wasm') return { tp: 1, reason: `one ${backend} instance`, heapBytesPerRank: null };
  if (whole <= WASM_HEAP_BYTES) {
    const hidden = config.decoderConfig.hiddenSize;
    const tp = Math.min(cores, maxTp);
    if (wasmSingleThreaded && hidden >= TP_FASTER_FROM_HIDDEN && tp >= 2) {
      return {
        tp,
        reason: `tensor parallelism over ${tp} wasm workers: the model fits one wasm heap (${gb(whole)}), but a decoder ${hidden} wide decodes faster split over the cores; ~${gb(perRank(tp)!)} per worker (tp: 1 for one instance)`,
        heapBytesPerRank: perRank(tp),
      };
    }
    return { tp: 1, reason: `one wasm instance (${gb(whole)} fits its 4 GiB heap)`, heapBytesPerRank: whole };
  }
  let tp = Math.max(2, Math.min(cores, maxTp));
  while (tp < maxTp && wasmFootprintBytes(params / tp) > WASM_HEAP_BYTES) tp++;
  const need = wasmFootprintBytes(params / tp);
  if (need > WASM_HEAP_BYTES) throw new ParallelismError(`a ${gb(params * 4)} model needs ${gb(need)} per wasm instance even over ${tp} tensor-parallel workers; install @tensorflow/tfjs-node`);
  return {
    tp,
    reason: `tensor parallelism over ${tp} wasm workers: the ${gb(params * 4)} model needs ${gb(whole)} with the packed copies its products use, over one 4 GiB wasm heap; ~${gb(need)} per worker${tp > cores ? ` (more workers than the ${cores} cores, to fit)` : ''}`,
    heapBytesPerRank: need,
  };
}
