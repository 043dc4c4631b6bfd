// Checkpoint loading: safetensors validation, strict key/shape checks, dtypes, shards, config errors.
import * as tf from '@tensorflow/tfjs-core';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { initBackend, setBackendLogger } from '../../src/backend';
import { f32ToF16 } from '../../src/io/dtypes';
import { SafetensorsCheckpoint, SafetensorsFile, TensorToWrite } from '../../src/io/safetensors';
import { openSafetensorsCheckpoint, openSafetensorsFile, readSafetensors, writeSafetensors } from '../../src/io/safetensors_fs';
import { configFromJson, configToJson, makeConfig } from '../../src/config/configuration_clvp';
import { ClvpModelForConditionalGeneration } from '../../src/clvp_model';
import { LocalFolder } from '../../src/io/local_files';
import { readClvpConfig } from '../../src/models/loading';
import { FIXTURE_REFERENCE } from '../helpers/env';

setBackendLogger(() => {});
const TINY = path.join(FIXTURE_REFERENCE, 'models', 'tiny');
let tmp: string;

beforeAll(async () => {
  await initBackend('wasm');
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'clvp-load-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function rawFile(name: string, header: unknown, data: Buffer, headerLen?: bigint): string {
  const h = Buffer.from(JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(headerLen ?? BigInt(h.length));
  const f = path.join(tmp, name);
  fs.writeFileSync(f, Buffer.concat([len, h, data]));
  return f;
}

/** A model folder: the tiny config plus tensors edited by `edit`. */
function modelDir(name: string, edit: (t: Map<string, TensorToWrite>) => void, config?: Record<string, unknown>): string {
  const dir = path.join(tmp, name);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config ?? JSON.parse(fs.readFileSync(path.join(TINY, 'config.json'), 'utf8'))));
  const tensors = new Map<string, TensorToWrite>();
  for (const [k, v] of readSafetensors(path.join(TINY, 'model.safetensors'))) tensors.set(k, { name: k, dtype: 'F32', shape: v.shape, data: v.data });
  edit(tensors);
  writeSafetensors(path.join(dir, 'model.safetensors'), [...tensors.values()]);
  return dir;
}

describe('safetensors reader rejects bad files with the file and tensor named', () => {
  test('truncated file', () => {
    const f = rawFile('trunc.safetensors', { a: { dtype: 'F32', shape: [4], data_offsets: [0, 16] } }, Buffer.alloc(8));
    expect(() => openSafetensorsFile(f)).toThrow(/trunc\.safetensors: truncated: tensor 'a'/);
    const g = path.join(tmp, 'tiny4.safetensors');
    fs.writeFileSync(g, Buffer.alloc(4));
    expect(() => openSafetensorsFile(g)).toThrow(/tiny4\.safetensors: truncated: 4 bytes/);
  });
  test('huge header length', () => {
    const f = rawFile('huge.safetensors', {}, Buffer.alloc(0), 1n << 40n);
    expect(() => openSafetensorsFile(f)).toThrow(/huge\.safetensors: header length 1099511627776 exceeds/);
  });
  test('overlapping offsets', () => {
    const f = rawFile('overlap.safetensors', { a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } }, Buffer.alloc(12));
    expect(() => openSafetensorsFile(f)).toThrow(/overlap\.safetensors: tensor 'b' overlaps/);
  });
  test('unknown dtype', () => {
    const f = rawFile('dtype.safetensors', { a: { dtype: 'F8_E4M3', shape: [2], data_offsets: [0, 2] } }, Buffer.alloc(2));
    expect(() => openSafetensorsFile(f)).toThrow(/dtype\.safetensors: tensor 'a': unknown dtype "F8_E4M3"/);
  });
  test('offsets that disagree with the shape', () => {
    const f = rawFile('span.safetensors', { a: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, Buffer.alloc(8));
    expect(() => openSafetensorsFile(f)).toThrow(/tensor 'a': data_offsets span 8 bytes but F32\[3\] needs 12/);
  });
  test('header that is not JSON', () => {
    const f = path.join(tmp, 'json.safetensors');
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(3n);
    fs.writeFileSync(f, Buffer.concat([len, Buffer.from('{x:')]));
    expect(() => openSafetensorsFile(f)).toThrow(/json\.safetensors: header is not valid JSON/);
  });
});

