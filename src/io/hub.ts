// Hugging Face Hub downloads into huggingface_hub's cache, following huggingface_hub file_download.py
// (hf_hub_download → _hf_hub_download_to_cache_dir, get_hf_file_metadata, http_get, _create_symlink,
// try_to_load_from_cache), constants.py (cache folders, HF_* variables) and utils/_http.py (hf_raise_for_status).
// The layout on disk is the Python one, so a model fetched here is found by transformers and the other way round:
//   {cache}/models--{org}--{name}/blobs/{etag}                      the bytes, named by git sha1 or LFS sha256
//   {cache}/models--{org}--{name}/snapshots/{commit}/{file}        relative symlink to ../../blobs/{etag}
//   {cache}/models--{org}--{name}/refs/{revision}                  the commit a branch or tag pointed to
//   {cache}/models--{org}--{name}/.no_exist/{commit}/{file}        the Hub said the file is absent at that commit
// HTTP goes through Node's built-in fetch (undici): it streams, takes an AbortSignal, and with redirect 'manual'
// hands back the 3xx itself, which is all the HEAD step needs; no dependency is added.
import { WEIGHT_FILES } from './folder';
import { createHash, Hash } from 'crypto';
import * as fs from 'fs';
import * as fsp from 'fs/promises';
import * as os from 'os';
import * as path from 'path';

export type HubErrorKind =
  /** a bad repo id, file name, revision or option */
  | 'invalid'
  /** offline (or cache-only after a network failure) and the file is not in the cache */
  | 'not-cached'
  /** 401: missing / private / gated repo without an accepted token */
  | 'unauthorized'
  /** the Hub says the repository does not exist (X-Error-Code RepoNotFound) */
  | 'repo-not-found'
  /** 403 with X-Error-Code GatedRepo: access has to be requested on the model page */
  | 'gated'
  /** 403 otherwise: the token lacks a permission */
  | 'forbidden'
  | 'revision-not-found'
  | 'entry-not-found'
  /** any other HTTP status */
  | 'http'
  /** could not connect, connection lost, timed out */
  | 'network'
  /** the server's answer is not the Hub protocol (no X-Repo-Commit / ETag / size, malformed index) */
  | 'protocol'
  /** downloaded bytes do not hash to the LFS sha256 */
  | 'checksum'
  /** downloaded size differs from the announced one */
  | 'size'
  | 'no-weights'
  | 'aborted'
  /** the cache folder could not be written */
  | 'io';

/** Every failure of this module: the message names the repo, the file, the revision and the HTTP status if any. */
export class HubError extends Error {
  override readonly name = 'HubError';
  constructor(
    message: string,
    readonly kind: HubErrorKind,
    readonly repoId: string,
    readonly file: string | null,
    readonly revision: string,
    readonly status: number | null = null,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export interface HubProgress {
  /** the file's name in the repo */
  file: string;
  /** bytes on disk so far, including bytes kept from an earlier, interrupted download */
  loaded: number;
  /** the size the Hub announced, or null when it did not say */
  total: number | null;
}

export interface HubOptions {
  /** Branch, tag or 40-hex commit. Default 'main'. */
  revision?: string;
  /** Default: HF_HUB_CACHE, else HUGGINGFACE_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub (see hubCacheDir). */
  cacheDir?: string;
  /** Default: HF_ENDPOINT, else https://huggingface.co (a trailing '/' is dropped). */
  endpoint?: string;
  /** Sent as `Authorization: Bearer …` to the Hub (never to the CDN). Default: HF_TOKEN, else HUGGING_FACE_HUB_TOKEN; null: never send one. */
  token?: string | null;
  /** Use the cache only and never touch the network. Default: HF_HUB_OFFLINE (or TRANSFORMERS_OFFLINE) set to 1/ON/YES/TRUE. */
  offline?: boolean;
  /** Byte progress of each download (at most every 100 ms, plus a last event with loaded == total). Not called for cache hits. */
  onProgress?: (p: HubProgress) => void;
  /** Cancels requests and downloads; a partial download is kept and resumed by the next call. */
  signal?: AbortSignal;
}

// ---------------------------------------------------------------- settings (read at call time, not import time)

const TRUE_VALUES = new Set(['1', 'ON', 'YES', 'TRUE']);
const COMMIT_RE = /^[0-9a-f]{40}$/;
const SHA256_RE = /^[0-9a-f]{64}$/;
const DEFAULT_ENDPOINT = 'https://huggingface.co';
const PROGRESS_INTERVAL_MS = 100;
const MAX_RELATIVE_REDIRECTS = 10;

/** Python's `_is_true` on an environment value. */
function envTrue(v: string | undefined): boolean {
  return v !== undefined && TRUE_VALUES.has(v.toUpperCase());
}

/** An unset or empty variable is "not given" (Python would take '' literally and cache under ./hub). */
function envValue(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const v = env[name];
  return v === undefined || v === '' ? undefined : v;
}

/** os.path.expanduser for the '~' and '~/…' forms (Python posixpath reads HOME first). */
function expandUser(p: string, env: NodeJS.ProcessEnv): string {
  if (p !== '~' && !p.startsWith('~/')) return p;
  return (envValue(env, 'HOME') ?? os.homedir()) + p.slice(1);
}

/** os.path.expandvars (posix): $NAME and ${NAME}; unknown names stay as written. */
function expandVars(p: string, env: NodeJS.ProcessEnv): string {
  return p.replace(/\$(\w+|\{[^}]*\})/g, (whole, name: string) => {
    const key = name.startsWith('{') ? name.slice(1, -1) : name;
    const v = env[key];
    return v === undefined ? whole : v;
  });
}

/** The hub cache folder huggingface_hub would use under this environment (constants.HF_HUB_CACHE). */
export function hubCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const expand = (p: string) => expandVars(expandUser(p, env), env);
  const xdg = envValue(env, 'XDG_CACHE_HOME') ?? path.join(envValue(env, 'HOME') ?? os.homedir(), '.cache');
  const hfHome = expand(envValue(env, 'HF_HOME') ?? path.join(xdg, 'huggingface'));
  return expand(envValue(env, 'HF_HUB_CACHE') ?? envValue(env, 'HUGGINGFACE_HUB_CACHE') ?? path.join(hfHome, 'hub'));
}

