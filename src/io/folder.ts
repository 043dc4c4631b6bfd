// The files of one model, wherever they are: a local folder, a Hugging Face cache snapshot, a URL
// prefix served over HTTP, or a folder picked in a web page. Loaders read config.json, the
// tokenizer files and the weights through this interface only, so the same loader code runs in
// Node and in the browser.
import { ByteSource, MemoryByteSource } from './bytes';

/**
 * Where a folder is, in a form that can be posted to a worker (which reopens it with
 * `platform().reopen`): workers read their own weight slices rather than receiving them.
 */
export type FolderLocation =
  | { kind: 'local'; dir: string }
  | { kind: 'url'; base: string }
  /** browser File objects (structured-cloneable), keyed by their path inside the picked folder */
  | { kind: 'files'; files: Record<string, Blob> };

export interface ModelFolder {
  /** For messages: a path, a URL or a Hub id. */
  readonly label: string;
  readonly location: FolderLocation;
  /** Whether the folder has this file (a '/'-separated relative name). */
  has(name: string): Promise<boolean>;
  /** The file as UTF-8 text, without a byte-order mark. */
  readText(name: string): Promise<string>;
  /** The file for random access (weights). */
  open(name: string): Promise<ByteSource>;
}

export class ModelFolderError extends Error {}

/** Weight files in transformers' order of preference (SAFE_WEIGHTS_NAME, its index, WEIGHTS_NAME, its index). */
export const WEIGHT_FILES = ['model.safetensors', 'model.safetensors.index.json', 'pytorch_model.bin', 'pytorch_model.bin.index.json'] as const;

/** Strip a UTF-8 byte-order mark: HF's Python readers accept files saved with one. */
export function stripBom(text: string): string {
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/** A relative file name inside a folder: no absolute paths, no '..' (shard names come from JSON). */
export function checkRelativeName(name: string, where: string): void {
  if (typeof name !== 'string' || name === '' || name.startsWith('/') || name.includes('\\') || name.split('/').some((p) => p === '..' || p === '')) {
    throw new ModelFolderError(`${where}: bad file name ${JSON.stringify(name)} (expected a relative path inside the model folder)`);
  }
}

/** Read and parse a JSON file of a folder, naming the file on failure. */
export async function readJson(folder: ModelFolder, name: string): Promise<unknown> {
  const text = await folder.readText(name);
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new ModelFolderError(`${folder.label}/${name}: malformed JSON: ${(e as Error).message}`);
  }
}

/** Files held in memory (tests, and pages that assemble a model from fetched parts). */
export class MemoryFolder implements ModelFolder {
  readonly location: FolderLocation;
  constructor(readonly label: string, private readonly files: Map<string, Uint8Array>) {
    this.location = { kind: 'files', files: Object.fromEntries([...files].map(([k, v]) => [k, new Blob([v.slice()])])) };
  }
  async has(name: string): Promise<boolean> {
    return this.files.has(name);
  }
  private get(name: string): Uint8Array {
    const b = this.files.get(name);
    if (!b) throw new ModelFolderError(`${this.label}/${name}: not found`);
    return b;
  }
  async readText(name: string): Promise<string> {
    return stripBom(new TextDecoder().decode(this.get(name)));
  }
  async open(name: string): Promise<ByteSource> {
    return new MemoryByteSource(`${this.label}/${name}`, this.get(name));
  }
}

/** The folder `prefix` inside `parent` (a reference's models/tiny, a repo's subfolder). */
export function subFolder(parent: ModelFolder, prefix: string): ModelFolder {
  checkRelativeName(prefix, parent.label);
  const inner = (name: string) => `${prefix}/${name}`;
  const loc = parent.location;
  let location: FolderLocation;
  if (loc.kind === 'local') location = { kind: 'local', dir: `${loc.dir.replace(/[\\/]+$/, '')}/${prefix}` };
  else if (loc.kind === 'url') location = { kind: 'url', base: `${loc.base.replace(/\/*$/, '/')}${prefix}/` };
  else location = { kind: 'files', files: Object.fromEntries(Object.entries(loc.files).filter(([k]) => k.startsWith(prefix + '/')).map(([k, v]) => [k.slice(prefix.length + 1), v])) };
  return {
    label: `${parent.label}/${prefix}`,
    location,
    has: (name) => parent.has(inner(name)),
    readText: (name) => parent.readText(inner(name)),
    open: (name) => parent.open(inner(name)),
  };
}
