// A fake Hugging Face Hub on 127.0.0.1 for the tests of src/io/hub.ts: the resolve endpoint as
// huggingface_hub's file_download.py expects it (X-Repo-Commit, ETag / X-Linked-Etag / X-Linked-Size,
// X-Error-Code on 4xx, relative redirects for renamed repos), a second server on another port standing in
// for the CDN that LFS files redirect to, a log of every request, and switches for the failures a client
// has to survive. Nothing here reaches beyond 127.0.0.1.
import { createHash } from 'crypto';
import * as http from 'http';
import type { AddressInfo } from 'net';

export interface FakeRepo {
  id: string;
  /** branch (or other ref, e.g. 'refs/pr/1') → file name → content; each branch gets its own commit */
  branches: Record<string, Record<string, Buffer | string>>;
  /** which files are LFS (served from the CDN); default: *.safetensors and *.bin */
  lfs?: (file: string) => boolean;
  /** private: every request needs `Authorization: Bearer <token>` */
  token?: string;
  /** gated: 403 GatedRepo unless the token is sent */
  gated?: boolean;
  /** this id was renamed: requests get a relative 307 to the new id */
  renamedTo?: string;
}

export interface LoggedRequest {
  server: 'hub' | 'cdn';
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
}

export interface Faults {
  /** The CDN sends this many body bytes of the blob, then drops the connection (or, with `hang`, goes silent); `times` answers are cut. */
  dropAfter: { sha256: string; bytes: number; times: number; hang?: boolean } | null;
  /** The CDN ignores Range and answers 200 with the whole blob. */
  ignoreRange: boolean;
  /** Blobs (by sha256) the CDN serves with their first byte inverted. */
  corrupt: Set<string>;
  /** Answer a Hub request with this status and headers instead (return undefined to serve it normally). */
  intercept: ((r: LoggedRequest) => { status: number; headers?: Record<string, string> } | undefined) | null;
}

interface StoredFile {
  content: Buffer;
  lfs: boolean;
  gitSha1: string;
  sha256: string;
}

interface StoredRepo {
  spec: FakeRepo;
  /** commit → files */
  commits: Map<string, Map<string, StoredFile>>;
  /** ref → commit */
  refs: Map<string, string>;
}

export const sha256Hex = (b: Buffer) => createHash('sha256').update(b).digest('hex');
/** The id git gives a blob (what the Hub sends as ETag for a regular file). */
export const gitBlobSha1 = (b: Buffer) => createHash('sha1').update(`blob ${b.length}\0`).update(b).digest('hex');

const defaultLfs = (f: string) => f.endsWith('.safetensors') || f.endsWith('.bin');

export class FakeHub {
  readonly requests: LoggedRequest[] = [];
  faults: Faults = FakeHub.noFaults();
  private readonly repos = new Map<string, StoredRepo>();
  private readonly blobs = new Map<string, Buffer>();
  private hubServer!: http.Server;
  private cdnServer!: http.Server;
  endpoint = '';
  cdnOrigin = '';

  static noFaults(): Faults {
    return { dropAfter: null, ignoreRange: false, corrupt: new Set(), intercept: null };
  }

  static async start(repos: FakeRepo[]): Promise<FakeHub> {
    const hub = new FakeHub();
    for (const r of repos) hub.addRepo(r);
    hub.hubServer = http.createServer((req, res) => hub.serveHub(req, res));
    hub.cdnServer = http.createServer((req, res) => hub.serveCdn(req, res));
    hub.endpoint = `http://127.0.0.1:${await listen(hub.hubServer)}`;
    hub.cdnOrigin = `http://127.0.0.1:${await listen(hub.cdnServer)}`;
    return hub;
  }

