// The attention kernels against a float64 reference: every size class the dispatch in
// AttentionKernels picks between (pairs of queries and the odd one, four keys at a time and the
// tail, 8-, 4- and 1-vector output passes, 16- and 4-float loops), strided rows, and accumulation
// into an output; with FMA (relaxed SIMD, where the engine has it) and without.
import { hasRelaxedSimd } from '../../src/layers/wasm_binary';
import { AttentionKernels } from '../../src/layers/wasm_attention';

describe.each(hasRelaxedSimd() ? [true, false] : [false])('attention kernels (FMA %s)', (fma) => {
  const K = AttentionKernels.create(fma);

function rand(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32 - 0.5;
  });
}

/** Copy host floats into a new block of the kernels' memory. */
function put(x: Float32Array) {
  const b = K.alloc(x.length);
  K.floats().set(x, b.ptr / 4);
  return b;
}

function expectClose(got: Float32Array, want: Float64Array, scale: number) {
  expect(got.length).toBe(want.length);
  let worst = 0;
  for (let i = 0; i < got.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]));
  // float32 sums of up to a few hundred terms of size ~scale
  expect(worst).toBeLessThan(2e-5 * scale);
}

  it('is the arithmetic asked for', () => expect(K.fma).toBe(fma));
  afterAll(() => expect(K.used).toBe(0));

  const shapes: [number, number, number][] = [
    // [nq, nk, d]
    [1, 1, 64], [1, 3, 64], [1, 4, 64], [1, 401, 64], [3, 7, 16], [16, 100, 64], [2, 9, 32], [2, 5, 8], [1, 6, 4], [4, 13, 48], [1, 0, 64],
    [5, 33, 64], [2, 4, 16], [3, 402, 96], [7, 8, 32], [3, 5, 12], [1, 9, 16],
  ];

  it.each(shapes)('scores of %i queries over %i keys of %i features, strided', (nq, nk, d) => {
    const qs = d + 8, ks = d + 4, os = nk + 3;
    const q = rand(nq * qs, 1), k = rand(Math.max(1, nk * ks), 2);
    const qb = put(q), kb = put(k), ob = put(new Float32Array(nq * os).fill(123));
    try {
      K.scores(qb.ptr, kb.ptr, ob.ptr, nq, nk, d, qs, ks, os);
      const f = K.floats();
      const got: number[] = [], want: number[] = [];
      for (let i = 0; i < nq; i++) {
        for (let j = 0; j < os; j++) {
          got.push(f[ob.ptr / 4 + i * os + j]);
          if (j >= nk) want.push(123); // nothing written past nk
          else {
            let s = 0;
            for (let t = 0; t < d; t++) s += q[i * qs + t] * k[j * ks + t];
            want.push(s);
          }
        }
      }
      expectClose(Float32Array.from(got), Float64Array.from(want), d);
    } finally {
      [ob, kb, qb].forEach((b) => K.release(b));
    }
  });

  it.each(shapes.flatMap(([nq, nk, d]) => [[nq, nk, d, false], [nq, nk, d, true]] as [number, number, number, boolean][]))('context of %i queries over %i values of %i features (accumulate %s)', (nq, nk, d, accumulate) => {
    const ps = nk + 5, vs = d + 4, os = d + 12;
    const p = rand(Math.max(1, nq * ps), 3), v = rand(Math.max(1, nk * vs), 4), o = rand(nq * os, 5);
    const pb = put(p), vb = put(v), ob = put(o);
    try {
      K.context(pb.ptr, vb.ptr, ob.ptr, nq, nk, d, ps, vs, os, accumulate);
      const f = K.floats();
      const got: number[] = [], want: number[] = [];
      for (let i = 0; i < nq; i++) {
        for (let t = 0; t < os; t++) {
          got.push(f[ob.ptr / 4 + i * os + t]);
          if (t >= d) want.push(o[i * os + t]); // columns past d untouched
          else {
            let s = accumulate ? o[i * os + t] : 0;
            for (let j = 0; j < nk; j++) s += p[i * ps + j] * v[j * vs + t];
            want.push(s);
          }
        }
      }
      expectClose(Float32Array.from(got), Float64Array.from(want), Math.max(1, nk / 4));
    } finally {
      [ob, vb, pb].forEach((b) => K.release(b));
    }
  });

  it.each([[1, 4, 1], [3, 8, 8], [128, 500, 20], [5, 64, 80]])('softmax of %i rows of %i scores (spread %i), -Infinity padding', (rows, n, spread) => {
    const x = rand(rows * n, 7).map((v) => v * spread);
    const valid = n - 3; // the last 3 lanes of each row are padding
    for (let r = 0; r < rows; r++) x.fill(-Infinity, r * n + valid, (r + 1) * n);
    const b = put(x);
    try {
      K.softmax(b.ptr, rows, n);
      const f = K.floats().slice(b.ptr / 4, b.ptr / 4 + rows * n);
      let worst = 0;
      for (let r = 0; r < rows; r++) {
        const row = Array.from(x.subarray(r * n, r * n + valid));
        const max = Math.max(...row);
        // the difference rounds to float32 first, as in torch (and the kernel)
        const e = row.map((v) => Math.exp(Math.fround(v - max)));
        const sum = e.reduce((a, c) => a + c, 0);
        e.forEach((v, j) => (worst = Math.max(worst, Math.abs(f[r * n + j] - v / sum) / (v / sum))));
        for (let j = valid; j < n; j++) expect(f[r * n + j]).toBeLessThan(1e-37);
      }
      // a few float32 ulps, as torch's vectorised exp
      expect(worst).toBeLessThan(2e-6);
    } finally {
      K.release(b);
    }
  });

  it('softmax refuses rows that are not whole vectors', () => {
    const b = K.alloc(8);
    try {
      expect(() => K.softmax(b.ptr, 1, 6)).toThrow(/multiples of 4 floats .*n 6/);
      expect(() => K.softmax(b.ptr + 4, 1, 4)).toThrow(/aligned/);
    } finally {
      K.release(b);
    }
  });
});