/** A repo id as huggingface_hub's validate_repo_id accepts it: 'name' or 'namespace/name'. */
export function isHubRepoId(s: string): boolean {
  if (typeof s !== 'string' || s.split('/').length > 2) return false;
  // Word boundaries make both parts start and end with [A-Za-z0-9_]; the name part is at most 96 characters.
  if (!/^(\b[\w\-.]+\b\/)?\b[\w\-.]{1,96}\b$/.test(s)) return false;
  return !s.includes('--') && !s.includes('..') && !s.endsWith('.git');
}

interface Settings {
  repoId: string;
  storage: string;
  endpoint: string;
  token: string | null;
  offline: boolean;
  onProgress?: (p: HubProgress) => void;
  signal?: AbortSignal;
  headTimeoutMs: number;
  readTimeoutMs: number;
}

function seconds(v: string | undefined, dflt: number): number {
  const n = v === undefined ? NaN : Number(v);
  return (Number.isFinite(n) && n > 0 ? n : dflt) * 1000;
}

function settings(repoId: string, revision: string, opts: HubOptions): Settings {
  const env = process.env;
  if (!isHubRepoId(repoId)) {
    throw new HubError(
      `${JSON.stringify(repoId)} is not a Hub repo id ('name' or 'org/name': letters, digits, '-', '_', '.'; no '--' or '..')`,
      'invalid', String(repoId), null, revision,
    );
  }
  checkRevision(repoId, revision);
  let token: string | null;
  if (opts.token === null) token = null;
  else if (opts.token !== undefined) token = opts.token;
  else if (envTrue(env.HF_HUB_DISABLE_IMPLICIT_TOKEN)) token = null;
  else token = envValue(env, 'HF_TOKEN') ?? envValue(env, 'HUGGING_FACE_HUB_TOKEN') ?? null;
  // Python: `HF_HUB_OFFLINE or TRANSFORMERS_OFFLINE`, so HF_HUB_OFFLINE=0 wins over TRANSFORMERS_OFFLINE=1.
  const offline = opts.offline ?? envTrue(envValue(env, 'HF_HUB_OFFLINE') ?? envValue(env, 'TRANSFORMERS_OFFLINE'));
  return {
    repoId,
    storage: path.join(opts.cacheDir ?? hubCacheDir(env), 'models--' + repoId.split('/').join('--')),
    endpoint: (opts.endpoint ?? envValue(env, 'HF_ENDPOINT') ?? DEFAULT_ENDPOINT).replace(/\/+$/, ''),
    token,
    offline,
    onProgress: opts.onProgress,
    signal: opts.signal,
    headTimeoutMs: seconds(env.HF_HUB_ETAG_TIMEOUT, 10),
    readTimeoutMs: seconds(env.HF_HUB_DOWNLOAD_TIMEOUT, 10),
  };
}

