import { loadCaseSync } from '../helpers/env';
import * as path from 'path';
import { compareTensor } from '../../src/parity/compare';
import { syntheticProcessors, warpersSyntheticHandler } from '../../src/parity/calls/warpers';
import {
  LogitsProcessorList,
  RepetitionPenaltyLogitsProcessor,
  TemperatureLogitsWarper,
  TopKLogitsWarper,
  TopPLogitsWarper,
  fmaf,
  sleefExpf,
  softmaxF32,
} from '../../src/generation/logits_process';

const f32 = Math.fround;
const FIXTURES = path.resolve(__dirname, '../fixtures/reference');

function syntheticCase() {
  return loadCaseSync(FIXTURES, { name: 'warpers_synthetic', call: 'logits_warpers_synthetic', model: null, file: 'cases/warpers_synthetic.json' });
}

/** A deterministic generator for test data (not the one under test). */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

describe('warpers_synthetic (bundled fixture, tolerance 1e-6, -inf exact)', () => {
  const c = syntheticCase();
  const logits = c.input('logits');
  const [batch, vocab] = logits.shape;
  const ids = (() => {
    const t = c.input('input_ids');
    const [b, l] = t.shape;
    return Array.from({ length: b }, (_, i) => Array.from(t.data.subarray(i * l, (i + 1) * l)));
  })();

  it('lists the 11 expected outputs', async () => {
    expect(c.outputNames().sort()).toEqual([
      'chain_rep1.3_temp0.9_topk10_topp0.85',
      'repetition_penalty_0.7',
      'repetition_penalty_1.5',
      'temperature_0.7',
      'temperature_1.9',
      'top_k_1',
      'top_k_100',
      'top_k_7',
      'top_p_0.0',
      'top_p_0.5',
      'top_p_0.9',
    ]);
  });

  for (const name of syntheticCase().outputNames()) {
    it(`${name} matches bit for bit`, async () => {
      const got = syntheticProcessors(name).process(ids, logits.data as Float32Array, batch, vocab);
      const want = c.expected(name);
      const cmp = compareTensor(name, { dtype: 'float32', shape: [batch, vocab], data: got }, want, c.spec.tolerance);
      expect(cmp.message).toBeUndefined();
      expect(cmp.ok).toBe(true);
      // stronger than the tolerance: identical float32 values, -inf in the same places
      expect(Array.from(got)).toEqual(Array.from(want.data));
    });
  }

  it('the parity handler produces every output within tolerance', async () => {
    const { actual } = await warpersSyntheticHandler(c);
    for (const name of c.outputNames()) {
      const cmp = compareTensor(name, actual!.get(name)!, c.expected(name), c.spec.tolerance);
      expect(cmp.ok).toBe(true);
      expect(cmp.maxAbsError).toBe(0);
    }
  });

  it('process() leaves its input untouched; processInPlace() overwrites it', async () => {
    const src = (logits.data as Float32Array).slice();
    const list = syntheticProcessors('chain_rep1.3_temp0.9_topk10_topp0.85');
    const out = list.process(ids, src, batch, vocab);
    expect(Array.from(src)).toEqual(Array.from(logits.data));
    const same = list.processInPlace(ids, src, batch, vocab);
    expect(same).toBe(src);
    expect(Array.from(src)).toEqual(Array.from(out));
  });
});

