// The container and sample rate of an encoded audio file, read from its headers without decoding.
// A page decodes with decodeAudioData, which resamples to its context's rate; knowing the file's
// own rate first lets the page decode at exactly that rate, so the samples the model sees are the
// file's and the resampling is done once, by the library's resampler. Pure byte parsing: no DOM.

export type AudioContainer = 'wav' | 'mp3' | 'aac' | 'flac' | 'ogg-vorbis' | 'ogg-opus' | 'ogg-flac' | 'ogg' | 'mp4' | 'webm';

export interface SniffResult {
  container: AudioContainer;
  /** the rate the decoded audio has, or undefined when the header does not say */
  sampleRate?: number;
  /** the codec, where the container names it (e.g. 'opus', 'vorbis', 'aac') */
  codec?: string;
}

const ascii = (b: Uint8Array, at: number, n: number): string => {
  let s = '';
  for (let i = 0; i < n && at + i < b.length; i++) s += String.fromCharCode(b[at + i]);
  return s;
};
const u16be = (b: Uint8Array, at: number) => (b[at] << 8) | b[at + 1];
const u32be = (b: Uint8Array, at: number) => ((b[at] << 24) >>> 0) + ((b[at + 1] << 16) | (b[at + 2] << 8) | b[at + 3]);
const u32le = (b: Uint8Array, at: number) => ((b[at + 3] << 24) >>> 0) + ((b[at + 2] << 16) | (b[at + 1] << 8) | b[at]);

/** MPEG audio rates by version (bits 19-20 of the frame header) and rate index. */
const MPEG_RATES: Record<number, number[]> = {
  3: [44100, 48000, 32000], // MPEG-1
  2: [22050, 24000, 16000], // MPEG-2
  0: [11025, 12000, 8000], // MPEG-2.5
};
const MPEG1_L3_KBPS = [0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320];
const MPEG2_L3_KBPS = [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160];

/** ISO 14496-3 sampling_frequency_index table (ADTS and AudioSpecificConfig). */
const AAC_RATES = [96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350];

interface MpegFrame {
  rate: number;
  /** bytes to the next frame header */
  length: number;
}

function mpegFrameAt(b: Uint8Array, i: number): MpegFrame | undefined {
  if (i + 4 > b.length || b[i] !== 0xff || (b[i + 1] & 0xe0) !== 0xe0) return undefined;
  const version = (b[i + 1] >> 3) & 3;
  const layer = (b[i + 1] >> 1) & 3;
  const bitrateIndex = b[i + 2] >> 4;
  const rateIndex = (b[i + 2] >> 2) & 3;
  // Layer III only (layer bits 01): MP3. Version 1 is reserved; free-format (bitrate 0) frames
  // have no computable length, so they cannot be confirmed by the next frame.
  if (version === 1 || layer !== 1 || rateIndex === 3 || bitrateIndex === 15 || bitrateIndex === 0) return undefined;
  const rate = MPEG_RATES[version][rateIndex];
  const padding = (b[i + 2] >> 1) & 1;
  const kbps = (version === 3 ? MPEG1_L3_KBPS : MPEG2_L3_KBPS)[bitrateIndex];
  return { rate, length: Math.floor(((version === 3 ? 144 : 72) * kbps * 1000) / rate) + padding };
}

/**
 * The first MPEG audio frame confirmed by the two after it (or by the file ending where the
 * frames say it does): a single 4-byte match turns up in random bytes too often to trust.
 */
function sniffMpeg(b: Uint8Array, from: number): number | undefined {
  const limit = Math.min(b.length - 4, from + 64 * 1024);
  for (let i = from; i <= limit; i++) {
    const f = mpegFrameAt(b, i);
    if (!f) continue;
    let at = i;
    let frames = 0;
    while (frames < 3) {
      const g = mpegFrameAt(b, at);
      if (!g || g.rate !== f.rate) break;
      frames++;
      at += g.length;
      if (at + 4 > b.length) break;
    }
    if (frames >= 3 || (frames === 2 && at + 4 > b.length)) return f.rate;
  }
  return undefined;
}

