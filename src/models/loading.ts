// Loading a CLVP model folder (transformers' from_pretrained for this model): config.json, the
// weights (model.safetensors, its shard index, or pytorch_model.bin and its index, in
// transformers' order of preference), generation_config.json. Works on any ModelFolder, and for
// one tensor-parallel rank reads only that rank's slices.
import { ClvpConfig, ConfigError, configFromJson } from '../config/configuration_clvp';
import { ModelFolder, ModelFolderError, WEIGHT_FILES, readJson } from '../io/folder';
import { SafetensorsCheckpoint } from '../io/safetensors';
import { TensorReader } from '../io/tensor_reader';
import { ParallelContext, SINGLE_RANK } from '../layers/parallel';
import { ParamRequest } from '../layers/params';
import { platform } from '../platform/platform';
import { ClvpModules } from './modeling_clvp';
import { LoadProgress, PlanningSource, PreloadedSource, loadParameters } from './weights';

export { WEIGHT_FILES };

export async function readClvpConfig(folder: ModelFolder): Promise<ClvpConfig> {
  if (!(await folder.has('config.json'))) throw new ConfigError(`${folder.label}: no config.json (is this a Hugging Face CLVP folder?)`);
  return configFromJson((await readJson(folder, 'config.json')) as Record<string, unknown>, `${folder.label}/config.json`);
}

/** The folder's weights: `weightsFile` if given, else the first of WEIGHT_FILES present. */
export async function openWeights(folder: ModelFolder, weightsFile?: string): Promise<{ reader: TensorReader; file: string }> {
  let file = weightsFile;
  if (!file) {
    for (const f of WEIGHT_FILES) if (await folder.has(f)) { file = f; break; }
  }
  if (!file) throw new ModelFolderError(`${folder.label}: no ${WEIGHT_FILES.join(', ')} in this folder`);
  if (weightsFile && !(await folder.has(file))) throw new ModelFolderError(`${folder.label}/${file}: not found`);
  const isTorch = /\.(bin|pt|pth)$/.test(file) || file === 'pytorch_model.bin.index.json';
  if (!isTorch) return { reader: await SafetensorsCheckpoint.openInFolder(folder, file), file };
  const open = platform().openTorchWeights;
  if (!open) throw new ModelFolderError(`${folder.label}/${file}: PyTorch checkpoints can only be read in Node; convert it to safetensors (clvp convert)`);
  return { reader: await open(folder, file), file };
}

/** The parameters a config asks for on one rank, in construction order. */
export function planParameters(config: ClvpConfig, parallel: ParallelContext = SINGLE_RANK): ParamRequest[] {
  const plan = new PlanningSource(parallel);
  try {
    new ClvpModules(config, plan);
    return plan.requests;
  } finally {
    plan.dispose();
  }
}

export interface LoadModulesOptions {
  /** weights file inside the folder (default: the first of WEIGHT_FILES present) */
  weightsFile?: string;
  /** the rank to load (default: the whole model) */
  parallel?: ParallelContext;
  onProgress?: (p: LoadProgress) => void;
}

export interface LoadedModules {
  config: ClvpConfig;
  modules: ClvpModules;
  /** generation_config.json as written (snake_case), or null when absent */
  generationConfig: Record<string, unknown> | null;
  weightsFile: string;
}

export async function loadModules(folder: ModelFolder, opts: LoadModulesOptions = {}): Promise<LoadedModules> {
  const config = await readClvpConfig(folder);
  let generationConfig: Record<string, unknown> | null = null;
  if (await folder.has('generation_config.json')) {
    const g = await readJson(folder, 'generation_config.json');
    if (typeof g !== 'object' || g === null || Array.isArray(g)) throw new ConfigError(`${folder.label}/generation_config.json: not a JSON object`);
    generationConfig = g as Record<string, unknown>;
  }
  const parallel = opts.parallel ?? SINGLE_RANK;
  const plan = planParameters(config, parallel);
  const { reader, file } = await openWeights(folder, opts.weightsFile);
  try {
    const tensors = await loadParameters(reader, plan, { label: `${folder.label}/${file}`, parallel, onProgress: opts.onProgress });
    return { config, modules: new ClvpModules(config, new PreloadedSource(parallel, tensors)), generationConfig, weightsFile: file };
  } finally {
    reader.close();
  }
}
