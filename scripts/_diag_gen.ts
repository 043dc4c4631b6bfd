import { loadCase, readCaseIndex } from '../src/parity/cases';
const f32 = Math.fround;
type SumFn = (e: Float32Array) => number;
const seq: SumFn = (e) => { let s = 0; for (const x of e) s = f32(s + x); return s; };
const lanes = (L: number, tree: boolean): SumFn => (e) => {
  const acc = new Float32Array(L);
  for (let i = 0; i < e.length; i++) acc[i % L] += e[i];
  if (!tree) { let s = acc[0]; for (let l = 1; l < L; l++) s = f32(s + acc[l]); return s; }
  let a = Array.from(acc); while (a.length > 1) { const h = a.length / 2; a = a.slice(0, h).map((x, i) => f32(x + a[i + h])); } return a[0];
};
const dbl: SumFn = (e) => f32(e.reduce((a, b) => a + b, 0));
const fns: Record<string, SumFn> = { seq, l8: lanes(8, false), l8tree: lanes(8, true), l16: lanes(16, false), l16tree: lanes(16, true), dbl };
const dir = '/work/shared/reference';
const tally: Record<string, [number, number]> = {};
for (const e of readCaseIndex(dir).filter((e) => e.call === 'logits_warpers')) {
  const c = loadCase(dir, e);
  for (let k = 0; c.tensors.has(`out.step.${k}.scores`); k++) {
    const s = c.expected(`step.${k}.scores`); const p = c.expected(`step.${k}.probs`);
    const [B, V] = s.shape;
    for (let b = 0; b < B; b++) {
      const row = s.data.subarray(b * V, (b + 1) * V) as Float32Array;
      let m = -Infinity; for (const x of row) m = Math.max(m, x);
      const ex = new Float32Array(V); for (let i = 0; i < V; i++) ex[i] = Math.exp(f32(row[i] - m));
      for (const [n, fn] of Object.entries(fns)) {
        for (const mode of ['recip', 'div']) {
          const sum = fn(ex); const inv = f32(1 / sum);
          let bad = 0;
          for (let i = 0; i < V; i++) { const q = mode === 'recip' ? f32(ex[i] * inv) : f32(ex[i] / sum); if (q !== p.data[b * V + i]) bad++; }
          const key = n + '/' + mode; tally[key] ??= [0, 0]; tally[key][0] += bad; tally[key][1] += V;
        }
      }
    }
  }
}
console.log(tally);
for (const e of readCaseIndex(dir).filter((e) => e.call === 'logits_warpers')) {
  const c = loadCase(dir, e);
  for (let k = 0; c.tensors.has(`out.step.${k}.scores`); k++) {
    const s = c.expected(`step.${k}.scores`); const p = c.expected(`step.${k}.probs`);
    const [B, V] = s.shape;
    for (let b = 0; b < B; b++) {
      const row = s.data.subarray(b * V, (b + 1) * V) as Float32Array;
      let m = -Infinity; for (const x of row) m = Math.max(m, x);
      const ex = new Float32Array(V); for (let i = 0; i < V; i++) ex[i] = Math.exp(f32(row[i] - m));
      const fin = row.filter((x) => x > -Infinity).length;
      const res: string[] = [];
      for (const n of ['seq', 'l8', 'l8tree', 'dbl']) {
        const inv = f32(1 / fns[n](ex));
        let bad = 0; for (let i = 0; i < V; i++) if (f32(ex[i] * inv) !== p.data[b * V + i]) bad++;
        res.push(`${n}:${bad}`);
      }
      // infer: is there an inv such that all match? try neighbors of inv
      const inv0 = f32(1 / lanes(8, true)(ex));
      const F = new Float32Array(1), U = new Uint32Array(F.buffer);
      const nb: string[] = [];
      for (let d = -3; d <= 3; d++) { F[0] = inv0; U[0] += d; const inv = F[0]; let bad = 0; for (let i = 0; i < V; i++) if (f32(ex[i] * inv) !== p.data[b * V + i]) bad++; nb.push(`${d}:${bad}`); }
      console.log(e.name, k, b, 'finite', fin, res.join(' '), '| inv ulps', nb.join(' '));
    }
  }
}