const isAdts = (b: Uint8Array, at: number) => at + 7 <= b.length && b[at] === 0xff && (b[at + 1] & 0xf6) === 0xf0;

/** An ADTS frame confirmed by the next one's sync word (or by the file ending with it). */
function sniffAdts(b: Uint8Array, at: number): number | undefined {
  if (!isAdts(b, at)) return undefined;
  const length = ((b[at + 3] & 3) << 11) | (b[at + 4] << 3) | (b[at + 5] >> 5);
  const next = at + length;
  if (length < 7 || !(next >= b.length || isAdts(b, next))) return undefined;
  return AAC_RATES[(b[at + 2] >> 2) & 0xf];
}

function sniffFlacStreamInfo(b: Uint8Array, at: number): number | undefined {
  // 'fLaC', then a metadata block header (type 0 = STREAMINFO, 24-bit length 34), then the block:
  // 16+16 bits block sizes, 24+24 bits frame sizes, then 20 bits of sample rate.
  if (at + 8 + 13 > b.length || (b[at + 4] & 0x7f) !== 0) return undefined;
  const s = at + 8 + 10;
  const rate = (b[s] << 12) | (b[s + 1] << 4) | (b[s + 2] >> 4);
  return rate > 0 ? rate : undefined;
}

function sniffOgg(b: Uint8Array): SniffResult {
  // First page: 27-byte header, a segment table, then the first packet (the codec's ident header).
  const segments = b[26];
  const p = 27 + segments;
  if (ascii(b, p, 8) === 'OpusHead') return { container: 'ogg-opus', codec: 'opus', sampleRate: 48000 }; // Opus always decodes at 48 kHz; the header's rate is the input's
  if (b[p] === 1 && ascii(b, p + 1, 6) === 'vorbis') {
    const rate = u32le(b, p + 12);
    return { container: 'ogg-vorbis', codec: 'vorbis', ...(rate > 0 ? { sampleRate: rate } : {}) };
  }
  if (b[p] === 0x7f && ascii(b, p + 1, 4) === 'FLAC' && ascii(b, p + 9, 4) === 'fLaC') {
    const rate = sniffFlacStreamInfo(b, p + 9);
    return { container: 'ogg-flac', codec: 'flac', ...(rate ? { sampleRate: rate } : {}) };
  }
  return { container: 'ogg' };
}

/** AudioSpecificConfig (ISO 14496-3 1.6.2.1): the output rate, following explicit SBR signalling. */
function rateFromAsc(b: Uint8Array, at: number, end: number): number | undefined {
  let bit = at * 8;
  const read = (n: number): number => {
    let v = 0;
    for (let k = 0; k < n; k++, bit++) {
      if (bit >> 3 >= end) throw new RangeError('short AudioSpecificConfig');
      v = (v << 1) | ((b[bit >> 3] >> (7 - (bit & 7))) & 1);
    }
    return v;
  };
  const objectType = () => {
    const t = read(5);
    return t === 31 ? 32 + read(6) : t;
  };
  const frequency = () => {
    const i = read(4);
    return i === 15 ? read(24) : AAC_RATES[i];
  };
  try {
    const type = objectType();
    let rate = frequency();
    read(4); // channel configuration
    if (type === 5 || type === 29) rate = frequency(); // SBR / PS: the extension rate is what decodes
    return rate;
  } catch {
    return undefined;
  }
}

/** Length of an MPEG-4 descriptor (1 to 4 bytes of 7 bits) and where its payload starts. */
function descriptorAt(b: Uint8Array, at: number): { tag: number; start: number; end: number } | undefined {
  if (at >= b.length) return undefined;
  const tag = b[at];
  let len = 0;
  let i = at + 1;
  for (let k = 0; k < 4 && i < b.length; k++, i++) {
    len = (len << 7) | (b[i] & 0x7f);
    if (!(b[i] & 0x80)) {
      i++;
      break;
    }
  }
  return { tag, start: i, end: Math.min(b.length, i + len) };
}

