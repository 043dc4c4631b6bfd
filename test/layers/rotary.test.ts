// Rotary embeddings on wasm's heap (layers/rotary.ts): one pass, bitwise the values of the nine
// tfjs ops it replaces, for partial and full rotary and any batch, length and heads; bad tables
// are refused by shape.
import '../helpers/platform';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend, setBackendLogger } from '../../src/backend';
import { applyRotary, applyRotaryComposed, rotaryInvFreq } from '../../src/layers/rotary';

setBackendLogger(() => {});

/** cos / sin tables [T, 1, rd] as RotaryEmbedding makes them (the angle in float32, both halves alike). */
function tables(t: number, rd: number): { cos: tf.Tensor; sin: tf.Tensor } {
  const inv = rotaryInvFreq(rd);
  const cos = new Float32Array(t * rd);
  const sin = new Float32Array(t * rd);
  for (let p = 0; p < t; p++) {
    for (let j = 0; j < rd / 2; j++) {
      const a = Math.fround(p * inv[j]);
      cos[p * rd + j] = cos[p * rd + j + rd / 2] = Math.cos(a);
      sin[p * rd + j] = sin[p * rd + j + rd / 2] = Math.sin(a);
    }
  }
  return { cos: tf.tensor3d(cos, [t, 1, rd]), sin: tf.tensor3d(sin, [t, 1, rd]) };
}

beforeAll(async () => {
  await initBackend('wasm');
});

test.each([
  [2, 7, 3, 16, 8],
  [1, 5, 2, 64, 32],
  [3, 4, 1, 8, 8], // full rotary
  [1, 3, 4, 6, 2],
])('x [%i, %i, %i, %i], %i rotated features: bitwise the tfjs ops', (b, t, h, hd, rd) => {
  const x = tf.tensor4d(Float32Array.from({ length: b * t * h * hd }, (_, i) => Math.sin(i * 1.7) * 3 + (i % 11 === 0 ? 1e-39 : 0)), [b, t, h, hd]);
  const { cos, sin } = tables(t, rd);
  const before = tf.memory().numTensors;
  const host = tf.tidy(() => Array.from(applyRotary(x, cos, sin).dataSync()));
  const ops = tf.tidy(() => Array.from(applyRotaryComposed(x, cos, sin).dataSync()));
  expect(tf.memory().numTensors).toBe(before);
  expect(host).toEqual(ops);
  // the features past rd pass through, and the rotation changed the others
  const xs = x.dataSync();
  for (let i = 0; i < xs.length; i++) if (i % hd >= rd) expect(host[i]).toBe(xs[i]);
  expect(host.some((v, i) => i % hd < rd && i >= h * hd && v !== xs[i])).toBe(true);
  tf.dispose([x, cos, sin]);
});

test('tables that do not fit x are refused by shape', () => {
  const x = tf.zeros([1, 4, 2, 8]);
  const { cos, sin } = tables(3, 4);
  expect(() => applyRotary(x, cos, sin)).toThrow(/applyRotary: tables of \[3,1,4\] and \[3,1,4\] for x of \[1,4,2,8\]/);
  tf.dispose([x, cos, sin]);
});
