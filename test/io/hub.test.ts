// src/io/hub.ts against a fake Hub on 127.0.0.1 (test/helpers/hub_server.ts): the cache layout huggingface_hub
// writes, the HEAD / GET protocol, errors, offline mode, resume, checksum, and a cache folder built by hand in
// the Python layout. Every request is counted, so "no network" is checked, not assumed.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { HubError, HubProgress, hubCacheDir, hubFile, isHubRepoId, snapshotForModel } from '../../src/io/hub';
import { FakeHub, closedPort, gitBlobSha1, sha256Hex } from '../helpers/hub_server';

/** Deterministic bytes (a 32-bit LCG), so blobs are large enough to arrive in several chunks. */
function bytes(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  let x = seed >>> 0;
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
}

const LFS = 'clvp-org/clvp-lfs';
const SHARDED = 'clvp-org/clvp-sharded';
const BIN = 'clvp-org/clvp-bin';
const PRIVATE = 'clvp-org/private';
const WEIGHTS = bytes(300_000, 1);
const CONFIG = JSON.stringify({ model_type: 'clvp', projection_dim: 16 });

const ENV_KEYS = [
  'HF_TOKEN', 'HUGGING_FACE_HUB_TOKEN', 'HF_HUB_OFFLINE', 'TRANSFORMERS_OFFLINE', 'HF_ENDPOINT', 'HF_HUB_CACHE',
  'HUGGINGFACE_HUB_CACHE', 'HF_HOME', 'XDG_CACHE_HOME', 'HF_HUB_DISABLE_IMPLICIT_TOKEN', 'HF_HUB_ETAG_TIMEOUT', 'HF_HUB_DOWNLOAD_TIMEOUT',
];
let savedEnv: Record<string, string | undefined> = {};
let hub: FakeHub;
const temps: string[] = [];

function tmp(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'clvp-hub-'));
  temps.push(d);
  return d;
}

beforeAll(async () => {
  hub = await FakeHub.start([
    {
      id: LFS,
      branches: {
        main: {
          'config.json': CONFIG,
          'generation_config.json': '{"max_length": 20}',
          'vocab.json': '{"[STOP]": 0, "a": 1}',
          'merges.txt': '#version: 0.2\na b\n',
          'tokenizer_config.json': '{"bos_token": "[STOP]"}',
          'model.safetensors': WEIGHTS,
          'extra/notes/readme.json': '{"nested": true}',
          'README.md': 'not part of a CLVP model',
        },
        dev: { 'config.json': '{"model_type": "clvp", "dev": true}', 'model.safetensors': bytes(1000, 2) },
        'refs/pr/1': { 'config.json': '{"model_type": "clvp", "pr": 1}', 'model.safetensors': bytes(500, 3) },
      },
    },
    {
      id: SHARDED,
      branches: {
        main: {
          'config.json': CONFIG,
          'model.safetensors.index.json': JSON.stringify({
            metadata: { total_size: 3000 },
            weight_map: { 'a.weight': 'model-00002-of-00002.safetensors', 'b.weight': 'model-00001-of-00002.safetensors', 'c.weight': 'model-00002-of-00002.safetensors' },
          }),
          'model-00001-of-00002.safetensors': bytes(1000, 4),
          'model-00002-of-00002.safetensors': bytes(2000, 5),
        },
      },
    },
    {
      id: 'clvp-org/evil-index',
      branches: { main: { 'config.json': CONFIG, 'model.safetensors.index.json': JSON.stringify({ weight_map: { w: '../escape.safetensors' } }) } },
    },
    { id: BIN, branches: { main: { 'config.json': CONFIG, 'pytorch_model.bin': bytes(4000, 6) } } },
    { id: 'old-org/old-name', renamedTo: BIN, branches: {} },
    { id: 'clvp-org/no-weights', branches: { main: { 'config.json': CONFIG } } },
    { id: PRIVATE, token: 'hf_secret', branches: { main: { 'config.json': CONFIG, 'model.safetensors': bytes(800, 7) } } },
    { id: 'clvp-org/gated', token: 'hf_granted', gated: true, branches: { main: { 'config.json': CONFIG } } },
  ]);
});

afterAll(async () => {
  await hub.close();
  for (const d of temps) fs.rmSync(d, { recursive: true, force: true });
});

beforeEach(() => {
  hub.reset();
  savedEnv = {};
  for (const k of ENV_KEYS) {
    savedEnv[k] = process.env[k];
    delete process.env[k];
  }
});

