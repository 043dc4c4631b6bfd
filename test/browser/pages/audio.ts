// Decoding voice clips in the page: WAV through the library's decoder (the seam, never the
// browser's), every other format through decodeAudioData at the rate its header gives. Fixtures
// are a 440 Hz tone the runner encodes with ffmpeg at rates other than the browser's own, so a
// resampled decode would show in the length, the rate and the measured pitch.
import { decodeAudioBytes, decodeWav, setWavDecoder, WavDecoder } from '../../../src/browser';
import { assert, assertClose, assertEqual, rejects, run, test } from './harness';

interface Fixture {
  file: string;
  container: string;
  sampleRate: number;
  channels: number;
  seconds: number;
}
interface Meta {
  fixtures: Fixture[];
  /** the mono 22050 Hz tone as written (int16), and the stereo FLAC's source (left 440 Hz, right 880 Hz) */
  wav: string;
  stereoWav: string;
  stereoFlac: string;
}

const dir = new URL('fixtures/audio/', location.href).href;
const bytesOf = async (name: string) => new Uint8Array(await (await fetch(dir + name, { cache: 'no-store' })).arrayBuffer());

// Counts the page's calls into the browser decoder, to prove WAV never reaches it.
let browserDecodes = 0;
const original = BaseAudioContext.prototype.decodeAudioData;
BaseAudioContext.prototype.decodeAudioData = function (this: BaseAudioContext, ...args: Parameters<typeof original>) {
  browserDecodes++;
  return original.apply(this, args);
} as typeof original;

/** A 16-bit PCM reader standing in for src/audio/wav.ts decodeWav: every channel, kept separately. */
function readPcm16(bytes: Uint8Array): { rate: number; channels: Float32Array[] } {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 12;
  let rate = 0;
  let nch = 0;
  while (at + 8 <= bytes.length) {
    const id = String.fromCharCode(...bytes.subarray(at, at + 4));
    const size = v.getUint32(at + 4, true);
    if (id === 'fmt ') {
      nch = v.getUint16(at + 10, true);
      rate = v.getUint32(at + 12, true);
    } else if (id === 'data') {
      const frames = size / (2 * nch);
      const chans = Array.from({ length: nch }, () => new Float32Array(frames));
      for (let i = 0; i < frames; i++) for (let c = 0; c < nch; c++) chans[c][i] = v.getInt16(at + 8 + 2 * (i * nch + c), true) / 32768;
      return { rate, channels: chans };
    }
    at += 8 + size + (size & 1);
  }
  throw new Error('no data chunk');
}

let seamCalls = 0;
const seamWav: WavDecoder = (bytes, opts) => {
  seamCalls++;
  assertEqual(opts.source, 'tone.wav', 'the seam gets the file name');
  const w = readPcm16(bytes);
  return { samples: w.channels[0], sampleRate: w.rate, channels: w.channels.length };
};

/** Pitch from upward zero crossings over the middle half (skips codec start-up and padding). */
function pitch(samples: Float32Array, rate: number): number {
  const from = Math.floor(samples.length / 4);
  const to = Math.floor((3 * samples.length) / 4);
  let ups = 0;
  for (let i = from + 1; i < to; i++) if (samples[i - 1] < 0 && samples[i] >= 0) ups++;
  return ups / ((to - from) / rate);
}

let meta: Meta;

test('fixtures are listed', async () => {
  meta = (await (await fetch(dir + 'meta.json', { cache: 'no-store' })).json()) as Meta;
  assert(meta.fixtures.length >= 6, 'at least six compressed fixtures');
});

test('WAV goes through the seam, not the browser', async () => {
  const before = browserDecodes;
  const bytes = await bytesOf(meta.wav);
  const r = await decodeAudioBytes(bytes.buffer, { fileName: 'tone.wav', decodeWav: seamWav });
  assertEqual(seamCalls, 1, 'seam called once');
  assertEqual(browserDecodes - before, 0, 'decodeAudioData calls');
  assertEqual([r.container, r.sampleRate, r.channels, r.sampleRateFrom, r.samples.length], ['wav', 22050, 1, 'header', 22050], 'result');
  assertClose(pitch(r.samples, r.sampleRate), 440, 2, 'pitch');
});

test('WAV without a decoder is refused clearly, and setWavDecoder installs one', async () => {
  const bytes = await bytesOf(meta.wav);
  // The browser entry installs the library's own decoder; take it away for this test.
  setWavDecoder(undefined);
  await rejects(decodeAudioBytes(bytes, { fileName: 'tone.wav' }), /^tone\.wav: a WAV file, and no WAV decoder is installed \(setWavDecoder\)/, 'no decoder');
  setWavDecoder(seamWav);
  const r = await decodeAudioBytes(bytes, { fileName: 'tone.wav' });
  assertEqual(r.sampleRate, 22050, 'rate via the installed decoder');
  setWavDecoder(decodeWav);
});