describe('RepetitionPenaltyLogitsProcessor', () => {
  it('divides positive and multiplies negative scores of seen ids, once per id', async () => {
    const scores = Float32Array.from([2, -2, 3, 0, -1, 4]);
    const out = new RepetitionPenaltyLogitsProcessor(2).process([[0, 1, 1, 1], [2, 2]], scores, 2, 3);
    expect(Array.from(out)).toEqual([1, -4, 3, 0, -1, 2]);
  });

  it('rounds like float32 torch (penalty rounded to float32)', async () => {
    const scores = Float32Array.from([1.2345678, -0.987654]);
    const out = new RepetitionPenaltyLogitsProcessor(1.3).process([[0, 1]], scores, 1, 2);
    expect(out[0]).toBe(f32(f32(1.2345678) / f32(1.3)));
    expect(out[1]).toBe(f32(f32(-0.987654) * f32(1.3)));
  });

  it('accepts Int32Array rows and empty rows', async () => {
    const scores = Float32Array.from([1, 1, 1, 1]);
    const out = new RepetitionPenaltyLogitsProcessor(4).process([Int32Array.from([1]), []], scores, 2, 2);
    expect(Array.from(out)).toEqual([1, 0.25, 1, 1]);
  });

  it.each([0, -1, NaN, Infinity])('rejects penalty %p', (p) => {
    expect(() => new RepetitionPenaltyLogitsProcessor(p)).toThrow(/repetitionPenalty has to be a strictly positive/);
  });

  it('rejects ids outside the vocabulary and wrong row counts, and stays usable', async () => {
    const p = new RepetitionPenaltyLogitsProcessor(2);
    expect(() => p.process([[0, 5]], new Float32Array(3), 1, 3)).toThrow(/outside the vocabulary/);
    expect(() => p.process([[0], [1]], new Float32Array(3), 1, 3)).toThrow(/2 input id rows for batch 1/);
    expect(Array.from(p.process([[1]], Float32Array.from([2, 2, 2]), 1, 3))).toEqual([2, 1, 2]);
  });
});

describe('TemperatureLogitsWarper', () => {
  it('divides in float32', async () => {
    const out = new TemperatureLogitsWarper(0.7).process([], Float32Array.from([1, -3.5, 0]), 1, 3);
    expect(Array.from(out)).toEqual([f32(1 / f32(0.7)), f32(-3.5 / f32(0.7)), 0]);
  });

  it.each([0, -0.5, NaN, Infinity])('rejects temperature %p with a clear error', (t) => {
    expect(() => new TemperatureLogitsWarper(t)).toThrow(/temperature has to be a strictly positive/);
  });

  it('suggests greedy decoding for temperature 0', async () => {
    expect(() => new TemperatureLogitsWarper(0)).toThrow(/doSample=false/);
  });
});

describe('TopKLogitsWarper', () => {
  it('keeps ties with the k-th largest', async () => {
    const out = new TopKLogitsWarper(2).process([], Float32Array.from([1, 3, 2, 2, 0]), 1, 5);
    expect(Array.from(out)).toEqual([-Infinity, 3, 2, 2, -Infinity]);
  });

  it('top_k > vocab keeps everything', async () => {
    const s = Float32Array.from([1, -2, 3]);
    expect(Array.from(new TopKLogitsWarper(100).process([], s, 1, 3))).toEqual([1, -2, 3]);
  });

  it('minTokensToKeep raises k', async () => {
    const out = new TopKLogitsWarper(1, 3).process([], Float32Array.from([5, 4, 3, 2]), 1, 4);
    expect(Array.from(out)).toEqual([5, 4, 3, -Infinity]);
  });

  it('matches a sort-based reference on random rows with ties and -inf', async () => {
    const rnd = lcg(7);
    for (let trial = 0; trial < 200; trial++) {
      const vocab = 1 + Math.floor(rnd() * 300);
      const k = 1 + Math.floor(rnd() * 40);
      const row = Float32Array.from({ length: vocab }, () => (rnd() < 0.1 ? -Infinity : f32(Math.round(rnd() * 40) / 4)));
      const got = new TopKLogitsWarper(k).process([], row, 1, vocab);
      const sorted = Array.from(row).sort((a, b) => b - a);
      const kth = sorted[Math.min(k, vocab) - 1];
      expect(Array.from(got)).toEqual(Array.from(row, (x) => (x < kth ? -Infinity : x)));
    }
  });

  it('matches the reference on batched Tortoise-sized rows (top-50 of 8194) and for k = vocab - 1', async () => {
    const rnd = lcg(11);
    const vocab = 8194;
    const rows = 3;
    const scores = Float32Array.from({ length: rows * vocab }, () => f32(Math.round((rnd() - 0.5) * 4000) / 64));
    for (const k of [50, vocab - 1]) {
      const got = new TopKLogitsWarper(k).process([], scores, rows, vocab);
      for (let r = 0; r < rows; r++) {
        const row = scores.subarray(r * vocab, (r + 1) * vocab);
        const kth = Array.from(row).sort((a, b) => b - a)[k - 1];
        expect(Array.from(got.subarray(r * vocab, (r + 1) * vocab))).toEqual(Array.from(row, (x) => (x < kth ? -Infinity : x)));
      }
    }
  });

  it('ranks NaN above every score, as torch.topk does (a NaN is kept and takes one of the k places)', async () => {
    const out = new TopKLogitsWarper(2).process([], Float32Array.from([1, NaN, 3, 2]), 1, 4);
    expect(Array.from(out)).toEqual([-Infinity, NaN, 3, -Infinity]);
  });

  it.each([0, -1, 1.5])('rejects topK %p', (k) => {
    expect(() => new TopKLogitsWarper(k)).toThrow(/topK has to be a strictly positive integer/);
  });
});

