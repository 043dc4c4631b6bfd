// Where parameters come from: a checkpoint (HF state-dict names, unchanged) or HF's random init.
// Modules ask for each parameter by its HF key and HF shape; the layout table below is the one
// place that says how a checkpoint tensor becomes the tensor we compute with.
import * as tf from '@tensorflow/tfjs-core';
import { HostTensor, SafetensorsCheckpoint } from '../io/safetensors';
import { Rng } from './rng';

/**
 * How an HF tensor is laid out, and what we keep. Linear weights are transposed once at load
 * because the wasm matmul is ~8x slower with transposeB (measured: 64 ms vs 7 ms for 16x1024x4096).
 */
export type Layout =
  /** kept as stored */
  | 'same'
  /** nn.Linear weight [out, in] -> [in, out] */
  | 'linear'
  /** nn.Conv1d weight with kernel 1 [out, in, 1] -> [in, out] */
  | 'conv1d_k1'
  /** GPT-2 Conv1D weight, already [in, out] */
  | 'gpt2_conv1d';

export const LAYOUT_TABLE: Record<Layout, { describe: string; toCompute(t: HostTensor): HostTensor }> = {
  same: { describe: 'as stored', toCompute: (t) => t },
  linear: { describe: 'transpose [out, in] -> [in, out]', toCompute: (t) => transpose2d(t) },
  conv1d_k1: { describe: 'drop kernel axis, transpose [out, in, 1] -> [in, out]', toCompute: (t) => transpose2d({ ...t, shape: [t.shape[0], t.shape[1]] }) },
  gpt2_conv1d: { describe: 'as stored ([in, out])', toCompute: (t) => t },
};

function transpose2d(t: HostTensor): HostTensor {
  const [r, c] = t.shape;
  const src = t.data as Float32Array;
  const out = new Float32Array(r * c);
  for (let i = 0; i < r; i++) {
    const row = i * c;
    for (let j = 0; j < c; j++) out[j * r + i] = src[row + j];
  }
  return { dtype: t.dtype, shape: [c, r], data: out };
}

/** HF `_init_weights` for each kind of parameter. */
export type Init =
  | { kind: 'normal'; std: number }
  | { kind: 'zeros' }
  | { kind: 'ones' }
  | { kind: 'const'; value: number }
  /** a persisted buffer we recompute; given values are checked against it */
  | { kind: 'buffer'; values: Float32Array };

export interface ParamRequest {
  name: string;
  /** the shape in the HF checkpoint */
  shape: number[];
  layout: Layout;
  init: Init;
}

export interface ParamSource {
  take(req: ParamRequest): tf.Tensor;
}

export class WeightLoadError extends Error {}

const sameShape = (a: number[], b: number[]) => a.length === b.length && a.every((d, i) => d === b[i]);

/**
 * Reads parameters from a checkpoint. Problems are collected rather than thrown one by one, so
 * `finish()` can report every missing key, unexpected key and shape mismatch at once.
 */
export class CheckpointSource implements ParamSource {
  private readonly used = new Set<string>();
  private readonly problems: string[] = [];
  private readonly made: tf.Tensor[] = [];

  constructor(private readonly ckpt: SafetensorsCheckpoint, private readonly label: string) {}

  take(req: ParamRequest): tf.Tensor {
    if (!this.ckpt.has(req.name)) {
      if (req.init.kind === 'buffer') return this.keep(tf.tensor(req.init.values, req.shape, 'float32'));
      this.problems.push(`missing key '${req.name}' (expected shape [${req.shape}])`);
      return this.keep(tf.zeros(LAYOUT_TABLE[req.layout].toCompute({ dtype: 'float32', shape: req.shape, data: new Float32Array(0) }).shape));
    }
    this.used.add(req.name);
    const info = this.ckpt.info(req.name);
    if (!sameShape(info.shape, req.shape)) {
      this.problems.push(`shape mismatch for '${req.name}': checkpoint has [${info.shape}], the config implies [${req.shape}]`);
      return this.keep(tf.zeros([1]));
    }
    const host = this.ckpt.read(req.name);
    if (host.dtype !== 'float32') {
      this.problems.push(`'${req.name}' has integer dtype ${info.dtype}, expected a float tensor`);
      return this.keep(tf.zeros([1]));
    }
    if (req.init.kind === 'buffer') {
      const want = req.init.values;
      let worst = 0;
      for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(want[i] - host.data[i]) / Math.max(Math.abs(want[i]), 1e-30));
      if (worst > 1e-5) this.problems.push(`buffer '${req.name}' differs from the value the config implies (max rel diff ${worst.toExponential(2)}): wrong rotary dimension?`);
    }
    const t = LAYOUT_TABLE[req.layout].toCompute(host);
    return this.keep(tf.tensor(t.data, t.shape, 'float32'));
  }

  private keep(t: tf.Tensor): tf.Tensor {
    this.made.push(t);
    return t;
  }

  /** Throws one error listing every problem; unexpected keys are checkpoint keys nobody took. */
  finish(): void {
    const unexpected = this.ckpt.keys().filter((k) => !this.used.has(k) && !isNonPersistentBuffer(k));
    const all = [...this.problems, ...unexpected.map((k) => `unexpected key '${k}' [${this.ckpt.info(k).shape}]`)];
    if (all.length) {
      for (const t of this.made) t.dispose();
      throw new WeightLoadError(`${this.label}: ${all.length} problem(s) loading weights:\n  ${all.join('\n  ')}`);
    }
  }
}

/**
 * Buffers HF never saves (the attention `bias` causal masks) may still appear in checkpoints
 * written by other tools; they carry no information, so they are accepted and ignored.
 */
function isNonPersistentBuffer(key: string): boolean {
  return /(\.attn|\.self_attn|mel_attn_blocks\.\d+)\.(bias|masked_bias)$/.test(key) && !/_proj\.bias$/.test(key);
}

/** HF's `_init_weights` scheme with a seeded generator, for tests and benchmarks. */
export class RandomInitSource implements ParamSource {
  private readonly rng: Rng;
  /**
   * @param onParam sees each parameter in the HF layout, e.g. to save a random model as a checkpoint
   */
  constructor(seed = 0, private readonly onParam?: (req: ParamRequest, hfData: Float32Array) => void) {
    this.rng = new Rng(seed);
  }

  take(req: ParamRequest): tf.Tensor {
    const n = req.shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    const init = req.init;
    switch (init.kind) {
      case 'normal':
        for (let i = 0; i < n; i++) data[i] = this.rng.normal() * init.std;
        break;
      case 'ones':
        data.fill(1);
        break;
      case 'const':
        data.fill(init.value);
        break;
      case 'buffer':
        data.set(init.values);
        break;
      case 'zeros':
        break;
    }
    this.onParam?.(req, data);
    const t = LAYOUT_TABLE[req.layout].toCompute({ dtype: 'float32', shape: req.shape, data });
    return tf.tensor(t.data, t.shape, 'float32');
  }
}
