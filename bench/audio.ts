// Audio front-end benchmark: log-mel features (one 6 s clip, a batch of 16), resampling, WAV decoding.
// Usage: npx ts-node bench/audio.ts [--json]
import * as os from 'os';
import { ClvpFeatureExtractor } from '../src/audio/feature_extraction_clvp';
import { resample } from '../src/audio/resample';
import { decodeWav, encodeWav } from '../src/audio/wav';

interface Row {
  name: string;
  medianMs: number;
  minMs: number;
  runs: number;
  note: string;
}

function noise(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    x[i] = 0.2 * ((s / 4294967296) * 2 - 1) + 0.3 * Math.sin(i * 0.05);
  }
  return x;
}

function bench(name: string, note: string, fn: () => unknown, minRuns = 10, minSeconds = 1): Row {
  for (let i = 0; i < 3; i++) fn(); // warm up the JIT
  const times: number[] = [];
  const t0 = performance.now();
  while (times.length < minRuns || performance.now() - t0 < minSeconds * 1000) {
    const s = performance.now();
    fn();
    times.push(performance.now() - s);
    if (times.length >= 1000) break;
  }
  times.sort((a, b) => a - b);
  return { name, medianMs: times[Math.floor(times.length / 2)], minMs: times[0], runs: times.length, note };
}

function main(): void {
  const json = process.argv.includes('--json');
  const fe = new ClvpFeatureExtractor();
  const sr = 22050;
  const clip6 = noise(6 * sr, 1);
  const batch = Array.from({ length: 16 }, (_, i) => noise(Math.round((2 + (i % 7)) * sr), 10 + i));
  const tenSec441 = noise(441000, 2);
  const tenSec48 = noise(480000, 3);
  const wavBytes = encodeWav(tenSec441, 44100, { encoding: 'pcm16' });

  const rows: Row[] = [
    bench('features: one 6 s clip', '132300 samples -> [1,80,517]', () => fe.call(clip6, { samplingRate: sr })),
    bench('features: batch of 16 clips', '2-8 s each, padded/truncated to 6 s -> [16,80,517]', () => fe.call(batch, { samplingRate: sr })),
    bench('resample 10 s 44.1 kHz -> 22.05 kHz', '441000 -> 220500 samples', () => resample(tenSec441, 44100, 22050)),
    bench('resample 10 s 48 kHz -> 22.05 kHz', '480000 -> 220500 samples', () => resample(tenSec48, 48000, 22050)),
    bench('decode 10 s 44.1 kHz 16-bit WAV', `${(wavBytes.length / 1e6).toFixed(2)} MB`, () => decodeWav(wavBytes)),
  ];

  if (json) {
    process.stdout.write(JSON.stringify({ node: process.version, cpus: os.cpus().length, rows }, null, 2) + '\n');
    return;
  }
  const head = ['benchmark', 'median ms', 'min ms', 'runs', 'note'];
  const body = rows.map((r) => [r.name, r.medianMs.toFixed(2), r.minMs.toFixed(2), String(r.runs), r.note]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells: string[]) => '| ' + cells.map((c, i) => (i >= 1 && i <= 3 ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join(' | ') + ' |';
  console.log(`node ${process.version}`);
  console.log(line(head));
  console.log('|' + widths.map((w, i) => (i >= 1 && i <= 3 ? '-'.repeat(w + 1) + ':' : '-'.repeat(w + 2))).join('|') + '|');
  for (const b of body) console.log(line(b));
}

main();