test('compressed formats decode at their own rate (no resampling), first channel, right pitch', async () => {
  const failures: string[] = [];
  for (const f of meta.fixtures) {
    const bytes = await bytesOf(f.file);
    const size = bytes.byteLength;
    const r = await decodeAudioBytes(bytes.buffer, { fileName: f.file });
    const got = { container: r.container, sampleRate: r.sampleRate, from: r.sampleRateFrom, channels: r.channels };
    const want = { container: f.container, sampleRate: f.sampleRate, from: 'header', channels: f.channels };
    if (JSON.stringify(got) !== JSON.stringify(want)) failures.push(`${f.file}: ${JSON.stringify(got)} != ${JSON.stringify(want)}`);
    const seconds = r.samples.length / r.sampleRate;
    // Codecs add priming and padding: a few tens of milliseconds at most.
    if (Math.abs(seconds - f.seconds) > 0.08) failures.push(`${f.file}: ${seconds.toFixed(3)} s of audio, expected ${f.seconds}`);
    const hz = pitch(r.samples, r.sampleRate);
    if (Math.abs(hz - 440) > 4) failures.push(`${f.file}: pitch ${hz.toFixed(1)} Hz, expected 440`);
    if (bytes.byteLength !== size) failures.push(`${f.file}: the caller's buffer was detached`);
  }
  assert(failures.length === 0, failures.join('\n'));
});

test('FLAC decodes sample-exact to its source at 22050 Hz (channel 0 of a stereo file)', async () => {
  const src = readPcm16(await bytesOf(meta.stereoWav));
  const r = await decodeAudioBytes(await bytesOf(meta.stereoFlac), { fileName: 'stereo.flac' });
  assertEqual([r.sampleRate, r.channels, r.samples.length], [22050, 2, src.channels[0].length], 'rate, channels, length');
  // Chromium turns 16-bit codes into floats asymmetrically (k / 32767 above zero, k / 32768
  // below), unlike the WAV reader's k / 32768; so compare the integer codes, which must match.
  let mismatches = 0;
  let first = '';
  for (let i = 0; i < r.samples.length; i++) {
    const x = r.samples[i];
    const code = x < 0 ? x * 32768 : x * 32767;
    const want = Math.round(src.channels[0][i] * 32768);
    if (Math.abs(code - want) > 1e-3) {
      if (!mismatches) first = `sample ${i}: code ${code}, source ${want}`;
      mismatches++;
    }
  }
  assertEqual(mismatches, 0, `samples whose 16-bit code differs from the left channel's (${first})`);
  assertClose(pitch(r.samples, r.sampleRate), 440, 2, 'pitch of channel 0 (the right channel is 880 Hz)');
});

test('a header without the rate: decoded at 48000 and the result says so', async () => {
  // Turn the WebM track's SamplingFrequency element (ID 0xB5, 8-byte float 24000) into a Void
  // element (0xEC) of the same size: the stream stays decodable, the rate is no longer written.
  const bytes = await bytesOf('vorbis.webm');
  const rate = new Uint8Array(8);
  new DataView(rate.buffer).setFloat64(0, 24000);
  let at = -1;
  for (let i = 0; i + 10 <= bytes.length && at < 0; i++) {
    if (bytes[i] === 0xb5 && bytes[i + 1] === 0x88 && rate.every((x, k) => bytes[i + 2 + k] === x)) at = i;
  }
  assert(at > 0, 'found the SamplingFrequency element');
  bytes[at] = 0xec;
  const r = await decodeAudioBytes(bytes, { fileName: 'norate.webm' });
  assertEqual([r.container, r.sampleRate, r.sampleRateFrom], ['webm', 48000, 'default'], 'result');
  assertEqual(r.note, 'norate.webm: the sample rate is not in the webm header; decoded at 48000 Hz (the browser may have resampled it)', 'note');
  assertClose(r.samples.length / r.sampleRate, 1, 0.08, 'seconds');
  assertClose(pitch(r.samples, r.sampleRate), 440, 4, 'pitch after the browser resampled');
});

test('bytes that are not audio give a clear error', async () => {
  const noise = await bytesOf('noise.bin');
  await rejects(
    decodeAudioBytes(noise, { fileName: 'noise.bin', mimeType: 'application/octet-stream' }),
    /^noise\.bin: not an audio file the browser can decode \(no known audio header, first bytes ([0-9a-f]{2} ){7}[0-9a-f]{2}, type application\/octet-stream; EncodingError: .+\)$/,
    'noise',
  );
  const text = new TextEncoder().encode('{"this": "is json, not audio"}');
  await rejects(decodeAudioBytes(text), /^audio: not an audio file the browser can decode \(no known audio header/, 'json');
});

run();