afterEach(() => {
  for (const k of ENV_KEYS) {
    if (savedEnv[k] === undefined) delete process.env[k];
    else process.env[k] = savedEnv[k];
  }
});

async function hubError(p: Promise<unknown>): Promise<HubError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(HubError);
    return e as HubError;
  }
  throw new Error('expected a HubError');
}

/** Same bytes (compared through length and sha256: Jest's toEqual walks a large Buffer element by element, slowly). */
function expectBytes(actual: Buffer, expected: Buffer | string): void {
  const e = Buffer.isBuffer(expected) ? expected : Buffer.from(expected);
  expect({ length: actual.length, sha256: sha256Hex(actual) }).toEqual({ length: e.length, sha256: sha256Hex(e) });
}

const repoDir = (cache: string, id: string) => path.join(cache, 'models--' + id.replace('/', '--'));

/** A snapshot entry is a relative symlink to ../../blobs/{etag} (one more '..' per sub-folder) with the right bytes. */
function expectPointer(cache: string, id: string, commit: string, file: string, etag: string, content: Buffer | string): void {
  const p = path.join(repoDir(cache, id), 'snapshots', commit, ...file.split('/'));
  expect(fs.lstatSync(p).isSymbolicLink()).toBe(true);
  const ups = Array(file.split('/').length + 1).fill('..');
  expect(fs.readlinkSync(p)).toBe(path.join(...ups, 'blobs', etag));
  expectBytes(fs.readFileSync(p), content);
}

function filesUnder(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => !fs.lstatSync(path.join(dir, f)).isDirectory()).sort();
}

describe('isHubRepoId', () => {
  test.each(['susnato/clvp_dev', 'gpt2', 'Foo-BAR_foo.bar123', 'a/b', 'org/x.y', 'org/' + 'a'.repeat(96)])('%s is a repo id', (s) => {
    expect(isHubRepoId(s)).toBe(true);
  });
  test.each(['./x', '/x', 'a/b/c', '~/x', '../x', 'org/', '', 'x/', 'foo--bar', 'org/foo..bar', 'foo.git', '.repo', 'repo-', 'a'.repeat(97), 'café', 'C:\\models\\x', 'org/ name'])(
    '%s is not a repo id',
    (s) => {
      expect(isHubRepoId(s)).toBe(false);
    },
  );
});

describe('hubCacheDir', () => {
  test('precedence: HF_HUB_CACHE, HUGGINGFACE_HUB_CACHE, HF_HOME/hub, XDG_CACHE_HOME/huggingface/hub, ~/.cache/huggingface/hub', () => {
    expect(hubCacheDir({ HF_HUB_CACHE: '/a', HUGGINGFACE_HUB_CACHE: '/b', HF_HOME: '/c', XDG_CACHE_HOME: '/x' })).toBe('/a');
    expect(hubCacheDir({ HUGGINGFACE_HUB_CACHE: '/b', HF_HOME: '/c', XDG_CACHE_HOME: '/x' })).toBe('/b');
    expect(hubCacheDir({ HF_HOME: '/c', XDG_CACHE_HOME: '/x' })).toBe('/c/hub');
    expect(hubCacheDir({ XDG_CACHE_HOME: '/x' })).toBe('/x/huggingface/hub');
    expect(hubCacheDir({ HOME: '/home/u' })).toBe('/home/u/.cache/huggingface/hub');
    expect(hubCacheDir({ HF_HUB_CACHE: '', HF_HOME: '/c' })).toBe('/c/hub');
  });
  test('~ and $VARS are expanded as Python expands them; unknown variables stay', () => {
    expect(hubCacheDir({ HOME: '/home/u', HF_HOME: '~/hf' })).toBe('/home/u/hf/hub');
    expect(hubCacheDir({ HF_HUB_CACHE: '$BASE/cache/${SUB}', BASE: '/data', SUB: 'hub2' })).toBe('/data/cache/hub2');
    expect(hubCacheDir({ HF_HUB_CACHE: '/x/$NOPE' })).toBe('/x/$NOPE');
  });
});

