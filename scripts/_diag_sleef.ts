import { loadCase, readCaseIndex } from '../src/parity/cases';
const f32 = Math.fround;
const F = new Float32Array(1), U = new Uint32Array(F.buffer);
function fmaf(a: number, b: number, c: number): number {
  const p = a * b; // exact
  const s = p + c;
  const bb = s - p;
  const err = (p - (s - bb)) + (c - bb);
  const r = f32(s);
  if (err === 0 || r === s) return r;
  // neighbour of r on the side of s
  F[0] = r; const ru = U[0];
  F[0] = r; U[0] = (s > r) === (r > 0) ? ru + 1 : ru - 1; const r2 = F[0];
  if ((r + r2) / 2 !== s) return r; // not a midpoint
  // exact value is s + err: pick the neighbour on that side
  const lo = Math.min(r, r2), hi = Math.max(r, r2);
  return err > 0 ? hi : lo;
}
function rint(x: number): number { const r = Math.round(x); return (r - x === 0.5 && r % 2 !== 0) ? r - 1 : r; }
const R_LN2f = f32(1.442695040888963407359924681001892137426645954152985934135449406931);
const L2Uf = f32(0.693145751953125), L2Lf = f32(1.428606765330187045e-06);
const C = [0.000198527617612853646278381, 0.00139304355252534151077271, 0.00833336077630519866943359, 0.0416664853692054748535156, 0.166666671633720397949219, 0.5].map(f32);
function pow2i(q: number) { return 2 ** q; }
export function sleefExpf(d: number): number {
  if (d !== d) return NaN;
  if (d < -104) return 0;
  if (d > 1e38) return Infinity;
  const q = rint(f32(d * R_LN2f));
  let s = fmaf(q, -L2Uf, d);
  s = fmaf(q, -L2Lf, s);
  let u = C[0];
  for (let i = 1; i < 6; i++) u = fmaf(u, s, C[i]);
  u = f32(1 + fmaf(f32(s * s), u, s));
  const h = q >> 1;
  u = f32(f32(u * pow2i(h)) * pow2i(q - h));
  return u;
}
function sumTree(e: Float32Array): number {
  if (e.length < 8) { let s = 0; for (const x of e) s = f32(s + x); return s; }
  const acc = new Float32Array(8); for (let i = 0; i < e.length; i++) acc[i % 8] += e[i];
  const a = [f32(acc[0] + acc[4]), f32(acc[1] + acc[5]), f32(acc[2] + acc[6]), f32(acc[3] + acc[7])];
  return f32(f32(a[0] + a[2]) + f32(a[1] + a[3]));
}
const dir = '/work/shared/reference';
let tot = 0, bad = 0, expDiff = 0, expN = 0;
for (const e of readCaseIndex(dir).filter((e) => e.call === 'logits_warpers')) {
  const c = loadCase(dir, e);
  for (let k = 0; c.tensors.has(`out.step.${k}.scores`); k++) {
    const s = c.expected(`step.${k}.scores`); const p = c.expected(`step.${k}.probs`);
    const [B, V] = s.shape;
    for (let b = 0; b < B; b++) {
      const row = s.data.subarray(b * V, (b + 1) * V) as Float32Array;
      let m = -Infinity; for (const x of row) m = Math.max(m, x);
      const ex = new Float32Array(V); for (let i = 0; i < V; i++) { const d = f32(row[i] - m); ex[i] = sleefExpf(d); if (d > -104) { expN++; if (ex[i] !== f32(Math.exp(d))) expDiff++; } }
      const inv = f32(1 / sumTree(ex));
      for (let i = 0; i < V; i++) { tot++; if (f32(ex[i] * inv) !== p.data[b * V + i]) bad++; }
    }
  }
}
console.log({ tot, bad, expDiff, expN });
// random check of sleef vs Math.exp
let n = 0, d1 = 0, maxUlp = 0;
for (let i = 0; i < 2e6; i++) { const x = f32(-Math.random() * 100); const a = sleefExpf(x), b = f32(Math.exp(x)); n++; if (a !== b) { d1++; F[0] = a; const ua = U[0]; F[0] = b; maxUlp = Math.max(maxUlp, Math.abs(ua - U[0])); } }
console.log({ n, d1, maxUlp });
