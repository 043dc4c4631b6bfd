// ClvpDecoderMLP (= GPT2MLP): Conv1D c_fc, activation, Conv1D c_proj.
import * as tf from '@tensorflow/tfjs-core';
import { ClvpDecoderConfig } from '../config/configuration_clvp';
import { ParamSource } from './params';
import { Activation, getActivation } from './activations';
import { Linear, gpt2Conv1D } from './linear';

export class ClvpDecoderMLP {
  readonly c_fc: Linear;
  readonly c_proj: Linear;
  private readonly act: Activation;

  constructor(src: ParamSource, readonly name: string, intermediateSize: number, config: ClvpDecoderConfig) {
    this.c_fc = gpt2Conv1D(src, `${name}.c_fc`, config.hiddenSize, intermediateSize, config.initializerFactor * 0.02);
    this.c_proj = gpt2Conv1D(src, `${name}.c_proj`, intermediateSize, config.hiddenSize, config.initializerFactor * 0.02);
    this.act = getActivation(config.activationFunction);
  }

  apply(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => this.c_proj.apply(this.act(this.c_fc.apply(x))));
  }

  /** This rank's partial c_proj product, for the caller to reduce (ResidualStream). */
  applyPartial(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => this.c_proj.applyPartial(this.act(this.c_fc.apply(x))));
  }

  dispose(): void {
    this.c_fc.dispose();
    this.c_proj.dispose();
  }
}
