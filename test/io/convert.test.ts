// convertCheckpoint tests: torch → safetensors byte identity, casts against torch's own fp16/bf16 files, sharding
// and the HF index format, dry runs, config/sidecar copying, and the output-folder guards.
import * as fs from 'fs';
import * as path from 'path';
import { SafetensorsCheckpoint, SafetensorsFile } from '../../src/io/safetensors';
import { openSafetensorsCheckpoint, openSafetensorsFile, writeSafetensors } from '../../src/io/safetensors_fs';
import { ConvertError, castFloatBytes, convertCheckpoint, parseSize, planShards } from '../../src/io/convert';
import { referenceDir, tmpDir, writeTorchCheckpoint } from './helpers';

function sameTensors(a: string, b: string, dtypeOf?: (name: string) => string): void {
  const x = openSafetensorsCheckpoint(a);
  const y = openSafetensorsCheckpoint(b);
  try {
    expect(new Set(x.keys())).toEqual(new Set(y.keys()));
    for (const k of y.keys()) {
      expect({ k, dtype: x.info(k).dtype, shape: x.info(k).shape }).toEqual({ k, dtype: dtypeOf?.(k) ?? y.info(k).dtype, shape: y.info(k).shape });
      expect({ k, same: Buffer.from(x.readBytesSync(k)).equals(y.readBytesSync(k)) }).toEqual({ k, same: true });
    }
  } finally {
    x.close();
    y.close();
  }
}

describe('parseSize (transformers convert_file_size_to_int)', () => {
  it('reads decimal, binary and bit units', () => {
    expect(parseSize('2GB')).toBe(2_000_000_000);
    expect(parseSize('500MB')).toBe(500_000_000);
    expect(parseSize('10KB')).toBe(10_000);
    expect(parseSize('2GiB')).toBe(2 * 1024 ** 3);
    expect(parseSize('1.5MiB')).toBe(1.5 * 1024 ** 2);
    expect(parseSize('8Gb')).toBe(1_000_000_000); // lowercase b = bits, as transformers reads it
    expect(parseSize('4096')).toBe(4096);
    expect(parseSize(123)).toBe(123);
    expect(() => parseSize('2 parsecs')).toThrow(ConvertError);
    expect(() => parseSize('0MB')).toThrow(/at least one byte/);
  });
});

describe('planShards (huggingface_hub split_state_dict_into_shards_factory)', () => {
  it('splits greedily and gives oversized tensors their own shard', () => {
    expect(planShards([['a', 4], ['b', 4], ['c', 4]], 8)).toEqual([['a', 'b'], ['c']]);
    expect(planShards([['a', 4], ['big', 20], ['b', 4]], 8)).toEqual([['big'], ['a', 'b']]);
    expect(planShards([['a', 8]], 8)).toEqual([['a']]);
  });
});

describe('castFloatBytes', () => {
  it('rounds to nearest even like torch and keeps special values', () => {
    const src = Buffer.from(new Float32Array([1 + 2 ** -11, 65520, -0, Infinity, NaN, 1e-8]).buffer);
    const h = new Uint16Array(castFloatBytes(src, 'F32', 'F16').buffer.slice(0));
    expect(Array.from(h.slice(0, 4))).toEqual([0x3c00, 0x7c00, 0x8000, 0x7c00]);
    expect((h[4] & 0x7c00) === 0x7c00 && (h[4] & 0x3ff) !== 0).toBe(true);
  });
});

