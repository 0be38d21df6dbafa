import { readFileSync } from 'node:fs';
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
async function main(argv: string[]): Promise<number> {
  let stateDir = process.env.AUDITFEED_LOCAL_DIR ?? path.join(projectRoot(), '.local');
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--state-dir') stateDir = argv[++i] ?? stateDir;
    else rest.push(argv[i] as string);
  }
  const sql = rest.join(' ').trim();
  if (sql === '') {
    process.stderr.write('usage: node dist/scripts/local/query.js [--state-dir DIR] "SELECT … FROM c …"\n');
    return 2;
  }
  const file = path.join(stateDir, 'last-run.json');
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
    const { resources } = await container.items.query<Record<string, unknown>>(sql).fetchAll();
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

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`query failed: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  },
);
