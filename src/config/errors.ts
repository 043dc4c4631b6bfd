// The error a caller gets for a setting or an input outside what is allowed: it names the field
// (or flag), the value and the allowed range, so the CLI can report it as the user's mistake
// (exit 2) and a library caller can tell it from a failure of ours. A RangeError, as the checks of
// the first landing threw, so `instanceof RangeError` keeps working.
export class ValidationError extends RangeError {
  constructor(
    /** the setting, as the library names it: 'GenerationConfig.topP', 'rankCandidates: numCandidates' */
    readonly field: string,
    readonly value: unknown,
    /** what is allowed: 'a number in (0, 1]' */
    readonly allowed: string,
    note = '',
  ) {
    super(`${field} has to be ${allowed}, but is ${ValidationError.show(value)}${note}`);
  }

  static show(v: unknown): string {
    if (typeof v === 'number' && !Number.isFinite(v)) return String(v);
    return JSON.stringify(v) ?? String(v);
  }
}
