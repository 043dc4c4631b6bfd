// The Platform of web pages: models are URLs (relative ones resolve against the page) or folders
// the user picked, workers are module Web Workers running clvp-worker.js, and the wasm binaries
// sit beside the bundle, wherever it is served from.
import { FilesFolder } from '../io/files_folder';
import { FolderLocation, ModelFolder, ModelFolderError } from '../io/folder';
import { folderUrl, UrlFolder, UrlFolderOptions } from '../io/url_folder';
import type { OpenModelOptions, Platform, WorkerEntry, WorkerPort } from './platform';
import { FromWorker, isEnvelope, ToWorker } from './worker_protocol';

/**
 * The bundle's own URL: scripts/build-browser.ts defines it as `import.meta.url`, which tsc cannot
 * emit in this CommonJS build. Undefined when the source is bundled by someone else's tool.
 */
declare const __CLVP_BUNDLE_URL__: string | undefined;

export interface BrowserPlatformOptions {
  /** where clvp-worker.js and the tfjs wasm binaries are served (default: the folder of the bundle) */
  assetsUrl?: string;
  /** the worker script (default `${assetsUrl}clvp-worker.js`) */
  workerUrl?: string;
  /** options for every folder that openModel and reopen make (caching, fetch) (default {}) */
  folder?: UrlFolderOptions;
  /** one-line messages (default console.info) */
  log?: (message: string) => void;
}

/** The URL things are relative to here: the document in a page, the script in a worker. */
function hereUrl(): string {
  const g = globalThis as { document?: Document; location?: Location };
  return g.document?.baseURI ?? g.location?.href ?? 'http://localhost/';
}

/** The folder the running bundle was loaded from, ending in '/'. */
export function bundleFolderUrl(): string {
  const self = typeof __CLVP_BUNDLE_URL__ === 'string' ? __CLVP_BUNDLE_URL__ : hereUrl();
  return new URL('./', self).href;
}

class BrowserWorkerPort implements WorkerPort {
  private worker: Worker | undefined;
  private started = false;
  private exited: string | undefined;
  private messageHandler: ((m: unknown) => void) | undefined;
  private early: unknown[] = [];
  private exitHandlers: Array<(cause: string) => void> = [];

  constructor(private readonly url: string, entry: WorkerEntry, init: unknown) {
    try {
      this.worker = new Worker(url, { type: 'module', name: `clvp-tfjs ${entry}` });
    } catch (e) {
      // A cross-origin script URL or a bad URL throws here; report it like any other failed start.
      queueMicrotask(() => this.exit(`the worker failed to start (${url}: ${(e as Error).message})`));
      return;
    }
    const w = this.worker;
    w.addEventListener('message', (e) => this.receive(e.data));
    w.addEventListener('error', (e) => {
      // Handled here; without preventDefault the page logs it as an uncaught error too.
      e.preventDefault();
      const what = (e as ErrorEvent).message;
      this.exit(this.started
        ? `uncaught error in the worker: ${what || 'no message'}`
        : `the worker failed to start (${url}: ${what || 'the script could not be fetched, is not JavaScript, or threw while loading'})`);
    });
    w.addEventListener('messageerror', () => this.exit('a message from the worker could not be deserialised'));
    this.send({ clvp: 'init', entry, init });
  }

  private send(m: ToWorker): void {
    this.worker?.postMessage(m);
  }

  private receive(m: FromWorker): void {
    if (!isEnvelope(m) || this.exited !== undefined) return;
    if (m.clvp === 'started') this.started = true;
    else if (m.clvp === 'fatal') this.exit(m.cause);
    else if (m.clvp === 'message') {
      if (this.messageHandler) this.messageHandler(m.message);
      else this.early.push(m.message);
    }
  }

  private exit(cause: string): void {
    if (this.exited !== undefined) return;
    this.exited = cause;
    this.worker?.terminate();
    for (const h of this.exitHandlers) h(cause);
  }

  postMessage(message: unknown): void {
    if (this.exited === undefined) this.send({ clvp: 'message', message });
  }

  onMessage(handler: (message: unknown) => void): void {
    this.messageHandler = handler;
    for (const m of this.early.splice(0)) handler(m);
  }

  onExit(handler: (cause: string) => void): void {
    this.exitHandlers.push(handler);
    // Registered after the fact (a failed start reported before anyone listened): still told.
    const cause = this.exited;
    if (cause !== undefined) queueMicrotask(() => handler(cause));
  }

  async terminate(): Promise<void> {
    this.exit('terminated');
  }

  setKeepsAlive(): void {
    // Pages have no process to keep alive.
  }
}

