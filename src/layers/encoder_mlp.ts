// ClvpGatedLinearUnit and ClvpEncoderMLP (modeling_clvp.py): fc1 = proj to 2*intermediate, split
// into (hidden, gate), hidden * act(gate); fc2 back to hidden size.
import * as tf from '@tensorflow/tfjs-core';
import { ClvpEncoderConfig } from '../config/configuration_clvp';
import { ParamSource } from './params';
import { Activation, getActivation } from './activations';
import { Linear } from './linear';

export class ClvpEncoderMLP {
  /** fc1.proj: [hidden] -> [2 * intermediate] */
  readonly fc1_proj: Linear;
  readonly fc2: Linear;
  private readonly act: Activation;

  constructor(src: ParamSource, readonly name: string, readonly config: ClvpEncoderConfig) {
    const f = config.initializerFactor;
    const inProjStd = config.hiddenSize ** -0.5 * (2 * config.numHiddenLayers) ** -0.5 * f;
    const fcStd = (2 * config.hiddenSize) ** -0.5 * f;
    this.act = getActivation(config.hiddenAct);
    this.fc1_proj = new Linear(src, `${name}.fc1.proj`, config.hiddenSize, config.intermediateSize * 2, { weightInit: { kind: 'normal', std: fcStd } });
    this.fc2 = new Linear(src, `${name}.fc2`, config.intermediateSize, config.hiddenSize, { weightInit: { kind: 'normal', std: inProjStd } });
  }

  apply(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const [hidden, gate] = tf.split(this.fc1_proj.apply(x), 2, -1);
      return this.fc2.apply(tf.mul(hidden, this.act(gate)));
    });
  }

  dispose(): void {
    this.fc1_proj.dispose();
    this.fc2.dispose();
  }
}