/** TopPLogitsWarper written literally after transformers: full stable sort, softmaxF32, cumsum. */
function naiveTopP(row: Float32Array, topP: number, minKeep: number): Float32Array {
  const v = row.length;
  const order = Array.from({ length: v }, (_, i) => i).sort((a, b) => row[a] - row[b] || a - b);
  const sorted = Float32Array.from(order, (i) => row[i]);
  const p = softmaxF32(sorted, 1, v);
  const out = row.slice();
  let c = 0;
  for (let j = 0; j < v; j++) {
    c += p[j];
    if (f32(c) <= f32(1 - topP) && j < v - minKeep) out[order[j]] = -Infinity;
  }
  return out;
}

describe('TopPLogitsWarper', () => {
  it('top_p = 1.0 is a no-op', async () => {
    const s = Float32Array.from([1, -2, 3, 0.5]);
    expect(Array.from(new TopPLogitsWarper(1.0).process([], s, 1, 4))).toEqual(Array.from(s));
  });

  it('top_p = 0.0 keeps exactly minTokensToKeep (the largest)', async () => {
    const s = Float32Array.from([1, -2, 3, 0.5, 2]);
    expect(Array.from(new TopPLogitsWarper(0).process([], s, 1, 5))).toEqual([-Infinity, -Infinity, 3, -Infinity, -Infinity]);
    expect(Array.from(new TopPLogitsWarper(0, 3).process([], s, 1, 5))).toEqual([1, -Infinity, 3, -Infinity, 2]);
  });

  it('keeps the smallest set whose mass exceeds top_p', async () => {
    // probabilities ~ [0.643, 0.237, 0.087, 0.032]
    const s = Float32Array.from([3, 2, 1, 0]);
    expect(Array.from(new TopPLogitsWarper(0.5).process([], s, 1, 4))).toEqual([3, -Infinity, -Infinity, -Infinity]);
    expect(Array.from(new TopPLogitsWarper(0.8).process([], s, 1, 4))).toEqual([3, 2, -Infinity, -Infinity]);
  });

  it('a row that is all -inf stays all -inf', async () => {
    const s = new Float32Array(4).fill(-Infinity);
    expect(Array.from(new TopPLogitsWarper(0.5).process([], s, 1, 4))).toEqual(Array.from(s));
  });

  it('matches the literal transformers algorithm on random rows (ties, -inf heads, any length)', async () => {
    const rnd = lcg(11);
    for (let trial = 0; trial < 300; trial++) {
      const vocab = 1 + Math.floor(rnd() * 200);
      const topP = [0, 0.1, 0.5, 0.8, 0.9, 0.95, 0.999][trial % 7];
      const minKeep = 1 + (trial % 3);
      const ties = trial % 2 === 0;
      const row = Float32Array.from({ length: vocab }, () => (rnd() < 0.3 ? -Infinity : f32(ties ? Math.round(rnd() * 16) / 2 : rnd() * 12 - 6)));
      const got = new TopPLogitsWarper(topP, minKeep).process([], row, 1, vocab);
      expect(Array.from(got)).toEqual(Array.from(naiveTopP(row, topP, minKeep)));
    }
  });

  it.each([-0.1, 1.1, NaN])('rejects topP %p', (p) => {
    expect(() => new TopPLogitsWarper(p)).toThrow(/topP has to be a number in \[0, 1\]/);
  });

  it('rejects a bad minTokensToKeep', async () => {
    expect(() => new TopPLogitsWarper(0.5, 0)).toThrow(/minTokensToKeep/);
  });
});

