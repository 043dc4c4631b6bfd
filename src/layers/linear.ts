// torch.nn.Linear, nn.Conv1d(kernel_size=1) and GPT-2's Conv1D: all y = x @ W + b once W is [in, out].
import * as tf from '@tensorflow/tfjs-core';
import { Init, Layout, ParamSource } from '../models/weights';

export class Linear {
  /** [in, out] (transposed from HF's [out, in] at load) */
  readonly kernel: tf.Tensor2D;
  /** [out] */
  readonly bias: tf.Tensor1D | null;

  constructor(
    src: ParamSource,
    readonly name: string,
    readonly inFeatures: number,
    readonly outFeatures: number,
    opts: { bias?: boolean; layout?: Layout; weightInit?: Init } = {},
  ) {
    const layout = opts.layout ?? 'linear';
    const shape = layout === 'gpt2_conv1d' ? [inFeatures, outFeatures] : layout === 'conv1d_k1' ? [outFeatures, inFeatures, 1] : [outFeatures, inFeatures];
    this.kernel = src.take({ name: `${name}.weight`, shape, layout, init: opts.weightInit ?? { kind: 'normal', std: 0.02 } }) as tf.Tensor2D;
    this.bias = opts.bias === false ? null : (src.take({ name: `${name}.bias`, shape: [outFeatures], layout: 'same', init: { kind: 'zeros' } }) as tf.Tensor1D);
  }

  /** x: [..., in] -> [..., out] */
  apply(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const lead = x.shape.slice(0, -1);
      const x2 = tf.reshape(x, [-1, this.inFeatures]) as tf.Tensor2D;
      const y = tf.fused.matMul({ a: x2, b: this.kernel, bias: this.bias ?? undefined });
      return tf.reshape(y, [...lead, this.outFeatures]);
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
