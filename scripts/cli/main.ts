import { replayPoisonCommand } from '../replay-poison';
import { statusCommand } from '../status';
import { processIo, runCommand, type Command, type Io } from '../cli';
import { backfillCommand } from './backfill';
import { huntCommand, investigateCommand, timelineCommand } from './hunting';
import { importCommand } from './import';
import { queryCommand } from './query';

/**
 * `auditfeed <command>`: the operator's one command line (package.json bin → scripts/cli/auditfeed.cjs,
 * which compiles only when sources changed and then runs this file).
 */

export const COMMANDS: readonly Command[] = [
  statusCommand,
  replayPoisonCommand,
  queryCommand,
  timelineCommand,
  huntCommand,
  investigateCommand,
  importCommand,
  backfillCommand,
];

export function usage(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return `Usage: auditfeed <command> [options]     (in this repository also: npm run auditfeed -- <command> …)

Commands:
${COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`).join('\n')}

Every command takes --help. They read the deployed account through its settings (AUDITFEED_STORAGE…,
AUDITFEED_COSMOS__accountEndpoint or --endpoint) with your Azure sign-in (az login), or, with no settings,
the local stack \`npm start -- --follow\` runs (found in .local/last-run.json).

Exit codes: 0 done, 1 failed or (status) something needs looking at, 2 bad arguments or settings.`;
}

export async function main(argv: readonly string[], io: Io): Promise<number> {
  const [first, ...rest] = argv;
  if (first === undefined) {
    io.err(`${usage()}\n`);
    return 2;
  }
  if (first === '--help' || first === '-h' || first === 'help') {
    const named = first === 'help' ? COMMANDS.find((c) => c.name === rest[0]) : undefined;
    io.out(`${named ? named.usage : usage()}\n`);
    return 0;
  }
  const command = COMMANDS.find((c) => c.name === first);
  if (!command) {
    io.err(
      `auditfeed: unknown command ${JSON.stringify(first)} (commands: ${COMMANDS.map((c) => c.name).join(', ')}; see \`auditfeed --help\`)\n`,
    );
    return 2;
  }
  return runCommand(command, rest, io);
}

if (require.main === module) {
  main(process.argv.slice(2), processIo()).then(
    (code) => (process.exitCode = code),
    (e: unknown) => {
      process.stderr.write(`auditfeed failed: ${e instanceof Error ? e.message : String(e)}\n`);
      process.exitCode = 1;
    },
  );
}
