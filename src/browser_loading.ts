// Loading CLVP in a web page from what a page has: a URL (relative ones resolve against the page;
// weights by Range requests, kept in OPFS for offline visits), a folder the user picked with
// <input type="file" webkitdirectory>, or any ModelFolder. The model and its processor come from
// the same folder, opened once, and download and load progress reach one callback.
import { ClvpModelForConditionalGeneration, FromPretrainedOptions } from './clvp_model';
import { FilesFolder } from './io/files_folder';
import { ModelFolder, ModelFolderError } from './io/folder';
import { platform } from './platform/platform';
import type { DownloadProgress } from './platform/platform';
import { ClvpProcessor } from './processing_clvp';

/** A model URL, the files of a picked folder, or a folder. */
export type ModelInput = string | URL | FileList | readonly File[] | ModelFolder;

function isFolder(x: unknown): x is ModelFolder {
  return typeof x === 'object' && x !== null && typeof (x as ModelFolder).readText === 'function' && typeof (x as ModelFolder).open === 'function';
}

/** The folder a ModelInput names (a URL through the platform, so its cache and Range reads apply). */
export async function openModelFolder(input: ModelInput, opts: { signal?: AbortSignal; onProgress?: (p: DownloadProgress) => void } = {}): Promise<ModelFolder> {
  if (typeof input === 'string' || input instanceof URL) {
    const url = String(input).trim();
    if (url === '') throw new ModelFolderError('no model URL given');
    return platform().openModel(url, opts);
  }
  if (isFolder(input)) return input;
  const files = Array.from(input as ArrayLike<File>);
  if (files.length === 0) throw new ModelFolderError('no files were picked (choose the folder that holds config.json and model.safetensors)');
  return FilesFolder.fromFileList(files);
}

/** A model from a picked folder's files (an <input type="file" webkitdirectory>'s `files`). */
export async function fromFiles(files: FileList | readonly File[], opts: FromPretrainedOptions = {}): Promise<ClvpModelForConditionalGeneration> {
  return ClvpModelForConditionalGeneration.fromPretrained(await openModelFolder(files), opts);
}

export interface LoadedClvp {
  model: ClvpModelForConditionalGeneration;
  processor: ClvpProcessor;
  folder: ModelFolder;
}

/**
 * The model and its processor (tokenizer + feature extractor) from one folder. The processor's
 * small files are read first, so a folder that is not a CLVP model fails before any weights are
 * fetched. `onProgress` gets the download of every file (phase 'download') and then the weight
 * loading (phase 'load').
 */
export async function loadClvp(input: ModelInput, opts: FromPretrainedOptions = {}): Promise<LoadedClvp> {
  const folder = await openModelFolder(input, {
    ...(opts.signal ? { signal: opts.signal } : {}),
    ...(opts.onProgress ? { onProgress: (download: DownloadProgress) => opts.onProgress!({ phase: 'download', download }) } : {}),
  });
  if (!(await folder.has('config.json'))) throw new ModelFolderError(`${folder.label}: no config.json: this is not a model folder (a CLVP folder holds config.json, model.safetensors, preprocessor_config.json and the tokenizer files)`);
  const processor = await ClvpProcessor.fromPretrained(folder);
  const model = await ClvpModelForConditionalGeneration.fromPretrained(folder, opts);
  return { model, processor, folder };
}
