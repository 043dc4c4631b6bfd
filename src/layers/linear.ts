// torch.nn.Linear, nn.Conv1d(kernel_size=1) and GPT-2's Conv1D: all y = x @ W + b once W is [in, out].
// Under tensor parallelism the layer holds its rank's slice (SHARDING_TABLE): a column-parallel
// layer outputs its slice of the features, a row-parallel one sums the ranks' partial products
// (rank 0 adds the bias, once), and lm_head gathers the vocabulary slices.
import * as tf from '@tensorflow/tfjs-core';
import { ParallelContext } from './parallel';
import { Combine, Init, Layout, ParamRequest, ParamSource, shardShape, shardingFor } from './params';

/** What tf.fused.matMul passes its kernel for a plain product with an optional bias. */
const PRODUCT_ATTRS = { transposeA: false, transposeB: false, activation: 'linear', leakyreluAlpha: 0.2 } as unknown as tf.NamedAttrMap;

export class Linear {
  /** [in, out] of this rank's slice (transposed from HF's [out, in] at load) */
  readonly kernel: tf.Tensor2D;
  /** [out] */
  readonly bias: tf.Tensor1D | null;
  /** this rank's input / output features */
  readonly inFeatures: number;
  readonly outFeatures: number;
  readonly combine: Combine;
  private readonly parallel: ParallelContext;

  constructor(
    src: ParamSource,
    readonly name: string,
    inFeatures: number,
    outFeatures: number,
    opts: { bias?: boolean; layout?: Layout; weightInit?: Init; units?: number } = {},
  ) {
    const layout = opts.layout ?? 'linear';
    const shape = layout === 'gpt2_conv1d' ? [inFeatures, outFeatures] : layout === 'conv1d_k1' ? [outFeatures, inFeatures, 1] : [outFeatures, inFeatures];
    const weight: ParamRequest = { name: `${name}.weight`, shape, layout, init: opts.weightInit ?? { kind: 'normal', std: 0.02 }, units: opts.units };
    this.parallel = src.parallel;
    this.combine = this.parallel.size > 1 ? shardingFor(weight.name).combine : 'local';
    const local = shardShape(weight, this.parallel.rank, this.parallel.size);
    [this.inFeatures, this.outFeatures] = layout === 'gpt2_conv1d' ? [local[0], local[1]] : [local[1], local[0]];
    this.kernel = src.take(weight) as tf.Tensor2D;
    this.bias = opts.bias === false ? null : (src.take({ name: `${name}.bias`, shape: [outFeatures], layout: 'same', init: { kind: 'zeros' }, units: opts.units }) as tf.Tensor1D);
  }

  /** x: [..., in] -> [..., out] (the full out features for 'sum' and 'gather' layers) */
  apply(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      let y = this.applyPartial(x);
      if (this.combine === 'sum') y = this.parallel.allReduce(y);
      else if (this.combine === 'gather') y = this.parallel.allGather(y, -1);
      return y;
    });
  }

  /**
   * This rank's product before the ranks are combined: for a row-parallel ('sum') layer, a
   * partial sum (the bias only on rank 0) that the caller reduces, e.g. into the residual stream.
   */
  applyPartial(x: tf.Tensor): tf.Tensor {
    if (x.shape[x.rank - 1] !== this.inFeatures || x.dtype !== 'float32') {
      throw new Error(`${this.name}: takes float32 [..., ${this.inFeatures}], got ${x.dtype} [${x.shape.join(', ')}]`);
    }
    return tf.tidy(() => {
      const bias = this.bias && (this.combine !== 'sum' || this.parallel.rank === 0) ? this.bias : undefined;
      // The product's kernel itself, not tf.fused.matMul: the op around it (its checks and a
      // custom-gradient record, none of which inference needs) took 5.2-5.7 us a call against
      // 3.6 on wasm here, and a decode step makes ~180 products. The kernel takes both sides 3-D.
      const a = tf.reshape(x, [1, x.size / this.inFeatures, this.inFeatures]);
      const b = tf.reshape(this.kernel, [1, ...this.kernel.shape]);
      const y = tf.engine().runKernel(tf._FusedMatMul, bias ? { a, b, bias } : { a, b }, PRODUCT_ATTRS) as tf.Tensor;
      return tf.reshape(y, [...x.shape.slice(0, -1), this.outFeatures]);
    });
  }

  dispose(): void {
    this.kernel.dispose();
    this.bias?.dispose();
  }
}

/** GPT-2 Conv1D: weight stored [in, out] (nx, nf). */
export function gpt2Conv1D(src: ParamSource, name: string, inFeatures: number, outFeatures: number, std = 0.02): Linear {
  return new Linear(src, name, inFeatures, outFeatures, { layout: 'gpt2_conv1d', weightInit: { kind: 'normal', std } });
}