// ---------------------------------------------------------------- names and paths

/** Relative, '/'-separated, no '.' / '..' / empty segments: the name becomes a path under snapshots/ and refs/. */
function isSafeRelative(name: string): boolean {
  return (
    typeof name === 'string' && name !== '' && !name.startsWith('/') && !name.includes('\\') && !name.includes('\0') &&
    name.split('/').every((p) => p !== '' && p !== '.' && p !== '..')
  );
}

function checkFileName(repoId: string, file: string, revision: string, what = 'file name'): void {
  if (!isSafeRelative(file)) {
    throw new HubError(`${repoId}: bad ${what} ${JSON.stringify(file)} (expected a relative path inside the repo, without '..')`, 'invalid', repoId, file, revision);
  }
}

function checkRevision(repoId: string, revision: string): void {
  // Branch names such as 'refs/pr/1' nest under refs/, exactly as Python's Path(storage) / "refs" / revision does.
  if (!isSafeRelative(revision)) {
    throw new HubError(`${repoId}: bad revision ${JSON.stringify(revision)}`, 'invalid', repoId, null, String(revision));
  }
}

/** Python's urllib.parse.quote: everything but letters, digits, '_.-~' (and '/' unless encoding a whole segment). */
function quote(s: string, keepSlash: boolean): string {
  const q = encodeURIComponent(s).replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());
  return keepSlash ? q.replace(/%2F/g, '/') : q;
}

function resolveUrl(st: Settings, revision: string, file: string): string {
  return `${st.endpoint}/${st.repoId}/resolve/${quote(revision, false)}/${quote(file, true)}`;
}

const snapshotDir = (st: Settings, commit: string) => path.join(st.storage, 'snapshots', commit);
const pointerPath = (st: Settings, commit: string, file: string) => path.join(snapshotDir(st, commit), ...file.split('/'));
const noExistPath = (st: Settings, commit: string, file: string) => path.join(st.storage, '.no_exist', commit, ...file.split('/'));
const refPath = (st: Settings, revision: string) => path.join(st.storage, 'refs', ...revision.split('/'));

/** Like os.path.exists: follows the symlink, so a snapshot entry whose blob was deleted counts as missing. */
function exists(p: string): boolean {
  return fs.existsSync(p);
}