  private addRepo(spec: FakeRepo): void {
    const repo: StoredRepo = { spec, commits: new Map(), refs: new Map() };
    for (const [ref, files] of Object.entries(spec.branches)) {
      const stored = new Map<string, StoredFile>();
      const h = createHash('sha1').update(`${spec.id}\0${ref}`);
      for (const [name, c] of Object.entries(files)) {
        const content = Buffer.isBuffer(c) ? c : Buffer.from(c, 'utf8');
        const f: StoredFile = { content, lfs: (spec.lfs ?? defaultLfs)(name), gitSha1: gitBlobSha1(content), sha256: sha256Hex(content) };
        stored.set(name, f);
        if (f.lfs) this.blobs.set(f.sha256, content);
        h.update(`\0${name}\0${f.gitSha1}`);
      }
      const commit = h.digest('hex');
      repo.commits.set(commit, stored);
      repo.refs.set(ref, commit);
    }
    this.repos.set(spec.id, repo);
  }

  /** The commit a ref of a repo resolves to. */
  commit(repoId: string, ref = 'main'): string {
    const c = this.repos.get(repoId)?.refs.get(ref);
    if (!c) throw new Error(`fake hub: no ref ${ref} in ${repoId}`);
    return c;
  }

  /** The file as served at a ref. */
  file(repoId: string, name: string, ref = 'main'): StoredFile {
    const f = this.repos.get(repoId)?.commits.get(this.commit(repoId, ref))?.get(name);
    if (!f) throw new Error(`fake hub: no ${name} in ${repoId}@${ref}`);
    return f;
  }

  count(filter: Partial<Pick<LoggedRequest, 'server' | 'method'>> = {}): number {
    return this.requests.filter((r) => (!filter.server || r.server === filter.server) && (!filter.method || r.method === filter.method)).length;
  }

  reset(): void {
    this.requests.length = 0;
    this.faults = FakeHub.noFaults();
  }

  async close(): Promise<void> {
    for (const s of [this.hubServer, this.cdnServer]) {
      s.closeAllConnections();
      await new Promise<void>((resolve) => s.close(() => resolve()));
    }
  }

  private log(server: 'hub' | 'cdn', req: http.IncomingMessage): LoggedRequest {
    const r: LoggedRequest = { server, method: req.method ?? '', path: req.url ?? '', headers: req.headers };
    this.requests.push(r);
    return r;
  }

  private serveHub(req: http.IncomingMessage, res: http.ServerResponse): void {
    const logged = this.log('hub', req);
    const override = this.faults.intercept?.(logged);
    if (override) {
      res.writeHead(override.status, override.headers ?? {});
      res.end();
      return;
    }
    const url = new URL(req.url ?? '/', this.endpoint);
    const segs = url.pathname.split('/').slice(1);
    const at = segs.indexOf('resolve');
    if (at < 1 || segs.length < at + 3) return void end(res, 404, {});
    const repoId = segs.slice(0, at).map(decodeURIComponent).join('/');
    const revision = decodeURIComponent(segs[at + 1]);
    const file = segs.slice(at + 2).map(decodeURIComponent).join('/');
    const repo = this.repos.get(repoId);
    if (!repo) return void end(res, 404, { 'X-Error-Code': 'RepoNotFound', 'X-Error-Message': 'Repository not found' });
    if (repo.spec.renamedTo) {
      return void end(res, 307, { Location: `/${repo.spec.renamedTo}/${segs.slice(at).join('/')}` });
    }
    const auth = req.headers.authorization;
    const authorised = repo.spec.token !== undefined && auth === `Bearer ${repo.spec.token}`;
    if (repo.spec.token !== undefined && !authorised) {
      if (repo.spec.gated) {
        return void end(res, 403, { 'X-Error-Code': 'GatedRepo', 'X-Error-Message': `Access to model ${repoId} is restricted.` });
      }
      return void end(res, 401, auth ? { 'X-Error-Message': 'Invalid credentials in Authorization header' } : { 'X-Error-Code': 'RepoNotFound', 'X-Error-Message': 'Repository not found' });
    }
    const commit = repo.refs.get(revision) ?? (repo.commits.has(revision) ? revision : undefined);
    if (!commit) return void end(res, 404, { 'X-Error-Code': 'RevisionNotFound', 'X-Error-Message': 'Invalid rev id: ' + revision });
    const f = repo.commits.get(commit)!.get(file);
    if (!f) return void end(res, 404, { 'X-Error-Code': 'EntryNotFound', 'X-Error-Message': 'Entry not found', 'X-Repo-Commit': commit });
    if (f.lfs) {
      const pointer = Buffer.from(`version https://git-lfs.github.com/spec/v1\noid sha256:${f.sha256}\nsize ${f.content.length}\n`);
      res.writeHead(302, {
        Location: `${this.cdnOrigin}/lfs/${f.sha256}?X-Signature=fake`,
        'X-Repo-Commit': commit,
        'X-Linked-Etag': `"${f.sha256}"`,
        'X-Linked-Size': String(f.content.length),
        ETag: `"${gitBlobSha1(pointer)}"`,
        'Content-Length': '0',
      });
      res.end();
      return;
    }
    sendBytes(req, res, f.content, { ETag: `"${f.gitSha1}"`, 'X-Repo-Commit': commit }, null, false);
  }