describe('snapshotForModel', () => {
  test('LFS weights through a CDN redirect, stored exactly as huggingface_hub stores them', async () => {
    const cache = tmp();
    const events: HubProgress[] = [];
    const r = await snapshotForModel(LFS, { cacheDir: cache, endpoint: hub.endpoint, token: 'hf_tok', onProgress: (p) => events.push({ ...p }) });
    const commit = hub.commit(LFS);
    expect(r.commit).toBe(commit);
    expect(r.dir).toBe(path.join(repoDir(cache, LFS), 'snapshots', commit));
    expect(r.files).toEqual(['config.json', 'generation_config.json', 'vocab.json', 'merges.txt', 'tokenizer_config.json', 'model.safetensors']);

    for (const f of r.files.filter((f) => f !== 'model.safetensors')) {
      expectPointer(cache, LFS, commit, f, gitBlobSha1(hub.file(LFS, f).content), hub.file(LFS, f).content);
    }
    expectPointer(cache, LFS, commit, 'model.safetensors', sha256Hex(WEIGHTS), WEIGHTS);
    expect(fs.readFileSync(path.join(repoDir(cache, LFS), 'refs', 'main'), 'utf8')).toBe(commit);
    expect(filesUnder(path.join(repoDir(cache, LFS), '.no_exist'))).toEqual(
      ['added_tokens.json', 'preprocessor_config.json', 'special_tokens_map.json', 'tokenizer.json'].map((f) => path.join(commit, f)),
    );
    expect(filesUnder(path.join(repoDir(cache, LFS), 'blobs')).some((f) => f.endsWith('.incomplete'))).toBe(false);

    // The branch is resolved once (config.json); everything else is asked for at that commit.
    const heads = hub.requests.filter((q) => q.method === 'HEAD').map((q) => q.path);
    expect(heads[0]).toBe(`/${LFS}/resolve/main/config.json`);
    expect(heads.slice(1).every((p) => p.startsWith(`/${LFS}/resolve/${commit}/`))).toBe(true);
    expect(heads).toHaveLength(10);
    expect(hub.count({ server: 'hub', method: 'GET' })).toBe(5);
    const cdn = hub.requests.filter((q) => q.server === 'cdn');
    expect(cdn.map((q) => q.path)).toEqual([`/lfs/${sha256Hex(WEIGHTS)}?X-Signature=fake`]);
    // The token goes to the Hub, never to the CDN's signed URL.
    expect(hub.requests.filter((q) => q.server === 'hub').every((q) => q.headers.authorization === 'Bearer hf_tok')).toBe(true);
    expect(cdn[0].headers.authorization).toBeUndefined();

    const weightEvents = events.filter((e) => e.file === 'model.safetensors');
    expect(weightEvents.length).toBeGreaterThanOrEqual(2);
    expect(weightEvents.every((e, i) => e.total === WEIGHTS.length && (i === 0 || e.loaded >= weightEvents[i - 1].loaded))).toBe(true);
    expect(weightEvents[weightEvents.length - 1].loaded).toBe(WEIGHTS.length);
    const configEvents = events.filter((e) => e.file === 'config.json');
    expect(configEvents[configEvents.length - 1]).toEqual({ file: 'config.json', loaded: CONFIG.length, total: CONFIG.length });
  });

  test('a second run costs one HEAD and no download; a commit revision or offline mode costs nothing', async () => {
    const cache = tmp();
    const first = await snapshotForModel(LFS, { cacheDir: cache, endpoint: hub.endpoint });
    hub.reset();
    const events: HubProgress[] = [];
    expect(await snapshotForModel(LFS, { cacheDir: cache, endpoint: hub.endpoint, onProgress: (p) => events.push(p) })).toEqual(first);
    expect(hub.requests.map((q) => `${q.method} ${q.path}`)).toEqual([`HEAD /${LFS}/resolve/main/config.json`]);
    expect(events).toEqual([]);

    hub.reset();
    expect(await snapshotForModel(LFS, { cacheDir: cache, endpoint: hub.endpoint, revision: first.commit })).toEqual(first);
    expect(await snapshotForModel(LFS, { cacheDir: cache, endpoint: hub.endpoint, offline: true })).toEqual(first);
    process.env.HF_HUB_OFFLINE = '1';
    expect(await snapshotForModel(LFS, { cacheDir: cache, endpoint: hub.endpoint })).toEqual(first);
    expect(hub.count()).toBe(0);
  });

  test('offline mode on an empty cache fails without a request; the values Python accepts', async () => {
    for (const v of ['1', 'true', 'YES', 'On']) {
      process.env.HF_HUB_OFFLINE = v;
      const e = await hubError(snapshotForModel(LFS, { cacheDir: tmp(), endpoint: hub.endpoint }));
      expect(e.kind).toBe('not-cached');
      expect(e.message).toContain('offline mode is on');
      expect(e.message).toContain(LFS);
      expect(e.message).toContain('config.json');
    }
    delete process.env.HF_HUB_OFFLINE;
    process.env.TRANSFORMERS_OFFLINE = '1';
    expect((await hubError(hubFile(LFS, 'config.json', { cacheDir: tmp(), endpoint: hub.endpoint }))).kind).toBe('not-cached');
    expect(hub.count()).toBe(0);

    // HF_HUB_OFFLINE=0 is read first and wins over TRANSFORMERS_OFFLINE, as `a or b` does in constants.py.
    process.env.HF_HUB_OFFLINE = '0';
    expect(await hubFile(LFS, 'config.json', { cacheDir: tmp(), endpoint: hub.endpoint })).not.toBeNull();
    expect(hub.count({ method: 'HEAD' })).toBe(1);
  });

  test('revision as a branch, a commit, and refs/pr/1 (URL-encoded, nested under refs/)', async () => {
    const cache = tmp();
    const dev = await snapshotForModel(LFS, { cacheDir: cache, endpoint: hub.endpoint, revision: 'dev' });
    expect(dev.commit).toBe(hub.commit(LFS, 'dev'));
    expect(dev.commit).not.toBe(hub.commit(LFS));
    expect(fs.readFileSync(path.join(dev.dir, 'config.json'), 'utf8')).toBe('{"model_type": "clvp", "dev": true}');
    expect(fs.readFileSync(path.join(repoDir(cache, LFS), 'refs', 'dev'), 'utf8')).toBe(dev.commit);
    expect(dev.files).toEqual(['config.json', 'model.safetensors']);

    const byCommit = tmp();
    const main = hub.commit(LFS);
    const c = await snapshotForModel(LFS, { cacheDir: byCommit, endpoint: hub.endpoint, revision: main });
    expect(c.commit).toBe(main);
    expect(fs.existsSync(path.join(repoDir(byCommit, LFS), 'refs'))).toBe(false);
    expect(hub.requests.some((q) => q.path === `/${LFS}/resolve/${main}/config.json`)).toBe(true);

    hub.reset();
    const pr = await snapshotForModel(LFS, { cacheDir: cache, endpoint: hub.endpoint, revision: 'refs/pr/1' });
    expect(hub.requests[0].path).toBe(`/${LFS}/resolve/refs%2Fpr%2F1/config.json`);
    expect(fs.readFileSync(path.join(repoDir(cache, LFS), 'refs', 'refs', 'pr', '1'), 'utf8')).toBe(hub.commit(LFS, 'refs/pr/1'));
    expect(fs.readFileSync(path.join(pr.dir, 'config.json'), 'utf8')).toBe('{"model_type": "clvp", "pr": 1}');

    const e = await hubError(snapshotForModel(LFS, { cacheDir: cache, endpoint: hub.endpoint, revision: 'nope' }));
    expect(e.kind).toBe('revision-not-found');
    expect(e.status).toBe(404);
    for (const s of [LFS, 'config.json', 'nope', '404']) expect(e.message).toContain(s);
  });

  test('sharded safetensors: the index and each shard it names once; shard names are checked', async () => {
    const cache = tmp();
    const r = await snapshotForModel(SHARDED, { cacheDir: cache, endpoint: hub.endpoint });
    expect(r.files).toEqual(['config.json', 'model.safetensors.index.json', 'model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors']);
    for (const f of r.files.slice(2)) expectPointer(cache, SHARDED, r.commit, f, hub.file(SHARDED, f).sha256, hub.file(SHARDED, f).content);
    expect(hub.count({ server: 'cdn' })).toBe(2);
    expect(fs.existsSync(path.join(repoDir(cache, SHARDED), '.no_exist', r.commit, 'model.safetensors'))).toBe(true);

    hub.reset();
    const e = await hubError(snapshotForModel('clvp-org/evil-index', { cacheDir: cache, endpoint: hub.endpoint }));
    expect(e.kind).toBe('invalid');
    expect(e.message).toContain('../escape.safetensors');
    expect(e.message).toContain('model.safetensors.index.json');
    expect(hub.requests.some((q) => q.path.includes('escape'))).toBe(false);
  });

  test('pytorch_model.bin only; a renamed repo is followed by a relative redirect; no weights at all', async () => {
    const cache = tmp();
    const r = await snapshotForModel(BIN, { cacheDir: cache, endpoint: hub.endpoint });
    expect(r.files).toEqual(['config.json', 'pytorch_model.bin']);
    for (const f of ['model.safetensors', 'model.safetensors.index.json']) {
      expect(fs.existsSync(path.join(repoDir(cache, BIN), '.no_exist', r.commit, f))).toBe(true);
    }
    expect(fs.existsSync(path.join(repoDir(cache, BIN), '.no_exist', r.commit, 'pytorch_model.bin.index.json'))).toBe(false);

    hub.reset();
    const renamed = await snapshotForModel('old-org/old-name', { cacheDir: cache, endpoint: hub.endpoint });
    expect(renamed.commit).toBe(r.commit);
    // Cached under the name asked for, as Python does.
    expect(renamed.dir).toBe(path.join(repoDir(cache, 'old-org/old-name'), 'snapshots', r.commit));
    expect(hub.requests.slice(0, 2).map((q) => q.path)).toEqual([`/old-org/old-name/resolve/main/config.json`, `/${BIN}/resolve/main/config.json`]);

    const e = await hubError(snapshotForModel('clvp-org/no-weights', { cacheDir: cache, endpoint: hub.endpoint }));
    expect(e.kind).toBe('no-weights');
    expect(e.message).toContain('pytorch_model.bin.index.json');
  });
});

