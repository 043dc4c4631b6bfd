// WAV reader/writer: every supported encoding, chunk layouts, channel reduction, malformed files.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { WavEncoding, WavError, decodeWav, encodeWav } from '../../src/audio/wav';
import { readWav, writeWav } from '../../src/audio/wav_fs';

function ramp(n: number, scale = 0.9): Float32Array {
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) x[i] = scale * Math.sin((2 * Math.PI * i) / 37) * (i % 2 ? 1 : -0.5);
  return x;
}

/** Build a RIFF/WAVE file from raw chunks, padding odd-sized ones. */
function riff(chunks: Array<[string, Uint8Array]>): Uint8Array {
  const parts: number[] = [];
  for (const [id, body] of chunks) {
    for (const ch of id) parts.push(ch.charCodeAt(0));
    const n = body.length;
    parts.push(n & 0xff, (n >> 8) & 0xff, (n >> 16) & 0xff, (n >>> 24) & 0xff);
    parts.push(...body);
    if (n & 1) parts.push(0);
  }
  const total = 4 + parts.length;
  const head = [...'RIFF'].map((c) => c.charCodeAt(0));
  head.push(total & 0xff, (total >> 8) & 0xff, (total >> 16) & 0xff, (total >>> 24) & 0xff, ...[...'WAVE'].map((c) => c.charCodeAt(0)));
  return Uint8Array.from([...head, ...parts]);
}

function fmtChunk(tag: number, channels: number, rate: number, bits: number, blockAlign = (channels * bits) / 8): Uint8Array {
  const b = new Uint8Array(16);
  const v = new DataView(b.buffer);
  v.setUint16(0, tag, true);
  v.setUint16(2, channels, true);
  v.setUint32(4, rate, true);
  v.setUint32(8, rate * blockAlign, true);
  v.setUint16(12, blockAlign, true);
  v.setUint16(14, bits, true);
  return b;
}

function int16Bytes(values: number[]): Uint8Array {
  const b = new Uint8Array(values.length * 2);
  const v = new DataView(b.buffer);
  values.forEach((x, i) => v.setInt16(2 * i, x, true));
  return b;
}

describe('WAV round trips', () => {
  const x = ramp(1001);
  const cases: Array<[WavEncoding, number]> = [
    ['pcm8', 1 / 128],
    ['pcm16', 1 / 32768],
    ['pcm24', 1 / 8388608],
    ['pcm32', 1e-7], // float32 storage of the decoded value limits this one
    ['float32', 0],
    ['float64', 0],
  ];
  for (const extensible of [false, true]) {
    for (const [enc, tol] of cases) {
      it(`${enc}${extensible ? ' (WAVE_FORMAT_EXTENSIBLE)' : ''} decodes within one quantisation step`, async () => {
        const bytes = encodeWav(x, 16000, { encoding: enc, extensible });
        const d = decodeWav(bytes);
        expect(d.sampleRate).toBe(16000);
        expect(d.channels).toBe(1);
        expect(d.format).toBe(enc.startsWith('pcm') ? 'pcm' : 'float');
        expect(d.samples.length).toBe(x.length);
        let m = 0;
        for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(d.samples[i] - x[i]));
        expect(m).toBeLessThanOrEqual(tol);
      });
    }
  }

  it('maps integer full scale to exactly -1 and (2^(n-1)-1)/2^(n-1)', async () => {
    const d = decodeWav(riff([['fmt ', fmtChunk(1, 1, 8000, 16)], ['data', int16Bytes([-32768, 32767, 0, 16384])]]));
    expect(Array.from(d.samples)).toEqual([-1, 32767 / 32768, 0, 0.5]);
  });

  it('reads 8-bit as unsigned with 128 as zero', async () => {
    const d = decodeWav(riff([['fmt ', fmtChunk(1, 1, 8000, 8)], ['data', Uint8Array.from([0, 128, 255])]]));
    expect(Array.from(d.samples)).toEqual([-1, 0, 127 / 128]);
  });

  it('reads 24-bit sign-extended', async () => {
    const data = Uint8Array.from([0x00, 0x00, 0x80, 0xff, 0xff, 0x7f, 0x00, 0x00, 0x40]);
    const d = decodeWav(riff([['fmt ', fmtChunk(1, 1, 8000, 24)], ['data', data]]));
    expect(Array.from(d.samples)).toEqual([-1, 8388607 / 8388608, 0.5]);
  });

  it('writes and reads a file on disk', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'clvp-wav-'));
    const file = path.join(dir, 'a.wav');
    writeWav(file, x, 22050, { encoding: 'float32' });
    expect(Array.from(readWav(file).samples)).toEqual(Array.from(x));
    fs.rmSync(dir, { recursive: true });
  });
});