function isFile(p: string): boolean {
  try {
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
}

/** The commit a revision stands for in the cache: itself when it is a commit, else refs/{revision}. */
function cachedCommit(st: Settings, revision: string): string | null {
  if (COMMIT_RE.test(revision)) return revision;
  try {
    const c = fs.readFileSync(refPath(st, revision), 'utf8').trim();
    return isSafeRelative(c) && !c.includes('/') ? c : null;
  } catch {
    return null;
  }
}

function normalizeEtag(etag: string | null): string | null {
  if (etag === null) return null;
  return etag.replace(/^W\//, '').replace(/^"+|"+$/g, '');
}

// ---------------------------------------------------------------- errors

function where(st: Settings, file: string | null, revision: string): string {
  return `${st.repoId}${file === null ? '' : ': ' + file} (revision ${revision})`;
}

function fail(st: Settings, file: string | null, revision: string, kind: HubErrorKind, what: string, status: number | null = null, cause?: unknown): HubError {
  return new HubError(`${where(st, file, revision)}: ${what}`, kind, st.repoId, file, revision, status, cause === undefined ? undefined : { cause });
}

/** hf_raise_for_status, as one HubError per case with a hint at what to do. */
function httpError(st: Settings, file: string, revision: string, res: Response, url: string): HubError {
  const code = res.headers.get('x-error-code');
  const serverMessage = res.headers.get('x-error-message');
  const s = res.status;
  const tail = ` (HTTP ${s}${code ? ' ' + code : ''}) at ${url}${serverMessage ? ` — server says: ${serverMessage}` : ''}`;
  const tokenHint = st.token === null
    ? 'set HF_TOKEN to a token with read access'
    : 'the token that was sent is not accepted for this repo (check HF_TOKEN)';
  if (code === 'RevisionNotFound') return fail(st, file, revision, 'revision-not-found', `revision ${JSON.stringify(revision)} does not exist in the repo${tail}`, s);
  if (code === 'EntryNotFound') return fail(st, file, revision, 'entry-not-found', `the repo has no file ${JSON.stringify(file)} at this revision${tail}`, s);
  if (code === 'GatedRepo') {
    return fail(st, file, revision, 'gated', `gated repository: request access on ${st.endpoint}/${st.repoId}, then ${tokenHint}${tail}`, s);
  }
  if (s === 401) return fail(st, file, revision, 'unauthorized', `repository not found or needs a token: ${tokenHint}${tail}`, s);
  // The Hub sends 'RepoNotFound'; 'RepositoryNotFound' is accepted too.
  if (code === 'RepoNotFound' || code === 'RepositoryNotFound') {
    return fail(st, file, revision, 'repo-not-found', `repository not found; check the id, or if it is private ${tokenHint}${tail}`, s);
  }
  if (s === 403) return fail(st, file, revision, 'forbidden', `access forbidden: the token lacks the permission to read this repo${tail}`, s);
  return fail(st, file, revision, 'http', `request failed: ${s} ${res.statusText}${tail}`, s);
}

/** A fetch rejection as a message: the user's abort, our timeout, or the network's cause (never a stack). */
function networkError(st: Settings, file: string, revision: string, url: string, e: unknown, timedOut: boolean, during: string, streaming = false): HubError {
  if (st.signal?.aborted) return fail(st, file, revision, 'aborted', `${during} aborted (${url})`, null, e);
  if (timedOut) return fail(st, file, revision, 'network', `${during} timed out: no data from ${url} for too long`, null, e);
  const err = e as { message?: string; cause?: { code?: string; message?: string } };
  const detail = err.cause?.code ?? err.cause?.message ?? err.message ?? String(e);
  const what = streaming ? `connection to ${url} lost during the ${during}` : `${during} failed: cannot reach ${url}`;
  return fail(st, file, revision, 'network', `${what} (${detail})`, null, e);
}

// ---------------------------------------------------------------- HTTP

const USER_AGENT = `clvp-tfjs; node/${process.versions.node}`;

function baseHeaders(st: Settings, withToken: boolean): Record<string, string> {
  // identity: the announced sizes are those of the files, and the byte counts must match them.
  const h: Record<string, string> = { 'user-agent': USER_AGENT, 'accept-encoding': 'identity' };
  if (withToken && st.token !== null) h.authorization = `Bearer ${st.token}`;
  return h;
}

/** An AbortSignal that fires on the caller's signal or on our own timer, and says which. */
class Deadline {
  private readonly ctrl = new AbortController();
  private timer: NodeJS.Timeout | undefined;
  timedOut = false;
  readonly signal: AbortSignal;
  constructor(user: AbortSignal | undefined, private readonly ms: number) {
    this.signal = user ? AbortSignal.any([user, this.ctrl.signal]) : this.ctrl.signal;
    this.reset();
  }
  /** Restart the timer: for downloads the limit is on silence between chunks, not on the whole transfer. */
  reset(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timedOut = true;
      this.ctrl.abort();
    }, this.ms);
  }
  clear(): void {
    clearTimeout(this.timer);
  }
}

interface FileMetadata {
  commit: string;
  etag: string;
  size: number;
  /** where to GET: the resolve URL, or the CDN URL the Hub redirected to */
  location: string;
  /** false when `location` is on another host: a signed CDN URL must not receive the token */
  sendToken: boolean;
}

type HeadResult =
  | { ok: true; meta: FileMetadata }
  | { ok: false; error: HubError; missingAt?: string | null };

/**
 * get_hf_file_metadata: HEAD the resolve URL, following only relative redirects (a renamed repo) and stopping
 * at an absolute one (an LFS file on the CDN), whose Location is then the download URL.
 */
