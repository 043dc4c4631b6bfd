// The benchmarks' command-line flags: `--name value`, and `--json` for one JSON object instead of a table.

export function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : def;
}

/** A mistake in the flags: one line, exit status 2. */
export function usageError(message: string): never {
  process.stderr.write(`${message}\n`);
  process.exit(2);
}

/** An integer flag of at least `min`; anything else is a usage error naming the flag and the value. */
export function intArg(name: string, def: number, min: number, why = ''): number {
  const raw = arg(name, String(def));
  const v = Number(raw);
  if (!(Number.isInteger(v) && v >= min)) usageError(`--${name} must be an integer >= ${min}${why}, got ${raw}`);
  return v;
}