describe('authentication and HTTP errors', () => {
  test('a private repo answers 401 without the right token; HF_TOKEN is sent as a bearer token, to the Hub only', async () => {
    const cache = tmp();
    let e = await hubError(snapshotForModel(PRIVATE, { cacheDir: cache, endpoint: hub.endpoint }));
    expect(e.kind).toBe('unauthorized');
    expect(e.status).toBe(401);
    for (const s of [PRIVATE, 'config.json', 'main', '401', 'HF_TOKEN']) expect(e.message).toContain(s);
    e = await hubError(snapshotForModel(PRIVATE, { cacheDir: cache, endpoint: hub.endpoint, token: 'hf_wrong' }));
    expect(e.kind).toBe('unauthorized');

    hub.reset();
    process.env.HF_TOKEN = 'hf_secret';
    const r = await snapshotForModel(PRIVATE, { cacheDir: cache, endpoint: hub.endpoint });
    expect(r.files).toEqual(['config.json', 'model.safetensors']);
    expect(hub.requests.filter((q) => q.server === 'hub').every((q) => q.headers.authorization === 'Bearer hf_secret')).toBe(true);
    expect(hub.requests.filter((q) => q.server === 'cdn').map((q) => q.headers.authorization)).toEqual([undefined]);

    // token: null never sends one, whatever the environment says.
    hub.reset();
    e = await hubError(hubFile(PRIVATE, 'config.json', { cacheDir: tmp(), endpoint: hub.endpoint, token: null }));
    expect(e.status).toBe(401);
    expect(hub.requests.every((q) => q.headers.authorization === undefined)).toBe(true);
  });

  test('gated (403 GatedRepo), forbidden (403), unknown repo (404 RepoNotFound), server error (500)', async () => {
    const cache = tmp();
    let e = await hubError(hubFile('clvp-org/gated', 'config.json', { cacheDir: cache, endpoint: hub.endpoint }));
    expect([e.kind, e.status]).toEqual(['gated', 403]);
    expect(e.message).toContain(`${hub.endpoint}/clvp-org/gated`);

    e = await hubError(hubFile('clvp-org/missing', 'config.json', { cacheDir: cache, endpoint: hub.endpoint }));
    expect([e.kind, e.status]).toEqual(['repo-not-found', 404]);
    expect(e.message).toContain('clvp-org/missing');

    hub.faults.intercept = () => ({ status: 403, headers: { 'X-Error-Message': 'token scope' } });
    e = await hubError(hubFile(LFS, 'config.json', { cacheDir: cache, endpoint: hub.endpoint }));
    expect([e.kind, e.status]).toEqual(['forbidden', 403]);
    expect(e.message).toContain('token scope');

    hub.faults.intercept = () => ({ status: 500 });
    e = await hubError(hubFile(LFS, 'config.json', { cacheDir: cache, endpoint: hub.endpoint }));
    expect([e.kind, e.status]).toEqual(['http', 500]);
    expect(e.message).toContain('not in the cache');
  });

  test('hubFile: EntryNotFound throws or, when optional, gives null and a .no_exist marker; sub-folders; bad names', async () => {
    const cache = tmp();
    const commit = hub.commit(LFS);
    const e = await hubError(hubFile(LFS, 'missing.json', { cacheDir: cache, endpoint: hub.endpoint }));
    expect([e.kind, e.status, e.file]).toEqual(['entry-not-found', 404, 'missing.json']);
    expect(await hubFile(LFS, 'missing.json', { cacheDir: cache, endpoint: hub.endpoint, optional: true })).toBeNull();
    expect(fs.existsSync(path.join(repoDir(cache, LFS), '.no_exist', commit, 'missing.json'))).toBe(true);
    // The marker also answers offline.
    expect(await hubFile(LFS, 'missing.json', { cacheDir: cache, revision: commit, offline: true, optional: true })).toBeNull();

    const nested = await hubFile(LFS, 'extra/notes/readme.json', { cacheDir: cache, endpoint: hub.endpoint });
    expect(nested).toBe(path.join(repoDir(cache, LFS), 'snapshots', commit, 'extra', 'notes', 'readme.json'));
    expectPointer(cache, LFS, commit, 'extra/notes/readme.json', gitBlobSha1(Buffer.from('{"nested": true}')), '{"nested": true}');

    hub.reset();
    for (const bad of ['../x', '/etc/passwd', 'a//b', 'a/./b', 'a\\b']) {
      expect((await hubError(hubFile(LFS, bad, { cacheDir: cache, endpoint: hub.endpoint }))).kind).toBe('invalid');
    }
    expect((await hubError(hubFile('./local/model', 'config.json', { cacheDir: cache, endpoint: hub.endpoint }))).kind).toBe('invalid');
    expect((await hubError(hubFile(LFS, 'config.json', { cacheDir: cache, endpoint: hub.endpoint, revision: '../../etc' }))).kind).toBe('invalid');
    expect(hub.count()).toBe(0);
  });

  test('an aborted signal stops before any request', async () => {
    const ctrl = new AbortController();
    ctrl.abort();
    const e = await hubError(snapshotForModel(LFS, { cacheDir: tmp(), endpoint: hub.endpoint, signal: ctrl.signal }));
    expect(e.kind).toBe('aborted');
    expect(hub.count()).toBe(0);
  });
});

