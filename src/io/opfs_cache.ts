// Model files kept in the origin private file system (OPFS) so a second visit loads without the
// network. OPFS rather than Cache Storage: weights are read by range, in whatever order the loader
// needs, and an OPFS writable accepts writes at any position, so the ranges can be written into the
// cache file as they arrive and no byte is downloaded twice; Cache Storage only stores whole
// responses, which would mean either a second full download or holding every range until the end.
// Reading back is File.slice on the committed file, which touches only the bytes asked for.
//
// A file enters the cache only once every byte of it has been seen: the writable's data goes to a
// swap file that the browser swaps in atomically on close(), and the metadata that marks an entry
// complete is written after that, so a visit that ends half-way leaves nothing that looks complete.

/** What the cache records about one URL. */
export interface CacheMeta {
  url: string;
  /** 'file': the bytes are in the data file; 'absent': the server said 404 (used only offline) */
  state: 'file' | 'absent';
  size?: number;
  etag?: string;
  lastModified?: string;
  /** when it was stored (ms since the epoch) */
  storedAt: number;
}

export type CacheHit = { state: 'file'; file: File; meta: CacheMeta } | { state: 'absent'; meta: CacheMeta };

/** The default OPFS folder for clvp-tfjs's cache. */
export const DEFAULT_CACHE_DIR = 'clvp-tfjs-cache';

/** A 64-bit FNV-1a of the URL as hex: a file name that any URL maps to (the URL is checked on lookup). */
function keyOf(url: string): string {
  let h1 = 0x811c9dc5;
  let h2 = 0x01000193 ^ url.length;
  for (let i = 0; i < url.length; i++) {
    const c = url.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 0x01000193) >>> 0;
    h2 = Math.imul(h2 ^ c, 0x5bd1e995) >>> 0;
  }
  return h1.toString(16).padStart(8, '0') + h2.toString(16).padStart(8, '0');
}

/** Byte intervals seen so far, kept sorted and merged: [start, end) pairs. */
export class Coverage {
  private spans: Array<[number, number]> = [];

  add(start: number, end: number): void {
    if (end <= start) return;
    const out: Array<[number, number]> = [];
    let s = start;
    let e = end;
    for (const [a, b] of this.spans) {
      if (b < s || a > e) out.push([a, b]);
      else {
        s = Math.min(s, a);
        e = Math.max(e, b);
      }
    }
    out.push([s, e]);
    out.sort((x, y) => x[0] - y[0]);
    this.spans = out;
  }

  /** Whether [start, end) is already covered (no need to write it again). */
  covers(start: number, end: number): boolean {
    return this.spans.some(([a, b]) => a <= start && end <= b);
  }

  get bytes(): number {
    return this.spans.reduce((n, [a, b]) => n + (b - a), 0);
  }

  isComplete(size: number): boolean {
    return size === 0 || (this.spans.length === 1 && this.spans[0][0] === 0 && this.spans[0][1] >= size);
  }
}

/**
 * Writes the ranges of one file into the cache as they are downloaded; commits the file when the
 * last missing byte arrives. Writes are queued one after another (a writable takes one at a time).
 */
export class CacheTee {
  readonly coverage = new Coverage();
  private queue: Promise<void> = Promise.resolve();
  private state: 'open' | 'committed' | 'failed' | 'aborted' = 'open';

  constructor(
    private readonly cache: OpfsCache,
    private readonly meta: CacheMeta,
    private readonly writable: FileSystemWritableFileStream,
    private readonly onError: (e: Error) => void,
  ) {}

  get committed(): boolean {
    return this.state === 'committed';
  }

  /** Record bytes [position, position + data.length); resolves once written (and committed, if that was the last gap). */
  write(position: number, data: Uint8Array | Blob): Promise<void> {
    const length = data instanceof Blob ? data.size : data.length;
    if (this.state !== 'open' || this.coverage.covers(position, position + length)) return this.queue;
    this.queue = this.queue.then(async () => {
      if (this.state !== 'open') return;
      try {
        await this.writable.write({ type: 'write', position, data: data as BufferSource | Blob });
        this.coverage.add(position, position + length);
        if (this.coverage.isComplete(this.meta.size ?? 0)) {
          await this.writable.close();
          this.state = 'committed';
          await this.cache.writeMeta(this.meta);
        }
      } catch (e) {
        // A full disk or a revoked permission must not fail the read: the file just stays uncached.
        this.state = 'failed';
        this.writable.abort().catch(() => {});
        this.onError(e as Error);
      }
    });
    return this.queue;
  }

