// Voice clips in the page, end to end: voiceFromFile on picked-file objects (WAV through the
// library's decoder, the rest decoded by the browser at the file's own rate, then the library's
// resampler to 22050 Hz, first channel) and voiceFromMicrophone on the fake microphone (a 440 Hz
// tone at 48 kHz). Fixtures: the runner's 440 Hz tones (test/browser/fixtures.ts).
import { decodeAudioBytes, prepareVoice, voiceFromFile, voiceFromMicrophone } from '../../../src/browser';
import { assert, assertClose, assertEqual, rejects, run, test } from './harness';

const dir = new URL('fixtures/audio/', location.href).href;
const fileOf = async (name: string, as = name, type = '') => new File([await (await fetch(dir + name, { cache: 'no-store' })).arrayBuffer()], as, { type });

/** Pitch from upward zero crossings over the middle half (skips codec start-up and padding). */
function pitch(samples: Float32Array, rate: number): number {
  const from = Math.floor(samples.length / 4);
  const to = Math.floor((3 * samples.length) / 4);
  let ups = 0;
  for (let i = from + 1; i < to; i++) if (samples[i - 1] < 0 && samples[i] >= 0) ups++;
  return ups / ((to - from) / rate);
}

test('a 22050 Hz WAV File: the exact 16-bit samples, nothing resampled', async () => {
  const v = await voiceFromFile(await fileOf('tone.wav'));
  assertEqual([v.source, v.container, v.sampleRate, v.originalRate, v.channels, v.samples.length], ['tone.wav', 'wav', 22050, 22050, 1, 22050], 'voice');
  // The fixture's own formula (fixtures.ts tone()): int16 codes over 32768.
  let worst = 0;
  for (let i = 0; i < v.samples.length; i++) {
    const want = Math.round(0.5 * Math.sin((2 * Math.PI * 440 * i) / 22050) * 32767) / 32768;
    worst = Math.max(worst, Math.abs(v.samples[i] - want));
  }
  assertEqual(worst, 0, 'largest difference from the written samples');
});

test('a stereo WAV: the first channel (440 Hz; the second is 880 Hz)', async () => {
  const v = await voiceFromFile(await fileOf('stereo.wav'));
  assertEqual([v.channels, v.sampleRate], [2, 22050], 'channels, rate');
  assertClose(pitch(v.samples, v.sampleRate), 440, 2, 'pitch');
});

for (const [file, rate] of [['tone44.mp3', 44100], ['tone.m4a', 32000], ['tone.ogg', 24000], ['tone.flac', 22050]] as const) {
  test(`${file}: decoded by the browser at its own ${rate} Hz, then our resampler to 22050 Hz`, async () => {
    const f = await fileOf(file);
    const v = await voiceFromFile(f);
    assertEqual([v.originalRate, v.sampleRate, v.channels], [rate, 22050, 1], 'rates, channels');
    assertClose(v.samples.length / 22050, 1, 0.08, 'seconds');
    assertClose(pitch(v.samples, 22050), 440, 4, 'pitch');
    // The same as the library's resampler over the browser's decode at the file's rate, to the bit.
    const d = await decodeAudioBytes(new Uint8Array(await f.arrayBuffer()), { fileName: file });
    const want = prepareVoice(d.samples, d.sampleRate, file);
    assertEqual(v.samples.length, want.samples.length, 'length');
    assert(v.samples.every((x, i) => x === want.samples[i]), 'samples equal prepareVoice of the decode');
  });
}

test('an ArrayBuffer or Uint8Array works too, named in messages by `name`', async () => {
  const bytes = new Uint8Array(await (await fileOf('tone.wav')).arrayBuffer());
  assertEqual((await voiceFromFile(bytes.buffer, { name: 'buf.wav' })).source, 'buf.wav', 'ArrayBuffer');
  assertEqual((await voiceFromFile(bytes)).source, 'audio', 'default name');
  assertEqual((await voiceFromFile(bytes, { targetRate: 16000 })).samples.length, 16000, 'another target rate');
});

test('input that is not audio is refused with the file named', async () => {
  const notes = new File(['These are my notes, not a recording.'], 'notes.txt', { type: 'text/plain' });
  await rejects(voiceFromFile(notes), /^notes\.txt: not an audio file the browser can decode \(no known audio header, first bytes 54 68 65 73 65 20 61 72, type text\/plain; EncodingError: /, 'text file');
  await rejects(voiceFromFile(new File([], 'empty.wav')), /^empty\.wav: the file is empty$/, 'empty file');
  const cut = (await (await fileOf('tone.wav')).arrayBuffer()).slice(0, 30);
  await rejects(voiceFromFile(new File([cut], 'cut.wav')), /^cut\.wav: truncated/, 'truncated WAV');
  await rejects(voiceFromFile(await fileOf('noise.bin', 'noise.mp3', 'audio/mpeg')), /^noise\.mp3: not an audio file the browser can decode \(no known audio header, first bytes ([0-9a-f]{2} ){7}[0-9a-f]{2}, type audio\/mpeg;/, 'noise named .mp3');
});

test('the microphone: a second of the 440 Hz tone at 22050 Hz', async () => {
  const v = await voiceFromMicrophone({ maxSeconds: 1 });
  assertEqual([v.source, v.container, v.sampleRate], ['microphone', 'microphone', 22050], 'voice');
  assert(v.originalRate >= 8000 && v.originalRate !== 22050, `captured at the device rate (${v.originalRate} Hz), then resampled`);
  assertClose(v.samples.length, 22050, 2, 'samples');
  assertClose(pitch(v.samples, 22050), 440, 4, 'pitch');
});

test('a microphone recording stopped before any audio is refused clearly', async () => {
  const stop = new AbortController();
  stop.abort();
  await rejects(voiceFromMicrophone({ signal: stop.signal }), /^microphone: nothing was recorded$/, 'empty recording');
});

run();