describe('WAV layout', () => {
  it('accepts chunks in any order, unknown chunks and odd-sized chunks with their pad byte', async () => {
    const odd = Uint8Array.from([1, 2, 3]); // 3 bytes + 1 pad byte
    const bytes = riff([
      ['LIST', odd],
      ['data', int16Bytes([100, -200, 300])],
      ['junk', Uint8Array.from([9])],
      ['fmt ', fmtChunk(1, 1, 11025, 16)],
    ]);
    const d = decodeWav(bytes);
    expect(d.sampleRate).toBe(11025);
    expect(Array.from(d.samples)).toEqual([100 / 32768, -200 / 32768, 300 / 32768]);
  });

  it('handles an odd-sized data chunk (8-bit, odd frame count) followed by another chunk', async () => {
    const bytes = riff([['fmt ', fmtChunk(1, 1, 8000, 8)], ['data', Uint8Array.from([128, 192, 64])], ['cue ', new Uint8Array(4)]]);
    expect(Array.from(decodeWav(bytes).samples)).toEqual([0, 0.5, -0.5]);
  });

  it('reduces multi-channel audio: first channel (default), average, or an index', async () => {
    const left = Float32Array.from([0.5, -0.25, 0.125]);
    const right = Float32Array.from([-0.5, 0.75, 0.375]);
    const third = Float32Array.from([0.25, 0.25, 0.25]);
    const bytes = encodeWav([left, right, third], 8000, { encoding: 'float32' });
    expect(decodeWav(bytes).channels).toBe(3);
    expect(Array.from(decodeWav(bytes).samples)).toEqual(Array.from(left));
    expect(Array.from(decodeWav(bytes, { channel: 2 }).samples)).toEqual(Array.from(third));
    const avg = decodeWav(bytes, { channel: 'average' }).samples;
    for (let i = 0; i < 3; i++) expect(avg[i]).toBeCloseTo((left[i] + right[i] + third[i]) / 3, 7);
    expect(() => decodeWav(bytes, { channel: 3 })).toThrow(/channel 3 requested but the file has 3 channel/);
  });

  it('reads stereo WAVE_FORMAT_EXTENSIBLE 24-bit', async () => {
    const l = ramp(64, 0.5);
    const r = ramp(64, -0.7);
    const d = decodeWav(encodeWav([l, r], 48000, { encoding: 'pcm24', extensible: true }), { channel: 1 });
    expect(d.sampleRate).toBe(48000);
    expect(d.bitsPerSample).toBe(24);
    for (let i = 0; i < 64; i++) expect(Math.abs(d.samples[i] - r[i])).toBeLessThanOrEqual(1 / 8388608);
  });
});

