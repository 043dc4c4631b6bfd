// LayerNorm's host path (the decode step's residual stream) against a float64 normalisation
// written here, and against the tensor path, for widths that are and are not multiples of four
// (the host loop sums in four lanes plus a tail).
import '../helpers/platform';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend, setBackendLogger } from '../../src/backend';
import { LayerNorm } from '../../src/layers/layer_norm';
import { SINGLE_RANK } from '../../src/layers/parallel';
import { ParamRequest, ParamSource } from '../../src/layers/params';

setBackendLogger(() => {});

function wave(n: number, a: number, b: number, scale: number, offset: number): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => Math.sin(i * a + b) * scale + offset);
}

/** weight and bias that are neither ones nor zeros, so a mix-up of the two shows */
function source(dim: number): ParamSource {
  return {
    parallel: SINGLE_RANK,
    take: (req: ParamRequest) => tf.tensor1d(req.name.endsWith('.weight') ? wave(dim, 0.7, 1, 0.5, 1) : wave(dim, 1.3, 2, 0.1, 0)),
  };
}

/** The definition, in float64: (x - mean) / sqrt(biased variance + eps) * weight + bias. */
function reference(x: Float32Array, dim: number, w: Float32Array, b: Float32Array, eps: number): Float64Array {
  const out = new Float64Array(x.length);
  for (let r = 0; r < x.length; r += dim) {
    const row = Array.from(x.subarray(r, r + dim));
    const mean = row.reduce((s, v) => s + v, 0) / dim;
    const variance = row.reduce((s, v) => s + (v - mean) ** 2, 0) / dim;
    row.forEach((v, j) => (out[r + j] = ((v - mean) / Math.sqrt(variance + eps)) * w[j] + b[j]));
  }
  return out;
}

beforeAll(async () => {
  await initBackend('cpu');
});

describe.each([1024, 1023, 5, 3])('LayerNorm.applyHost, width %i', (dim) => {
  const rows = 4;
  // a large offset makes the variance the small difference of large values: a one-pass or
  // float32 statistic would be off by far more than the rounding allowed below
  const x = wave(rows * dim, 0.37, 0, 3, 100);
  let ln: LayerNorm;
  let w: Float32Array;
  let b: Float32Array;
  beforeAll(() => {
    ln = new LayerNorm(source(dim), 'ln', dim, 1e-5);
    w = ln.weight.dataSync() as Float32Array;
    b = ln.bias.dataSync() as Float32Array;
  });
  afterAll(() => ln.dispose());

  it('is the float64 normalisation rounded once to float32', () => {
    const got = ln.applyHost(x);
    const want = reference(x, dim, w, b, 1e-5);
    let worst = 0;
    for (let i = 0; i < got.length; i++) {
      // half an ulp of the float32 result, plus float64 noise
      const ulp = Math.max(Math.abs(want[i]), 1e-30) * 2 ** -24;
      worst = Math.max(worst, Math.abs(got[i] - want[i]) / (ulp + 1e-12));
    }
    expect(worst).toBeLessThanOrEqual(1.01);
  });

  it('writes into the array it is given and matches the tensor path', () => {
    const out = new Float32Array(x.length).fill(NaN);
    expect(ln.applyHost(x, out)).toBe(out);
    const t = ln.apply(tf.tensor2d(x, [rows, dim]));
    const viaTensors = t.dataSync();
    t.dispose();
    out.forEach((v, i) => expect(Math.abs(v - viaTensors[i])).toBeLessThan(1e-4));
  });

  it('names a mismatched output', () => {
    expect(() => ln.applyHost(x, new Float32Array(x.length - 1))).toThrow(/ln: \d+ values normalised into \d+/);
  });
});