describe('network failures, resume and integrity', () => {
  test('an unreachable Hub: the error names the URL; with the files cached, the cache answers', async () => {
    const cache = tmp();
    const down = `http://127.0.0.1:${await closedPort()}`;
    const e = await hubError(snapshotForModel(LFS, { cacheDir: cache, endpoint: down }));
    expect(e.kind).toBe('network');
    expect(e.message).toContain(`${down}/${LFS}/resolve/main/config.json`);
    expect(e.message).toContain('ECONNREFUSED');
    expect(e.message).not.toMatch(/\n\s+at /);

    const online = await snapshotForModel(LFS, { cacheDir: cache, endpoint: hub.endpoint });
    hub.reset();
    expect(await snapshotForModel(LFS, { cacheDir: cache, endpoint: down })).toEqual(online);
    // A Hub that is up but failing (5xx) is treated the same way.
    hub.faults.intercept = () => ({ status: 503 });
    expect(await snapshotForModel(LFS, { cacheDir: cache, endpoint: hub.endpoint })).toEqual(online);
    expect(hub.count()).toBe(1);
  });

  test('a connection dropped halfway leaves a partial blob; the next run resumes it with Range', async () => {
    const cache = tmp();
    const sha = sha256Hex(WEIGHTS);
    const blobs = path.join(repoDir(cache, LFS), 'blobs');
    hub.faults.dropAfter = { sha256: sha, bytes: 120_000, times: 1 };
    const e = await hubError(hubFile(LFS, 'model.safetensors', { cacheDir: cache, endpoint: hub.endpoint }));
    expect(e.kind).toBe('network');
    expect(e.message).toContain(`${hub.cdnOrigin}/lfs/${sha}`);
    expect(e.message).toContain('model.safetensors');
    const kept = fs.statSync(path.join(blobs, sha + '.incomplete')).size;
    expect(kept).toBeGreaterThan(0);
    expect(kept).toBeLessThanOrEqual(120_000);
    expect(fs.existsSync(path.join(blobs, sha))).toBe(false);
    expect(fs.existsSync(path.join(repoDir(cache, LFS), 'snapshots', hub.commit(LFS), 'model.safetensors'))).toBe(false);

    hub.reset();
    const events: HubProgress[] = [];
    const p = await hubFile(LFS, 'model.safetensors', { cacheDir: cache, endpoint: hub.endpoint, onProgress: (x) => events.push({ ...x }) });
    const gets = hub.requests.filter((q) => q.server === 'cdn');
    expect(gets).toHaveLength(1);
    expect(gets[0].headers.range).toBe(`bytes=${kept}-`);
    expectBytes(fs.readFileSync(p!), WEIGHTS);
    expect(filesUnder(blobs)).toEqual([sha]);
    expect(events[0].loaded).toBe(kept);
    expect(events[events.length - 1]).toEqual({ file: 'model.safetensors', loaded: WEIGHTS.length, total: WEIGHTS.length });
  });

  test('a download that goes silent times out (HF_HUB_DOWNLOAD_TIMEOUT); an abort mid-download stops it; both keep the bytes', async () => {
    const cache = tmp();
    const sha = sha256Hex(WEIGHTS);
    const partial = path.join(repoDir(cache, LFS), 'blobs', sha + '.incomplete');
    process.env.HF_HUB_DOWNLOAD_TIMEOUT = '0.3';
    hub.faults.dropAfter = { sha256: sha, bytes: 50_000, times: 2, hang: true };
    const t0 = Date.now();
    const e = await hubError(hubFile(LFS, 'model.safetensors', { cacheDir: cache, endpoint: hub.endpoint }));
    expect(e.kind).toBe('network');
    expect(e.message).toContain('timed out');
    expect(Date.now() - t0).toBeLessThan(5000);
    const kept = fs.statSync(partial).size;
    expect(kept).toBeGreaterThan(0);

    delete process.env.HF_HUB_DOWNLOAD_TIMEOUT;
    // The first progress event comes as the answer starts; the server then sends its bytes and goes silent.
    const ctrl = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const onProgress = () => {
      timer ??= setTimeout(() => ctrl.abort(), 300);
    };
    const aborted = await hubError(hubFile(LFS, 'model.safetensors', { cacheDir: cache, endpoint: hub.endpoint, signal: ctrl.signal, onProgress }));
    expect(aborted.kind).toBe('aborted');
    expect(fs.statSync(partial).size).toBeGreaterThan(kept);
    expect(hub.requests.filter((q) => q.server === 'cdn').map((q) => q.headers.range)).toEqual([undefined, `bytes=${kept}-`]);
  });

  test('a server answering 200 to a Range request restarts the file from zero', async () => {
    const cache = tmp();
    const sha = sha256Hex(WEIGHTS);
    const blobs = path.join(repoDir(cache, LFS), 'blobs');
    fs.mkdirSync(blobs, { recursive: true });
    // Bytes that are not the start of the blob: appending to them would fail the checksum.
    fs.writeFileSync(path.join(blobs, sha + '.incomplete'), Buffer.alloc(5000, 0xaa));
    hub.faults.ignoreRange = true;
    const p = await hubFile(LFS, 'model.safetensors', { cacheDir: cache, endpoint: hub.endpoint });
    expect(hub.requests.filter((q) => q.server === 'cdn').map((q) => q.headers.range)).toEqual(['bytes=5000-']);
    expectBytes(fs.readFileSync(p!), WEIGHTS);
    expect(filesUnder(blobs)).toEqual([sha]);
  });

  test('bytes that do not hash to the LFS sha256 are refused and nothing is cached', async () => {
    const cache = tmp();
    const sha = sha256Hex(WEIGHTS);
    hub.faults.corrupt.add(sha);
    const corrupted = Buffer.from(WEIGHTS);
    corrupted[0] ^= 0xff;
    const e = await hubError(hubFile(LFS, 'model.safetensors', { cacheDir: cache, endpoint: hub.endpoint }));
    expect(e.kind).toBe('checksum');
    for (const s of ['model.safetensors', LFS, sha, sha256Hex(corrupted)]) expect(e.message).toContain(s);
    expect(filesUnder(path.join(repoDir(cache, LFS), 'blobs'))).toEqual([]);
    expect(filesUnder(path.join(repoDir(cache, LFS), 'snapshots'))).toEqual([]);
    expect(fs.existsSync(path.join(repoDir(cache, LFS), 'refs', 'main'))).toBe(false);

    hub.faults.corrupt.clear();
    const p = await hubFile(LFS, 'model.safetensors', { cacheDir: cache, endpoint: hub.endpoint });
    expectBytes(fs.readFileSync(p!), WEIGHTS);
  });
});

