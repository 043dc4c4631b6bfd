// RIFF/WAVE reader and writer. Stands in for what Tortoise's `load_wav_to_torch`
// (scipy.io.wavfile.read + division by 2**15 / 2**31) does, with a strict, dependency-free parser.

/** Every failure of the reader: the message always names the source (file path or "<buffer>"). */
export class WavError extends Error {
  override name = 'WavError';
}

/** How a multi-channel file becomes one channel. */
export type ChannelMode = 'first' | 'average' | number;

export interface DecodedWav {
  sampleRate: number;
  /** Channels in the file (before reduction to one). */
  channels: number;
  /** One channel of float samples, nominally in [-1, 1). */
  samples: Float32Array;
  /** What was in the file, for messages and tests. */
  format: WavSampleFormat;
  bitsPerSample: number;
}

export type WavSampleFormat = 'pcm' | 'float';

export interface DecodeWavOptions {
  /** 'first' (default, as Tortoise's loader), 'average' of all channels, or a channel index. */
  channel?: ChannelMode;
  /** Name used in error messages. */
  source?: string;
}

const FORMAT_PCM = 0x0001;
const FORMAT_FLOAT = 0x0003;
const FORMAT_EXTENSIBLE = 0xfffe;

/** Known but unsupported format tags, so the error can say what the file is. */
const UNSUPPORTED_TAGS: Record<number, string> = {
  0x0002: 'Microsoft ADPCM',
  0x0006: 'A-law',
  0x0007: 'mu-law (μ-law)',
  0x0011: 'IMA ADPCM',
  0x0016: 'ITU G.723 ADPCM',
  0x0031: 'GSM 6.10',
  0x0040: 'ITU G.721 ADPCM',
  0x0050: 'MPEG',
  0x0055: 'MPEG Layer 3 (MP3)',
  0x00ff: 'AAC',
  0x1610: 'HE-AAC',
  0xf1ac: 'FLAC',
};

/** The tail shared by every KSDATAFORMAT_SUBTYPE GUID; the first two bytes carry the format tag. */
const KS_GUID_TAIL = [0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xaa, 0x00, 0x38, 0x9b, 0x71];

function tagName(tag: number): string {
  const hex = `0x${tag.toString(16).padStart(4, '0')}`;
  const known = UNSUPPORTED_TAGS[tag];
  return known ? `${known} (format tag ${hex})` : `format tag ${hex}`;
}

interface Chunk {
  id: string;
  offset: number;
  size: number;
}

interface FmtInfo {
  format: WavSampleFormat;
  channels: number;
  sampleRate: number;
  blockAlign: number;
  bitsPerSample: number;
  /** Bytes per sample in the container (may exceed bitsPerSample / 8 with WAVE_FORMAT_EXTENSIBLE). */
  containerBytes: number;
}

function fourcc(b: Uint8Array, at: number): string {
  return String.fromCharCode(b[at], b[at + 1], b[at + 2], b[at + 3]);
}

function readChunks(bytes: Uint8Array, view: DataView, src: string): Chunk[] {
  if (bytes.length < 12) throw new WavError(`${src}: truncated header (${bytes.length} bytes, a WAV file has at least 12)`);
  if (fourcc(bytes, 0) !== 'RIFF' || fourcc(bytes, 8) !== 'WAVE') {
    const what = fourcc(bytes, 0) === 'RIFX' ? ' (big-endian RIFX is not supported)' : '';
    throw new WavError(`${src}: not a RIFF/WAVE file${what}`);
  }
  // The RIFF size field is not trusted (streaming writers leave it 0 or 0xFFFFFFFF): chunks are
  // walked over the bytes actually present, and each chunk must fit in them.
  const chunks: Chunk[] = [];
  let at = 12;
  while (at < bytes.length) {
    // A few stray bytes after the last chunk (some writers pad the file) are not a chunk.
    if (bytes.length - at < 8) {
      if (chunks.some((c) => c.id === 'data')) break;
      throw new WavError(`${src}: truncated chunk header at byte ${at}`);
    }
    const id = fourcc(bytes, at);
    const size = view.getUint32(at + 4, true);
    const offset = at + 8;
    if (offset + size > bytes.length) {
      const which = id === 'data' ? 'data' : id === 'fmt ' ? 'header (fmt chunk)' : `'${id}' chunk`;
      throw new WavError(`${src}: truncated ${which}: chunk declares ${size} bytes but only ${bytes.length - offset} remain`);
    }
    chunks.push({ id, offset, size });
    // Chunks are word-aligned: an odd-sized chunk is followed by one pad byte.
    at = offset + size + (size & 1);
  }
  return chunks;
}