describe('WAV errors name the source and the problem', () => {
  const good = () => riff([['fmt ', fmtChunk(1, 1, 8000, 16)], ['data', int16Bytes([1, 2, 3, 4])]]);
  const expectWavError = (bytes: Uint8Array, re: RegExp) => {
    let err: unknown;
    try {
      decodeWav(bytes, { source: 'clip.wav' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(WavError);
    expect((err as Error).message).toMatch(/^clip\.wav: /);
    expect((err as Error).message).toMatch(re);
  };

  it('not RIFF/WAVE', async () => {
    const b = good();
    b[8] = 'A'.charCodeAt(0);
    expectWavError(b, /not a RIFF\/WAVE file/);
    expectWavError(new TextEncoder().encode('ID3\u0003 this is an mp3 really'), /not a RIFF\/WAVE file/);
  });
  it('truncated header', async () => {
    expectWavError(good().slice(0, 10), /truncated header/);
    expectWavError(good().slice(0, 30), /truncated header \(fmt chunk\)/);
    expectWavError(riff([['fmt ', new Uint8Array(12)], ['data', int16Bytes([1])]]), /truncated header: fmt chunk has 12 bytes/);
    expectWavError(riff([['data', int16Bytes([1])]]), /truncated header: no fmt chunk/);
  });
  it('truncated data', async () => {
    const b = good();
    expectWavError(b.slice(0, b.length - 3), /truncated data: chunk declares 8 bytes but only 5 remain/);
    expectWavError(riff([['fmt ', fmtChunk(1, 1, 8000, 16)]]), /truncated data: no data chunk/);
    expectWavError(riff([['fmt ', fmtChunk(1, 2, 8000, 16)], ['data', int16Bytes([1, 2, 3])]]), /truncated data: 6 bytes is not a whole number of 4-byte frames/);
  });
  it('unsupported codecs name the format tag', async () => {
    expectWavError(riff([['fmt ', fmtChunk(7, 1, 8000, 8)], ['data', new Uint8Array(4)]]), /unsupported codec: mu-law \(μ-law\) \(format tag 0x0007\)/);
    expectWavError(riff([['fmt ', fmtChunk(6, 1, 8000, 8)], ['data', new Uint8Array(4)]]), /unsupported codec: A-law \(format tag 0x0006\)/);
    expectWavError(riff([['fmt ', fmtChunk(2, 1, 8000, 4, 256)], ['data', new Uint8Array(256)]]), /unsupported codec: Microsoft ADPCM \(format tag 0x0002\)/);
    expectWavError(riff([['fmt ', fmtChunk(0x11, 1, 8000, 4, 256)], ['data', new Uint8Array(256)]]), /IMA ADPCM \(format tag 0x0011\)/);
    expectWavError(riff([['fmt ', fmtChunk(0x1234, 1, 8000, 16)], ['data', new Uint8Array(4)]]), /unsupported codec: format tag 0x1234/);
    // WAVE_FORMAT_EXTENSIBLE carrying mu-law in its sub-format GUID.
    const ext = encodeWav(new Float32Array(4), 8000, { encoding: 'pcm16', extensible: true });
    ext[44] = 7;
    expectWavError(ext, /mu-law .*0x0007/);
    const weird = encodeWav(new Float32Array(4), 8000, { encoding: 'pcm16', extensible: true });
    weird[50] ^= 0xff;
    expectWavError(weird, /non-standard sub-format GUID/);
  });
  it('unsupported sample sizes and inconsistent headers', async () => {
    expectWavError(riff([['fmt ', fmtChunk(1, 1, 8000, 12, 2)], ['data', new Uint8Array(4)]]), /unsupported PCM sample size of 12 bits/);
    expectWavError(riff([['fmt ', fmtChunk(3, 1, 8000, 16)], ['data', new Uint8Array(4)]]), /unsupported IEEE float sample size of 16 bits/);
    expectWavError(riff([['fmt ', fmtChunk(1, 1, 8000, 16, 4)], ['data', new Uint8Array(4)]]), /block align 4 does not match 1 channel\(s\) of 16 bits/);
    expectWavError(riff([['fmt ', fmtChunk(1, 0, 8000, 16, 0)], ['data', new Uint8Array(4)]]), /0 channels/);
  });
  it('sample rate 0', async () => {
    expectWavError(riff([['fmt ', fmtChunk(1, 1, 0, 16)], ['data', int16Bytes([1])]]), /sample rate is 0/);
  });
  it('big-endian RIFX', async () => {
    const b = good();
    b[3] = 'X'.charCodeAt(0);
    expectWavError(b, /RIFX/);
  });
  it('missing file', async () => {
    expect(() => readWav('/nonexistent/dir/voice.wav')).toThrow(/^\/nonexistent\/dir\/voice\.wav: cannot read/);
  });
  it('the writer rejects bad input', async () => {
    expect(() => encodeWav([new Float32Array(2), new Float32Array(3)], 8000)).toThrow(/differ in length/);
    expect(() => encodeWav(new Float32Array(2), 0)).toThrow(/invalid sample rate/);
    expect(() => encodeWav([], 8000)).toThrow(/no channels/);
  });
});