async function headFile(st: Settings, revision: string, file: string): Promise<HeadResult> {
  const first = resolveUrl(st, revision, file);
  let url = first;
  for (let hop = 0; ; hop++) {
    const deadline = new Deadline(st.signal, st.headTimeoutMs);
    let res: Response;
    try {
      res = await fetch(url, { method: 'HEAD', redirect: 'manual', headers: baseHeaders(st, true), signal: deadline.signal });
    } catch (e) {
      return { ok: false, error: networkError(st, file, revision, url, e, deadline.timedOut, 'HEAD request') };
    } finally {
      deadline.clear();
    }
    if (res.status >= 300 && res.status <= 399) {
      const loc = res.headers.get('location');
      if (loc !== null && !/^[a-z][a-z0-9+.-]*:|^\/\//i.test(loc)) {
        if (hop >= MAX_RELATIVE_REDIRECTS) return { ok: false, error: fail(st, file, revision, 'protocol', `too many redirects from ${first}`, res.status) };
        const next = new URL(url);
        next.pathname = new URL(loc, url).pathname;
        url = next.toString();
        continue;
      }
    } else if (!res.ok) {
      const error = httpError(st, file, revision, res, url);
      return { ok: false, error, missingAt: error.kind === 'entry-not-found' ? res.headers.get('x-repo-commit') : undefined };
    }
    const commit = res.headers.get('x-repo-commit');
    const etag = normalizeEtag(res.headers.get('x-linked-etag') ?? res.headers.get('etag'));
    const sizeText = res.headers.get('x-linked-size') ?? res.headers.get('content-length');
    const size = sizeText === null ? NaN : Number(sizeText);
    const notHub = (what: string) => ({ ok: false as const, error: fail(st, file, revision, 'protocol', `${url} answered without ${what}; is ${st.endpoint} a Hugging Face Hub (HF_ENDPOINT)?`, res.status) });
    if (commit === null || !isSafeRelative(commit) || commit.includes('/')) return notHub('a usable X-Repo-Commit header');
    if (etag === null || !/^[\w.-]+$/.test(etag) || etag === '.' || etag === '..') return notHub('a usable ETag');
    if (!Number.isSafeInteger(size) || size < 0) return notHub('a file size (X-Linked-Size / Content-Length)');
    const location = res.status >= 300 && res.status <= 399 && res.headers.get('location') !== null ? new URL(res.headers.get('location')!, url).toString() : url;
    return { ok: true, meta: { commit, etag, size, location, sendToken: new URL(location).host === new URL(first).host } };
  }
}

// ---------------------------------------------------------------- download

/** One download per blob at a time in this process (Python also takes a file lock across processes; Node has no flock, and the size and sha256 checks catch an interleaved write). */
const inFlight = new Map<string, Promise<void>>();

async function withBlobLock<T>(blob: string, job: () => Promise<T>): Promise<T> {
  while (inFlight.has(blob)) await inFlight.get(blob);
  const p = job();
  const done = p.then(() => undefined, () => undefined);
  inFlight.set(blob, done);
  try {
    return await p;
  } finally {
    if (inFlight.get(blob) === done) inFlight.delete(blob);
  }
}

async function fileSize(p: string): Promise<number> {
  try {
    return (await fsp.stat(p)).size;
  } catch {
    return 0;
  }
}

async function hashExisting(hash: Hash, p: string): Promise<void> {
  for await (const chunk of fs.createReadStream(p)) hash.update(chunk as Buffer);
}

/** An open download: the response, its idle timer (the caller clears it) and the offset its body starts at. */
interface OpenBody {
  res: Response;
  deadline: Deadline;
  from: number;
}

/**
 * GET the blob from `start` (a Range request when start > 0). A 200 to a Range request means the server sends
 * the whole file (from = 0). Null: the partial file does not fit what the server has (416, or a 206 starting
 * elsewhere), so the caller drops it and asks again from zero.
 */
async function openBody(st: Settings, file: string, revision: string, meta: FileMetadata, start: number): Promise<OpenBody | null> {
  const headers = baseHeaders(st, meta.sendToken);
  if (start > 0) headers.range = `bytes=${start}-`;
  const deadline = new Deadline(st.signal, st.readTimeoutMs);
  let res: Response;
  try {
    res = await fetch(meta.location, { headers, redirect: 'follow', signal: deadline.signal });
  } catch (e) {
    deadline.clear();
    throw networkError(st, file, revision, meta.location, e, deadline.timedOut, 'download');
  }
  const rangeStart = /^bytes (\d+)-/.exec(res.headers.get('content-range') ?? '');
  const usable = res.status === 200 || (res.status === 206 && start > 0 && rangeStart !== null && Number(rangeStart[1]) === start);
  if (usable) return { res, deadline, from: res.status === 206 ? start : 0 };
  deadline.clear();
  await res.body?.cancel().catch(() => undefined);
  if (start > 0 && (res.status === 416 || res.status === 206)) return null;
  if (res.status === 206) throw fail(st, file, revision, 'protocol', `${meta.location} sent a partial answer (206) to a request for the whole file`, 206);
  throw httpError(st, file, revision, res, meta.location);
}

