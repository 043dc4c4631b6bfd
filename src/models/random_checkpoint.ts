// A random-weight model written as an HF folder (config.json, model.safetensors,
// generation_config.json), for the bundled default model, benchmarks at the published size and
// tests. The weights are those RandomInitSource builds for the same seed, streamed to the file
// one tensor at a time, so the published config (2.7 GB) never sits in memory whole. Node only.
import * as fs from 'fs';
import * as path from 'path';
import { ClvpConfig, configToJson } from '../config/configuration_clvp';
import { encodeTensorBytes } from '../io/safetensors';
import { writeSafetensorsStreaming } from '../io/safetensors_fs';
import { planParameters } from './loading';
import { Rng } from './rng';
import { initialValues } from './weights';

export interface RandomCheckpointOptions {
  seed?: number;
  /** 'F16' halves the file (inv_freq buffers stay F32, as HF saves them) */
  dtype?: 'F32' | 'F16';
  /** written as generation_config.json when given */
  generationConfig?: Record<string, unknown>;
}

export async function writeRandomCheckpoint(dir: string, config: ClvpConfig, opts: RandomCheckpointOptions = {}): Promise<void> {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(configToJson(config), null, 2) + '\n');
  if (opts.generationConfig) fs.writeFileSync(path.join(dir, 'generation_config.json'), JSON.stringify(opts.generationConfig, null, 2) + '\n');
  const plan = planParameters(config);
  const dtypeOf = (name: string) => (name.endsWith('inv_freq') ? 'F32' : opts.dtype ?? 'F32');
  const entries = plan.map((r) => ({ name: r.name, dtype: dtypeOf(r.name), shape: r.shape }));
  // The plan is in construction order, the order RandomInitSource draws in: same stream, same values.
  const rng = new Rng(opts.seed ?? 0);
  const byName = new Map(plan.map((r) => [r.name, r]));
  await writeSafetensorsStreaming(path.join(dir, 'model.safetensors'), entries, { format: 'pt' }, (name) => {
    const bytes = encodeTensorBytes(dtypeOf(name), initialValues(byName.get(name)!, rng));
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  });
}
