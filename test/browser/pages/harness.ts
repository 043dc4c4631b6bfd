// The in-page half of the browser tests: pages register named tests, run them in order, and
// publish the results on window.__clvp for test/browser/run.ts to collect. With ?wait=1 the page
// waits until the runner calls window.__clvpGo() (after it has uploaded files or gone offline).

export interface PageTestResult {
  name: string;
  ok: boolean;
  ms: number;
  /** why it failed */
  detail?: string;
  /** what a passing test measured (the string its function returned), or why it was skipped */
  info?: string;
  /** not run: what it needs is absent (ok stays true; the runner counts it apart) */
  skipped?: boolean;
}

declare global {
  interface Window {
    __clvp?: { done: boolean; results: PageTestResult[] };
    __clvpGo?: () => void;
  }
}

const tests: Array<{ name: string; fn: () => unknown }> = [];

export const query = new URLSearchParams(location.search);

export function test(name: string, fn: () => unknown): void {
  tests.push({ name, fn });
}

export class AssertionError extends Error {}

class Skipped extends Error {}

/** End the test as skipped, saying why (something it needs is absent); never a pass. */
export function skip(reason: string): never {
  throw new Skipped(reason);
}

export function assert(cond: unknown, what: string): asserts cond {
  if (!cond) throw new AssertionError(what);
}

export function assertEqual<T>(actual: T, expected: T, what: string): void {
  const a = JSON.stringify(actual);
  const e = JSON.stringify(expected);
  if (a !== e) throw new AssertionError(`${what}: expected ${e}, got ${a}`);
}

export function assertClose(actual: number, expected: number, tol: number, what: string): void {
  if (!(Math.abs(actual - expected) <= tol)) throw new AssertionError(`${what}: expected ${expected} ± ${tol}, got ${actual}`);
}

/** The promise must reject with a message matching `re`; returns the error. */
export async function rejects(p: Promise<unknown>, re: RegExp, what: string): Promise<Error> {
  let err: unknown;
  try {
    await p;
  } catch (e) {
    err = e;
  }
  if (err === undefined) throw new AssertionError(`${what}: expected a rejection matching ${re}, but it resolved`);
  const msg = (err as Error)?.message ?? String(err);
  if (!re.test(msg)) throw new AssertionError(`${what}: expected a rejection matching ${re}, got ${JSON.stringify(msg)}`);
  return err as Error;
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const d = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes.slice().buffer));
  return Array.from(d, (x) => x.toString(16).padStart(2, '0')).join('');
}

/** A deterministic stream of uint32s (xorshift32), the same as the runner's fixture generator. */
export function xorshift(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s;
  };
}

export function run(): void {
  const go = async () => {
    const results: PageTestResult[] = [];
    for (const t of tests) {
      const t0 = performance.now();
      try {
        const info = await t.fn();
        results.push({ name: t.name, ok: true, ms: Math.round(performance.now() - t0), ...(typeof info === 'string' ? { info } : {}) });
      } catch (e) {
        const err = e as Error;
        if (err instanceof Skipped) {
          results.push({ name: t.name, ok: true, skipped: true, ms: Math.round(performance.now() - t0), info: err.message });
          continue;
        }
        const detail = err instanceof AssertionError ? err.message : `${err?.name ?? 'Error'}: ${err?.message ?? String(e)}${err?.stack ? `\n${err.stack}` : ''}`;
        results.push({ name: t.name, ok: false, ms: Math.round(performance.now() - t0), detail });
      }
    }
    window.__clvp = { done: true, results };
  };
  if (query.get('wait') === '1') window.__clvpGo = () => void go();
  else void go();
}