/**
 * _download_to_tmp_and_move + http_get: stream into blobs/{etag}.incomplete, resuming with a Range request from
 * what an earlier attempt left. LFS blobs are then checked against their sha256 (Python checks only the size)
 * and renamed into place. A lost connection keeps the partial file for the next call; it is not retried here.
 */
async function downloadBlob(st: Settings, file: string, revision: string, meta: FileMetadata, blob: string): Promise<void> {
  const incomplete = blob + '.incomplete';
  let start = await fileSize(incomplete);
  if (start > meta.size) {
    await fsp.rm(incomplete, { force: true });
    start = 0;
  }
  const hash = SHA256_RE.test(meta.etag) ? createHash('sha256') : null;

  let lastEmit = 0;
  const progress = (loaded: number, force: boolean) => {
    if (!st.onProgress) return;
    const now = Date.now();
    if (!force && now - lastEmit < PROGRESS_INTERVAL_MS) return;
    lastEmit = now;
    st.onProgress({ file, loaded, total: meta.size });
  };

  if (start === meta.size) {
    // An earlier run received every byte but stopped before the rename.
    if (hash) await hashExisting(hash, incomplete);
  } else {
    let body = await openBody(st, file, revision, meta, start);
    if (body === null) {
      await fsp.rm(incomplete, { force: true });
      start = 0;
      body = await openBody(st, file, revision, meta, 0);
      if (body === null) throw fail(st, file, revision, 'protocol', `${meta.location} cannot serve the file from its start`);
    }
    const { res, deadline, from } = body;
    let loaded = from;
    let out: fsp.FileHandle | undefined;
    try {
      if (hash && from > 0) await hashExisting(hash, incomplete);
      out = await fsp.open(incomplete, from > 0 ? 'a' : 'w');
      progress(loaded, true);
      const reader = res.body?.getReader();
      while (reader) {
        const { done, value } = await reader.read();
        if (done) break;
        deadline.reset();
        await out.write(value);
        hash?.update(value);
        loaded += value.length;
        if (loaded > meta.size) {
          await reader.cancel();
          break;
        }
        progress(loaded, false);
      }
    } catch (e) {
      if (e instanceof HubError || !isFetchFailure(e)) throw e;
      const err = networkError(st, file, revision, meta.location, e, deadline.timedOut, 'download', true);
      throw new HubError(`${err.message}; ${loaded} of ${meta.size} bytes kept, the next run resumes from there`, err.kind, err.repoId, file, revision, null, { cause: e });
    } finally {
      deadline.clear();
      await out?.close();
    }
  }

  const got = await fileSize(incomplete);
  if (got !== meta.size) {
    // Fewer bytes: the server closed early, so keep them for a resume. More: the partial file is unusable.
    if (got > meta.size) await fsp.rm(incomplete, { force: true });
    throw fail(st, file, revision, 'size', `downloaded ${got} bytes but the Hub announced ${meta.size} (${meta.location})`);
  }
  if (hash) {
    const actual = hash.digest('hex');
    if (actual !== meta.etag) {
      await fsp.rm(incomplete, { force: true });
      throw fail(st, file, revision, 'checksum', `checksum mismatch: expected sha256 ${meta.etag}, downloaded bytes hash to ${actual}; nothing was cached, run again to retry`);
    }
  }
  await fsp.rename(incomplete, blob);
  progress(meta.size, true);
}

/**
 * Errors of the response stream (connection lost, our abort) as opposed to disk errors, which carry a syscall.
 * Not `instanceof TypeError`: undici's errors come from Node's own realm, which is not the caller's under a vm.
 */
function isFetchFailure(e: unknown): boolean {
  return typeof (e as { syscall?: unknown } | null)?.syscall !== 'string';
}

/** _create_symlink: a relative link (the cache can be moved), else a copy where links are not allowed. */
async function linkPointer(blob: string, pointer: string): Promise<void> {
  await fsp.mkdir(path.dirname(pointer), { recursive: true });
  await fsp.rm(pointer, { force: true });
  try {
    await fsp.symlink(path.relative(path.dirname(pointer), blob), pointer);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST' && exists(pointer) && fs.realpathSync(pointer) === fs.realpathSync(blob)) return;
    await fsp.copyFile(blob, pointer);
  }
}

