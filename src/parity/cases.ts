// Reading the reference case directory: cases/index.json, cases/<name>.json and cases/<name>.safetensors.
import * as fs from 'fs';
import * as path from 'path';
import { HostTensor, readSafetensors } from '../io/safetensors';

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

export function defaultReferenceDir(): string {
  return process.env.CLVP_REFERENCE_DIR ?? path.resolve(process.cwd(), '..', 'shared', 'reference');
}

export function readCaseIndex(referenceDir: string): CaseIndexEntry[] {
  const file = path.join(referenceDir, 'cases', 'index.json');
  if (!fs.existsSync(file)) throw new Error(`${file}: no case index (set CLVP_REFERENCE_DIR or --reference to a reference directory)`);
  const parsed = JSON.parse(fs.readFileSync(file, 'utf8')) as unknown;
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
    readonly referenceDir: string,
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

  /** Path of the model (folder or weights file) a case names, inside the reference's models/. */
  modelPath(): string {
    if (!this.entry.model) throw new Error(`case ${this.entry.name}: names no model`);
    return path.join(this.referenceDir, 'models', this.entry.model);
  }
}

export function loadCase(referenceDir: string, entry: CaseIndexEntry): LoadedCase {
  const jsonFile = path.join(referenceDir, entry.file ?? path.join('cases', `${entry.name}.json`));
  const raw = JSON.parse(fs.readFileSync(jsonFile, 'utf8')) as Record<string, unknown>;
  const spec: CaseSpec = {
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
  const stFile = jsonFile.replace(/\.json$/, '.safetensors');
  const tensors = fs.existsSync(stFile) ? readSafetensors(stFile) : new Map<string, HostTensor>();
  return new LoadedCase(referenceDir, entry, spec, tensors);
}
