import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Secret } from '../../shared/secret';
import { cosmosClientFor } from '../../shared/writer/cosmosClient';
import { projectRoot } from '../../shared/hostSettings';
import type { RunReport } from './report';

/**
 * Runs one SQL query against the Cosmos DB container of the latest local run (read from
 * `.local/last-run.json`), e.g. while `npm start -- --follow` is running:
 *
 *   node dist/scripts/local/query.js "SELECT TOP 5 c.CreationTime, c.Operation FROM c"
 *
 * The local stand-in's key is in that file; for your own account set AUDITFEED_COSMOS__accountKey or
 * sign in (Azure CLI) so DefaultAzureCredential can get a token.
 */
export const USAGE = `usage: node dist/scripts/local/query.js [--state-dir DIR] "SELECT … FROM c …"

Runs one Cosmos DB SQL query against the container of the latest local run (npm start), found in
<state-dir>/last-run.json (default .local; also AUDITFEED_LOCAL_DIR). The local Cosmos DB stand-in is up
only while its run is: keep one going with \`npm start -- --follow\` (or --persist to keep the data).

  --state-dir DIR   where last-run.json is
  --help            this text`;

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
  const report = JSON.parse(readFileSync(file, 'utf8')) as RunReport;
  const key = report.cosmos.key ?? process.env.AUDITFEED_COSMOS__accountKey;
  const client = cosmosClientFor({
    endpoint: report.cosmos.endpoint,
    ...(key ? { key: new Secret(key) } : {}),
    identity: { kind: 'developer' },
    database: report.cosmos.database,
    container: report.cosmos.container,
  });
  try {
    const container = client.database(report.cosmos.database).container(report.cosmos.container);
    let resources: Record<string, unknown>[];
    try {
      ({ resources } = await container.items.query<Record<string, unknown>>(sql).fetchAll());
    } catch (e) {
      const up = report.status === 'running' || report.status === 'following';
      if (!report.cosmos.local || up) throw e;
      process.stderr.write(
        `query failed: ${(e as Error).message}\nThe local run in ${file} has ended (status "${report.status}"), ` +
          'and its Cosmos DB stand-in with it: query while `npm start -- --follow` runs.\n',
      );
      return 1;
    }
    const flat = resources.every(
      (r) =>
        typeof r === 'object' &&
        r !== null &&
        Object.values(r).every((v) => typeof v !== 'object' || v === null),
    );
    if (flat && resources.length > 0) console.table(resources);
    else for (const r of resources) process.stdout.write(`${JSON.stringify(r)}\n`);
    process.stdout.write(
      `${resources.length} rows from ${report.cosmos.endpoint} ${report.cosmos.database}/${report.cosmos.container}\n`,
    );
    return 0;
  } finally {
    client.dispose();
  }
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
