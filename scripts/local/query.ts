import { existsSync } from 'node:fs';
import path from 'node:path';
import { projectRoot } from '../../shared/hostSettings';
import { processIo, runCommand } from '../cli';
import { queryCommand } from '../cli/query';

/**
 * Runs one SQL query against the Cosmos DB container of the latest local run (read from
 * `.local/last-run.json`), e.g. while `npm start -- --follow` is running:
 *
 *   node dist/scripts/local/query.js "SELECT TOP 5 c.CreationTime, c.Operation FROM c"
 *
 * Kept for the commands the run summary prints; it is `auditfeed query --local` (scripts/cli/query.ts),
 * which also takes --param, --format and named queries.
 */
export const USAGE = `usage: node dist/scripts/local/query.js [--state-dir DIR] "SELECT … FROM c …"

Runs one Cosmos DB SQL query against the container of the latest local run (npm start), found in
<state-dir>/last-run.json (default .local; also AUDITFEED_LOCAL_DIR). The local Cosmos DB stand-in is up
only while its run is: keep one going with \`npm start -- --follow\` (or --persist to keep the data).

  --state-dir DIR   where last-run.json is
  --help            this text

The same as \`npm run auditfeed -- query --local "SELECT …"\`, which also takes --param and --format.`;

const HINT = 'run with --help for usage';

export type QueryCommand =
  { kind: 'help' } | { kind: 'query'; sql: string; stateDir: string } | { kind: 'error'; message: string };

/** The command line: options first (or anywhere), the SQL as the remaining words. */
export function parseQueryArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): QueryCommand {
  let stateDir = env.AUDITFEED_LOCAL_DIR?.trim() || path.join(projectRoot(), '.local');
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === '--help' || a === '-h') return { kind: 'help' };
    if (a === '--state-dir') {
      const v = argv[++i];
      if (v === undefined || v.startsWith('-'))
        return { kind: 'error', message: '--state-dir needs a value' };
      stateDir = v;
    } else if (a.startsWith('--state-dir=')) stateDir = a.slice('--state-dir='.length);
    // SQL never starts with a dash: this is an option we do not know, not a query.
    else if (a.startsWith('-')) return { kind: 'error', message: `unknown argument ${a}` };
    else rest.push(a);
  }
  const sql = rest.join(' ').trim();
  if (sql === '') return { kind: 'error', message: 'no query given' };
  return { kind: 'query', sql, stateDir };
}

async function main(argv: string[]): Promise<number> {
  const command = parseQueryArgs(argv);
  if (command.kind === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (command.kind === 'error') {
    process.stderr.write(`query: ${command.message}\n${HINT}\n`);
    return 2;
  }
  const { sql, stateDir } = command;
  const file = path.join(stateDir, 'last-run.json');
  if (!existsSync(file)) {
    process.stderr.write(
      `query: no local run found (${file} is missing); start one with \`npm start -- --follow\`\n`,
    );
    return 1;
  }
  return runCommand(queryCommand, ['--local', '--state-dir', stateDir, '--', sql], processIo());
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e: unknown) => {
      process.stderr.write(`query failed: ${e instanceof Error ? e.message : String(e)}\n`);
      process.exit(1);
    },
  );
}
