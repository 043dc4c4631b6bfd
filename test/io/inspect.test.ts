// inspectCheckpoint tests: family detection for every container, parameter counts, config summaries.
import * as path from 'path';
import { inspectCheckpoint } from '../../src/io/inspect';
import { referenceDir, tmpDir, writeTorchCheckpoint } from './helpers';

const FIX = path.resolve(__dirname, '../fixtures/io');

describe('inspectCheckpoint', () => {
  it('detects the HF families and counts parameters like model.num_parameters()', () => {
    const ref = referenceDir();
    if (!ref) return;
    const m = (x: string) => path.join(ref, 'models', x);
    expect(inspectCheckpoint(m('tiny')).family).toBe('hf-safetensors');
    expect(inspectCheckpoint(path.join(m('tiny'), 'model.fp16.safetensors')).family).toBe('hf-safetensors');
    expect(inspectCheckpoint(m('tiny-sharded')).family).toBe('hf-sharded');
    const bin = inspectCheckpoint(m('tiny-bin'));
    expect(bin.family).toBe('hf-pytorch-bin');
    // README: tiny 219,041 parameters, tiny-partial-rotary 624,969, small-real-dims 27,900,675.
    expect(bin.totalParameters).toBe(219041);
    expect(bin.totalBuffers).toBe(32);
    expect(inspectCheckpoint(m('tiny-partial-rotary')).totalParameters).toBe(624969);
    const small = inspectCheckpoint(m('small-real-dims'));
    expect(small.totalParameters).toBe(27900675);
    expect(small.dtypes.F16).toBeGreaterThan(0);
    expect(bin.modules.map((x) => x.name).sort()).toEqual(['conditioning_encoder', 'logit_scale', 'speech_decoder_model', 'speech_encoder_model', 'text_encoder_model']);
    expect(bin.modules.reduce((a, x) => a + x.parameters, 0)).toBe(219041);
    expect(bin.config).toMatchObject({ source: 'config.json', decoder: { hidden_size: 32, num_attention_heads: 4, n_inner: 128 }, text: { vocab_size: 256 } });
    expect(bin.warnings).toEqual([]);
  });

  it('detects single Tortoise files and unknown checkpoints', () => {
    const dir = tmpDir();
    const one = (name: string, shape: number[]) => ({ name, dtype: 'F32' as const, shape, bytes: Buffer.alloc(4 * shape.reduce((a, b) => a * b, 1)) });
    writeTorchCheckpoint(path.join(dir, 'autoregressive.pth'), [one('gpt.h.0.ln_1.weight', [4]), one('mel_head.weight', [6, 4])]);
    writeTorchCheckpoint(path.join(dir, 'clvp2.pth'), [one('text_transformer.transformer.norm.weight', [4]), one('temperature', [])]);
    const ar = inspectCheckpoint(path.join(dir, 'autoregressive.pth'));
    expect(ar.family).toBe('tortoise-autoregressive');
    expect(ar.tensors.map((t) => t.name)).toEqual(['gpt.h.0.ln_1.weight', 'mel_head.weight']);
    expect(inspectCheckpoint(path.join(dir, 'clvp2.pth')).family).toBe('tortoise-clvp');
    expect(inspectCheckpoint(path.join(FIX, 'mixed.pt')).family).toBe('unknown');
    const nested = inspectCheckpoint(path.join(FIX, 'nested.bin'));
    expect(nested.skipped).toEqual([]);
    expect(nested.tensors.map((t) => t.name).sort()).toEqual(['layer.bias', 'layer.weight']);
  });
});