describe('a cache written by huggingface_hub (built by hand in its layout)', () => {
  /**
   * models--someone--handmade/
   *   blobs/{git sha1 of each config}, blobs/{sha256 of the weights}
   *   refs/main                       → the new commit (no trailing newline, as Python writes it)
   *   snapshots/{old}/config.json     → ../../blobs/…
   *   snapshots/{new}/config.json, model.safetensors → ../../blobs/…
   */
  function buildCache(): { cache: string; oldCommit: string; newCommit: string; weights: Buffer; newConfig: string; oldConfig: string } {
    const cache = tmp();
    const root = path.join(cache, 'models--someone--handmade');
    const oldCommit = 'a'.repeat(40);
    const newCommit = '0123456789abcdef0123456789abcdef01234567';
    const oldConfig = '{"model_type": "clvp", "version": 1}';
    const newConfig = '{"model_type": "clvp", "version": 2}';
    const weights = bytes(2048, 9);
    fs.mkdirSync(path.join(root, 'blobs'), { recursive: true });
    fs.mkdirSync(path.join(root, 'refs'));
    const blob = (content: Buffer | string, etag: string) => {
      fs.writeFileSync(path.join(root, 'blobs', etag), content);
      return etag;
    };
    const link = (commit: string, file: string, etag: string) => {
      fs.mkdirSync(path.join(root, 'snapshots', commit), { recursive: true });
      fs.symlinkSync(`../../blobs/${etag}`, path.join(root, 'snapshots', commit, file));
    };
    link(oldCommit, 'config.json', blob(oldConfig, gitBlobSha1(Buffer.from(oldConfig))));
    link(newCommit, 'config.json', blob(newConfig, gitBlobSha1(Buffer.from(newConfig))));
    link(newCommit, 'model.safetensors', blob(weights, sha256Hex(weights)));
    fs.writeFileSync(path.join(root, 'refs', 'main'), newCommit);
    return { cache, oldCommit, newCommit, weights, newConfig, oldConfig };
  }

  test('offline resolution goes through refs/main to the snapshot', async () => {
    const { cache, newCommit, oldCommit, newConfig, oldConfig } = buildCache();
    const down = `http://127.0.0.1:${await closedPort()}`;
    const r = await snapshotForModel('someone/handmade', { cacheDir: cache, endpoint: down, offline: true });
    expect(r).toEqual({ dir: path.join(cache, 'models--someone--handmade', 'snapshots', newCommit), commit: newCommit, files: ['config.json', 'model.safetensors'] });
    expect(fs.readFileSync(path.join(r.dir, 'config.json'), 'utf8')).toBe(newConfig);

    process.env.HF_HUB_CACHE = cache;
    process.env.HF_HUB_OFFLINE = 'yes';
    expect(fs.readFileSync((await hubFile('someone/handmade', 'config.json', { revision: oldCommit }))!, 'utf8')).toBe(oldConfig);
    const e = await hubError(snapshotForModel('someone/handmade', { revision: oldCommit }));
    expect(e.kind).toBe('no-weights');
    const missing = await hubError(hubFile('someone/handmade', 'vocab.json'));
    expect(missing.kind).toBe('not-cached');
    expect(missing.message).toContain('offline mode is on');
    expect(await hubFile('someone/handmade', 'vocab.json', { optional: true })).toBeNull();
    expect((await hubError(hubFile('someone/handmade', 'config.json', { revision: 'dev' }))).kind).toBe('not-cached');
  });

  test('online with the network down, the hand-built cache answers too', async () => {
    const { cache, newCommit, weights } = buildCache();
    const down = `http://127.0.0.1:${await closedPort()}`;
    const r = await snapshotForModel('someone/handmade', { cacheDir: cache, endpoint: down });
    expect(r.commit).toBe(newCommit);
    expect(r.files).toEqual(['config.json', 'model.safetensors']);
    expectBytes(fs.readFileSync(path.join(r.dir, 'model.safetensors')), weights);
  });
});
