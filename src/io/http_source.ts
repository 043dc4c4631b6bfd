// One file on an HTTP server as a ByteSource: each read is one Range request, checked (status 206,
// the Content-Range asked for, the length asked for) so a proxy or server that mangles ranges
// fails loudly instead of handing the model wrong weights. A server that ignores Range (HTTP 200
// with the whole file) is handled by keeping that one full download as a Blob and slicing it.
import { ByteSource, ByteSourceError, checkRange } from './bytes';
import { CacheTee, Coverage } from './opfs_cache';

export interface HttpValidators {
  size: number;
  etag?: string;
  lastModified?: string;
}

export interface HttpSourceOptions {
  /** the fetch to use (default globalThis.fetch) */
  fetch?: typeof fetch;
  /** aborts requests in flight and later reads */
  signal?: AbortSignal;
  /** how many times a request that failed on the network is tried again (default 2) */
  retries?: number;
  /**
   * Where the bytes are also written as they arrive (the offline cache), asked for once the size
   * is known; undefined or a promise of undefined: not cached (default none)
   */
  tee?: (info: HttpValidators) => Promise<CacheTee | undefined>;
  /** bytes of the file fetched so far (distinct bytes), after each read */
  onProgress?: (loaded: number, total: number) => void;
  /** one-line notices (a server that ignores Range) (default none) */
  log?: (message: string) => void;
}

/** Why a request failed, in words, without a stack: the page shows this to a person. */
export function describeNetworkFailure(url: string, what: string, e: unknown): Error {
  if ((e as Error)?.name === 'AbortError') return e as Error;
  const nav = (globalThis as { navigator?: Navigator }).navigator;
  const why = nav?.onLine === false ? 'the browser is offline' : 'the server could not be reached or closed the connection';
  return new ByteSourceError(`${url}: network error while ${what} (${why}; ${(e as Error)?.message ?? String(e)})`);
}

export function httpStatusError(url: string, res: Response, what: string): ByteSourceError {
  return new ByteSourceError(`${url}: HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''} while ${what}`);
}

/** fetch, tried again on network failures (not on HTTP errors, which a retry will not change). */
export async function fetchRetrying(doFetch: typeof fetch, url: string, init: RequestInit, retries: number, what: string): Promise<Response> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await doFetch(url, init);
    } catch (e) {
      if ((e as Error)?.name === 'AbortError' || attempt >= retries) throw describeNetworkFailure(url, what, e);
      await new Promise((r) => setTimeout(r, 250 * (attempt + 1)));
    }
  }
}

function validatorsOf(res: Response, size: number): HttpValidators {
  const etag = res.headers.get('ETag') ?? undefined;
  const lastModified = res.headers.get('Last-Modified') ?? undefined;
  return { size, ...(etag ? { etag } : {}), ...(lastModified ? { lastModified } : {}) };
}

const CONTENT_RANGE = /^bytes (\d+)-(\d+)\/(\d+|\*)$/;

export class HttpByteSource implements ByteSource {
  private readonly coverage = new Coverage();
  private noticeGiven = false;

  private constructor(
    readonly label: string,
    readonly size: number,
    private readonly opts: HttpSourceOptions,
    private readonly cacheTee: CacheTee | undefined,
    /** the whole file, once a server has answered a Range request with all of it */
    private whole: Blob | undefined,
  ) {}

