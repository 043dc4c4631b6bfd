// The microphone through recordMicrophone: Chromium's fake capture device plays the runner's
// 440 Hz file (--use-file-for-fake-audio-capture); the recording must come back at the audio
// context's native rate, with the length asked for and the pitch intact.
import { recordMicrophone } from '../../../src/browser';
import { assert, assertClose, assertEqual, run, test } from './harness';

function pitch(samples: Float32Array, rate: number): number {
  const from = Math.floor(samples.length / 4);
  const to = Math.floor((3 * samples.length) / 4);
  let ups = 0;
  for (let i = from + 1; i < to; i++) if (samples[i - 1] < 0 && samples[i] >= 0) ups++;
  return ups / ((to - from) / rate);
}

test('records maxSeconds at the native rate with the tone intact', async () => {
  const probe = new AudioContext();
  const native = probe.sampleRate;
  await probe.close();
  const levels: number[] = [];
  const r = await recordMicrophone({ maxSeconds: 1.5, onLevel: (p) => levels.push(p) });
  assertEqual(r.sampleRate, native, 'native rate');
  assertEqual(r.samples.length, Math.round(1.5 * native), 'length');
  let peak = 0;
  for (const x of r.samples) peak = Math.max(peak, Math.abs(x));
  assert(peak > 0.1, `a signal was captured (peak ${peak})`);
  assert(levels.length > 10 && Math.max(...levels) > 0.1, 'levels reported');
  assertClose(pitch(r.samples, r.sampleRate), 440, 6, 'pitch');
});

test('an abort ends the recording early with what was captured', async () => {
  const ctl = new AbortController();
  setTimeout(() => ctl.abort(), 400);
  const t0 = performance.now();
  const r = await recordMicrophone({ maxSeconds: 10, signal: ctl.signal });
  const ms = performance.now() - t0;
  assert(ms < 3000, `stopped soon after the abort (${ms.toFixed(0)} ms)`);
  assert(r.samples.length > 0 && r.samples.length < 3 * r.sampleRate, `a short recording (${r.samples.length} samples)`);
});

run();
