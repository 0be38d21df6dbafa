import { UsageError } from './cli/args';

/**
 * What every `auditfeed` subcommand shares (scripts/cli/main.ts dispatches): where it writes, how a
 * mistake is reported, exit codes and progress. Exit codes: 0 done (status: all well), 1 the command ran
 * into a failure (status: something needs looking at), 2 bad arguments or settings — one message that
 * says what is wrong and how to fix it, never a stack trace.
 */

export type Out = (line: string) => void;

export interface Io {
  /** Writes text as is (results: stdout). */
  out(text: string): void;
  /** Writes text as is (messages, progress: stderr). */
  err(text: string): void;
  env: Record<string, string | undefined>;
  /** stderr is a terminal: progress is shown without --progress, on one rewritten line. */
  errIsTTY: boolean;
  /** Columns of the terminal stdout is, if it is one (tables are fitted to it). */
  columns: number | undefined;
  now(): Date;
}

export interface Command {
  name: string;
  /** One line for `auditfeed --help`. */
  summary: string;
  usage: string;
  /** Returns the exit code; throws UsageError for exit code 2. */
  run(argv: readonly string[], io: Io): Promise<number>;
}

export function processIo(): Io {
  return {
    out: (text) => process.stdout.write(text),
    err: (text) => process.stderr.write(text),
    env: process.env,
    errIsTTY: process.stderr.isTTY === true,
    columns: process.stdout.isTTY ? process.stdout.columns : undefined,
    now: () => new Date(),
  };
}

/** Runs a subcommand: a UsageError is its message and a hint to --help (exit 2), a crash one line (exit 1). */
export async function runCommand(command: Command, argv: readonly string[], io: Io): Promise<number> {
  const name = `auditfeed ${command.name}`;
  try {
    return await command.run(argv, io);
  } catch (e) {
    if (e instanceof UsageError) {
      io.err(
        e.message.includes('\n')
          ? `${name}: ${e.message}\n`
          : `${name}: ${e.message} (see \`${name} --help\`)\n`,
      );
      return 2;
    }
    io.err(`${name} failed: ${describeError(e)}\n`);
    return 1;
  }
}

/** The first line of an error (SDK errors carry whole response bodies), with its code. */
export function describeError(e: unknown): string {
  if (!(e instanceof Error)) return String(e);
  const raw = (e as { code?: unknown }).code;
  const code = typeof raw === 'string' || typeof raw === 'number' ? String(raw) : undefined;
  const first = e.message.split('\n')[0]!.trim() || e.name;
  const short = first.length > 300 ? `${first.slice(0, 300)}…` : first;
  return code !== undefined && !short.includes(code) ? `${short} (${code})` : short;
}

/**
 * Progress of a long query on stderr (pages read, rows so far): on a terminal one line rewritten in
 * place and cleared at the end; with --progress and no terminal, one line per page.
 */
export class Progress {
  private shown = false;

  constructor(
    private readonly io: Io,
    private readonly label: string,
    readonly enabled: boolean,
  ) {}

  page(pages: number, rows: number): void {
    if (!this.enabled) return;
    const text = `${this.label}: ${pages} page(s) read, ${rows} row(s) so far`;
    if (this.io.errIsTTY) {
      this.io.err(`\r\x1b[2K${text}`);
      this.shown = true;
    } else this.io.err(`${text}\n`);
  }

  done(): void {
    if (this.shown) this.io.err('\r\x1b[2K');
    this.shown = false;
  }
}

/** An Io writing whole lines to `out` and `err` (no trailing newline), for tests and the old entry points. */
export function lineIo(env: Io['env'], out: Out, err: Out, now = new Date()): Io {
  return {
    out: (text) => out(text.replace(/\r?\n$/, '')),
    err: (text) => err(text.replace(/\r?\n$/, '')),
    env,
    errIsTTY: false,
    columns: undefined,
    now: () => now,
  };
}

/** Runs a command's main when its file is the program, with its exit code; a crash is exit code 1. */
export function runAsProgram(name: string, main: () => Promise<number>): void {
  main().then(
    (code) => (process.exitCode = code),
    (e: unknown) => {
      console.error(`${name} failed: ${(e as Error).message}`);
      process.exitCode = 1;
    },
  );
}
