// Fixtures for the browser tests, made at test time: deterministic binary files for the range and
// offline tests, a folder to upload, and a 440 Hz tone encoded by ffmpeg into each format the page
// decodes. The encoded files are cached under the system temp folder, keyed by the ffmpeg version
// and this generator's version, so repeated runs skip ffmpeg.
import { execFileSync } from 'child_process';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { encodeWav } from '../../src/audio/wav';

/** Bump when the audio fixtures change. */
const GENERATOR_VERSION = 1;

/** The same xorshift32 as pages/harness.ts. */
export function xorshiftBytes(seed: number, n: number): Buffer {
  const out = Buffer.alloc(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    out[i] = s & 0xff;
  }
  return out;
}

export interface AudioFixture {
  file: string;
  container: string;
  sampleRate: number;
  channels: number;
  seconds: number;
}

export interface Fixtures {
  /** sha-256 (hex) of fixtures/offline/weights.bin */
  offlineSha: string;
  /** the folder to upload into the webkitdirectory input */
  uploadDir: string;
  /** the WAV the fake microphone plays */
  micWav: string;
}

/** A tone as 16-bit-exact floats, so a 16-bit WAV of it is lossless. */
function tone(rate: number, seconds: number, hz: number, amp = 0.5): Float32Array {
  const n = Math.round(rate * seconds);
  return Float32Array.from({ length: n }, (_, i) => Math.round(amp * Math.sin((2 * Math.PI * hz * i) / rate) * 32767) / 32768);
}

function ffmpegVersion(): string {
  try {
    return execFileSync('ffmpeg', ['-version'], { encoding: 'utf8' }).split('\n')[0];
  } catch {
    throw new Error('test:browser needs ffmpeg to make its audio fixtures (apt-get install -y ffmpeg)');
  }
}

/** The compressed fixtures: source rate, ffmpeg codec arguments, and what the page must find. */
const ENCODED: Array<{ file: string; from: 'mono22050' | 'mono24000' | 'mono32000' | 'mono44100'; args: string[]; container: string; sampleRate: number }> = [
  { file: 'tone.flac', from: 'mono22050', args: ['-c:a', 'flac'], container: 'flac', sampleRate: 22050 },
  { file: 'tone22.mp3', from: 'mono22050', args: ['-c:a', 'libmp3lame', '-b:a', '64k'], container: 'mp3', sampleRate: 22050 },
  { file: 'tone44.mp3', from: 'mono44100', args: ['-c:a', 'libmp3lame', '-b:a', '96k'], container: 'mp3', sampleRate: 44100 },
  { file: 'tone.ogg', from: 'mono24000', args: ['-c:a', 'libvorbis', '-q:a', '4'], container: 'ogg-vorbis', sampleRate: 24000 },
  { file: 'tone.opus', from: 'mono24000', args: ['-c:a', 'libopus', '-b:a', '48k'], container: 'ogg-opus', sampleRate: 48000 },
  { file: 'tone.m4a', from: 'mono32000', args: ['-c:a', 'aac', '-b:a', '64k'], container: 'mp4', sampleRate: 32000 },
  { file: 'tone.webm', from: 'mono24000', args: ['-c:a', 'libopus', '-b:a', '48k'], container: 'webm', sampleRate: 48000 },
  { file: 'vorbis.webm', from: 'mono24000', args: ['-c:a', 'libvorbis', '-q:a', '4'], container: 'webm', sampleRate: 24000 },
];
const SECONDS = 1;

function makeAudio(cacheRoot: string): string {
  const key = crypto.createHash('sha256').update(`${GENERATOR_VERSION}\n${ffmpegVersion()}`).digest('hex').slice(0, 16);
  const dir = path.join(cacheRoot, `clvp-browser-fixtures-${key}`);
  if (fs.existsSync(path.join(dir, 'meta.json'))) return dir;
  const work = fs.mkdtempSync(path.join(cacheRoot, 'clvp-browser-fixtures-tmp-'));
  const sources: Record<string, string> = {};
  for (const rate of [22050, 24000, 32000, 44100]) {
    sources[`mono${rate}`] = path.join(work, `mono${rate}.wav`);
    fs.writeFileSync(sources[`mono${rate}`], encodeWav(tone(rate, SECONDS, 440), rate));
  }
  fs.copyFileSync(sources.mono22050, path.join(work, 'tone.wav'));
  fs.writeFileSync(path.join(work, 'stereo.wav'), encodeWav([tone(22050, SECONDS, 440), tone(22050, SECONDS, 880, 0.3)], 22050));
  fs.writeFileSync(path.join(work, 'mic.wav'), encodeWav(tone(48000, 4, 440, 0.6), 48000));
  const ffmpeg = (args: string[]) => execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  ffmpeg(['-i', path.join(work, 'stereo.wav'), '-c:a', 'flac', path.join(work, 'stereo.flac')]);
  for (const e of ENCODED) ffmpeg(['-i', sources[e.from], ...e.args, path.join(work, e.file)]);
  fs.writeFileSync(path.join(work, 'noise.bin'), xorshiftBytes(555, 4096));
  const fixtures: AudioFixture[] = ENCODED.map((e) => ({ file: e.file, container: e.container, sampleRate: e.sampleRate, channels: 1, seconds: SECONDS }));
  fs.writeFileSync(path.join(work, 'meta.json'), JSON.stringify({ fixtures, wav: 'tone.wav', stereoWav: 'stereo.wav', stereoFlac: 'stereo.flac' }, null, 1));
  for (const f of Object.values(sources)) fs.rmSync(f);
  // Another run may have finished first; either copy is good.
  try {
    fs.renameSync(work, dir);
  } catch {
    fs.rmSync(work, { recursive: true, force: true });
  }
  return dir;
}

/** Write every fixture under `root` (the served folder) and return what the runner needs. */
export function writeFixtures(root: string, cacheRoot: string = os.tmpdir()): Fixtures {
  const fx = path.join(root, 'fixtures');
  fs.rmSync(fx, { recursive: true, force: true });
  const write = (rel: string, data: string | Buffer) => {
    const p = path.join(fx, rel);
    fs.mkdirSync(path.dirname(p), { recursive: true });
    fs.writeFileSync(p, data);
  };
  write('range/data.bin', xorshiftBytes(12345, 1048576 + 17));
  write('range/config.json', '\ufeff{"model":"clvp","note":"has a BOM"}');

  const weights = xorshiftBytes(777, 3 * 1048576 + 5);
  write('offline/weights.bin', weights);
  write('offline/partial.bin', xorshiftBytes(778, 65536));
  write('offline/config.json', '{"hidden":8}');

  const audio = makeAudio(cacheRoot);
  for (const n of fs.readdirSync(audio)) write(`audio/${n}`, fs.readFileSync(path.join(audio, n)));

  // Outside the served folder: only the upload reads it.
  const uploadDir = path.join(path.dirname(root), 'browser-test-upload', 'my-model');
  fs.rmSync(path.dirname(uploadDir), { recursive: true, force: true });
  fs.mkdirSync(path.join(uploadDir, 'sub'), { recursive: true });
  fs.writeFileSync(path.join(uploadDir, 'config.json'), '{"picked":true}');
  fs.writeFileSync(path.join(uploadDir, 'tokenizer.json'), '{"vocab":["a","b"]}');
  fs.writeFileSync(path.join(uploadDir, 'sub', 'shard-00001.bin'), xorshiftBytes(4242, 100000));

  return {
    offlineSha: crypto.createHash('sha256').update(weights).digest('hex'),
    uploadDir,
    micWav: path.join(audio, 'mic.wav'),
  };
}
