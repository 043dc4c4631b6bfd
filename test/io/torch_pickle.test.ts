// Tests of the safe torch.save reader against real torch 1.13 output, CPython-pickled fixtures and malicious pickles.
import * as fs from 'fs';
import * as path from 'path';
import { SafetensorsFile } from '../../src/io/safetensors';
import { openSafetensorsFile } from '../../src/io/safetensors_fs';
import { ForbiddenGlobalError } from '../../src/io/pickle';
import { TorchCheckpoint, TorchCheckpointError, isContiguous } from '../../src/io/torch_pickle';
import { PickleWriter, referenceDir, tmpDir, writeTorchCheckpoint, writeZip } from './helpers';

const FIX = path.resolve(__dirname, '../fixtures/io');
const expected: Record<string, Record<string, { dtype: string; shape: number[]; hex: string }>> = JSON.parse(
  fs.readFileSync(path.join(FIX, 'expected.json'), 'utf8'),
);
const PWNED = '/tmp/clvp-tfjs-pwned';

describe('TorchCheckpoint on the torch 1.13 reference', () => {
  it('reads tiny-bin/pytorch_model.bin byte-identical to tiny/model.safetensors', () => {
    const ref = referenceDir();
    if (!ref) return;
    const t = TorchCheckpoint.open(path.join(ref, 'models/tiny-bin/pytorch_model.bin'));
    const s = openSafetensorsFile(path.join(ref, 'models/tiny/model.safetensors'));
    try {
      expect(new Set(t.tensors.keys())).toEqual(new Set(s.tensors.keys()));
      expect(t.prefix).toBe('pytorch_model/');
      for (const [name, info] of t.list()) {
        expect(info.dtype).toBe(s.info(name).dtype);
        expect(info.shape).toEqual(s.info(name).shape);
        expect(t.readBytes(name).equals(s.readBytesSync(name))).toBe(true);
      }
    } finally {
      t.close();
      s.close();
    }
  });
});

describe('TorchCheckpoint on CPython-pickled fixtures', () => {
  for (const file of ['mixed.pt', 'mixed_protocol4.pt']) {
    it(`${file}: f16/bf16/f64/i64/bool storages, shared storage, offsets, transposed and strided views`, () => {
      const t = TorchCheckpoint.open(path.join(FIX, file));
      try {
        const want = expected[file];
        expect(new Set(t.tensors.keys())).toEqual(new Set(Object.keys(want)));
        for (const [name, w] of Object.entries(want)) {
          const info = t.list().find(([n]) => n === name)![1];
          expect({ name, dtype: info.dtype, shape: info.shape }).toEqual({ name, dtype: w.dtype, shape: w.shape });
          expect({ name, hex: t.readBytes(name).toString('hex') }).toEqual({ name, hex: w.hex });
        }
        // half.a and half.b view one storage at different offsets.
        expect(t.tensors.get('half.a')!.storage).toBe(t.tensors.get('half.b')!.storage);
        expect(t.tensors.get('half.b')!.offset).toBe(6);
        expect(isContiguous(t.tensors.get('f32.t')!.shape, t.tensors.get('f32.t')!.stride)).toBe(false);
      } finally {
        t.close();
      }
    });
  }

  it('nested.bin: unwraps state_dict, strips module., ignores optimizer state and counters', () => {
    const t = TorchCheckpoint.open(path.join(FIX, 'nested.bin'));
    try {
      expect([...t.tensors.keys()].sort()).toEqual(['layer.bias', 'layer.weight']);
      expect(t.unwrapped).toBe('state_dict.module');
      for (const [name, w] of Object.entries(expected['nested.bin'])) expect(t.readBytes(name).toString('hex')).toBe(w.hex);
    } finally {
      t.close();
    }
  });
});

