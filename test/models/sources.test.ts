// Where a model comes from: a Hub id through the Hugging Face cache (downloaded from a fake Hub on
// 127.0.0.1, then again offline, and a cache written by hand in huggingface_hub's layout), a
// folder holding only pytorch_model.bin (single or sharded), and checkpoints that must be refused.
import * as tf from '@tensorflow/tfjs-core';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Writable } from 'stream';
import { initBackend, setBackendLogger } from '../../src/backend';
import { ClvpModelForConditionalGeneration } from '../../src/clvp_model';
import { main } from '../../src/cli/main';
import { readSafetensors, writeSafetensors } from '../../src/io/safetensors_fs';
import { FakeHub, sha256Hex } from '../helpers/hub_server';
import { FIXTURE_REFERENCE } from '../helpers/env';
import { writeTorchCheckpoint } from '../io/helpers';

setBackendLogger(() => {});
const ROOT = path.resolve(__dirname, '../..');
const BUNDLED = path.join(ROOT, 'weights', 'clvp-random-small');
const VOICE = path.join(ROOT, 'examples', 'voice.wav');
const TINY = path.join(FIXTURE_REFERENCE, 'models', 'tiny');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'clvp-sources-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const HF_VARS = ['HF_ENDPOINT', 'HF_HUB_CACHE', 'HF_HOME', 'HF_HUB_OFFLINE', 'HF_TOKEN', 'HUGGINGFACE_HUB_CACHE', 'HUGGING_FACE_HUB_TOKEN', 'TRANSFORMERS_OFFLINE'];
const saved = Object.fromEntries(HF_VARS.map((k) => [k, process.env[k]]));
afterEach(() => {
  for (const k of HF_VARS) {
    if (saved[k] === undefined) delete process.env[k];
    else process.env[k] = saved[k];
  }
});
beforeAll(async () => {
  for (const k of HF_VARS) delete process.env[k];
  await initBackend('wasm');
});

function sink(): Writable & { text: () => string } {
  const chunks: string[] = [];
  const w = new Writable({ write(c, _e, cb) { chunks.push(String(c)); cb(); } }) as Writable & { text: () => string };
  w.text = () => chunks.join('');
  return w;
}
async function run(...argv: string[]) {
  const stdout = sink();
  const stderr = sink();
  const code = await main(argv, { stdout, stderr });
  return { code, out: stdout.text(), err: stderr.text() };
}

const bundledFiles = () => Object.fromEntries(fs.readdirSync(BUNDLED).map((f) => [f, fs.readFileSync(path.join(BUNDLED, f))]));

describe('Hub model ids', () => {
  test('clvp generate --model org/name downloads into the HF cache, then runs again offline', async () => {
    const hub = await FakeHub.start([{ id: 'clvp-test/random-small', branches: { main: bundledFiles() }, lfs: (f) => f.endsWith('.safetensors') }]);
    const cache = path.join(tmp, 'hub-cache');
    process.env.HF_ENDPOINT = hub.endpoint;
    process.env.HF_HUB_CACHE = cache;
    const job = ['generate', '--model', 'clvp-test/random-small', '--text', 'Hello there.', '--voice', VOICE, '--backend', 'wasm', '--candidates', '2', '--max-new-tokens', '8', '--seed', '3', '--json'];
    let first;
    try {
      first = await run(...job);
      expect(first.err).not.toMatch(/internal error/);
      expect(first.code).toBe(0);
      expect(hub.count({ method: 'GET' })).toBeGreaterThanOrEqual(6); // config, tokenizer files, preprocessor, weights
      const snap = path.join(cache, 'models--clvp-test--random-small', 'snapshots', hub.commit('clvp-test/random-small'));
      expect(fs.readFileSync(path.join(snap, 'model.safetensors')).equals(fs.readFileSync(path.join(BUNDLED, 'model.safetensors')))).toBe(true);
      expect(fs.lstatSync(path.join(snap, 'model.safetensors')).isSymbolicLink()).toBe(true);
      expect(fs.existsSync(path.join(cache, 'models--clvp-test--random-small', 'blobs', sha256Hex(fs.readFileSync(path.join(BUNDLED, 'model.safetensors')))))).toBe(true);
    } finally {
      await hub.close();
    }
    // The Hub is gone: offline mode reads the same snapshot and gives the same candidates.
    process.env.HF_HUB_OFFLINE = '1';
    const second = await run(...job);
    expect(second.code).toBe(0);
    expect(JSON.parse(second.out).chunks).toEqual(JSON.parse(first.out).chunks);
    // A model id that is in neither the cache nor reachable is a one-line user error naming it.
    const missing = await run('generate', '--model', 'clvp-test/absent', '--text', 'Hi.', '--voice', VOICE);
    expect(missing.code).toBe(2);
    expect(missing.err).toMatch(/--model: .*clvp-test\/absent.*offline/i);
  });

  test('a cache written in huggingface_hub\'s layout is found offline', async () => {
    const cache = path.join(tmp, 'python-cache');
    const repo = path.join(cache, 'models--someone--clvp-small');
    const commit = 'ab'.repeat(20);
    fs.mkdirSync(path.join(repo, 'blobs'), { recursive: true });
    fs.mkdirSync(path.join(repo, 'snapshots', commit), { recursive: true });
    fs.mkdirSync(path.join(repo, 'refs'), { recursive: true });
    fs.writeFileSync(path.join(repo, 'refs', 'main'), commit);
    for (const [name, bytes] of Object.entries(bundledFiles())) {
      const blob = sha256Hex(bytes);
      fs.writeFileSync(path.join(repo, 'blobs', blob), bytes);
      fs.symlinkSync(path.join('..', '..', 'blobs', blob), path.join(repo, 'snapshots', commit, name));
    }
    process.env.HF_HUB_CACHE = cache;
    process.env.HF_HUB_OFFLINE = '1';
    const m = await ClvpModelForConditionalGeneration.fromPretrained('someone/clvp-small');
    const ref = await ClvpModelForConditionalGeneration.fromPretrained(BUNDLED);
    try {
      const a = await m.getTextFeatures({ inputIds: [[5, 6, 7]] });
      const b = await ref.getTextFeatures({ inputIds: [[5, 6, 7]] });
      expect(Array.from(a.dataSync())).toEqual(Array.from(b.dataSync()));
      tf.dispose([a, b]);
    } finally {
      await m.dispose();
      await ref.dispose();
    }
  });
});

