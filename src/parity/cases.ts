// Reading the reference case directory: cases/index.json, cases/<name>.json and cases/<name>.safetensors.
// Through a ModelFolder, so the same cases run in Node and in a page that fetches them over HTTP.
import { ModelFolder, readJson, subFolder } from '../io/folder';
import { HostTensor, SafetensorsFile } from '../io/safetensors';

export interface CaseIndexEntry {
  name: string;
  call: string;
  model: string | null;
  file?: string;
}

export interface Tolerance {
  atol?: number;
  rtol?: number;
  exact?: boolean;
  neg_inf?: string;
}

/** One case file, as the reference writes it (fields beyond these are kept in `raw`). */
export interface CaseSpec {
  name: string;
  call: string;
  model: string | null;
  args: Record<string, unknown>;
  inputs: Record<string, { dtype: string; shape: number[] }>;
  outputs: Record<string, { dtype: string; shape: number[] }>;
  tolerance: Tolerance;
  notes?: string;
  raw: Record<string, unknown>;
}

export async function readCaseIndex(reference: ModelFolder): Promise<CaseIndexEntry[]> {
  const file = `${reference.label}/cases/index.json`;
  if (!(await reference.has('cases/index.json'))) throw new Error(`${file}: no case index (set CLVP_REFERENCE_DIR or --reference to a reference directory)`);
  return parseCaseIndex(await readJson(reference, 'cases/index.json'), file);
}

/** The entries of a parsed cases/index.json (`file` names it in messages). */
export function parseCaseIndex(parsed: unknown, file: string): CaseIndexEntry[] {
  const list = Array.isArray(parsed) ? parsed : (parsed as { cases?: unknown }).cases;
  if (!Array.isArray(list)) throw new Error(`${file}: expected a list of {name, call, model}`);
  return list.map((e, i) => {
    const entry = e as CaseIndexEntry;
    if (typeof entry.name !== 'string' || typeof entry.call !== 'string') throw new Error(`${file}: entry ${i} lacks a name or call`);
    return { name: entry.name, call: entry.call, model: entry.model ?? null, file: entry.file };
  });
}

/** A loaded case: its JSON spec and (for tensor cases) the `in.*` / `out.*` tensors. */
export class LoadedCase {
  constructor(
    readonly reference: ModelFolder,
    readonly entry: CaseIndexEntry,
    readonly spec: CaseSpec,
    readonly tensors: Map<string, HostTensor>,
  ) {}

  input(name: string): HostTensor {
    const t = this.tensors.get(`in.${name}`);
    if (!t) throw new Error(`case ${this.entry.name}: no input tensor 'in.${name}'`);
    return t;
  }

  hasInput(name: string): boolean {
    return this.tensors.has(`in.${name}`);
  }

  expected(name: string): HostTensor {
    const t = this.tensors.get(`out.${name}`);
    if (!t) throw new Error(`case ${this.entry.name}: no expected tensor 'out.${name}'`);
    return t;
  }

  /** Names of all expected outputs (without the `out.` prefix). */
  outputNames(): string[] {
    return [...this.tensors.keys()].filter((k) => k.startsWith('out.')).map((k) => k.slice(4));
  }

  /** The model a case names, inside the reference's models/: a folder, or a weights file in one. */
  model(): { key: string; folder: ModelFolder; weightsFile?: string } {
    const m = this.entry.model;
    if (!m) throw new Error(`case ${this.entry.name}: names no model`);
    if (!m.endsWith('.safetensors')) return { key: m, folder: subFolder(this.reference, `models/${m}`) };
    const cut = m.lastIndexOf('/');
    return { key: m, folder: subFolder(this.reference, `models/${m.slice(0, cut)}`), weightsFile: m.slice(cut + 1) };
  }
}

export async function loadCase(reference: ModelFolder, entry: CaseIndexEntry): Promise<LoadedCase> {
  const jsonFile = entry.file ?? `cases/${entry.name}.json`;
  const spec = parseCaseSpec((await readJson(reference, jsonFile)) as Record<string, unknown>, entry);
  const stFile = jsonFile.replace(/\.json$/, '.safetensors');
  const tensors = new Map<string, HostTensor>();
  if (await reference.has(stFile)) {
    const f = await SafetensorsFile.open(await reference.open(stFile));
    try {
      for (const name of f.tensors.keys()) tensors.set(name, await f.read(name));
    } finally {
      f.close();
    }
  }
  return new LoadedCase(reference, entry, spec, tensors);
}

/** A case file's JSON as a spec (the index entry fills in what the file leaves out). */
export function parseCaseSpec(raw: Record<string, unknown>, entry: CaseIndexEntry): CaseSpec {
  return {
    name: (raw.name as string) ?? entry.name,
    call: (raw.call as string) ?? entry.call,
    model: (raw.model as string | null) ?? entry.model,
    args: (raw.args as Record<string, unknown>) ?? {},
    inputs: (raw.inputs as CaseSpec['inputs']) ?? {},
    outputs: (raw.outputs as CaseSpec['outputs']) ?? {},
    tolerance: (raw.tolerance as Tolerance) ?? {},
    notes: raw.notes as string | undefined,
    raw,
  };
}