function rateFromEsds(b: Uint8Array, start: number, end: number): number | undefined {
  // full box header, then ES_Descriptor (0x03) > DecoderConfigDescriptor (0x04) > DecSpecificInfo (0x05)
  const es = descriptorAt(b, start + 4);
  if (!es || es.tag !== 0x03) return undefined;
  let i = es.start + 2;
  const flags = b[i++];
  if (flags & 0x80) i += 2;
  if (flags & 0x40) i += 1 + b[i];
  if (flags & 0x20) i += 2;
  const dc = descriptorAt(b, i);
  if (!dc || dc.tag !== 0x04) return undefined;
  const dsi = descriptorAt(b, dc.start + 13);
  if (!dsi || dsi.tag !== 0x05) return undefined;
  return rateFromAsc(b, dsi.start, Math.min(dsi.end, end));
}

interface Mp4Audio {
  codec?: string;
  mdhdRate?: number;
  entryRate?: number;
  ascRate?: number;
}

function walkMp4(b: Uint8Array, start: number, end: number, out: Mp4Audio, track: { sound: boolean; mdhd?: number }): void {
  let i = start;
  while (i + 8 <= end) {
    let size = u32be(b, i);
    const type = ascii(b, i + 4, 4);
    let header = 8;
    if (size === 1) {
      if (i + 16 > end) return;
      size = u32be(b, i + 8) * 2 ** 32 + u32be(b, i + 12);
      header = 16;
    } else if (size === 0) size = end - i;
    if (size < header) return;
    const boxEnd = Math.min(end, i + size);
    const body = i + header;
    if (type === 'moov' || type === 'mdia' || type === 'minf' || type === 'stbl') walkMp4(b, body, boxEnd, out, track);
    else if (type === 'trak') {
      const t = { sound: false, mdhd: undefined as number | undefined };
      walkMp4(b, body, boxEnd, out, t);
      if (t.sound && t.mdhd && out.mdhdRate === undefined) out.mdhdRate = t.mdhd;
    } else if (type === 'mdhd') {
      // version 0: 4 flags, 4 created, 4 modified, then the timescale; version 1 has 8-byte times
      track.mdhd = b[body] === 1 ? u32be(b, body + 20) : u32be(b, body + 12);
    } else if (type === 'hdlr') {
      track.sound = ascii(b, body + 8, 4) === 'soun';
    } else if (type === 'stsd' && out.codec === undefined) {
      // full box, entry count, then sample entries: 6 reserved + 2 index, 8 version/vendor,
      // 2 channels, 2 sample size, 4 reserved, then the rate as 16.16 fixed point
      const entry = body + 8;
      if (entry + 36 > boxEnd) return;
      const codec = ascii(b, entry + 4, 4);
      out.codec = codec === 'mp4a' ? 'aac' : codec;
      const rate = u32be(b, entry + 8 + 24) >>> 16;
      if (rate > 0) out.entryRate = rate;
      const version = u16be(b, entry + 8 + 8);
      const children = entry + 8 + 28 + (version === 1 ? 16 : version === 2 ? 36 : 0);
      walkMp4Entry(b, children, Math.min(boxEnd, entry + u32be(b, entry)), out);
    }
    i += size;
  }
}

function walkMp4Entry(b: Uint8Array, start: number, end: number, out: Mp4Audio): void {
  let i = start;
  while (i + 8 <= end) {
    const size = u32be(b, i);
    if (size < 8) return;
    if (ascii(b, i + 4, 4) === 'esds') out.ascRate = rateFromEsds(b, i + 8, Math.min(end, i + size));
    i += size;
  }
}

/** EBML variable-length integer: its value (marker bit removed unless keepMarker) and byte length. */
function vint(b: Uint8Array, at: number, keepMarker: boolean): { value: number; length: number; unknown: boolean } | undefined {
  if (at >= b.length) return undefined;
  const first = b[at];
  let length = 1;
  while (length <= 8 && !(first & (0x80 >> (length - 1)))) length++;
  if (length > 8 || at + length > b.length) return undefined;
  let value = keepMarker ? first : first & (0xff >> length);
  let allOnes = value === (0xff >> length);
  for (let k = 1; k < length; k++) {
    value = value * 256 + b[at + k];
    if (b[at + k] !== 0xff) allOnes = false;
  }
  return { value, length, unknown: !keepMarker && allOnes };
}

