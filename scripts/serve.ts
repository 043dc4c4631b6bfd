// A static file server for the browser build and its tests: correct MIME types (wasm must be
// application/wasm for streaming compilation), the cross-origin isolation headers that give pages
// SharedArrayBuffer (threaded wasm), byte ranges (the model loader reads weights by Range), and
// fault hooks so tests can see how the page copes with a broken server. Node's http module only.
// CLI: npx ts-node scripts/serve.ts [root] [--port 8080] [--host 127.0.0.1] [--no-isolation]
import * as fs from 'fs';
import * as http from 'http';
import type { AddressInfo } from 'net';
import * as path from 'path';

/** COOP + COEP make the page crossOriginIsolated; CORP lets our own files load under COEP. */
export const ISOLATION_HEADERS: Readonly<Record<string, string>> = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'same-origin',
};

export const MIME_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.wasm': 'application/wasm',
  '.wav': 'audio/wav',
  '.mp3': 'audio/mpeg',
  '.flac': 'audio/flac',
  '.ogg': 'audio/ogg',
  '.opus': 'audio/ogg',
  '.m4a': 'audio/mp4',
  '.aac': 'audio/aac',
  '.webm': 'audio/webm',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
  '.safetensors': 'application/octet-stream',
  '.bin': 'application/octet-stream',
};

/**
 * What a fault rule does to requests under its prefix. The rest of the path (after the prefix)
 * names the file, so `/fault/404/a/b.bin` with prefix `/fault/404/` is about `/a/b.bin`.
 * - 'not-found': 404, whether or not the file exists
 * - 'drop': destroy the connection without answering
 * - 'ignore-range': answer 200 with the whole file, as servers without Range support do
 * - 'wrong-range': answer 206 with the range one byte past the one asked for (and say so in Content-Range)
 * - 'truncate': answer 206 with correct headers but close after half the body
 */
export type FaultKind = 'not-found' | 'drop' | 'ignore-range' | 'wrong-range' | 'truncate';

export interface FaultRule {
  /** URL path prefix, starting and ending with '/' */
  prefix: string;
  fault: FaultKind;
}

export interface RequestLogEntry {
  method: string;
  /** the decoded URL path, before any fault prefix is stripped */
  path: string;
  status: number;
  /** the Range header as sent, if any */
  range?: string;
  /** body bytes actually written (less than planned when the client went away) */
  bytes: number;
}

/** A folder served under a URL path prefix instead of from root (the reference cases, the bundled model). */
export interface Mount {
  /** URL path prefix, starting and ending with '/' */
  prefix: string;
  /** the folder whose files answer under `prefix` */
  dir: string;
}

export interface StaticServerOptions {
  /** folder served at '/' */
  root: string;
  /** folders served under their own prefixes, first matching prefix wins (default none) */
  mounts?: Mount[];
  /** port to listen on (default 0: any free port) */
  port?: number;
  /** address to listen on (default '127.0.0.1'; the tests never listen elsewhere) */
  host?: string;
  /**
   * headers added to every response, or a function of the URL path that gives them
   * (default ISOLATION_HEADERS plus 'Cache-Control: no-store')
   */
  headers?: Record<string, string> | ((urlPath: string) => Record<string, string>);
  /** fault rules, first matching prefix wins (default none) */
  faults?: FaultRule[];
}

export interface StaticServer {
  /** 'http://127.0.0.1:PORT' without a trailing slash */
  readonly url: string;
  readonly port: number;
  /** every finished request, in order (tests count requests and bytes per file) */
  readonly log: RequestLogEntry[];
  close(): Promise<void>;
}

type Range = { start: number; end: number } | 'unsatisfiable' | 'ignore';

/**
 * Parses one `Range` header against a size. Multiple ranges and unknown units are ignored (the
 * whole file is served, as RFC 9110 allows); a malformed or unsatisfiable bytes range gives 416.
 * `end` is inclusive.
 */
