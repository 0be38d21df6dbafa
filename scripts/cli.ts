import { loadConfig, type AuditfeedConfig } from '../shared/config';
import { ConfigError } from '../shared/errors';

export type Out = (line: string) => void;

export interface CliOptions<A extends { help: boolean }> {
  usage: string;
  /** Throws with a message on bad arguments. */
  parse: (argv: readonly string[]) => A;
  argv: readonly string[];
  env: Record<string, string | undefined>;
  out: Out;
}

/**
 * What every operator command shares: arguments, --help, then the function app's settings validated by
 * shared/config.ts. Bad arguments or settings print why and give exit code 2; `run` gives the rest.
 */
export async function withSettings<A extends { help: boolean }>(
  o: CliOptions<A>,
  run: (args: A, config: AuditfeedConfig) => Promise<number>,
): Promise<number> {
  let args: A;
  try {
    args = o.parse(o.argv);
  } catch (e) {
    o.out(`${(e as Error).message}\n\n${o.usage}`);
    return 2;
  }
  if (args.help) {
    o.out(o.usage);
    return 0;
  }
  let config: AuditfeedConfig;
  try {
    config = loadConfig(o.env);
  } catch (e) {
    if (e instanceof ConfigError) {
      o.out(e.message);
      return 2;
    }
    throw e;
  }
  return run(args, config);
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