describe('pytorch_model.bin folders load directly', () => {
  const tensors = () => [...readSafetensors(path.join(TINY, 'model.safetensors'))].map(([name, t]) => ({ name, dtype: 'F32' as const, shape: t.shape, bytes: Buffer.from((t.data as Float32Array).buffer) }));
  const withConfig = (dir: string) => {
    fs.mkdirSync(dir, { recursive: true });
    for (const f of ['config.json', 'generation_config.json']) fs.copyFileSync(path.join(TINY, f), path.join(dir, f));
    return dir;
  };

  async function expectSameModel(dir: string) {
    const bin = await ClvpModelForConditionalGeneration.fromPretrained(dir);
    const st = await ClvpModelForConditionalGeneration.fromPretrained(TINY);
    try {
      const ids = [[3, 4, 5, 6]];
      for (const [a, b] of [[await bin.getTextFeatures({ inputIds: ids }), await st.getTextFeatures({ inputIds: ids })]]) {
        expect(Array.from(a.dataSync())).toEqual(Array.from(b.dataSync()));
        tf.dispose([a, b]);
      }
      const da = await bin.runtime.decoder({ ids: { data: Int32Array.of(1, 2, 3), shape: [1, 3] } });
      const db = await st.runtime.decoder({ ids: { data: Int32Array.of(1, 2, 3), shape: [1, 3] } });
      expect(Array.from(da.logits.data)).toEqual(Array.from(db.logits.data));
    } finally {
      await bin.dispose();
      await st.dispose();
    }
  }

  test('a single pytorch_model.bin gives exactly the model of its safetensors', async () => {
    const dir = withConfig(path.join(tmp, 'bin-single'));
    writeTorchCheckpoint(path.join(dir, 'pytorch_model.bin'), tensors());
    await expectSameModel(dir);
  });

  test('a sharded pytorch_model.bin.index.json, on one instance and on two tensor-parallel workers', async () => {
    const dir = withConfig(path.join(tmp, 'bin-sharded'));
    const all = tensors();
    const half = Math.floor(all.length / 2);
    const weightMap: Record<string, string> = {};
    [all.slice(0, half), all.slice(half)].forEach((part, i) => {
      const name = `pytorch_model-0000${i + 1}-of-00002.bin`;
      writeTorchCheckpoint(path.join(dir, name), part);
      for (const t of part) weightMap[t.name] = name;
    });
    fs.writeFileSync(path.join(dir, 'pytorch_model.bin.index.json'), JSON.stringify({ metadata: {}, weight_map: weightMap }));
    await expectSameModel(dir);
    const split = await ClvpModelForConditionalGeneration.fromPretrained(dir, { tp: 2 });
    const one = await ClvpModelForConditionalGeneration.fromPretrained(TINY);
    try {
      const a = await split.getTextFeatures({ inputIds: [[3, 4, 5, 6]] });
      const b = await one.getTextFeatures({ inputIds: [[3, 4, 5, 6]] });
      const diff = Math.max(...Array.from(a.dataSync()).map((v, i) => Math.abs(v - b.dataSync()[i])));
      expect(diff).toBeLessThan(1e-5);
      tf.dispose([a, b]);
    } finally {
      await split.dispose();
      await one.dispose();
    }
  });
});

describe('checkpoints that must be refused', () => {
  test('a NaN or infinite weight is an error at load that names the tensor', async () => {
    for (const [name, bad] of [['nan', NaN], ['inf', -Infinity]] as const) {
      const dir = path.join(tmp, `bad-${name}`);
      fs.mkdirSync(dir);
      for (const f of ['config.json', 'generation_config.json']) fs.copyFileSync(path.join(TINY, f), path.join(dir, f));
      const ts = [...readSafetensors(path.join(TINY, 'model.safetensors'))].map(([n, t]) => ({ name: n, dtype: 'F32' as const, shape: t.shape, data: Float32Array.from(t.data) }));
      const victim = ts.find((t) => t.name === 'speech_decoder_model.model.decoder.layers.1.mlp.c_fc.weight')!;
      victim.data[17] = bad;
      writeSafetensors(path.join(dir, 'model.safetensors'), ts);
      const before = tf.memory().numTensors;
      await expect(ClvpModelForConditionalGeneration.fromPretrained(dir)).rejects.toThrow(new RegExp(`'speech_decoder_model\\.model\\.decoder\\.layers\\.1\\.mlp\\.c_fc\\.weight' holds ${bad} at flat index 17`));
      expect(tf.memory().numTensors).toBe(before);
    }
  });

  test('safetensors __metadata__ values must be strings', async () => {
    const file = path.join(tmp, 'meta.safetensors');
    const header = Buffer.from(JSON.stringify({ __metadata__: { format: 'pt', step: 3 }, w: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }));
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(header.length));
    fs.writeFileSync(file, Buffer.concat([len, header, Buffer.alloc(4)]));
    expect(() => readSafetensors(file)).toThrow(/meta\.safetensors: __metadata__ value of 'step' must be a string \(the format allows only strings\), got 3/);
  });
});
