// Data-driven parity: runs every case of a reference directory through the call handlers.
import { explainBackendFailure } from '../backend';
import { HostTensor } from '../io/safetensors';
import { ModelFolder } from '../io/folder';
import { CaseIndexEntry, LoadedCase, loadCase, readCaseIndex } from './cases';
import { Comparison, compareTensor } from './compare';

/**
 * What a handler gives back: the tensors it computed (compared against every `out.*` of the
 * case, each of which must be produced), and/or comparisons it did itself (JSON cases).
 */
export interface HandlerResult {
  actual?: Map<string, HostTensor>;
  comparisons?: Comparison[];
}

export type CallHandler = (c: LoadedCase) => Promise<HandlerResult>;

/**
 * Call types not implemented yet, reported as pending by name. A call type that is neither
 * in the registry nor here fails the run.
 */
export const PENDING_CALLS: readonly string[] = [];

export interface CaseReport {
  name: string;
  call: string;
  status: 'pass' | 'fail' | 'pending';
  maxAbsError: number | null;
  maxRelError: number | null;
  message: string;
  seconds: number;
}

export interface ParityReport {
  reference: string;
  backend: string;
  cases: CaseReport[];
}

export interface RunOptions {
  reference: ModelFolder;
  /** Only cases whose name includes one of these strings, or whose call equals one. */
  filter?: string[];
  handlers: Record<string, CallHandler>;
  pending?: readonly string[];
  backend: string;
  onCase?: (r: CaseReport) => void;
}

export function selectCases(entries: CaseIndexEntry[], filter?: string[]): CaseIndexEntry[] {
  if (!filter || filter.length === 0) return entries;
  return entries.filter((e) => filter.some((f) => e.name.includes(f) || e.call === f));
}

export async function runCase(reference: ModelFolder, entry: CaseIndexEntry, handlers: Record<string, CallHandler>, pending: readonly string[]): Promise<CaseReport> {
  const t0 = Date.now();
  const base = { name: entry.name, call: entry.call };
  const handler = handlers[entry.call];
  if (!handler) {
    if (pending.includes(entry.call)) return { ...base, status: 'pending', maxAbsError: null, maxRelError: null, message: `call type '${entry.call}' is pending`, seconds: 0 };
    return { ...base, status: 'fail', maxAbsError: null, maxRelError: null, message: `call type '${entry.call}' is neither implemented nor pending`, seconds: 0 };
  }
  try {
    const c = await loadCase(reference, entry);
    const res = await handler(c);
    const comps: Comparison[] = [...(res.comparisons ?? [])];
    if (res.actual) {
      for (const name of c.outputNames()) {
        const got = res.actual.get(name);
        if (!got) {
          comps.push({ name, ok: false, maxAbsError: Infinity, maxRelError: Infinity, message: `${name}: not produced` });
          continue;
        }
        comps.push(compareTensor(name, got, c.expected(name), c.spec.tolerance));
      }
    }
    if (comps.length === 0) throw new Error('handler compared nothing');
    const failed = comps.filter((x) => !x.ok);
    const maxAbs = Math.max(...comps.map((x) => x.maxAbsError));
    const maxRel = Math.max(...comps.map((x) => x.maxRelError));
    return {
      ...base,
      status: failed.length ? 'fail' : 'pass',
      maxAbsError: maxAbs,
      maxRelError: maxRel,
      message: failed.length ? failed.slice(0, 5).map((x) => x.message).join('; ') + (failed.length > 5 ? `; and ${failed.length - 5} more` : '') : `${comps.length} outputs within tolerance`,
      seconds: (Date.now() - t0) / 1000,
    };
  } catch (e) {
    return { ...base, status: 'fail', maxAbsError: null, maxRelError: null, message: `error: ${(explainBackendFailure(e) as Error).message}`, seconds: (Date.now() - t0) / 1000 };
  }
}

export async function runParity(opts: RunOptions): Promise<ParityReport> {
  const entries = selectCases(await readCaseIndex(opts.reference), opts.filter);
  const cases: CaseReport[] = [];
  for (const e of entries) {
    const r = await runCase(opts.reference, e, opts.handlers, opts.pending ?? PENDING_CALLS);
    opts.onCase?.(r);
    cases.push(r);
  }
  return { reference: opts.reference.label, backend: opts.backend, cases };
}

export function formatReportTable(report: ParityReport): string {
  const fmt = (x: number | null) => (x === null ? '-' : x === 0 ? '0' : x.toExponential(2));
  const rows = report.cases.map((c) => [c.status.toUpperCase(), c.name, c.call, fmt(c.maxAbsError), fmt(c.maxRelError), c.status === 'pass' ? '' : c.message]);
  const head = ['status', 'case', 'call', 'max abs', 'max rel', 'message'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.slice().map((r) => (i < 5 ? r[i].length : 0))));
  const line = (r: string[]) => r.map((x, i) => (i < 5 ? x.padEnd(widths[i]) : x)).join('  ');
  const counts = { pass: 0, fail: 0, pending: 0 };
  for (const c of report.cases) counts[c.status]++;
  return [
    `reference: ${report.reference}  backend: ${report.backend}`,
    line(head),
    ...rows.map(line),
    `${counts.pass} passed, ${counts.fail} failed, ${counts.pending} pending`,
  ].join('\n');
}