function parseFmt(view: DataView, c: Chunk, src: string): FmtInfo {
  if (c.size < 16) throw new WavError(`${src}: truncated header: fmt chunk has ${c.size} bytes, needs at least 16`);
  let tag = view.getUint16(c.offset, true);
  const channels = view.getUint16(c.offset + 2, true);
  const sampleRate = view.getUint32(c.offset + 4, true);
  const blockAlign = view.getUint16(c.offset + 12, true);
  const bitsPerSample = view.getUint16(c.offset + 14, true);
  let validBits = bitsPerSample;
  if (tag === FORMAT_EXTENSIBLE) {
    if (c.size < 40) throw new WavError(`${src}: truncated header: WAVE_FORMAT_EXTENSIBLE fmt chunk has ${c.size} bytes, needs 40`);
    const cbSize = view.getUint16(c.offset + 16, true);
    if (cbSize < 22) throw new WavError(`${src}: WAVE_FORMAT_EXTENSIBLE with extension size ${cbSize} (needs 22)`);
    validBits = view.getUint16(c.offset + 18, true) || bitsPerSample;
    const guid = c.offset + 24;
    const sub = view.getUint16(guid, true);
    for (let i = 0; i < KS_GUID_TAIL.length; i++) {
      if (view.getUint8(guid + 2 + i) !== KS_GUID_TAIL[i]) throw new WavError(`${src}: unsupported codec: WAVE_FORMAT_EXTENSIBLE with a non-standard sub-format GUID`);
    }
    tag = sub;
  }
  if (tag !== FORMAT_PCM && tag !== FORMAT_FLOAT) throw new WavError(`${src}: unsupported codec: ${tagName(tag)}; only PCM and IEEE float are read`);
  if (channels === 0) throw new WavError(`${src}: fmt chunk declares 0 channels`);
  if (sampleRate === 0) throw new WavError(`${src}: sample rate is 0`);
  const format: WavSampleFormat = tag === FORMAT_PCM ? 'pcm' : 'float';
  const okBits = format === 'pcm' ? [8, 16, 24, 32] : [32, 64];
  if (!okBits.includes(bitsPerSample)) throw new WavError(`${src}: unsupported ${format === 'pcm' ? 'PCM' : 'IEEE float'} sample size of ${bitsPerSample} bits`);
  if (validBits > bitsPerSample) throw new WavError(`${src}: valid bits per sample (${validBits}) exceeds the container size (${bitsPerSample})`);
  const containerBytes = bitsPerSample / 8;
  if (blockAlign !== channels * containerBytes) {
    throw new WavError(`${src}: block align ${blockAlign} does not match ${channels} channel(s) of ${bitsPerSample} bits`);
  }
  return { format, channels, sampleRate, blockAlign, bitsPerSample, containerBytes };
}

/** Reads sample `k` (frame * channels + channel) as a float. */
function sampleReader(view: DataView, base: number, fmt: FmtInfo): (k: number) => number {
  const step = fmt.containerBytes;
  if (fmt.format === 'float') {
    return fmt.bitsPerSample === 32 ? (k) => view.getFloat32(base + k * step, true) : (k) => view.getFloat64(base + k * step, true);
  }
  // Integer scales are powers of two, as scipy + Tortoise (2**15, 2**31) and libsndfile use:
  // full-scale negative maps to exactly -1.
  switch (fmt.bitsPerSample) {
    case 8: // 8-bit WAV is unsigned with 128 as zero.
      return (k) => (view.getUint8(base + k) - 128) / 128;
    case 16:
      return (k) => view.getInt16(base + 2 * k, true) / 32768;
    case 24:
      return (k) => {
        const at = base + 3 * k;
        const v = view.getUint8(at) | (view.getUint8(at + 1) << 8) | (view.getInt8(at + 2) << 16);
        return v / 8388608;
      };
    default:
      return (k) => view.getInt32(base + 4 * k, true) / 2147483648;
  }
}

/**
 * Decode a WAV file held in memory. Chunks may come in any order; unknown chunks are skipped.
 * The result is one channel (see `channel`), float32.
 */
export function decodeWav(bytes: Uint8Array, opts: DecodeWavOptions = {}): DecodedWav {
  const src = opts.source ?? '<buffer>';
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const chunks = readChunks(bytes, view, src);
  const fmtChunk = chunks.find((c) => c.id === 'fmt ');
  if (!fmtChunk) throw new WavError(`${src}: truncated header: no fmt chunk`);
  const dataChunk = chunks.find((c) => c.id === 'data');
  if (!dataChunk) throw new WavError(`${src}: truncated data: no data chunk`);
  const fmt = parseFmt(view, fmtChunk, src);
  if (dataChunk.size % fmt.blockAlign !== 0) {
    throw new WavError(`${src}: truncated data: ${dataChunk.size} bytes is not a whole number of ${fmt.blockAlign}-byte frames`);
  }
  const frames = dataChunk.size / fmt.blockAlign;
  const channelMode = opts.channel ?? 'first';
  const read = sampleReader(view, dataChunk.offset, fmt);
  const nc = fmt.channels;
  const out = new Float32Array(frames);
  if (channelMode === 'average' && nc > 1) {
    for (let f = 0; f < frames; f++) {
      let s = 0;
      for (let ch = 0; ch < nc; ch++) s += read(f * nc + ch);
      out[f] = s / nc;
    }
  } else {
    const ch = channelMode === 'first' || channelMode === 'average' ? 0 : channelMode;
    if (!Number.isInteger(ch) || ch < 0 || ch >= nc) throw new WavError(`${src}: channel ${String(ch)} requested but the file has ${nc} channel(s)`);
    for (let f = 0; f < frames; f++) out[f] = read(f * nc + ch);
  }
  return { sampleRate: fmt.sampleRate, channels: nc, samples: out, format: fmt.format, bitsPerSample: fmt.bitsPerSample };
}

