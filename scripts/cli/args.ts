/**
 * The command line of every `auditfeed` subcommand: declared flags (`--name value`, `--name=value`,
 * booleans, repeatable), positionals, `--` to end the flags. A mistake throws UsageError with one line
 * that says what is wrong; the caller adds the hint to --help and exits 2.
 */

/** Bad arguments or a missing setting: exit code 2, the message shown as is (no stack trace). */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export interface FlagSpec {
  /** Without the dashes: `format` for --format. */
  name: string;
  /** Placeholder of its value (`FORMAT`); undefined for a boolean flag. */
  value?: string;
  /** May be given more than once; the values are collected in order. */
  repeat?: boolean;
  /** Another spelling, e.g. `-h`. */
  alias?: string;
}

export interface Parsed {
  flags: Map<string, string[] | true>;
  positionals: string[];
  help: boolean;
}

/** Parses argv by the specs; `--help`/`-h` anywhere before `--` sets help (other mistakes then ignored). */
export function parseFlags(argv: readonly string[], specs: readonly FlagSpec[]): Parsed {
  const endOfFlags = argv.indexOf('--');
  const flagPart = endOfFlags < 0 ? argv : argv.slice(0, endOfFlags);
  if (flagPart.includes('--help') || flagPart.includes('-h'))
    return { flags: new Map(), positionals: [], help: true };
  const byName = new Map<string, FlagSpec>();
  for (const s of specs) {
    byName.set(`--${s.name}`, s);
    if (s.alias) byName.set(s.alias, s);
  }
  const flags = new Map<string, string[] | true>();
  const positionals: string[] = [];
  for (let i = 0; i < flagPart.length; i++) {
    const a = flagPart[i]!;
    if (!a.startsWith('-') || a === '-') {
      positionals.push(a);
      continue;
    }
    const eq = a.indexOf('=');
    const key = a.startsWith('--') && eq > 0 ? a.slice(0, eq) : a;
    const spec = byName.get(key);
    if (!spec) throw new UsageError(`unknown argument ${a}`);
    if (spec.value === undefined) {
      if (key !== a) throw new UsageError(`--${spec.name} takes no value (got ${a})`);
      flags.set(spec.name, true);
      continue;
    }
    let value: string | undefined;
    if (key !== a) value = a.slice(eq + 1);
    else {
      value = flagPart[i + 1];
      if (value === undefined || value.startsWith('--'))
        throw new UsageError(`--${spec.name} needs a value (${spec.value})`);
      i++;
    }
    const before = flags.get(spec.name);
    if (before !== undefined && !spec.repeat)
      throw new UsageError(`--${spec.name} is given twice; give it once`);
    flags.set(spec.name, [...(Array.isArray(before) ? before : []), value]);
  }
  if (endOfFlags >= 0) positionals.push(...argv.slice(endOfFlags + 1));
  return { flags, positionals, help: false };
}

/** The last value of a flag, or undefined. */
export function flagValue(p: Parsed, name: string): string | undefined {
  const v = p.flags.get(name);
  return Array.isArray(v) ? v[v.length - 1] : undefined;
}

export function flagValues(p: Parsed, name: string): string[] {
  const v = p.flags.get(name);
  return Array.isArray(v) ? v : [];
}

export function flagSet(p: Parsed, name: string): boolean {
  return p.flags.get(name) === true;
}

/** A whole number of at least `min`, or a UsageError naming the flag. */
export function wholeNumber(flag: string, value: string, min = 1): number {
  if (!/^\d+$/.test(value) || Number(value) < min)
    throw new UsageError(`--${flag} needs a whole number of at least ${min} (got ${JSON.stringify(value)})`);
  return Number(value);
}

/** An ISO 8601 date or date-time (`2026-11-20`, `2026-11-20T12:00:00Z`; UTC unless a zone is given), as ISO. */
export function isoTime(flag: string, value: string): string {
  const ok = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?)?$/.test(value);
  // Without a zone, UTC (as everything in the store), never the local time zone of this machine.
  const zoned =
    value.length === 10 ? `${value}T00:00:00Z` : /(Z|[+-]\d{2}:\d{2})$/.test(value) ? value : `${value}Z`;
  const ms = Date.parse(zoned);
  if (!ok || Number.isNaN(ms))
    throw new UsageError(
      `--${flag} needs an ISO 8601 date or time such as 2026-11-20 or 2026-11-20T12:00:00Z (got ${JSON.stringify(value)})`,
    );
  return new Date(ms).toISOString();
}
