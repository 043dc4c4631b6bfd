// The default number of tensor-parallel ranks: split when the model does not fit one wasm heap, or
// when its decoder is wide enough that splitting is measured to be faster (Node, where one wasm
// instance has one core); one instance otherwise; explicit requests checked.
import { countParameters, makeConfig } from '../../src/config/configuration_clvp';
import { ParallelismError, TP_FASTER_FROM_HIDDEN, WASM_HEAP_BYTES, chooseTensorParallel, wasmFootprintBytes } from '../../src/runtime/parallelism';

const published = makeConfig({});
const small = { hiddenSize: 128, numAttentionHeads: 4, numHiddenLayers: 3, intermediateSize: 256, projectionDim: 64 };
const bundledLike = makeConfig({ textConfig: small, speechConfig: small, decoderConfig: { hiddenSize: 128, numAttentionHeads: 4, numHiddenLayers: 3 } });
const wideFits = makeConfig({ textConfig: small, speechConfig: small, decoderConfig: { hiddenSize: 1024, numAttentionHeads: 16, numHiddenLayers: 4 } });

test('a model that fits one heap, with a narrow decoder: one instance, whatever the cores', () => {
  expect(wasmFootprintBytes(countParameters(bundledLike))).toBeLessThan(WASM_HEAP_BYTES);
  for (const cores of [1, 2, 16]) {
    const c = chooseTensorParallel(bundledLike, 'wasm', cores, 'auto', true);
    expect(c.tp).toBe(1);
    expect(c.reason).toMatch(/^one wasm instance \(0\.\d GB fits its 4 GiB heap\)$/);
  }
});

test('a decoder narrower than TP_FASTER_FROM_HIDDEN (512, measured no faster split) stays on one instance', () => {
  const mid = makeConfig({ textConfig: small, speechConfig: small, decoderConfig: { hiddenSize: 512, numAttentionHeads: 8, numHiddenLayers: 6 } });
  expect(mid.decoderConfig.hiddenSize).toBeLessThan(TP_FASTER_FROM_HIDDEN);
  expect(chooseTensorParallel(mid, 'wasm', 2, 'auto', true).tp).toBe(1);
});

test('a model that fits, with a decoder at least TP_FASTER_FROM_HIDDEN wide: split over the cores in Node, one instance in an isolated page or on one core', () => {
  expect(wideFits.decoderConfig.hiddenSize).toBeGreaterThanOrEqual(TP_FASTER_FROM_HIDDEN);
  expect(wasmFootprintBytes(countParameters(wideFits))).toBeLessThan(WASM_HEAP_BYTES);
  const node = chooseTensorParallel(wideFits, 'wasm', 2, undefined, true);
  expect(node.tp).toBe(2);
  expect(node.reason).toMatch(/^tensor parallelism over 2 wasm workers: the model fits one wasm heap \(.* GB\), but a decoder 1024 wide decodes faster split over the cores; ~.* GB per worker \(tp: 1 for one instance\)$/);
  expect(node.heapBytesPerRank).toBe(wasmFootprintBytes(countParameters(wideFits) / 2));
  // The smallest stack's heads cap the ranks: 4 text/speech heads on 16 cores.
  expect(chooseTensorParallel(wideFits, 'wasm', 16, 'auto', true).tp).toBe(4);
  expect(chooseTensorParallel(wideFits, 'wasm', 2, 'auto', false).tp).toBe(1);
  expect(chooseTensorParallel(wideFits, 'wasm', 1, 'auto', true).tp).toBe(1);
  expect(chooseTensorParallel(wideFits, 'tensorflow', 2, 'auto', true)).toEqual({ tp: 1, reason: 'one tensorflow instance', heapBytesPerRank: null });
});

test('the published model does not fit one heap: split, onto more workers than cores if it must', () => {
  const two = chooseTensorParallel(published, 'wasm', 2, 'auto', true);
  expect(two.tp).toBe(2);
  expect(two.reason).toMatch(/^tensor parallelism over 2 wasm workers: the 2\.7 GB model needs 5\.9 GB with the packed copies its products use, over one 4 GiB wasm heap; ~3\.2 GB per worker$/);
  expect(two.heapBytesPerRank!).toBeLessThan(WASM_HEAP_BYTES);
  const one = chooseTensorParallel(published, 'wasm', 1, 'auto', false);
  expect(one.tp).toBe(2);
  expect(one.reason).toMatch(/\(more workers than the 1 cores, to fit\)$/);
  expect(chooseTensorParallel(published, 'cpu', 2).tp).toBe(1);
});

test('explicit requests: any count the heads allow, anything else refused by name', () => {
  expect(chooseTensorParallel(published, 'wasm', 2, 1).reason).toBe('one instance (tp=1 requested)');
  expect(chooseTensorParallel(published, 'wasm', 2, 3).tp).toBe(3);
  for (const bad of [0, -1, 1.5, NaN]) expect(() => chooseTensorParallel(published, 'wasm', 2, bad)).toThrow(ParallelismError);
  expect(() => chooseTensorParallel(published, 'wasm', 2, 0)).toThrow(/^tp: expected a positive integer or 'auto', got 0$/);
  expect(() => chooseTensorParallel(bundledLike, 'wasm', 2, 5)).toThrow(/^tp 5: this model's attention has 4 heads in its smallest stack, so at most 4 tensor-parallel ranks/);
});