  /** Learn the size (HEAD, or the first Content-Range where HEAD says nothing), ready to read. */
  static async open(url: string, opts: HttpSourceOptions = {}): Promise<HttpByteSource> {
    const doFetch = opts.fetch ?? globalThis.fetch.bind(globalThis);
    const retries = opts.retries ?? 2;
    const init: RequestInit = { cache: 'no-store', signal: opts.signal };
    const head = await fetchRetrying(doFetch, url, { ...init, method: 'HEAD' }, retries, 'asking for its size');
    let validators: HttpValidators | undefined;
    let whole: Blob | undefined;
    const length = head.headers.get('Content-Length');
    const encoded = (head.headers.get('Content-Encoding') ?? 'identity') !== 'identity';
    if (head.ok && length !== null && /^\d+$/.test(length) && !encoded) {
      validators = validatorsOf(head, Number(length));
    } else if (head.status === 404 || head.status === 410 || head.status === 401 || head.status === 403) {
      throw httpStatusError(url, head, 'asking for its size');
    } else {
      // Some servers refuse HEAD or leave out the length: ask for one byte and read the total.
      const res = await fetchRetrying(doFetch, url, { ...init, headers: { Range: 'bytes=0-0' } }, retries, 'asking for its size');
      if (res.status === 206) {
        const m = CONTENT_RANGE.exec(res.headers.get('Content-Range') ?? '');
        if (!m || m[3] === '*') throw new ByteSourceError(`${url}: the server answered a Range request without the file size in Content-Range (${JSON.stringify(res.headers.get('Content-Range'))}); it cannot be read by range`);
        await res.arrayBuffer();
        validators = validatorsOf(res, Number(m[3]));
      } else if (res.status === 200) {
        whole = await res.blob().catch((e) => { throw describeNetworkFailure(url, 'downloading it', e); });
        validators = validatorsOf(res, whole.size);
      } else {
        throw httpStatusError(url, res, 'asking for its size');
      }
    }
    const tee = opts.tee ? await opts.tee(validators) : undefined;
    // An empty file is complete before any read.
    if (validators.size === 0) await tee?.write(0, new Uint8Array(0));
    const src = new HttpByteSource(url, validators.size, opts, tee, whole);
    if (whole) await src.adoptWhole(whole);
    return src;
  }

  private async adoptWhole(blob: Blob): Promise<void> {
    if (blob.size !== this.size) {
      throw new ByteSourceError(`${this.label}: the server ignored a Range request and sent ${blob.size} bytes, but the file has ${this.size}`);
    }
    this.whole = blob;
    if (!this.noticeGiven) {
      this.noticeGiven = true;
      this.opts.log?.(`${this.label}: the server ignores Range requests; using its one full download (${this.size} bytes)`);
    }
    await this.cacheTee?.write(0, blob);
    this.coverage.add(0, this.size);
    this.opts.onProgress?.(this.size, this.size);
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    checkRange(this, offset, length);
    if (length === 0) return new Uint8Array(0);
    if (this.whole) return new Uint8Array(await this.whole.slice(offset, offset + length).arrayBuffer());
    const end = offset + length - 1;
    const what = `reading bytes [${offset}, ${offset + length})`;
    const doFetch = this.opts.fetch ?? globalThis.fetch.bind(globalThis);
    const retries = this.opts.retries ?? 2;
    for (let attempt = 0; ; attempt++) {
      const res = await fetchRetrying(doFetch, this.label, { cache: 'no-store', signal: this.opts.signal, headers: { Range: `bytes=${offset}-${end}` } }, retries, what);
      if (res.status === 200) {
        const blob = await res.blob().catch((e) => { throw describeNetworkFailure(this.label, 'downloading it', e); });
        await this.adoptWhole(blob);
        return new Uint8Array(await blob.slice(offset, offset + length).arrayBuffer());
      }
      if (res.status !== 206) throw httpStatusError(this.label, res, what);
      const cr = res.headers.get('Content-Range');
      // Cross-origin servers must expose Content-Range (Access-Control-Expose-Headers); without it
      // only the length can be checked.
      if (cr !== null) {
        const m = CONTENT_RANGE.exec(cr);
        if (!m || Number(m[1]) !== offset || Number(m[2]) !== end) {
          throw new ByteSourceError(`${this.label}: asked for bytes ${offset}-${end} and the server answered with ${JSON.stringify(cr)}`);
        }
        if (m[3] !== '*' && Number(m[3]) !== this.size) {
          throw new ByteSourceError(`${this.label}: the file changed on the server while being read (it had ${this.size} bytes, now ${m[3]})`);
        }
      }
      let bytes: Uint8Array;
      try {
        bytes = new Uint8Array(await res.arrayBuffer());
      } catch (e) {
        // The body broke off mid-way: same as a failed request, so try again.
        if ((e as Error)?.name === 'AbortError' || attempt >= retries) throw describeNetworkFailure(this.label, what, e);
        continue;
      }
      if (bytes.length !== length) {
        throw new ByteSourceError(`${this.label}: asked for ${length} bytes at offset ${offset} and received ${bytes.length}`);
      }
      // Written before returning: the caller may reuse the array, and the write is what makes
      // the second visit work offline.
      await this.cacheTee?.write(offset, bytes);
      this.coverage.add(offset, offset + length);
      this.opts.onProgress?.(this.coverage.bytes, this.size);
      return bytes;
    }
  }

  /** Whether every byte has been written to the offline cache. */
  get cached(): boolean {
    return this.cacheTee?.committed ?? false;
  }

  close(): void {
    this.cacheTee?.abort();
  }
}
