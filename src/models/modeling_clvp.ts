// The module tree of ClvpModelForConditionalGeneration (modeling_clvp.py): conditioning encoder,
// speech decoder, text and speech encoders, and the contrastive head, with HF's attribute names so
// parameter names are the HF state-dict keys. It holds one tensor-parallel rank's slice of the
// weights (all of them with one rank). The runtimes (../runtime) run it; the public
// ClvpModelForConditionalGeneration (../clvp_model.ts) composes HF's methods from their calls.
import * as tf from '@tensorflow/tfjs-core';
import { ClvpConfig, validateConfig } from '../config/configuration_clvp';
import { ParamSource } from '../layers/params';
import { ClvpForCausalLM } from './clvp_decoder';
import { ClvpEncoder } from './clvp_encoder';
import { ClvpConditioningEncoder } from './conditioning_encoder';
import { HostIds } from './ids';

/** Dispose every tensor reachable from an output object (arrays and nested objects included). */
export function disposeOutput(x: unknown): void {
  if (x instanceof tf.Tensor) x.dispose();
  else if (Array.isArray(x)) x.forEach(disposeOutput);
  else if (x && typeof x === 'object') Object.values(x).forEach(disposeOutput);
}

export class ClvpModules {
  readonly conditioning_encoder: ClvpConditioningEncoder;
  readonly speech_decoder_model: ClvpForCausalLM;
  readonly text_encoder_model: ClvpEncoder;
  readonly speech_encoder_model: ClvpEncoder;
  /** scalar, stored as [] */
  readonly logit_scale: tf.Scalar;
  private disposed = false;

  constructor(readonly config: ClvpConfig, readonly src: ParamSource) {
    validateConfig(config);
    this.conditioning_encoder = new ClvpConditioningEncoder(src, 'conditioning_encoder', config);
    this.speech_decoder_model = new ClvpForCausalLM(src, 'speech_decoder_model', config.decoderConfig);
    this.text_encoder_model = new ClvpEncoder(src, 'text_encoder_model', config.textConfig);
    this.speech_encoder_model = new ClvpEncoder(src, 'speech_encoder_model', config.speechConfig);
    this.logit_scale = src.take({ name: 'logit_scale', shape: [], layout: 'same', init: { kind: 'const', value: config.logitScaleInitValue } }) as tf.Scalar;
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  /** Parameters this rank holds (logit_scale included). */
  numParameters(): number {
    let n = 0;
    const visit = (x: unknown, seen: Set<unknown>) => {
      if (seen.has(x)) return;
      seen.add(x);
      if (x instanceof tf.Tensor) n += x.size;
      else if (Array.isArray(x)) x.forEach((y) => visit(y, seen));
      else if (x && typeof x === 'object' && !(x instanceof Float32Array)) Object.values(x).forEach((y) => visit(y, seen));
    };
    visit([this.conditioning_encoder, this.speech_decoder_model, this.text_encoder_model, this.speech_encoder_model, this.logit_scale], new Set());
    return n;
  }

  dispose(): void {
    if (this.disposed) return;
    this.conditioning_encoder.dispose();
    this.speech_decoder_model.dispose();
    this.text_encoder_model.dispose();
    this.speech_encoder_model.dispose();
    this.logit_scale.dispose();
    this.disposed = true;
  }
}

/**
 * fix_speech_decoder_output: drop column 0 (bos); every eos becomes fixing_codes[0]; in a row with
 * an eos, everything from the first eos on becomes fixing_codes[0] and the last three positions
 * fixing_codes[1..3]. Unlike the reference (which fails), rows shorter than 3 after bos get the
 * trailing codes that fit: the last min(3, length) of fixing_codes[1..3].
 */
export function fixSpeechDecoderOutput(s: HostIds, eos: number, codes: number[]): HostIds {
  const [b, t] = s.shape;
  const n = Math.max(t - 1, 0);
  const out = new Int32Array(b * n);
  for (let i = 0; i < b; i++) {
    const row = out.subarray(i * n, (i + 1) * n);
    row.set(s.data.subarray(i * t + 1, (i + 1) * t));
    const stop = row.indexOf(eos);
    if (stop < 0) continue;
    row.fill(codes[0], stop);
    const tail = codes.slice(1);
    const k = Math.min(3, n);
    for (let j = 0; j < k; j++) row[n - k + j] = tail[3 - k + j];
  }
  return { data: out, shape: [b, n] };
}

/** clvp_loss: mean of the cross-entropies of logits_per_text and its transpose against the diagonal. */
export function clvpLoss(logitsPerText: tf.Tensor2D): tf.Scalar {
  return tf.tidy(() => {
    const ce = (l: tf.Tensor2D) => {
      const n = l.shape[0];
      const logp = tf.logSoftmax(l, -1);
      const diag = tf.sum(tf.mul(logp, tf.eye(n, l.shape[1])), -1);
      return tf.neg(tf.mean(diag));
    };
    return tf.div(tf.add(ce(logitsPerText), ce(tf.transpose(logitsPerText) as tf.Tensor2D)), 2) as tf.Scalar;
  });
}
