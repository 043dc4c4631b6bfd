// The README's library example runs as written (examples/library.ts), on the bundled model.
import { setLogger } from '../src/platform/platform';
import { example } from '../examples/library';

test('examples/library.ts runs end to end', async () => {
  setLogger(() => {});
  const s = await example();
  expect(Number.isFinite(s.loss)).toBe(true);
  expect(s.textEmbedsShape).toEqual([1, 128]);
  expect(s.generated[0]).toBe(2);
  expect(s.best.speechIds.length).toBeGreaterThan(0);
  expect(s.chunks.length).toBeGreaterThan(1);
  for (const c of s.chunks) expect(Number.isFinite(c.best)).toBe(true);
});