export function parseRange(header: string | undefined, size: number): Range | undefined {
  if (header === undefined) return undefined;
  const m = /^\s*([A-Za-z]+)=(.*)$/.exec(header);
  if (!m || m[1].toLowerCase() !== 'bytes') return 'ignore';
  const spec = m[2].trim();
  if (spec.includes(',')) return 'ignore';
  const r = /^(\d*)-(\d*)$/.exec(spec);
  if (!r || (r[1] === '' && r[2] === '')) return 'unsatisfiable';
  if (r[1] === '') {
    const suffix = Number(r[2]);
    if (suffix === 0 || size === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(r[1]);
  const end = r[2] === '' ? size - 1 : Math.min(Number(r[2]), size - 1);
  if (start >= size || (r[2] !== '' && Number(r[2]) < start)) return 'unsatisfiable';
  return { start, end };
}

/** The file a URL path names inside root, or null when it would leave root (also via symlinks). */
function resolveInside(rootReal: string, urlPath: string): string | null {
  if (urlPath.includes('\0')) return null;
  const joined = path.resolve(rootReal, '.' + path.posix.normalize('/' + urlPath));
  let real: string;
  try {
    real = fs.realpathSync(joined);
  } catch {
    real = joined;
  }
  const rel = path.relative(rootReal, real);
  if (rel.startsWith('..') || path.isAbsolute(rel)) return null;
  return real;
}

export async function startStaticServer(opts: StaticServerOptions): Promise<StaticServer> {
  const rootReal = fs.realpathSync(path.resolve(opts.root));
  const mounts = (opts.mounts ?? []).map((m) => {
    if (!m.prefix.startsWith('/') || !m.prefix.endsWith('/')) throw new Error(`serve: mount prefix ${JSON.stringify(m.prefix)} must start and end with '/'`);
    return { prefix: m.prefix, real: fs.realpathSync(path.resolve(m.dir)) };
  });
  const host = opts.host ?? '127.0.0.1';
  const faults = opts.faults ?? [];
  const headersFor = typeof opts.headers === 'function'
    ? opts.headers
    : (() => { const h = opts.headers ?? { ...ISOLATION_HEADERS, 'Cache-Control': 'no-store' }; return () => h; })();
  const log: RequestLogEntry[] = [];

  const server = http.createServer((req, res) => {
    const method = req.method ?? 'GET';
    let urlPath: string;
    try {
      urlPath = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    } catch {
      urlPath = '';
    }
    const entry: RequestLogEntry = { method, path: urlPath, status: 0, bytes: 0, ...(req.headers.range !== undefined ? { range: req.headers.range } : {}) };
    res.on('close', () => {
      entry.status = res.statusCode;
      log.push(entry);
    });
    for (const [k, v] of Object.entries(headersFor(urlPath))) res.setHeader(k, v);

    const plain = (status: number, text: string, extra: Record<string, string> = {}) => {
      const body = Buffer.from(text + '\n');
      res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': body.length, ...extra });
      if (method !== 'HEAD') {
        res.end(body);
        entry.bytes = body.length;
      } else res.end();
    };

    if (urlPath === '') return plain(400, 'bad request: malformed URL');
    if (method !== 'GET' && method !== 'HEAD') return plain(405, 'method not allowed', { Allow: 'GET, HEAD' });

    let fault: FaultKind | undefined;
    let filePath = urlPath;
    const rule = faults.find((f) => urlPath.startsWith(f.prefix));
    if (rule) {
      fault = rule.fault;
      filePath = '/' + urlPath.slice(rule.prefix.length);
    }
    if (fault === 'drop') {
      req.socket.destroy();
      return;
    }
    if (fault === 'not-found') return plain(404, 'not found');

    // Normalised first, so '/ref/../x' is root's x and not the mount's.
    const normal = path.posix.normalize(filePath);
    const mount = mounts.find((m) => normal.startsWith(m.prefix));
    let file = mount ? resolveInside(mount.real, normal.slice(mount.prefix.length - 1)) : resolveInside(rootReal, filePath);
    if (file === null) return plain(403, 'forbidden: outside the served folder');
    let stat: fs.Stats;
    try {
      stat = fs.statSync(file);
      if (stat.isDirectory()) {
        file = path.join(file, 'index.html');
        stat = fs.statSync(file);
      }
    } catch {
      return plain(404, 'not found');
    }
    if (!stat.isFile()) return plain(404, 'not found');

    const size = stat.size;
    res.setHeader('Content-Type', MIME_TYPES[path.extname(file).toLowerCase()] ?? 'application/octet-stream');
    res.setHeader('Last-Modified', stat.mtime.toUTCString());
    res.setHeader('ETag', `"${size.toString(16)}-${Math.floor(stat.mtimeMs).toString(16)}"`);
    if (fault !== 'ignore-range') res.setHeader('Accept-Ranges', 'bytes');

    const range = fault === 'ignore-range' ? undefined : parseRange(req.headers.range, size);
    if (range === 'unsatisfiable') return plain(416, 'range not satisfiable', { 'Content-Range': `bytes */${size}` });

    let start = 0;
    let end = size - 1;
    let status = 200;
    if (range !== undefined && range !== 'ignore') {
      ({ start, end } = range);
      if (fault === 'wrong-range' && end + 1 < size) {
        start += 1;
        end += 1;
      }
      status = 206;
      res.setHeader('Content-Range', `bytes ${start}-${end}/${size}`);
    }
    const length = end - start + 1;
    res.setHeader('Content-Length', String(length));
    res.writeHead(status);
    if (method === 'HEAD' || length === 0) {
      res.end();
      return;
    }
    const readStart = start;
    let readEnd = end;
    if (fault === 'truncate') {
      readEnd = readStart + Math.floor(length / 2) - 1;
      if (readEnd < readStart) {
        req.socket.destroy();
        return;
      }
    }
    const stream = fs.createReadStream(file, { start: readStart, end: readEnd });
    stream.on('data', (chunk) => {
      entry.bytes += chunk.length;
    });
    stream.on('error', () => res.destroy());
    if (fault === 'truncate') {
      stream.on('end', () => req.socket.destroy());
      stream.pipe(res, { end: false });
    } else stream.pipe(res);
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://${host}:${port}`,
    port,
    log,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}

async function main(argv: string[]): Promise<void> {
  let root = '.';
  let port = 8080;
  let host = '127.0.0.1';
  let isolation = true;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--port') port = Number(argv[++i]);
    else if (a === '--host') host = argv[++i];
    else if (a === '--no-isolation') isolation = false;
    else if (a === '--help' || a === '-h') {
      console.log('usage: ts-node scripts/serve.ts [root] [--port 8080] [--host 127.0.0.1] [--no-isolation]');
      return;
    } else if (a.startsWith('-')) throw new Error(`serve: unknown option ${a}`);
    else root = a;
  }
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error('serve: --port needs a number in [0, 65535]');
  const server = await startStaticServer({ root, port, host, headers: isolation ? { ...ISOLATION_HEADERS, 'Cache-Control': 'no-cache' } : { 'Cache-Control': 'no-cache' } });
  console.log(`serving ${path.resolve(root)} at ${server.url}/${isolation ? ' (cross-origin isolated)' : ''}; Ctrl-C stops`);
  process.once('SIGINT', () => void server.close().then(() => process.exit(0)));
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((e) => {
    console.error((e as Error).message);
    process.exit(1);
  });
}