export function createBrowserPlatform(opts: BrowserPlatformOptions = {}): Platform {
  const assets = () => folderUrl(opts.assetsUrl ?? bundleFolderUrl(), hereUrl());
  const log = opts.log ?? ((m: string) => console.info(m));
  return {
    name: 'browser',
    async openModel(idOrPath: string, o: OpenModelOptions = {}): Promise<ModelFolder> {
      // A Hub revision has no meaning for a plain URL; the URL itself names the version.
      return new UrlFolder(folderUrl(idOrPath, hereUrl()), {
        ...opts.folder,
        ...(o.signal ? { signal: o.signal } : {}),
        ...(o.onProgress ? { onProgress: o.onProgress } : {}),
      });
    },
    async reopen(location: FolderLocation): Promise<ModelFolder> {
      switch (location.kind) {
        case 'url':
          return new UrlFolder(location.base, opts.folder);
        case 'files':
          return new FilesFolder('picked files', location.files);
        case 'local':
          throw new Error(`clvp-tfjs: a page cannot open the local folder ${location.dir}; serve it over HTTP or pick it with <input type="file" webkitdirectory>`);
      }
    },
    startWorker(entry: WorkerEntry, init: unknown): WorkerPort {
      return new BrowserWorkerPort(opts.workerUrl ? new URL(opts.workerUrl, hereUrl()).href : new URL('clvp-worker.js', assets()).href, entry, init);
    },
    cores(): number {
      return (globalThis as { navigator?: Navigator }).navigator?.hardwareConcurrency || 1;
    },
    wasmPaths(): string {
      return assets();
    },
    // WebGPU and WebGL are registered by the browser entry (src/browser.ts). All three meet the
    // reference tolerances in Chromium (npm run test:browser, parity in the page: largest error
    // 1.9e-5 against atol 1e-4 on each), so the GPU backends come first, unless softwareDevice
    // says they would run on the CPU.
    backends: ['webgpu', 'webgl', 'wasm', 'cpu'],
    softwareDevice,
    watchDevice,
    loadNativeBackend(): string | undefined {
      return undefined;
    },
    defaultLog: log,
    env: () => undefined,
    async readFile(url: string): Promise<Uint8Array> {
      let res: Response;
      try {
        res = await fetch(new URL(url, hereUrl()).href);
      } catch (e) {
        throw new ModelFolderError(`${url}: cannot read: network error (${(e as Error).message})`);
      }
      if (!res.ok) throw new ModelFolderError(`${url}: cannot read: HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''}`);
      return new Uint8Array(await res.arrayBuffer());
    },
  };
}

/** The platform src/browser.ts installs: everything beside the bundle, folders cached for offline use. */
export const browserPlatform: Platform = createBrowserPlatform();

/** Renderer names of CPU implementations of WebGPU and WebGL. */
const SOFTWARE = /swiftshader|llvmpipe|softpipe|software|microsoft basic render/i;

/**
 * A GPU backend on a software device is 6-800x slower per decode step than wasm (measured in
 * headless Chromium on SwiftShader, bench:browser), so the automatic choice passes over it.
 */
async function softwareDevice(backend: 'webgpu' | 'webgl'): Promise<string | undefined> {
  try {
    if (backend === 'webgpu') {
      type Info = { vendor?: string; architecture?: string; device?: string; description?: string };
      type Adapter = { isFallbackAdapter?: boolean; info?: Info; requestAdapterInfo?: () => Promise<Info> };
      const gpu = (globalThis.navigator as { gpu?: { requestAdapter(): Promise<Adapter | null> } } | undefined)?.gpu;
      const adapter = await gpu?.requestAdapter();
      if (!adapter) return undefined;
      const info = adapter.info ?? (await adapter.requestAdapterInfo?.()) ?? {};
      const name = [info.vendor, info.architecture, info.device, info.description].filter(Boolean).join(' ');
      if (adapter.isFallbackAdapter || SOFTWARE.test(name)) return `a software adapter (${name || 'fallback'})`;
      return undefined;
    }
    if (typeof OffscreenCanvas === 'undefined') return undefined;
    const gl = new OffscreenCanvas(1, 1).getContext('webgl2') as WebGL2RenderingContext | null;
    if (!gl) return undefined;
    const ext = gl.getExtension('WEBGL_debug_renderer_info');
    const renderer = String(gl.getParameter(ext ? ext.UNMASKED_RENDERER_WEBGL : gl.RENDERER));
    gl.getExtension('WEBGL_lose_context')?.loseContext();
    return SOFTWARE.test(renderer) ? `a software renderer (${renderer})` : undefined;
  } catch {
    // A probe that fails says nothing: let the backend's own initialisation decide.
    return undefined;
  }
}

/** WebGPU: the device's lost promise; WebGL: the canvas's webglcontextlost event. */
function watchDevice(name: string, backend: unknown, onLost: (why: string) => void): void {
  if (name === 'webgpu') {
    type LostInfo = { reason?: string; message?: string };
    const device = (backend as { device?: { lost?: Promise<LostInfo> } }).device;
    void device?.lost?.then((info) => onLost(`the WebGPU device was lost (${info.reason ?? 'unknown'}${info.message ? `: ${info.message}` : ''})`));
  } else if (name === 'webgl') {
    const canvas = (backend as { gpgpu?: { gl?: { canvas?: EventTarget } } }).gpgpu?.gl?.canvas;
    canvas?.addEventListener?.('webglcontextlost', () => onLost('the WebGL context was lost'));
  }
}
