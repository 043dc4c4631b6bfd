// sniffAudio on headers built byte by byte: the cases the browser fixtures (ffmpeg's output) do
// not reach: ID3 tags, ADTS next to MP3, HE-AAC's doubled output rate, 64-bit MP4 boxes, Matroska
// element sizes, and bytes that only look like a frame header.
import { sniffAudio } from '../../src/audio/sniff_rate';
import { encodeWav } from '../../src/audio/wav';

const bytes = (...parts: Array<number[] | Uint8Array | string>): Uint8Array => {
  const arrays = parts.map((p) => (typeof p === 'string' ? Uint8Array.from(p, (c) => c.charCodeAt(0)) : Uint8Array.from(p)));
  const out = new Uint8Array(arrays.reduce((n, a) => n + a.length, 0));
  let at = 0;
  for (const a of arrays) {
    out.set(a, at);
    at += a.length;
  }
  return out;
};
const u32be = (v: number) => [(v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff];
const u32le = (v: number) => u32be(v).reverse();
const box = (type: string, ...body: Array<number[] | Uint8Array | string>) => {
  const b = bytes(...body);
  return bytes(u32be(8 + b.length), type, b);
};
/** MPEG-4 descriptor with a one-byte length. */
const desc = (tag: number, body: Uint8Array) => bytes([tag, body.length], body);
/** Bits (as a '0101' string) packed into bytes, zero-padded. */
const bits = (s: string) => {
  const padded = s.padEnd(Math.ceil(s.length / 8) * 8, '0');
  return Array.from({ length: padded.length / 8 }, (_, i) => parseInt(padded.slice(8 * i, 8 * i + 8), 2));
};

function mp4(asc: number[] | null, opts: { mdhdRate?: number; entryRate?: number; largeMoov?: boolean } = {}): Uint8Array {
  const esds = asc
    ? box('esds', [0, 0, 0, 0], desc(0x03, bytes([0, 1, 0], desc(0x04, bytes([0x40, 0x15, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], desc(0x05, Uint8Array.from(asc)))))))
    : new Uint8Array(0);
  const mp4a = box('mp4a', [0, 0, 0, 0, 0, 0, 0, 1], [0, 0, 0, 0, 0, 0, 0, 0], [0, 2, 0, 16, 0, 0, 0, 0], u32be((opts.entryRate ?? 0) * 65536), esds);
  const stsd = box('stsd', [0, 0, 0, 0], u32be(1), mp4a);
  const mdhd = box('mdhd', [0, 0, 0, 0], u32be(0), u32be(0), u32be(opts.mdhdRate ?? 0), u32be(1000), [0, 0, 0, 0]);
  const hdlr = box('hdlr', [0, 0, 0, 0], [0, 0, 0, 0], 'soun', new Uint8Array(12), [0]);
  const trak = box('trak', box('mdia', mdhd, hdlr, box('minf', box('stbl', stsd))));
  const ftyp = box('ftyp', 'M4A ', [0, 0, 2, 0], 'isomM4A ');
  if (opts.largeMoov) {
    // size 1: the real size follows as 64 bits
    return bytes(ftyp, box('free', new Uint8Array(4)), u32be(1), 'moov', u32be(0), u32be(16 + trak.length), trak);
  }
  return bytes(ftyp, box('moov', trak));
}

/** An Ogg page holding one packet. */
const oggPage = (packet: Uint8Array) => bytes('OggS', [0, 2], new Uint8Array(20), [1, packet.length], packet);

/** EBML element: ID bytes as given, size as a 1-byte vint, or 'unknown' (0x01FFFFFFFFFFFFFF). */
const ebml = (id: number[], body: Uint8Array, size: 'known' | 'unknown' = 'known') =>
  bytes(id, size === 'unknown' ? [0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff] : [0x80 | body.length], body);
const f64be = (v: number) => {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setFloat64(0, v);
  return b;
};

function webm(codec: string, rate: number | null, outputRate?: number): Uint8Array {
  const audio = ebml([0xe1], bytes(rate !== null ? ebml([0xb5], f64be(rate)) : [], outputRate ? ebml([0x78, 0xb5], f64be(outputRate)) : [], ebml([0x9f], bytes([1]))));
  const entry = ebml([0xae], bytes(ebml([0xd7], bytes([1])), ebml([0x86], bytes(codec)), audio));
  const header = ebml([0x1a, 0x45, 0xdf, 0xa3], bytes(ebml([0x42, 0x82], bytes('webm'))));
  const info = ebml([0x15, 0x49, 0xa9, 0x66], bytes(ebml([0x2a, 0xd7, 0xb1], bytes([0x0f, 0x42, 0x40]))));
  return bytes(header, ebml([0x18, 0x53, 0x80, 0x67], bytes(info, ebml([0x16, 0x54, 0xae, 0x6b], entry), ebml([0x1f, 0x43, 0xb6, 0x75], new Uint8Array(4))), 'unknown'));
}

describe('sniffAudio', () => {
  it('reads MPEG-1 and MPEG-2 layer III rates, after an ID3v2 tag', () => {
    // MPEG-2 (22050 Hz) 64 kbit/s: frames of floor(72 * 64000 / 22050) = 208 bytes
    const frame22 = bytes([0xff, 0xf3, 0x80, 0x44], new Uint8Array(204));
    const id3 = bytes('ID3', [3, 0, 0], [0, 0, 0, 20], new Uint8Array(20));
    expect(sniffAudio(bytes(id3, frame22, frame22))).toEqual({ container: 'mp3', codec: 'mp3', sampleRate: 22050 });
    // MPEG-1 (44100 Hz) 128 kbit/s: 417-byte frames
    const frame44 = bytes([0xff, 0xfb, 0x90, 0x44], new Uint8Array(413));
    expect(sniffAudio(bytes(frame44, frame44))).toEqual({ container: 'mp3', codec: 'mp3', sampleRate: 44100 });
    // MPEG-2.5 (8000 Hz) 8 kbit/s: 72-byte frames; two that end the file are enough
    const frame8 = bytes([0xff, 0xe3, 0x18, 0x44], new Uint8Array(68));
    expect(sniffAudio(bytes(frame8, frame8))?.sampleRate).toBe(8000);
    expect(sniffAudio(bytes(frame8, frame8, new Uint8Array(72)))).toBeUndefined();
  });

  it('needs a second frame where the first says one follows', () => {
    const frame22 = bytes([0xff, 0xf3, 0x80, 0x44], new Uint8Array(204));
    const junk = new Uint8Array(300).fill(0x11);
    expect(sniffAudio(bytes(frame22.subarray(0, 4), junk))).toBeUndefined();
    expect(sniffAudio(bytes(frame22, frame22.subarray(0, 4), junk))).toBeUndefined();
  });

  it('tells ADTS AAC from MP3', () => {
    // sampling_frequency_index 5 = 32000, frame_length 16
    const adts = bytes([0xff, 0xf1, 0x54, 0x80, 0x02, 0x1f, 0xfc], new Uint8Array(9));
    expect(sniffAudio(bytes(adts, adts))).toEqual({ container: 'aac', codec: 'aac', sampleRate: 32000 });
    expect(sniffAudio(bytes(adts, new Uint8Array(30)))).toBeUndefined();
  });

  it('reads FLAC STREAMINFO, native and in Ogg', () => {
    const streaminfo = bytes([0x10, 0x00, 0x10, 0x00], [0, 0, 0], [0, 0, 0], [0x17, 0x70, 0x02], new Uint8Array(23)); // 96000 Hz
    expect(sniffAudio(bytes('fLaC', [0x80, 0, 0, 34], streaminfo))).toEqual({ container: 'flac', codec: 'flac', sampleRate: 96000 });
    const oggFlac = oggPage(bytes([0x7f], 'FLAC', [1, 0, 0, 1], 'fLaC', [0x80, 0, 0, 34], streaminfo));
    expect(sniffAudio(oggFlac)).toEqual({ container: 'ogg-flac', codec: 'flac', sampleRate: 96000 });
  });

  it('reads Ogg Vorbis rates and gives 48000 for Opus whatever its input rate', () => {
    const vorbis = oggPage(bytes([1], 'vorbis', u32le(0), [1], u32le(24000), new Uint8Array(16)));
    expect(sniffAudio(vorbis)).toEqual({ container: 'ogg-vorbis', codec: 'vorbis', sampleRate: 24000 });
    const opus = oggPage(bytes('OpusHead', [1, 1], [0x38, 0x01], u32le(16000), [0, 0, 0]));
    expect(sniffAudio(opus)).toEqual({ container: 'ogg-opus', codec: 'opus', sampleRate: 48000 });
    expect(sniffAudio(oggPage(bytes('Speex   ', new Uint8Array(72))))).toEqual({ container: 'ogg' });
  });

  it('reads MP4 audio: the AudioSpecificConfig first, HE-AAC at its SBR rate, then the sample entry, then mdhd', () => {
    const lc32000 = bits('00010' + '0101' + '0001' + '000');
    expect(sniffAudio(mp4(lc32000, { mdhdRate: 44100, entryRate: 44100 }))).toEqual({ container: 'mp4', codec: 'aac', sampleRate: 32000 });
    // object type 5 (SBR), core 24000 (index 6), mono, extension rate 48000 (index 3)
    const he = bits('00101' + '0110' + '0001' + '0011' + '00010');
    expect(sniffAudio(mp4(he, { mdhdRate: 24000, entryRate: 24000 }))?.sampleRate).toBe(48000);
    // an explicit 24-bit rate (index 15)
    const explicit = bits('00010' + '1111' + (22000).toString(2).padStart(24, '0') + '0001');
    expect(sniffAudio(mp4(explicit))?.sampleRate).toBe(22000);
    expect(sniffAudio(mp4(null, { entryRate: 16000, mdhdRate: 8000 }))?.sampleRate).toBe(16000);
    expect(sniffAudio(mp4(null, { mdhdRate: 11025, largeMoov: true }))?.sampleRate).toBe(11025);
  });

  it('reads Matroska/WebM track rates (Opus always 48000)', () => {
    expect(sniffAudio(webm('A_VORBIS', 24000))).toEqual({ container: 'webm', codec: 'vorbis', sampleRate: 24000 });
    expect(sniffAudio(webm('A_AAC', 24000, 48000))).toEqual({ container: 'webm', codec: 'aac', sampleRate: 48000 });
    expect(sniffAudio(webm('A_OPUS', null))).toEqual({ container: 'webm', codec: 'opus', sampleRate: 48000 });
    expect(sniffAudio(webm('A_VORBIS', null))).toEqual({ container: 'webm', codec: 'vorbis' });
  });

  it('knows WAV and nothing else', () => {
    expect(sniffAudio(encodeWav(new Float32Array(10), 16000))).toEqual({ container: 'wav' });
    expect(sniffAudio(new TextEncoder().encode('{"not": "audio at all"}'))).toBeUndefined();
    expect(sniffAudio(new Uint8Array(3))).toBeUndefined();
    let s = 1;
    const noise = Uint8Array.from({ length: 8192 }, () => {
      s = (Math.imul(s, 1103515245) + 12345) >>> 0;
      return s >>> 24;
    });
    expect(sniffAudio(noise)).toBeUndefined();
  });
});