/** _cache_commit_hash_for_specific_revision: remember what a branch or tag resolved to (not for a commit). */
async function writeRef(st: Settings, revision: string, commit: string): Promise<void> {
  if (revision === commit) return;
  const p = refPath(st, revision);
  try {
    if (fs.readFileSync(p, 'utf8') === commit) return;
  } catch {
    // not written yet
  }
  await fsp.mkdir(path.dirname(p), { recursive: true });
  await fsp.writeFile(p, commit);
}

async function markMissing(st: Settings, commit: string, file: string): Promise<void> {
  // Best effort, as in Python: a read-only cache still downloads.
  try {
    const p = noExistPath(st, commit, file);
    await fsp.mkdir(path.dirname(p), { recursive: true });
    await fsp.writeFile(p, '');
  } catch {
    // ignored
  }
}

// ---------------------------------------------------------------- one file

interface Resolved {
  /** the snapshot path, or null for an absent optional file */
  path: string | null;
  commit: string | null;
  /** the HEAD failed (network, 5xx, 401…) and the answer came from the cache */
  fellBack: boolean;
}

/** Cache-only lookup for a revision; throws for a required file that is not there. */
function fromCache(st: Settings, file: string, revision: string, optional: boolean, why: () => HubError): Resolved {
  const commit = cachedCommit(st, revision);
  if (commit !== null) {
    const pointer = pointerPath(st, commit, file);
    if (isFile(pointer)) return { path: pointer, commit, fellBack: true };
    if (isFile(noExistPath(st, commit, file))) {
      if (optional) return { path: null, commit, fellBack: true };
      throw fail(st, file, revision, 'entry-not-found', `the Hub reported this file absent at commit ${commit} (remembered in the cache's .no_exist)`);
    }
  }
  throw why();
}

/**
 * _hf_hub_download_to_cache_dir. `cacheOnly` is offline mode, and also what snapshotForModel uses for the files
 * after the first once the Hub could not be reached (so one outage costs one failed request, not ten).
 */
async function resolveFile(st: Settings, file: string, revision: string, optional: boolean, cacheOnly: boolean): Promise<Resolved> {
  checkFileName(st.repoId, file, revision);
  if (st.signal?.aborted) throw fail(st, file, revision, 'aborted', 'aborted before it started');

  // A commit never changes: what the cache holds for it is final, with no request at all.
  if (COMMIT_RE.test(revision)) {
    const pointer = pointerPath(st, revision, file);
    if (exists(pointer)) return { path: pointer, commit: revision, fellBack: false };
    if (optional && isFile(noExistPath(st, revision, file))) return { path: null, commit: revision, fellBack: false };
  }

  if (cacheOnly) {
    try {
      return fromCache(st, file, revision, optional, () =>
        fail(st, file, revision, 'not-cached', `not in the cache (${st.storage}) and ${st.offline ? 'offline mode is on (HF_HUB_OFFLINE or the offline option)' : 'the Hub could not be reached'}`));
    } catch (e) {
      if (optional && e instanceof HubError && e.kind === 'not-cached') return { path: null, commit: cachedCommit(st, revision), fellBack: true };
      throw e;
    }
  }

  const head = await headFile(st, revision, file);
  if (!head.ok) {
    const { error } = head;
    if (error.kind === 'entry-not-found') {
      if (head.missingAt && isSafeRelative(head.missingAt) && !head.missingAt.includes('/')) {
        await markMissing(st, head.missingAt, file);
        await writeRef(st, revision, head.missingAt).catch(() => undefined);
      }
      if (optional) return { path: null, commit: head.missingAt ?? null, fellBack: false };
      throw error;
    }
    if (error.kind === 'revision-not-found' || error.kind === 'aborted' || error.kind === 'protocol') throw error;
    // Network down, Hub down, or refused (401/403/404 repo): a cached copy still serves, as in Python.
    return fromCache(st, file, revision, optional, () => {
      if (error.kind !== 'network' && error.kind !== 'http') return error;
      return new HubError(`${error.message}; the file is not in the cache (${st.storage}) either`, error.kind, st.repoId, file, revision, error.status, { cause: error });
    });
  }

  const { meta } = head;
  const blob = path.join(st.storage, 'blobs', meta.etag);
  const pointer = pointerPath(st, meta.commit, file);
  try {
    if (!exists(pointer)) {
      await withBlobLock(blob, async () => {
        if (!exists(blob)) {
          await fsp.mkdir(path.dirname(blob), { recursive: true });
          await downloadBlob(st, file, revision, meta, blob);
        }
        await linkPointer(blob, pointer);
      });
    }
    await writeRef(st, revision, meta.commit);
  } catch (e) {
    if (e instanceof HubError) throw e;
    const err = e as NodeJS.ErrnoException;
    throw fail(st, file, revision, 'io', `cannot write the cache at ${st.storage}: ${err.code ?? ''} ${err.message}`.replace(/\s+/g, ' '), null, e);
  }
  return { path: pointer, commit: meta.commit, fellBack: false };
}

