// A model folder served over HTTP (a URL prefix): small files by fetch, weights by Range requests.
// Every file read completely is kept in the OPFS cache (opfs_cache.ts says why OPFS), and a later
// visit reads it from there without the network. Cached files are served first, without asking
// the server whether they changed: model files at a fixed URL are meant to be immutable (a Hub
// revision), and asking would make an offline visit wait for a request that cannot succeed.
// clearModelCache() forgets them.
import { BlobByteSource } from './blob_source';
import { ByteSource } from './bytes';
import { checkRelativeName, FolderLocation, ModelFolder, ModelFolderError, stripBom } from './folder';
import { describeNetworkFailure, fetchRetrying, httpStatusError, HttpByteSource } from './http_source';
import { DEFAULT_CACHE_DIR, OpfsCache } from './opfs_cache';

export interface UrlFolderOptions {
  /** keep files read completely in OPFS so a later visit loads offline (default true; off where OPFS is missing) */
  cache?: boolean;
  /** the OPFS folder of the cache (default 'clvp-tfjs-cache') */
  cacheDir?: string;
  /** the fetch to use (default globalThis.fetch) */
  fetch?: typeof fetch;
  /** aborts requests in flight */
  signal?: AbortSignal;
  /** network failures retried per request (default 2) */
  retries?: number;
  /** download progress per file (bytes fetched from the network; cached files report nothing) */
  onProgress?: (p: { file: string; loaded: number; total: number | null }) => void;
  /** notices: a server without Range support, a cache that could not be written (default none) */
  log?: (message: string) => void;
}

/**
 * A folder URL with exactly one trailing slash, so relative names resolve inside it; a relative
 * `url` resolves against `base` (default: the page, or the worker's script).
 */
export function folderUrl(url: string, base?: string): string {
  const g = globalThis as { document?: Document; location?: Location };
  const u = new URL(url, base ?? g.document?.baseURI ?? g.location?.href);
  u.search = '';
  u.hash = '';
  if (!u.pathname.endsWith('/')) u.pathname += '/';
  return u.href;
}

export class UrlFolder implements ModelFolder {
  readonly location: FolderLocation;
  readonly label: string;
  private cache: Promise<OpfsCache | null> | undefined;

  /** `base`: the folder's URL, relative ones against the page (a trailing slash is added when missing). */
  constructor(base: string, private readonly opts: UrlFolderOptions = {}) {
    const href = folderUrl(base);
    this.location = { kind: 'url', base: href };
    this.label = href.slice(0, -1);
  }

  /** The absolute URL of a file in the folder (each path segment percent-encoded). */
  urlOf(name: string): string {
    checkRelativeName(name, this.label);
    return new URL(name.split('/').map(encodeURIComponent).join('/'), this.location.kind === 'url' ? this.location.base : undefined).href;
  }

  private openCache(): Promise<OpfsCache | null> {
    if (this.opts.cache === false) return Promise.resolve(null);
    this.cache ??= OpfsCache.open(this.opts.cacheDir ?? DEFAULT_CACHE_DIR);
    return this.cache;
  }

  private get doFetch(): typeof fetch {
    return this.opts.fetch ?? globalThis.fetch.bind(globalThis);
  }

  private warnCache(url: string, e: Error): void {
    this.opts.log?.(`${url}: not kept for offline use (${e.message})`);
  }

  async has(name: string): Promise<boolean> {
    const url = this.urlOf(name);
    const cache = await this.openCache();
    const hit = await cache?.lookup(url);
    if (hit?.state === 'file') return true;
    let res: Response;
    try {
      res = await fetchRetrying(this.doFetch, url, { method: 'HEAD', cache: 'no-store', signal: this.opts.signal }, this.opts.retries ?? 2, 'checking that it exists');
    } catch (e) {
      // Offline: a 404 remembered from an earlier visit still answers.
      if (hit?.state === 'absent') return false;
      throw e;
    }
    if (res.ok) return true;
    if (res.status === 404 || res.status === 410) {
      await cache?.markAbsent(url).catch(() => {});
      return false;
    }
    throw httpStatusError(url, res, 'checking that it exists');
  }

  /** The whole file's bytes (config and tokenizer files), from the cache or the network. */
  async readBytes(name: string): Promise<Uint8Array> {
    const url = this.urlOf(name);
    const cache = await this.openCache();
    const hit = await cache?.lookup(url);
    if (hit?.state === 'file') return new BlobByteSource(url, hit.file).read(0, hit.file.size);
    let res: Response;
    try {
      res = await fetchRetrying(this.doFetch, url, { cache: 'no-store', signal: this.opts.signal }, this.opts.retries ?? 2, 'downloading it');
    } catch (e) {
      throw new ModelFolderError(`${(e as Error).message}${cache ? '; it is not in the offline cache either' : ''}`);
    }
    if (!res.ok) throw new ModelFolderError(httpStatusError(url, res, 'downloading it').message);
    let bytes: Uint8Array;
    try {
      bytes = new Uint8Array(await res.arrayBuffer());
    } catch (e) {
      throw new ModelFolderError(describeNetworkFailure(url, 'downloading it', e).message);
    }
    this.opts.onProgress?.({ file: name, loaded: bytes.length, total: bytes.length });
    if (cache) {
      await cache.storeWhole({ url, storedAt: Date.now(), ...validators(res) }, bytes).catch((e) => this.warnCache(url, e as Error));
    }
    return bytes;
  }

  async readText(name: string): Promise<string> {
    return stripBom(new TextDecoder().decode(await this.readBytes(name)));
  }

  async open(name: string): Promise<ByteSource> {
    const url = this.urlOf(name);
    const cache = await this.openCache();
    const hit = await cache?.lookup(url);
    if (hit?.state === 'file') return new BlobByteSource(url, hit.file);
    try {
      return await HttpByteSource.open(url, {
        fetch: this.opts.fetch,
        signal: this.opts.signal,
        retries: this.opts.retries,
        log: this.opts.log,
        onProgress: this.opts.onProgress && ((loaded, total) => this.opts.onProgress!({ file: name, loaded, total })),
        tee: cache ? (v) => cache.tee({ url, state: 'file', storedAt: Date.now(), ...v }, (e) => this.warnCache(url, e)).catch((e) => {
          this.warnCache(url, e as Error);
          return undefined;
        }) : undefined,
      });
    } catch (e) {
      if ((e as Error)?.name === 'AbortError') throw e;
      throw new ModelFolderError(`${(e as Error).message}${cache && /network error/.test((e as Error).message) ? '; it is not in the offline cache either' : ''}`);
    }
  }
}

function validators(res: Response): { etag?: string; lastModified?: string } {
  const etag = res.headers.get('ETag');
  const lastModified = res.headers.get('Last-Modified');
  return { ...(etag ? { etag } : {}), ...(lastModified ? { lastModified } : {}) };
}

/** Forget every model file kept for offline use (in the default cache folder unless named). */
export async function clearModelCache(cacheDir: string = DEFAULT_CACHE_DIR): Promise<void> {
  const cache = await OpfsCache.open(cacheDir);
  await cache?.clear();
}