test('safetensors writer round-trips every dtype', () => {
  const f = path.join(tmp, 'rt.safetensors');
  const vals = Float32Array.of(1.5, -2.25, 0, 65504, 1e-3);
  writeSafetensors(f, [
    { name: 'f32', dtype: 'F32', shape: [5], data: vals },
    { name: 'f16', dtype: 'F16', shape: [5], data: vals },
    { name: 'bf16', dtype: 'BF16', shape: [5], data: vals },
    { name: 'f64', dtype: 'F64', shape: [5], data: vals },
    { name: 'i64', dtype: 'I64', shape: [2], data: Int32Array.of(-3, 7) },
    { name: 'u8', dtype: 'U8', shape: [2, 1], data: Int32Array.of(0, 255) },
  ], { format: 'pt' });
  const r = readSafetensors(f);
  expect(Array.from(r.get('f32')!.data)).toEqual(Array.from(vals));
  expect(Array.from(r.get('f64')!.data)).toEqual(Array.from(vals));
  expect(r.get('f16')!.data[4]).toBeCloseTo(1e-3, 6);
  expect(r.get('f16')!.data[3]).toBe(65504);
  expect(Array.from(r.get('bf16')!.data.slice(0, 3))).toEqual([1.5, -2.25, 0]);
  expect(Array.from(r.get('i64')!.data)).toEqual([-3, 7]);
  expect(r.get('u8')!.shape).toEqual([2, 1]);
  expect(openSafetensorsFile(f).metadata).toEqual({ format: 'pt' });
});

describe('fromPretrained', () => {
  test('fp16 weights equal the fp16-rounded float32 weights', async () => {
    const m32 = await ClvpModelForConditionalGeneration.fromPretrained(TINY);
    const m16 = await ClvpModelForConditionalGeneration.fromPretrained(TINY, { weightsFile: 'model.fp16.safetensors' });
    const a = m32.text_encoder_model.layers[0].mlp.fc2.kernel.dataSync() as Float32Array;
    const b = m16.text_encoder_model.layers[0].mlp.fc2.kernel.dataSync() as Float32Array;
    const rounded = new Float32Array(f32ToF16(a).length);
    const { f16ToF32 } = await import('../../src/io/dtypes');
    rounded.set(f16ToF32(f32ToF16(a)));
    expect(Array.from(b)).toEqual(Array.from(rounded));
    expect(m16.numParameters()).toBe(219041); // the reference README's count
    await m32.dispose();
    await m16.dispose();
  });

  test('sharded checkpoints load the same weights', async () => {
    const dir = path.join(tmp, 'sharded');
    fs.mkdirSync(dir);
    fs.copyFileSync(path.join(TINY, 'config.json'), path.join(dir, 'config.json'));
    const all = [...readSafetensors(path.join(TINY, 'model.safetensors'))];
    const half = Math.floor(all.length / 2);
    const weightMap: Record<string, string> = {};
    [all.slice(0, half), all.slice(half)].forEach((part, i) => {
      const name = `model-0000${i + 1}-of-00002.safetensors`;
      writeSafetensors(path.join(dir, name), part.map(([k, v]) => ({ name: k, dtype: 'F32', shape: v.shape, data: v.data })));
      for (const [k] of part) weightMap[k] = name;
    });
    fs.writeFileSync(path.join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: {}, weight_map: weightMap }));
    expect(openSafetensorsCheckpoint(dir).keys().length).toBe(all.length);
    const a = await ClvpModelForConditionalGeneration.fromPretrained(TINY);
    const b = await ClvpModelForConditionalGeneration.fromPretrained(dir);
    expect(Array.from(b.speech_decoder_model.lm_head.kernel.dataSync())).toEqual(Array.from(a.speech_decoder_model.lm_head.kernel.dataSync()));
    await a.dispose();
    await b.dispose();
  });

  test('missing, unexpected and mis-shaped keys are all listed in one error', async () => {
    const dir = modelDir('broken', (t) => {
      t.delete('speech_decoder_model.lm_head.bias');
      t.set('extra.weight', { name: 'extra.weight', dtype: 'F32', shape: [2], data: Float32Array.of(1, 2) });
      const w = t.get('text_encoder_model.projection.weight')!;
      t.set(w.name, { ...w, shape: [64, 32], data: w.data });
    });
    const before = tf.memory().numTensors;
    const err = await ClvpModelForConditionalGeneration.fromPretrained(dir).catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    const msg = (err as Error).message;
    expect(msg).toContain("missing key 'speech_decoder_model.lm_head.bias' (expected shape [64])");
    expect(msg).toContain("unexpected key 'extra.weight' [2]");
    expect(msg).toContain("shape mismatch for 'text_encoder_model.projection.weight': checkpoint has [64,32], the config implies [32,64]");
    expect(tf.memory().numTensors).toBe(before);
  });

  test('a wrong rotary buffer is reported', async () => {
    const dir = modelDir('badrotary', (t) => {
      const w = t.get('text_encoder_model.rotary_pos_emb.inv_freq')!;
      t.set(w.name, { ...w, data: (w.data as Float32Array).map((x) => x * 2) });
    });
    await expect(ClvpModelForConditionalGeneration.fromPretrained(dir)).rejects.toThrow(/buffer 'text_encoder_model.rotary_pos_emb.inv_freq' differs/);
  });

  test('bad config values name the field', async () => {
    const cfg = JSON.parse(fs.readFileSync(path.join(TINY, 'config.json'), 'utf8'));
    cfg.text_config.num_attention_heads = 3;
    const dir = modelDir('badconfig', () => {}, cfg);
    await expect(ClvpModelForConditionalGeneration.fromPretrained(dir)).rejects.toThrow(/text_config: hidden_size 64 must be divisible by num_attention_heads 3/);
    expect(() => makeConfig({ decoderConfig: { hiddenSize: 18, numAttentionHeads: 2 } })).toThrow(/hidden_size 18 gives 2 GroupNorm groups/);
    expect(() => makeConfig({ textConfig: { hiddenSize: 64, numAttentionHeads: 4, projectionDim: 32 } })).toThrow(/rotary dimension .* = 32 exceeds head_dim 16/);
    expect(() => makeConfig({ decoderConfig: { eosTokenId: 9000 } })).toThrow(/eos_token_id 9000 is outside the vocabulary \[0, 8194\)/);
    await expect(ClvpModelForConditionalGeneration.fromPretrained(path.join(tmp, 'nowhere'))).rejects.toThrow(/nowhere: no such model folder/);
    fs.mkdirSync(path.join(tmp, 'empty'));
    await expect(ClvpModelForConditionalGeneration.fromPretrained(path.join(tmp, 'empty'))).rejects.toThrow(/empty: no config.json/);
  });

  test('config.json round-trips through configToJson', () => {
    const json = JSON.parse(fs.readFileSync(path.join(TINY, 'config.json'), 'utf8'));
    const cfg = configFromJson(json);
    expect(cfg.decoderConfig.decoderFixingCodes).toEqual([7, 3, 3, 11]);
    expect(cfg.textConfig.vocabSize).toBe(256);
    expect(configFromJson(configToJson(cfg))).toEqual(cfg);
    // absent keys fall back to HF's defaults
    expect(configFromJson({ model_type: 'clvp' }).decoderConfig.numHiddenLayers).toBe(30);
  });
});

