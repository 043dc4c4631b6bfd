// FilesFolder from a real <input type="file" webkitdirectory>: the runner uploads a folder into it
// with elementHandle.uploadFile, then the page reads it like any model folder.
import { BlobByteSource, FilesFolder, platform } from '../../../src/browser';
import { assert, assertEqual, rejects, run, test, xorshift } from './harness';

const input = document.createElement('input');
input.type = 'file';
input.id = 'pick';
input.webkitdirectory = true;
document.body.append(input);

test('the picked files keep their paths, minus the picked folder', async () => {
  assert(input.files && input.files.length === 3, `three files picked, got ${input.files?.length}`);
  assertEqual(Array.from(input.files!, (f) => f.webkitRelativePath).sort(), ['my-model/config.json', 'my-model/sub/shard-00001.bin', 'my-model/tokenizer.json'], 'webkitRelativePath');
  const folder = FilesFolder.fromFileList(input.files!);
  assertEqual(folder.label, 'my-model', 'label');
  assertEqual(folder.names(), ['config.json', 'sub/shard-00001.bin', 'tokenizer.json'], 'keys');
  assertEqual(folder.location.kind, 'files', 'location kind');
});

test('reads text, ranges and reports missing files', async () => {
  const folder = FilesFolder.fromFileList(input.files!);
  assertEqual(JSON.parse(await folder.readText('config.json')), { picked: true }, 'config');
  assertEqual(await folder.has('tokenizer.json'), true, 'has');
  assertEqual(await folder.has('nope.json'), false, 'has missing');
  const src = await folder.open('sub/shard-00001.bin');
  assert(src instanceof BlobByteSource, 'a Blob source');
  assertEqual(src.size, 100000, 'size');
  const next = xorshift(4242);
  const expected = Uint8Array.from({ length: 100000 }, () => next() & 0xff);
  for (const [o, l] of [[0, 10], [99990, 10], [31337, 5000], [0, 100000]]) {
    const got = await src.read(o, l);
    assertEqual(Array.from(got.subarray(0, 16)), Array.from(expected.subarray(o, o + Math.min(16, l))), `head of [${o}, ${o + l})`);
    assert(got.every((b, i) => b === expected[o + i]), `bytes [${o}, ${o + l})`);
  }
  await rejects(folder.readText('nope.json'), /^my-model\/nope\.json: not among the picked files \(picked: config\.json, sub\/shard-00001\.bin, tokenizer\.json\)$/, 'missing');
});

test('the folder survives a trip through its location (what a worker gets)', async () => {
  const copy = structuredClone(FilesFolder.fromFileList(input.files!).location);
  const again = await platform().reopen(copy);
  assertEqual(JSON.parse(await again.readText('tokenizer.json')), { vocab: ['a', 'b'] }, 'tokenizer after reopen');
});

run();
