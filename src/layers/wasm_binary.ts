// The WebAssembly binary format, as far as our hand-written kernels use it (wasm_attention.ts,
// wasm_gemm.ts). No npm package assembles wasm at run time in a few hundred bytes, and a build
// step with a wasm toolchain would put a compiler between a reader and the loops that matter.
// Opcodes are from the WebAssembly core, SIMD and relaxed-SIMD specifications.

export const I32 = 0x7f;
export const V128 = 0x7b;

/** Unsigned LEB128. */
export function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
}

/** Signed LEB128 (for i32.const). */
export function sleb(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0)) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
}

export function section(id: number, body: number[]): number[] {
  return [id, ...uleb(body.length), ...body];
}

export function vec(items: number[][]): number[] {
  return [...uleb(items.length), ...items.flat()];
}

export const name = (s: string) => [...uleb(s.length), ...Array.from(s, (c) => c.charCodeAt(0))];

/** The module header: magic and version 1. */
export const HEADER = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];

/** A function type of `params` i32 parameters and no result. */
export const i32FnType = (params: number) => [0x60, ...uleb(params), ...Array(params).fill(I32), 0x00];

/** A code-section entry: local declarations ([count, type] pairs) and the instructions. */
export function funcBody(locals: number[][], code: number[]): number[] {
  const b = [...vec(locals), ...code, ...op.end];
  return [...uleb(b.length), ...b];
}

export const op = {
  block: [0x02, 0x40],
  loop: [0x03, 0x40],
  if: [0x04, 0x40],
  else: [0x05],
  end: [0x0b],
  br: (l: number) => [0x0c, ...uleb(l)],
  brIf: (l: number) => [0x0d, ...uleb(l)],
  call: (f: number) => [0x10, ...uleb(f)],
  /** select: cond ? first : second (i32 operands) */
  select: [0x1b],
  get: (i: number) => [0x20, ...uleb(i)],
  set: (i: number) => [0x21, ...uleb(i)],
  tee: (i: number) => [0x22, ...uleb(i)],
  i32: (v: number) => [0x41, ...sleb(v)],
  f32: (v: number) => [0x43, ...Array.from(new Uint8Array(new Float32Array([v]).buffer))],
  i32Eqz: [0x45],
  i32LtU: [0x49],
  i32GeU: [0x4f],
  i32Add: [0x6a],
  i32Sub: [0x6b],
  i32Mul: [0x6c],
  i32And: [0x71],
  i32Shl: [0x74],
  i32ShrU: [0x76],
  f32Load: [0x2a, 0x02, 0x00],
  f32Store: [0x38, 0x02, 0x00],
  f32Add: [0x92],
  v128Load: [0xfd, 0x00, 0x04, 0x00],
  v128Store: [0xfd, 0x0b, 0x04, 0x00],
  /** v128.load32_splat at a constant byte offset (4-byte alignment) */
  loadSplat: (offset: number) => [0xfd, 0x09, 0x02, ...uleb(offset)],
  /** v128.load / store at a constant byte offset, 4-byte alignment (rows may start anywhere) */
  loadOff: (offset: number) => [0xfd, 0x00, 0x02, ...uleb(offset)],
  storeOff: (offset: number) => [0xfd, 0x0b, 0x02, ...uleb(offset)],
  v128Zero: [0xfd, 0x0c, ...Array<number>(16).fill(0)],
  f32x4Splat: [0xfd, 0x13],
  f32x4Lane: (l: number) => [0xfd, 0x1f, l],
  f32x4Add: [0xfd, ...uleb(228)],
  f32x4Sub: [0xfd, ...uleb(229)],
  f32x4Mul: [0xfd, ...uleb(230)],
  f32x4Div: [0xfd, ...uleb(231)],
  f32x4Min: [0xfd, ...uleb(232)],
  f32x4Max: [0xfd, ...uleb(233)],
  /** pmin(a, b) = b < a ? b : a, pmax(a, b) = a < b ? b : a: minps / maxps */
  f32x4PMin: [0xfd, ...uleb(234)],
  f32x4PMax: [0xfd, ...uleb(235)],
  f32x4Neg: [0xfd, ...uleb(225)],
  f32x4Gt: [0xfd, ...uleb(68)],
  /** v128.andnot: a & ~b */
  v128AndNot: [0xfd, ...uleb(79)],
  i32x4Shl: [0xfd, ...uleb(171)],
  i32x4Add: [0xfd, ...uleb(174)],
  /** relaxed-SIMD f32x4.relaxed_madd: a * b + c, fused where the CPU has FMA */
  f32x4RelaxedMadd: [0xfd, ...uleb(0x105)],
};

/** v128.const of four equal f32 lanes. */
export const f32x4 = (v: number): number[] => [0xfd, 0x0c, ...Array.from({ length: 4 }, () => Array.from(new Uint8Array(new Float32Array([v]).buffer))).flat()];