describe('refusals', () => {
  beforeAll(() => {
    if (fs.existsSync(PWNED)) fs.rmSync(PWNED);
  });

  it('refuses os.system (pickled as posix.system) by name and runs nothing', () => {
    expect(() => TorchCheckpoint.open(path.join(FIX, 'malicious_os_system.pt'))).toThrow(ForbiddenGlobalError);
    expect(() => TorchCheckpoint.open(path.join(FIX, 'malicious_os_system.pt'))).toThrow(/refusing to load global 'posix\.system'/);
    expect(fs.existsSync(PWNED)).toBe(false);
  });

  it('refuses builtins eval (pickled as __builtin__.eval)', () => {
    expect(() => TorchCheckpoint.open(path.join(FIX, 'malicious_eval.pt'))).toThrow(/'__builtin__\.eval'/);
    expect(fs.existsSync(PWNED)).toBe(false);
  });

  it('refuses torch.storage._load_from_bytes and other torch internals not on the allowlist', () => {
    const dir = tmpDir();
    for (const [mod, name] of [
      ['torch.storage', '_load_from_bytes'],
      ['torch._utils', '_rebuild_device_tensor_from_numpy'],
      ['subprocess', 'Popen'],
      ['__builtin__', 'exec'],
    ]) {
      const pkl = new PickleWriter().global(mod, name).mark().str('x').tuple().reduce().stop();
      const f = path.join(dir, 'x.pt');
      writeZip(f, [{ name: 'x/data.pkl', data: pkl }]);
      expect(() => TorchCheckpoint.open(f)).toThrow(`'${mod}.${name}'`);
    }
  });

  it('gives the re-save advice for the legacy (non-zip) format', () => {
    expect(() => TorchCheckpoint.open(path.join(FIX, 'legacy.pt'))).toThrow(TorchCheckpointError);
    expect(() => TorchCheckpoint.open(path.join(FIX, 'legacy.pt'))).toThrow(/legacy torch serialization format; re-save with torch>=1\.6 \(torch\.save\(sd, path\)\)/);
  });

  it('names the file for a non-checkpoint and a zip without data.pkl', () => {
    const dir = tmpDir();
    const junk = path.join(dir, 'junk.bin');
    fs.writeFileSync(junk, 'hello world, not a checkpoint');
    expect(() => TorchCheckpoint.open(junk)).toThrow(`${junk}: not a torch zip checkpoint`);
    const z = path.join(dir, 'plain.zip');
    writeZip(z, [{ name: 'readme.txt', data: Buffer.from('hi') }]);
    expect(() => TorchCheckpoint.open(z)).toThrow(/expected one '<name>\/data\.pkl' record/);
  });

  it('rejects a view that reaches past its storage, naming the tensor', () => {
    const dir = tmpDir();
    const f = path.join(dir, 'short.pt');
    // Storage record declares 4 floats but holds only 2 (8 bytes).
    const pkl = new PickleWriter()
      .raw(0x7d)
      .str('w')
      .global('torch._utils', '_rebuild_tensor_v2')
      .mark()
      .mark().str('storage').global('torch', 'FloatStorage').str('0').str('cpu').int(4).tuple().binpersid()
      .int(0).mark().int(4).tuple().mark().int(1).tuple().false().global('collections', 'OrderedDict').emptyTuple().reduce()
      .tuple().reduce()
      .raw(0x73)
      .stop();
    writeZip(f, [{ name: 'short/data.pkl', data: pkl }, { name: 'short/data/0', data: Buffer.alloc(8) }]);
    expect(() => TorchCheckpoint.open(f)).toThrow(/record 'short\/data\/0' has 8 bytes but storage '0' is 4 x F32 = 16 bytes/);
  });

  it('round-trips a TypeScript-written checkpoint with forced ZIP64 records', () => {
    const dir = tmpDir();
    const f = path.join(dir, 'z64.pth');
    const bytes = Buffer.from(new Float32Array([1, 2, 3, 4, 5, 6]).buffer);
    writeTorchCheckpoint(f, [{ name: 'a.weight', dtype: 'F32', shape: [2, 3], bytes }], { zip64: true });
    const t = TorchCheckpoint.open(f);
    try {
      expect(t.readBytes('a.weight').equals(bytes)).toBe(true);
    } finally {
      t.close();
    }
  });
});