/** Sample encodings the writer produces. */
export type WavEncoding = 'pcm8' | 'pcm16' | 'pcm24' | 'pcm32' | 'float32' | 'float64';

export interface EncodeWavOptions {
  /** Default 'pcm16'. */
  encoding?: WavEncoding;
  /** Write WAVE_FORMAT_EXTENSIBLE instead of the plain format tag. */
  extensible?: boolean;
}

const ENCODINGS: Record<WavEncoding, { tag: number; bits: number }> = {
  pcm8: { tag: FORMAT_PCM, bits: 8 },
  pcm16: { tag: FORMAT_PCM, bits: 16 },
  pcm24: { tag: FORMAT_PCM, bits: 24 },
  pcm32: { tag: FORMAT_PCM, bits: 32 },
  float32: { tag: FORMAT_FLOAT, bits: 32 },
  float64: { tag: FORMAT_FLOAT, bits: 64 },
};

/** Integer PCM: clamp to [-1, 1], scale by 2**(bits-1), round, clamp to the representable range. */
function quantise(x: number, bits: number): number {
  const scale = 2 ** (bits - 1);
  const c = x > 1 ? 1 : x < -1 ? -1 : Number.isNaN(x) ? 0 : x;
  return Math.max(-scale, Math.min(scale - 1, Math.round(c * scale)));
}

/**
 * Encode channels (one Float32Array each, equal lengths; or one array for mono) as a WAV file.
 * Integer encodings clamp to [-1, 1].
 */
export function encodeWav(channels: Float32Array | Float32Array[], sampleRate: number, opts: EncodeWavOptions = {}): Uint8Array {
  const chans = Array.isArray(channels) ? channels : [channels];
  if (chans.length === 0) throw new WavError('encodeWav: no channels');
  const frames = chans[0].length;
  if (chans.some((c) => c.length !== frames)) throw new WavError('encodeWav: channels differ in length');
  if (!(Number.isInteger(sampleRate) && sampleRate > 0)) throw new WavError(`encodeWav: invalid sample rate ${sampleRate}`);
  const enc = ENCODINGS[opts.encoding ?? 'pcm16'];
  const bytesPer = enc.bits / 8;
  const nc = chans.length;
  const blockAlign = nc * bytesPer;
  const dataBytes = frames * blockAlign;
  const fmtSize = opts.extensible ? 40 : 16;
  const pad = dataBytes & 1;
  const total = 12 + 8 + fmtSize + 8 + dataBytes + pad;
  const buf = new Uint8Array(total);
  const v = new DataView(buf.buffer);
  const put4 = (at: number, s: string) => { for (let i = 0; i < 4; i++) buf[at + i] = s.charCodeAt(i); };
  put4(0, 'RIFF');
  v.setUint32(4, total - 8, true);
  put4(8, 'WAVE');
  put4(12, 'fmt ');
  v.setUint32(16, fmtSize, true);
  v.setUint16(20, opts.extensible ? FORMAT_EXTENSIBLE : enc.tag, true);
  v.setUint16(22, nc, true);
  v.setUint32(24, sampleRate, true);
  v.setUint32(28, sampleRate * blockAlign, true);
  v.setUint16(32, blockAlign, true);
  v.setUint16(34, enc.bits, true);
  if (opts.extensible) {
    v.setUint16(36, 22, true);
    v.setUint16(38, enc.bits, true);
    v.setUint32(40, 0, true); // channel mask: unspecified
    v.setUint16(44, enc.tag, true);
    KS_GUID_TAIL.forEach((b, i) => (buf[46 + i] = b));
  }
  let at = 12 + 8 + fmtSize;
  put4(at, 'data');
  v.setUint32(at + 4, dataBytes, true);
  at += 8;
  for (let f = 0; f < frames; f++) {
    for (let ch = 0; ch < nc; ch++, at += bytesPer) {
      const x = chans[ch][f];
      switch (opts.encoding ?? 'pcm16') {
        case 'pcm8': v.setUint8(at, quantise(x, 8) + 128); break;
        case 'pcm16': v.setInt16(at, quantise(x, 16), true); break;
        case 'pcm24': {
          const q = quantise(x, 24);
          v.setUint8(at, q & 0xff); v.setUint8(at + 1, (q >> 8) & 0xff); v.setUint8(at + 2, (q >> 16) & 0xff);
          break;
        }
        case 'pcm32': v.setInt32(at, quantise(x, 32), true); break;
        case 'float32': v.setFloat32(at, x, true); break;
        case 'float64': v.setFloat64(at, x, true); break;
      }
    }
  }
  return buf;
}