/** One file of a repo, from the cache or the Hub; its path inside the snapshot. `optional`: null when the Hub says it does not exist. */
export async function hubFile(repoId: string, file: string, opts: HubOptions & { optional?: boolean } = {}): Promise<string | null> {
  const revision = opts.revision ?? 'main';
  const st = settings(repoId, revision, opts);
  return (await resolveFile(st, file, revision, opts.optional ?? false, st.offline)).path;
}

// ---------------------------------------------------------------- a CLVP model

/** Files a CLVP model folder may have besides config.json and the weights (transformers reads them if present). */
const OPTIONAL_FILES = [
  'generation_config.json',
  'preprocessor_config.json',
  'vocab.json',
  'merges.txt',
  'tokenizer_config.json',
  'special_tokens_map.json',
  'added_tokens.json',
  'tokenizer.json',
];

/** transformers' lookup order: safetensors before pickles, a single file before a sharded index. */
const WEIGHT_CHOICES = WEIGHT_FILES.map((file) => ({ file, index: file.endsWith('.index.json') }));

/** The shard names of an index (sorted and unique, as transformers' get_checkpoint_shard_files), each checked. */
function shardNames(st: Settings, indexFile: string, indexPath: string, revision: string): string[] {
  let weightMap: unknown;
  try {
    weightMap = (JSON.parse(fs.readFileSync(indexPath, 'utf8').replace(/^\ufeff/, '')) as { weight_map?: unknown }).weight_map;
  } catch (e) {
    throw fail(st, indexFile, revision, 'protocol', `malformed JSON: ${(e as Error).message}`);
  }
  if (weightMap === null || typeof weightMap !== 'object' || Array.isArray(weightMap)) {
    throw fail(st, indexFile, revision, 'protocol', 'no "weight_map" object');
  }
  const names = [...new Set(Object.values(weightMap as Record<string, unknown>))];
  for (const n of names) {
    if (typeof n !== 'string' || !isSafeRelative(n)) {
      throw fail(st, indexFile, revision, 'invalid', `the index names a shard ${JSON.stringify(n)} that is not a relative path inside the repo`);
    }
  }
  return (names as string[]).sort();
}

/**
 * Download (or find in the cache) the files a CLVP model needs; returns the snapshot folder. The revision is
 * resolved once, by config.json, and every other file is fetched at that commit so a push in between cannot mix
 * two versions. A second run therefore costs one HEAD (none for a commit revision or offline).
 */
export async function snapshotForModel(repoId: string, opts: HubOptions = {}): Promise<{ dir: string; commit: string; files: string[] }> {
  const revision = opts.revision ?? 'main';
  const st = settings(repoId, revision, opts);
  const config = await resolveFile(st, 'config.json', revision, false, st.offline);
  const commit = config.commit!;
  const cacheOnly = st.offline || config.fellBack;
  const files = ['config.json'];
  const get = async (file: string, optional: boolean) => {
    const r = await resolveFile(st, file, commit, optional, cacheOnly);
    if (r.path !== null) files.push(file);
    return r.path;
  };

  for (const f of OPTIONAL_FILES) await get(f, true);

  let found = false;
  for (const choice of WEIGHT_CHOICES) {
    const p = await get(choice.file, true);
    if (p === null) continue;
    if (choice.index) {
      for (const shard of shardNames(st, choice.file, p, commit)) await get(shard, false);
    }
    found = true;
    break;
  }
  if (!found) {
    const tried = WEIGHT_CHOICES.map((c) => c.file).join(', ');
    throw fail(st, null, revision, 'no-weights', cacheOnly
      ? `no weights in the cache for commit ${commit} (tried ${tried}) and ${st.offline ? 'offline mode is on' : 'the Hub could not be reached'}`
      : `the repo has no weights at commit ${commit} (tried ${tried})`);
  }
  return { dir: snapshotDir(st, commit), commit, files };
}