describe('LogitsProcessorList', () => {
  it('applies processors in order and traces each stage', async () => {
    const list = new LogitsProcessorList([new RepetitionPenaltyLogitsProcessor(2), new TemperatureLogitsWarper(0.5), new TopKLogitsWarper(2)]);
    const { scores, trace } = list.processWithTrace([[0]], Float32Array.from([4, 3, 1]), 1, 3);
    expect(trace.map((t) => t.kind)).toEqual(['repetition_penalty', 'temperature', 'top_k']);
    expect(Array.from(trace[0].scores)).toEqual([2, 3, 1]);
    expect(Array.from(trace[1].scores)).toEqual([4, 6, 2]);
    expect(Array.from(scores)).toEqual([4, 6, -Infinity]);
  });

  it('checks the dims', async () => {
    expect(() => new LogitsProcessorList().process([], new Float32Array(5), 2, 3)).toThrow(/expected batch\*vocab/);
  });
});

describe('float32 helpers reproducing torch CPU', () => {
  /** Exact a*b + c rounded to float32, with BigInt arithmetic (normal range only). */
  function exactFma(a: number, b: number, c: number): number {
    const dec = (x: number): [bigint, number] => {
      if (x === 0) return [0n, 0];
      let e = 0;
      let m = x;
      while (!Number.isInteger(m)) { m *= 2; e--; }
      return [BigInt(m), e];
    };
    const [ma, ea] = dec(a);
    const [mb, eb] = dec(b);
    const [mc, ec] = dec(c);
    let mp = ma * mb;
    let ep = ea + eb;
    let m2 = mc;
    const e = Math.min(ep, ec);
    mp <<= BigInt(ep - e);
    m2 <<= BigInt(ec - e);
    ep = e;
    const m = mp + m2;
    if (m === 0n) return 0;
    const neg = m < 0n;
    let am = neg ? -m : m;
    const bits = am.toString(2).length;
    let exp = ep;
    if (bits > 24) {
      const sh = BigInt(bits - 24);
      let q = am >> sh;
      const rem = am - (q << sh);
      const half = 1n << (sh - 1n);
      if (rem > half || (rem === half && (q & 1n) === 1n)) q += 1n;
      am = q;
      exp += bits - 24;
    }
    const v = Number(am) * 2 ** exp;
    return neg ? -v : v;
  }

  it('fmaf rounds once, including double-rounding midpoints', async () => {
    // p + c lands between float32 neighbours by less than a double ulp: naive double then float rounding is wrong
    const a = f32(2 ** -12 * (1 + 2 ** -23));
    const b = f32(2 ** -12 * (1 - 2 ** -23));
    const c = f32(1 + 2 ** -23);
    expect(f32(a * b + c)).toBe(1 + 2 ** -22); // the double-rounding error
    expect(fmaf(a, b, c)).toBe(exactFma(a, b, c));
    expect(fmaf(a, b, c)).toBe(1 + 2 ** -23);
    const rnd = lcg(3);
    for (let i = 0; i < 20000; i++) {
      const x = f32((rnd() - 0.5) * 8);
      const y = f32((rnd() - 0.5) * 8);
      const z = i % 2 ? f32(-x * y + (rnd() - 0.5) * 1e-6) : f32((rnd() - 0.5) * 8);
      expect(fmaf(x, y, z)).toBe(exactFma(x, y, z));
    }
  });

  it('sleefExpf is within 1 ulp of exp and exact at 0 / limits', async () => {
    expect(sleefExpf(0)).toBe(1);
    expect(sleefExpf(-Infinity)).toBe(0);
    expect(sleefExpf(-105)).toBe(0);
    expect(Number.isNaN(sleefExpf(NaN))).toBe(true);
    const buf = new Float32Array(2);
    const bits = new Int32Array(buf.buffer);
    const rnd = lcg(5);
    for (let i = 0; i < 20000; i++) {
      const d = f32(-rnd() * 80);
      buf[0] = sleefExpf(d);
      buf[1] = Math.exp(d);
      expect(Math.abs(bits[0] - bits[1])).toBeLessThanOrEqual(1);
    }
  });

  it('softmaxF32 gives rows summing to 1 and zeros for -inf', async () => {
    const p = softmaxF32(Float32Array.from([0, 1, 2, -Infinity, 3, 4, 5, 6, 7, 8]), 1, 10);
    expect(p[3]).toBe(0);
    expect(Math.abs(p.reduce((a, b) => a + b, 0) - 1)).toBeLessThan(1e-6);
    expect(p[9]).toBeGreaterThan(p[8]);
  });
});
