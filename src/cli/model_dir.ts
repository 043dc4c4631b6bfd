// Where the CLI finds its model: --model, else the small random-weight model bundled in weights/.
import * as fs from 'fs';
import * as path from 'path';
import { CliError } from './errors';

/** The bundled default model (random weights: its output is meaningless, see weights/README.md). */
export const BUNDLED_MODEL_DIR = path.resolve(__dirname, '..', '..', 'weights', 'clvp-random-small');

export function resolveModelDir(flag: string | undefined): string {
  const dir = flag ?? BUNDLED_MODEL_DIR;
  if (!fs.existsSync(dir)) throw new CliError(`--model: ${dir} does not exist`);
  if (!fs.statSync(dir).isDirectory()) throw new CliError(`--model: ${dir} is not a folder (give the Hugging Face model folder)`);
  if (!fs.existsSync(path.join(dir, 'config.json'))) throw new CliError(`--model: ${dir} has no config.json (is it a Hugging Face CLVP folder?)`);
  return dir;
}
