// CLI tests: in-process main() with captured output for convert/inspect/errors, and one real spawn of bin/clvp.js.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Writable } from 'stream';
import { SafetensorsCheckpoint } from '../../src/io/safetensors';
import { openSafetensorsCheckpoint } from '../../src/io/safetensors_fs';
import { buildProgram, main } from '../../src/cli/main';
import { progressSettings } from '../../src/cli/convert';

const ROOT = path.resolve(__dirname, '../..');
const FIX = path.join(ROOT, 'test/fixtures/io');

function referenceDir(): string | undefined {
  const dir = process.env.CLVP_REFERENCE_DIR ?? path.resolve(__dirname, '../../../shared/reference');
  if (fs.existsSync(path.join(dir, 'models'))) return dir;
  // eslint-disable-next-line no-console
  console.log(`reference directory ${dir} not found; skipping the checks that need it`);
  return undefined;
}

function sink(): Writable & { text: () => string; isTTY?: boolean } {
  const chunks: string[] = [];
  const w = new Writable({
    write(chunk, _enc, cb) {
      chunks.push(String(chunk));
      cb();
    },
  }) as Writable & { text: () => string };
  w.text = () => chunks.join('');
  return w;
}

async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const stdout = sink();
  const stderr = sink();
  const code = await main(argv, { stdout, stderr });
  return { code, out: stdout.text(), err: stderr.text() };
}

const dirs: string[] = [];
function tmp(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'clvp-cli-'));
  dirs.push(d);
  return d;
}
afterAll(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

describe('clvp (in-process)', () => {
  it('builds a program with every command and help texts with examples', async () => {
    const names = buildProgram().commands.map((c) => c.name());
    expect(names).toEqual(expect.arrayContaining(['convert', 'inspect', 'parity', 'generate', 'score']));
    for (const cmd of ['convert', 'inspect', 'parity', 'generate', 'score']) {
      const r = await run(cmd, '--help');
      expect(r.code).toBe(0);
      expect(r.out).toMatch(/Examples:/);
    }
    expect((await run('--help')).out).toMatch(/Usage: clvp/);
  });

  it('convert tiny-bin → safetensors equal to the reference, and --json', async () => {
    const ref = referenceDir();
    if (!ref) return;
    const out = path.join(tmp(), 'o');
    const r = await run('convert', path.join(ref, 'models/tiny-bin/pytorch_model.bin'), out, '--json');
    expect(r.code).toBe(0);
    const res = JSON.parse(r.out);
    expect(res.files).toEqual(['model.safetensors']);
    const a = openSafetensorsCheckpoint(out);
    const b = openSafetensorsCheckpoint(path.join(ref, 'models/tiny'));
    try {
      for (const k of b.keys()) expect(Buffer.from(a.readBytesSync(k)).equals(b.readBytesSync(k))).toBe(true);
      expect(a.keys().length).toBe(b.keys().length);
    } finally {
      a.close();
      b.close();
    }
  });

  it('convert --dry-run lists tensors and writes nothing', async () => {
    const ref = referenceDir();
    if (!ref) return;
    const out = path.join(tmp(), 'o');
    const r = await run('convert', path.join(ref, 'models/tiny-bin'), out, '--dry-run', '--dtype', 'bfloat16');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^dry run: 119 tensors/);
    expect(r.out).toMatch(/text_encoder_model\.rotary_pos_emb\.inv_freq\s+F32\s+\[16\]/);
    expect(r.out).toMatch(/logit_scale\s+BF16 \(from F32\)\s+\[\]/);
    expect(fs.existsSync(out)).toBe(false);
  });

  it('shows a progress bar on a TTY stderr only', async () => {
    const ref = referenceDir();
    if (!ref) return;
    const saved = progressSettings.minBytes;
    progressSettings.minBytes = 0;
    try {
      const stdout = sink();
      const stderr = sink();
      stderr.isTTY = true;
      const code = await main(['convert', path.join(ref, 'models/tiny-bin'), path.join(tmp(), 'o')], { stdout, stderr });
      expect(code).toBe(0);
      expect(stderr.text()).toMatch(/converting/);
      const quiet = await run('convert', path.join(ref, 'models/tiny-bin'), path.join(tmp(), 'o'));
      expect(quiet.err).toBe('');
    } finally {
      progressSettings.minBytes = saved;
    }
  });

  it('inspect --json reports the family, counts and config', async () => {
    const ref = referenceDir();
    if (!ref) return;
    const r = await run('inspect', path.join(ref, 'models/tiny-bin'), '--json');
    expect(r.code).toBe(0);
    const rep = JSON.parse(r.out);
    expect(rep.family).toBe('hf-pytorch-bin');
    expect(rep.totalParameters).toBe(219041);
    expect(rep.tensors.length).toBe(119);
    const human = await run('inspect', path.join(ref, 'models/tiny'));
    expect(human.out).toMatch(/family:\s+hf-safetensors/);
    expect(human.out).toMatch(/parameters: 219,041/);
  });

  it('user errors: one line on stderr, exit 2, stack only with --verbose', async () => {
    const missing = await run('inspect', '/no/such/file.bin');
    expect(missing.code).toBe(2);
    expect(missing.err).toBe('clvp: /no/such/file.bin: no such file or directory\n');

    const evil = await run('inspect', path.join(FIX, 'malicious_os_system.pt'));
    expect(evil.code).toBe(2);
    expect(evil.err.trim().split('\n')).toHaveLength(1);
    expect(evil.err).toMatch(/refusing to load global 'posix\.system'/);
    const verbose = await run('--verbose', 'inspect', path.join(FIX, 'malicious_os_system.pt'));
    expect(verbose.code).toBe(2);
    expect(verbose.err).toMatch(/\n\s+at /);

    const legacy = await run('convert', path.join(FIX, 'legacy.pt'), path.join(tmp(), 'o'));
    expect(legacy.code).toBe(2);
    expect(legacy.err).toMatch(/legacy torch serialization format; re-save with torch>=1\.6/);

    expect((await run('convert', '--dtype', 'int4', 'a', 'b')).code).toBe(2);
    expect((await run('convert', 'a', 'b', '--shard-size', 'lots')).err).toMatch(/bad size 'lots'/);
    expect((await run('convert', 'only-one')).code).toBe(2);
    expect((await run('frobnicate')).code).toBe(2);

    const backend = await run('generate', '--backend', 'bogus', '--text', 'Hello.', '--voice', path.join(ROOT, 'examples/voice.wav'));
    expect(backend).toMatchObject({ code: 2, err: "clvp: backend option: unknown backend 'bogus' (expected one of tensorflow, webgpu, wasm, webgl, cpu, or auto)\n" });
  });
});

describe('bin/clvp.js (spawned)', () => {
  it('runs through the ts-node fallback and exits 2 on a refused pickle', () => {
    const r = spawnSync(process.execPath, [path.join(ROOT, 'bin/clvp.js'), 'inspect', path.join(FIX, 'malicious_eval.pt')], {
      encoding: 'utf8',
      env: { ...process.env, CLVP_FROM_SOURCE: '1' },
      timeout: 120000,
    });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/refusing to load global '__builtin__\.eval'/);
    const ok = spawnSync(process.execPath, [path.join(ROOT, 'bin/clvp.js'), 'inspect', path.join(FIX, 'mixed.pt'), '--json'], {
      encoding: 'utf8',
      env: { ...process.env, CLVP_FROM_SOURCE: '1' },
      timeout: 120000,
    });
    expect(ok.status).toBe(0);
    expect(JSON.parse(ok.stdout).family).toBe('unknown');
  });
});