describe('convertCheckpoint on the reference models', () => {
  it('tiny-bin (torch 1.13) → model.safetensors identical to tiny, with config and generation config copied', async () => {
    const ref = referenceDir();
    if (!ref) return;
    const out = path.join(tmpDir(), 'out');
    const r = await convertCheckpoint(path.join(ref, 'models/tiny-bin'), out);
    expect(r.inputKind).toBe('torch');
    expect(r.files).toEqual(['model.safetensors']);
    expect(r.config).toBe('copied');
    expect(fs.readFileSync(path.join(out, 'config.json'), 'utf8')).toBe(fs.readFileSync(path.join(ref, 'models/tiny-bin/config.json'), 'utf8'));
    expect(fs.existsSync(path.join(out, 'generation_config.json'))).toBe(true);
    sameTensors(out, path.join(ref, 'models/tiny'));
    const f = openSafetensorsFile(path.join(out, 'model.safetensors'));
    expect(f.metadata).toEqual({ format: 'pt' });
    f.close();
  });

  for (const [dtype, file] of [['float16', 'model.fp16.safetensors'], ['bfloat16', 'model.bf16.safetensors']] as const) {
    it(`--dtype ${dtype} matches torch's .to(${dtype}) (${file}), inv_freq kept float32`, async () => {
      const ref = referenceDir();
      if (!ref) return;
      const out = path.join(tmpDir(), 'out');
      const r = await convertCheckpoint(path.join(ref, 'models/tiny-bin/pytorch_model.bin'), out, { dtype });
      expect(r.tensors.find((t) => t.name.endsWith('inv_freq'))!.dtype).toBe('F32');
      sameTensors(path.join(out, 'model.safetensors'), path.join(ref, 'models/tiny', file));
      expect(JSON.parse(fs.readFileSync(path.join(out, 'config.json'), 'utf8')).torch_dtype).toBe(dtype);
    });
  }

  it('shards with the HF index format and reads back; sharded input converts back to one file', async () => {
    const ref = referenceDir();
    if (!ref) return;
    const dir = tmpDir();
    const sharded = path.join(dir, 'sharded');
    const r = await convertCheckpoint(path.join(ref, 'models/tiny'), sharded, { shardSize: '200KB' });
    expect(r.files.length).toBeGreaterThan(2);
    expect(r.files[0]).toBe(`model-00001-of-0000${r.files.length}.safetensors`);
    const index = JSON.parse(fs.readFileSync(path.join(sharded, 'model.safetensors.index.json'), 'utf8'));
    expect(Object.keys(index)).toEqual(['metadata', 'weight_map']);
    expect(index.metadata.total_size).toBe(r.totalSize);
    expect(Object.keys(index.weight_map)).toEqual(Object.keys(index.weight_map).slice().sort());
    for (const f of r.files) expect(fs.statSync(path.join(sharded, f)).size).toBeLessThan(200_000 + 20_000);
    // Sidecar files come along.
    for (const f of ['vocab.json', 'merges.txt', 'tokenizer_config.json', 'preprocessor_config.json']) expect(fs.existsSync(path.join(sharded, f))).toBe(true);
    sameTensors(sharded, path.join(ref, 'models/tiny'));
    const single = path.join(dir, 'single');
    await convertCheckpoint(path.join(ref, 'models/tiny-sharded'), single);
    sameTensors(single, path.join(ref, 'models/tiny'));
  });

  it('dry run lists names, dtypes, shapes and files and writes nothing', async () => {
    const ref = referenceDir();
    if (!ref) return;
    const out = path.join(tmpDir(), 'never');
    const r = await convertCheckpoint(path.join(ref, 'models/tiny-bin'), out, { dryRun: true, dtype: 'float16' });
    expect(fs.existsSync(out)).toBe(false);
    expect(r.dryRun).toBe(true);
    expect(r.tensors.length).toBe(119);
    const t = r.tensors.find((x) => x.name === 'speech_decoder_model.model.decoder.layers.0.mlp.c_fc.weight')!;
    expect(t).toEqual({ name: t.name, dtype: 'F16', sourceDtype: 'F32', shape: [32, 128], file: 'model.safetensors' });
  });

  it('refuses to write into the input folder or over existing model files unless asked', async () => {
    const ref = referenceDir();
    if (!ref) return;
    const out = path.join(tmpDir(), 'out');
    await convertCheckpoint(path.join(ref, 'models/tiny-bin'), out);
    await expect(convertCheckpoint(path.join(ref, 'models/tiny-bin'), out)).rejects.toThrow(/already holds model\.safetensors/);
    await convertCheckpoint(path.join(ref, 'models/tiny-bin'), out, { overwrite: true, shardSize: '300KB' });
    expect(fs.readdirSync(out).filter((f) => f.startsWith('model')).sort()[0]).toBe('model-00001-of-00003.safetensors');
    expect(fs.existsSync(path.join(out, 'model.safetensors'))).toBe(false); // stale single file removed
    await expect(convertCheckpoint(out, out, { overwrite: true })).rejects.toThrow(/is the input folder/);
  });
});

describe('convertCheckpoint on synthetic input', () => {
  it('keeps integer tensors unchanged when casting and implies no config for non-CLVP weights', async () => {
    const dir = tmpDir();
    const f = path.join(dir, 'w.pt');
    const ints = Buffer.from(new BigInt64Array([1n, -2n, 3n]).buffer);
    const floats = Buffer.from(new Float32Array([0.1, 0.2]).buffer);
    writeTorchCheckpoint(f, [
      { name: 'ids', dtype: 'I64', shape: [3], bytes: ints },
      { name: 'w', dtype: 'F32', shape: [2], bytes: floats },
    ]);
    const out = path.join(dir, 'out');
    const r = await convertCheckpoint(f, out, { dtype: 'bfloat16' });
    expect(r.config).toBe('none');
    expect(r.warnings.join(' ')).toMatch(/no config\.json beside/);
    const s = openSafetensorsFile(path.join(out, 'model.safetensors'));
    try {
      expect(s.info('ids').dtype).toBe('I64');
      expect(Buffer.from(s.readBytesSync("ids")).equals(ints)).toBe(true);
      expect(s.info('w').dtype).toBe('BF16');
    } finally {
      s.close();
    }
  });

  it('does not mistake a safetensors file whose header length starts with byte 0x80 for a legacy torch file', async () => {
    const dir = tmpDir();
    const f = path.join(dir, 'x.safetensors');
    for (let pad = 0; ; pad++) {
      writeSafetensors(f, [{ name: 'w', dtype: 'F32', shape: [2], data: new Float32Array([1, 2]) }], { note: 'x'.repeat(pad) });
      if (fs.readFileSync(f)[0] === 0x80) break;
    }
    const r = await convertCheckpoint(f, path.join(dir, 'out'));
    expect(r.inputKind).toBe('safetensors');
    expect(r.tensors.map((t) => t.name)).toEqual(['w']);
  });

  it('names the missing path', async () => {
    await expect(convertCheckpoint('/no/such/model.bin', path.join(tmpDir(), 'o'))).rejects.toThrow('/no/such/model.bin: no such file or directory');
  });
});
