// loadVoice: decode -> one channel -> 22050 Hz -> clip, and an error for every bad input, naming the file.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { loadVoice } from '../../src/audio/load_voice';
import { encodeWav } from '../../src/audio/wav';
import { writeWav } from '../../src/audio/wav_fs';
import { resample } from '../../src/audio/resample';
import { ClvpFeatureExtractor } from '../../src/audio/feature_extraction_clvp';

let dir: string;
beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'clvp-voice-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function sine(rate: number, freq: number, n: number, amp: number): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => amp * Math.sin((2 * Math.PI * freq * i) / rate));
}

describe('loadVoice', () => {
  it('loads the example voice (22050 Hz mono 16-bit) unchanged and feeds the extractor', async () => {
    const file = path.join(__dirname, '../../examples/voice.wav');
    const v = await loadVoice(file);
    expect(v.sampleRate).toBe(22050);
    expect(v.originalRate).toBe(22050);
    expect(v.channels).toBe(1);
    expect(v.samples.length / 22050).toBeGreaterThan(3);
    expect(v.samples.length / 22050).toBeLessThan(4.5);
    const fe = new ClvpFeatureExtractor();
    const out = fe.call(v.samples, { samplingRate: 22050 });
    expect(out.inputFeatures.shape).toEqual([1, 80, 517]);
  });

  it('takes the first channel by default and resamples 44.1 kHz stereo to 22050 Hz', async () => {
    const left = sine(44100, 440, 44100, 0.5);
    const right = sine(44100, 1000, 44100, 0.25);
    const file = path.join(dir, 'stereo44.wav');
    writeWav(file, [left, right], 44100, { encoding: 'float32' });
    const v = await loadVoice(file);
    expect(v.originalRate).toBe(44100);
    expect(v.channels).toBe(2);
    expect(v.samples.length).toBe(22050);
    expect(Array.from(v.samples)).toEqual(Array.from(resample(left, 44100, 22050)));
    const avg = await loadVoice(file, { channel: 'average' });
    const mixed = left.map((x, i) => (x + right[i]) / 2);
    const expected = resample(mixed, 44100, 22050);
    for (let i = 0; i < expected.length; i += 101) expect(avg.samples[i]).toBeCloseTo(expected[i], 6);
    expect((await loadVoice(file, { channel: 1, targetRate: 44100 })).samples[10]).toBe(right[10]);
  });

  it('clips to [-1, 1] like Tortoise unless told not to', async () => {
    const file = path.join(dir, 'loud.wav');
    writeWav(file, Float32Array.from([0.5, 1.5, -2, 0.25]), 22050, { encoding: 'float32' });
    expect(Array.from((await loadVoice(file)).samples)).toEqual([0.5, 1, -1, 0.25]);
    expect(Array.from((await loadVoice(file, { clip: false })).samples)).toEqual([0.5, 1.5, -2, 0.25]);
  });

  describe('errors name the file', () => {
    const write = (name: string, bytes: Uint8Array): string => {
      const f = path.join(dir, name);
      fs.writeFileSync(f, bytes);
      return f;
    };
    const expectError = async (file: string, re: RegExp) => {
      await expect(async () => loadVoice(file)).rejects.toThrow(new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: `));
      await expect(async () => loadVoice(file)).rejects.toThrow(re);
    };
    const good = () => encodeWav(sine(16000, 440, 100, 0.5), 16000);

    it('not RIFF/WAVE', () => expectError(write('text.wav', new TextEncoder().encode('definitely not audio data')), /not a RIFF\/WAVE file/));
    it('truncated header', () => expectError(write('hdr.wav', good().slice(0, 20)), /truncated/));
    it('truncated data', () => expectError(write('data.wav', good().slice(0, 100)), /truncated data/));
    it('unsupported codec (mu-law)', async () => {
      const b = good();
      b[20] = 7;
      expectError(write('ulaw.wav', b), /unsupported codec: mu-law .*format tag 0x0007/);
    });
    it('unsupported codec (A-law)', async () => {
      const b = good();
      b[20] = 6;
      expectError(write('alaw.wav', b), /A-law \(format tag 0x0006\)/);
    });
    it('unsupported codec (ADPCM)', async () => {
      const b = good();
      b[20] = 2;
      expectError(write('adpcm.wav', b), /Microsoft ADPCM \(format tag 0x0002\)/);
    });
    it('zero samples', () => expectError(write('empty.wav', encodeWav(new Float32Array(0), 16000)), /zero samples/));
    it('NaN samples', () => expectError(write('nan.wav', encodeWav(Float32Array.from([0, NaN, 0]), 16000, { encoding: 'float32' })), /sample 1 is NaN/));
    it('Inf samples', () => expectError(write('inf.wav', encodeWav(Float32Array.from([0, 0, -Infinity]), 16000, { encoding: 'float64' })), /sample 2 is -Inf/));
    it('sample rate 0', async () => {
      const b = good();
      new DataView(b.buffer).setUint32(24, 0, true);
      await expectError(write('rate0.wav', b), /sample rate is 0/);
    });
    it('missing file', () => expectError(path.join(dir, 'nope.wav'), /cannot read/));
    it('bad options', async () => {
      await expect(async () => loadVoice(path.join(dir, 'x.wav'), { targetRate: 0 })).rejects.toThrow(/targetRate must be a positive integer/);
    });
  });
});
