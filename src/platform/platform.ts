// What differs between Node and the browser, behind one small interface: where a model string
// points (a path or Hub id in Node, a URL in a page), how a worker starts, how many cores there
// are, and where the wasm binaries are. The entry points (src/index.ts for Node, src/browser.ts for
// pages) install their implementation once; the model and generation code never test for `window`.
import type { FolderLocation, ModelFolder } from '../io/folder';
import type { TensorReader } from '../io/tensor_reader';

export interface OpenModelOptions {
  /** Hub branch, tag or commit (default 'main') */
  revision?: string;
  /** byte progress of downloads, per file */
  onProgress?: (p: DownloadProgress) => void;
  signal?: AbortSignal;
}

export interface DownloadProgress {
  file: string;
  loaded: number;
  total: number | null;
}

/** The main thread's end of a worker. */
export interface WorkerPort {
  postMessage(message: unknown): void;
  onMessage(handler: (message: unknown) => void): void;
  /** The worker is gone (an uncaught exception, an exit, a failed start): `cause` says which. */
  onExit(handler: (cause: string) => void): void;
  terminate(): Promise<void>;
  /** Whether an idle worker keeps the process alive (Node; a no-op in pages). */
  setKeepsAlive(on: boolean): void;
}

/** The worker's end: what a worker entry uses to talk to the main thread. */
export interface WorkerScope {
  readonly init: unknown;
  postMessage(message: unknown): void;
  onMessage(handler: (message: unknown) => void): void;
  /** End this worker at once (fault-injection tests). */
  exit(code: number): void;
}

export type WorkerEntry = 'tensor-parallel-rank';

export interface Platform {
  readonly name: 'node' | 'browser';
  /** A model argument (local path, Hub id, URL) as a folder. */
  openModel(idOrPath: string, opts?: OpenModelOptions): Promise<ModelFolder>;
  /** Reopen a folder inside a worker from its location. */
  reopen(location: FolderLocation): Promise<ModelFolder>;
  /** Start a worker running `entry`, which reads `init` from its WorkerScope. */
  startWorker(entry: WorkerEntry, init: unknown): WorkerPort;
  /** A whole file by path (Node) or URL (pages): voice clips, a tokenizer.json named directly. */
  readFile(pathOrUrl: string): Promise<Uint8Array>;
  /** Whether a local path is a folder (Node only). */
  isDirectory?(path: string): boolean;
  /** Write text files into a folder, creating it (Node only: saving tokenizers). */
  writeTextFiles?(dir: string, files: Record<string, string>): void;
  /** A setting from the environment (CLVP_BACKEND, CLVP_TP, HF_*); pages have none. */
  env(name: string): string | undefined;
  /** Cores available to this process (each tensor-parallel rank wants one). */
  cores(): number;
  /** Where the tfjs-backend-wasm binaries are served or stored (a folder path or URL ending in '/'). */
  wasmPaths(): string;
  /** tfjs backends in this platform's order of preference. */
  readonly backends: ReadonlyArray<'tensorflow' | 'webgpu' | 'wasm' | 'webgl' | 'cpu'>;
  /**
   * For the automatic choice only: what a GPU backend would run on when that is a CPU
   * implementation (SwiftShader, llvmpipe), which is far slower than wasm; undefined on real hardware.
   */
  softwareDevice?(backend: 'webgpu' | 'webgl'): Promise<string | undefined>;
  /**
   * Call `onLost` with what happened if the GPU device under this backend instance is lost (a
   * GPU process that crashed, a driver reset, device.destroy()): every tensor on it is gone.
   */
  watchDevice?(name: string, backend: unknown, onLost: (why: string) => void): void;
  /** Load a native tfjs backend if this platform has one (tfjs-node); its description, or undefined. */
  loadNativeBackend(): string | undefined;
  /** Where log() writes when no logger is set. */
  defaultLog(message: string): void;
  /** PyTorch .bin checkpoints and their shard index (Node only: that reader reads local files). */
  openTorchWeights?(folder: ModelFolder, file: string): Promise<TensorReader>;
}

let installed: Platform | undefined;
let logger: ((message: string) => void) | undefined;

/**
 * One-line messages for the user (the backend and parallelism choices). Default: stderr in Node,
 * console.info in pages; pass `() => {}` to silence them, undefined to restore the default.
 */
export function setLogger(fn: ((message: string) => void) | undefined): void {
  logger = fn;
}

export function log(message: string): void {
  if (logger) logger(message);
  else installed?.defaultLog(message);
}

export function setPlatform(p: Platform): void {
  installed = p;
}

export function platform(): Platform {
  if (!installed) throw new Error('clvp-tfjs: no platform installed (import from "clvp-tfjs" in Node or "clvp-tfjs/browser" in a page)');
  return installed;
}

export function hasPlatform(): boolean {
  return installed !== undefined;
}
