// Tensor comparison with the reference's rule: |a - e| <= atol + rtol * |e|;
// ids, masks and -inf entries must match exactly.
import { HostTensor, Tolerance } from './types';

export interface Comparison {
  name: string;
  ok: boolean;
  maxAbsError: number;
  maxRelError: number;
  message?: string;
}

export function shapesEqual(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/**
 * Compare `actual` with `expected` under `tol`. Integer tensors (and `tol.exact`) must match
 * exactly; non-finite expected values must be reproduced exactly.
 */
export function compareTensor(name: string, actual: HostTensor, expected: HostTensor, tol: Tolerance): Comparison {
  if (!shapesEqual(actual.shape, expected.shape)) {
    return { name, ok: false, maxAbsError: Infinity, maxRelError: Infinity, message: `${name}: shape [${actual.shape}] != expected [${expected.shape}]` };
  }
  const exact = tol.exact === true || expected.dtype === 'int32';
  const atol = exact ? 0 : tol.atol ?? 0;
  const rtol = exact ? 0 : tol.rtol ?? 0;
  let maxAbs = 0;
  let maxRel = 0;
  let bad = -1;
  let badCount = 0;
  const a = actual.data;
  const e = expected.data;
  for (let i = 0; i < e.length; i++) {
    const ev = e[i];
    const av = a[i];
    if (!Number.isFinite(ev) || !Number.isFinite(av)) {
      if (!(ev === av || (Number.isNaN(ev) && Number.isNaN(av)))) {
        badCount++;
        if (bad < 0) bad = i;
        maxAbs = Infinity;
      }
      continue;
    }
    const d = Math.abs(av - ev);
    if (d > maxAbs) maxAbs = d;
    const rel = d / Math.max(Math.abs(ev), 1e-12);
    if (d > 0 && rel > maxRel) maxRel = rel;
    if (d > atol + rtol * Math.abs(ev)) {
      badCount++;
      if (bad < 0) bad = i;
    }
  }
  if (bad >= 0) {
    return {
      name, ok: false, maxAbsError: maxAbs, maxRelError: maxRel,
      message: `${name}: ${badCount} of ${e.length} values out of tolerance (atol ${atol}, rtol ${rtol}); first at flat index ${bad}: got ${a[bad]}, expected ${e[bad]}`,
    };
  }
  return { name, ok: true, maxAbsError: maxAbs, maxRelError: maxRel };
}