test('model.dispose() frees every tensor it owns', async () => {
  const before = tf.memory().numTensors;
  const m = await ClvpModelForConditionalGeneration.fromPretrained(TINY);
  expect(tf.memory().numTensors).toBeGreaterThan(before);
  await m.dispose();
  expect(tf.memory().numTensors).toBe(before);
  await expect(m.getTextFeatures({ inputIds: [[1, 2]] })).rejects.toThrow(/used after dispose/);
});

test('parameter counts from the config match the loaded models and decide whether wasm can hold them', async () => {
  const { countParameters } = await import('../../src/config/configuration_clvp');
  const { WASM_HEAP_BYTES, wasmFootprintBytes } = await import('../../src/runtime/parallelism');
  for (const name of ['tiny', 'tiny-partial-rotary']) {
    const dir = path.join(FIXTURE_REFERENCE, 'models', name);
    const m = await ClvpModelForConditionalGeneration.fromPretrained(dir);
    expect(countParameters(await readClvpConfig(new LocalFolder(dir)))).toBe((await m.memory())[0].parameters);
    expect(wasmFootprintBytes(m.numParameters())).toBeLessThan(WASM_HEAP_BYTES);
    await m.dispose();
  }
  // The published CLVP (HF defaults): ~2.7 GB of float32 weights, twice that on wasm.
  const published = countParameters(makeConfig({}));
  expect(published).toBeGreaterThan(600e6);
  expect(wasmFootprintBytes(published)).toBeGreaterThan(WASM_HEAP_BYTES);
});