const EBML = { segment: 0x18538067, tracks: 0x1654ae6b, trackEntry: 0xae, audio: 0xe1, rate: 0xb5, outputRate: 0x78b5, codecId: 0x86, cluster: 0x1f43b675 };

function readEbmlFloat(b: Uint8Array, at: number, size: number): number | undefined {
  if (at + size > b.length) return undefined;
  const view = new DataView(b.buffer, b.byteOffset + at, size);
  if (size === 4) return view.getFloat32(0);
  if (size === 8) return view.getFloat64(0);
  return undefined;
}

function walkEbml(b: Uint8Array, start: number, end: number, out: { rate?: number; outputRate?: number; codec?: string }): boolean {
  let i = start;
  while (i < end) {
    const id = vint(b, i, true);
    if (!id) return false;
    const size = vint(b, i + id.length, false);
    if (!size) return false;
    const body = i + id.length + size.length;
    const bodyEnd = size.unknown ? end : Math.min(end, body + size.value);
    if (id.value === EBML.cluster) return true; // the tracks come before the first cluster
    if (id.value === EBML.segment || id.value === EBML.tracks || id.value === EBML.trackEntry || id.value === EBML.audio) {
      if (walkEbml(b, body, bodyEnd, out)) return true;
    } else if (id.value === EBML.rate) out.rate = readEbmlFloat(b, body, size.value);
    else if (id.value === EBML.outputRate) out.outputRate = readEbmlFloat(b, body, size.value);
    else if (id.value === EBML.codecId) out.codec ??= ascii(b, body, size.value);
    if (size.unknown) return false;
    i = bodyEnd;
  }
  return false;
}

/** Skip an ID3v2 tag (MP3 and ADTS files often start with one). */
function afterId3(b: Uint8Array): number {
  if (ascii(b, 0, 3) !== 'ID3' || b.length < 10) return 0;
  const size = ((b[6] & 0x7f) << 21) | ((b[7] & 0x7f) << 14) | ((b[8] & 0x7f) << 7) | (b[9] & 0x7f);
  return 10 + size + (b[5] & 0x10 ? 10 : 0);
}

/** What the bytes are and at what rate they decode; undefined when no known container matches. */
export function sniffAudio(bytes: Uint8Array): SniffResult | undefined {
  const b = bytes;
  if (b.length < 12) return undefined;
  if (ascii(b, 0, 4) === 'RIFF' && ascii(b, 8, 4) === 'WAVE') return { container: 'wav' };
  if (ascii(b, 0, 4) === 'fLaC') {
    const rate = sniffFlacStreamInfo(b, 0);
    return { container: 'flac', codec: 'flac', ...(rate ? { sampleRate: rate } : {}) };
  }
  if (ascii(b, 0, 4) === 'OggS') return sniffOgg(b);
  if (ascii(b, 4, 4) === 'ftyp') {
    const out: Mp4Audio = {};
    walkMp4(b, 0, b.length, out, { sound: false });
    const sampleRate = out.ascRate ?? out.entryRate ?? out.mdhdRate;
    return { container: 'mp4', ...(out.codec ? { codec: out.codec } : {}), ...(sampleRate ? { sampleRate } : {}) };
  }
  if (u32be(b, 0) === 0x1a45dfa3) {
    const out: { rate?: number; outputRate?: number; codec?: string } = {};
    const header = vint(b, 4, false);
    if (header) walkEbml(b, 4 + header.length + header.value, b.length, out);
    const codec = out.codec?.replace(/^A_/, '').toLowerCase();
    const rate = codec === 'opus' ? 48000 : out.outputRate ?? out.rate;
    return { container: 'webm', ...(codec ? { codec } : {}), ...(rate ? { sampleRate: Math.round(rate) } : {}) };
  }
  const start = afterId3(b);
  const adts = sniffAdts(b, start);
  if (adts) return { container: 'aac', codec: 'aac', sampleRate: adts };
  const mp3 = sniffMpeg(b, start);
  if (mp3) return { container: 'mp3', codec: 'mp3', sampleRate: mp3 };
  return undefined;
}