/**
 * v = exp(v) on the four lanes of v128 local `v` (k and j: v128 locals for scratch), without fused
 * multiply-adds: Cephes' expf (range reduction by ln 2 in two parts, a degree-5 polynomial, 2^n
 * built in the exponent bits), within about one ulp of the exact value, as torch's vectorised exp
 * is. Inputs are clamped to [-87.3, EXP_MAX]: below, exp < 2^-126 (0 to every use here), above,
 * the float32 range ends (a caller that needs the overflow tests for it).
 */
export const EXP_MAX = 88.3;

export function expF32x4(v: number, k: number, j: number): number[] {
  const { f32x4Mul: mul, f32x4Add: add, f32x4Sub: sub } = op;
  // 1.5 * 2^23: adding it rounds to an integer (to nearest, ties to even, as f32x4.nearest) that
  // then sits in the low mantissa bits, where i32 arithmetic makes 2^n of it: f32x4.nearest and
  // i32x4.trunc_sat are several instructions each in V8 on x64 without SSE4.1 / AVX-512.
  const ROUNDER = 12582912;
  return [
    // pmax / pmin (one instruction each; a NaN input stays NaN) clamp to [-87.3, EXP_MAX]
    ...op.get(v), ...f32x4(-87.3), ...op.f32x4PMax, ...f32x4(EXP_MAX), ...op.f32x4PMin, ...op.set(v),
    ...op.get(v), ...f32x4(Math.LOG2E), ...mul, ...f32x4(ROUNDER), ...add, ...op.tee(j), ...f32x4(ROUNDER), ...sub, ...op.set(k),
    ...op.get(v), ...op.get(k), ...f32x4(0.693359375), ...mul, ...sub, ...op.get(k), ...f32x4(-2.12194440e-4), ...mul, ...sub, ...op.set(v),
    ...f32x4(1.9875691500e-4),
    ...[1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2, 1.6666665459e-1, 5.0000001201e-1].flatMap((c) => [...op.get(v), ...mul, ...f32x4(c), ...add]),
    ...op.get(v), ...mul, ...op.get(v), ...mul, ...op.get(v), ...add, ...f32x4(1), ...add,
    // 2^n: the exponent field n + 127 from the rounded sum's low bits (the rest shifts out)
    ...op.get(j), 0xfd, 0x0c, ...Array.from({ length: 4 }, () => [127, 0, 0, 0]).flat(), ...op.i32x4Add, ...op.i32(23), ...op.i32x4Shl,
    ...mul, ...op.set(v),
  ];
}

/**
 * The import section of a module that works in another module's memory (tfjs-wasm's heap) as
 * env.memory; a shared memory must declare its maximum (4 GiB, as tfjs-wasm's does).
 */
export function importedMemory(shared: boolean): number[] {
  const limits = shared ? [0x03, 0x00, ...uleb(65536)] : [0x00, 0x00];
  return section(2, vec([[...name('env'), ...name('memory'), 0x02, ...limits]]));
}

/** acc + x * y on three v128 locals, left on the stack: fused (one rounding) with `fma`, else a multiply then an add. */
export const madd = (fma: boolean, x: number, y: number, acc: number): number[] =>
  fma ? [...op.get(x), ...op.get(y), ...op.get(acc), ...op.f32x4RelaxedMadd] : [...op.get(acc), ...op.get(x), ...op.get(y), ...op.f32x4Mul, ...op.f32x4Add];

// f32x4.relaxed_madd on three parameters: whether this engine has relaxed SIMD.
const RELAXED_PROBE = Uint8Array.from([
  ...HEADER,
  ...section(1, vec([[0x60, 3, V128, V128, V128, 1, V128]])),
  ...section(3, vec([[0x00]])),
  ...section(10, vec([funcBody([], [...op.get(0), ...op.get(1), ...op.get(2), ...op.f32x4RelaxedMadd])])),
]);

/** Whether this engine compiles relaxed SIMD (the kernels then multiply-add with FMA). */
export function hasRelaxedSimd(): boolean {
  try {
    return WebAssembly.validate(RELAXED_PROBE);
  } catch {
    return false;
  }
}

/** `for (x = 0; x < limit; x += step) body`, with x and limit locals; body may not branch out. */
export function forRange(x: number, limit: number, body: number[], step = 1): number[] {
  return [
    ...op.i32(0), ...op.set(x),
    ...op.block,
    ...op.get(x), ...op.get(limit), ...op.i32GeU, ...op.brIf(0),
    ...op.loop,
    ...body,
    ...op.get(x), ...op.i32(step), ...op.i32Add, ...op.tee(x), ...op.get(limit), ...op.i32GeU, ...op.brIf(1),
    ...op.br(0),
    ...op.end,
    ...op.end,
  ];
}

/** byte address = base + index * stride * 4 */
export const addr = (base: number, index: number, stride: number) => [...op.get(base), ...op.get(index), ...op.get(stride), ...op.i32Mul, ...op.i32(2), ...op.i32Shl, ...op.i32Add];