  /** Drop an unfinished file (its swap data is discarded; nothing is committed). */
  abort(): void {
    if (this.state !== 'open') return;
    this.state = 'aborted';
    this.queue = this.queue.then(() => this.writable.abort().catch(() => {}));
  }
}

export class OpfsCache {
  private constructor(private readonly dir: FileSystemDirectoryHandle) {}

  /** The cache folder, or null where OPFS is unavailable (old browsers, some private modes). */
  static async open(dirName: string = DEFAULT_CACHE_DIR): Promise<OpfsCache | null> {
    try {
      const nav = (globalThis as { navigator?: Navigator }).navigator;
      if (!nav?.storage?.getDirectory) return null;
      const root = await nav.storage.getDirectory();
      return new OpfsCache(await root.getDirectoryHandle(dirName, { create: true }));
    } catch {
      return null;
    }
  }

  /** Ask the browser not to evict the cache under storage pressure; whether it agreed. */
  static async persist(): Promise<boolean> {
    const nav = (globalThis as { navigator?: Navigator }).navigator;
    return (await nav?.storage?.persist?.().catch(() => false)) ?? false;
  }

  private async readMeta(url: string): Promise<CacheMeta | undefined> {
    try {
      const f = await (await this.dir.getFileHandle(`${keyOf(url)}.json`)).getFile();
      const meta = JSON.parse(await f.text()) as CacheMeta;
      return meta.url === url ? meta : undefined;
    } catch {
      return undefined;
    }
  }

  /** @internal written by CacheTee after its data file is committed */
  async writeMeta(meta: CacheMeta): Promise<void> {
    const w = await (await this.dir.getFileHandle(`${keyOf(meta.url)}.json`, { create: true })).createWritable();
    await w.write(JSON.stringify(meta));
    await w.close();
  }

  /** What is stored for a URL: a complete file, a remembered 404, or undefined. */
  async lookup(url: string): Promise<CacheHit | undefined> {
    const meta = await this.readMeta(url);
    if (!meta) return undefined;
    if (meta.state === 'absent') return { state: 'absent', meta };
    try {
      const file = await (await this.dir.getFileHandle(`${keyOf(url)}.data`)).getFile();
      if (file.size === meta.size) return { state: 'file', file, meta };
    } catch {
      // metadata without its data: fall through and forget both
    }
    await this.delete(url);
    return undefined;
  }

  /** Start caching a file of `meta.size` bytes that will arrive in pieces. */
  async tee(meta: CacheMeta, onError: (e: Error) => void): Promise<CacheTee> {
    // An older entry may stay until the commit: the writable fills a swap file, and the data file
    // changes only when every byte is there (another tab or a worker may be reading it meanwhile).
    const handle = await this.dir.getFileHandle(`${keyOf(meta.url)}.data`, { create: true });
    const writable = await handle.createWritable({ keepExistingData: false });
    return new CacheTee(this, { ...meta, state: 'file' }, writable, onError);
  }

  /** Store a whole file at once (small files read in one go). */
  async storeWhole(meta: Omit<CacheMeta, 'state' | 'size'>, data: Uint8Array): Promise<void> {
    let failure: Error | undefined;
    const t = await this.tee({ ...meta, state: 'file', size: data.length }, (e) => (failure = e));
    await t.write(0, data);
    if (failure) throw failure;
  }

  /** Remember that the server has no such file, for has() while offline. */
  async markAbsent(url: string): Promise<void> {
    await this.delete(url);
    await this.writeMeta({ url, state: 'absent', storedAt: Date.now() });
  }

  async delete(url: string): Promise<void> {
    await this.removeEntry(`${keyOf(url)}.json`);
    await this.removeEntry(`${keyOf(url)}.data`);
  }

  private async removeEntry(name: string): Promise<void> {
    try {
      await this.dir.removeEntry(name);
    } catch {
      // not there
    }
  }

  /** Remove every cached file of every model. */
  async clear(): Promise<void> {
    const names: string[] = [];
    for await (const name of (this.dir as unknown as { keys(): AsyncIterable<string> }).keys()) names.push(name);
    for (const n of names) await this.removeEntry(n);
  }
}