  private serveCdn(req: http.IncomingMessage, res: http.ServerResponse): void {
    this.log('cdn', req);
    const m = /^\/lfs\/([0-9a-f]{64})(\?|$)/.exec(req.url ?? '');
    const blob = m ? this.blobs.get(m[1]) : undefined;
    if (!m || !blob) return void end(res, 404, {});
    let content = blob;
    if (this.faults.corrupt.has(m[1])) {
      content = Buffer.from(blob);
      content[0] ^= 0xff;
    }
    let drop: { bytes: number; hang: boolean } | null = null;
    const d = this.faults.dropAfter;
    if (d && d.sha256 === m[1] && d.times > 0) {
      d.times--;
      drop = { bytes: d.bytes, hang: d.hang ?? false };
    }
    sendBytes(req, res, content, { ETag: `"${m[1]}"` }, drop, this.faults.ignoreRange);
  }
}

function listen(s: http.Server): Promise<number> {
  return new Promise((resolve) => s.listen(0, '127.0.0.1', () => resolve((s.address() as AddressInfo).port)));
}

function end(res: http.ServerResponse, status: number, headers: Record<string, string>): void {
  res.writeHead(status, { 'Content-Length': '0', ...headers });
  res.end();
}

/** 200 or 206 (for `Range: bytes=a-`), HEAD without body; `drop`: send that many body bytes, then cut the connection or hang. */
function sendBytes(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  content: Buffer,
  headers: Record<string, string>,
  drop: { bytes: number; hang: boolean } | null,
  ignoreRange: boolean,
): void {
  let body = content;
  let status = 200;
  const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
  if (range && !ignoreRange) {
    const from = Number(range[1]);
    if (from >= content.length) return void end(res, 416, { 'Content-Range': `bytes */${content.length}` });
    body = content.subarray(from);
    status = 206;
    headers = { ...headers, 'Content-Range': `bytes ${from}-${content.length - 1}/${content.length}` };
  }
  res.writeHead(status, { ...headers, 'Content-Length': String(body.length), 'Accept-Ranges': 'bytes', 'Content-Type': 'application/octet-stream' });
  if (req.method === 'HEAD') return void res.end();
  if (drop !== null) {
    // A hung answer is left open; FakeHub.close() ends it with closeAllConnections().
    res.write(body.subarray(0, drop.bytes), () => (drop.hang ? undefined : res.socket?.destroy()));
    return;
  }
  res.end(body);
}

/** A port on 127.0.0.1 with nothing listening (connections are refused at once). */
export async function closedPort(): Promise<number> {
  const s = http.createServer();
  const port = await listen(s);
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}
