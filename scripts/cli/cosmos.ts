import type { Container } from '@azure/cosmos';
import { SETTINGS } from '../../shared/config';
import { cosmosClientFor } from '../../shared/writer/cosmosClient';
import { describeError, Progress, type Io } from '../cli';
import { flagSet, flagValue, type FlagSpec, type Parsed } from './args';
import { formatRows, parseFormat, type Format, type Row } from './format';
import { resolveCosmos, START_HINT, type CosmosTarget } from './target';

/** What every command reading Cosmos DB accepts: where, how to print, progress. */
export const COSMOS_FLAGS: FlagSpec[] = [
  { name: 'format', value: 'table|csv|json' },
  { name: 'progress' },
  { name: 'endpoint', value: 'URL' },
  { name: 'database', value: 'NAME' },
  { name: 'container', value: 'NAME' },
  { name: 'local' },
  { name: 'state-dir', value: 'DIR' },
];

export const COSMOS_FLAGS_USAGE = `  --format F         table (default; long values cut, fitted to the terminal), csv (RFC 4180) or json (an array)
  --progress         pages read and rows so far on stderr (shown anyway when stderr is a terminal)
  --endpoint URL     a Cosmos DB account (your Azure sign-in, or the key in ${SETTINGS.cosmosKey.name})
  --database NAME    database (default: ${SETTINGS.cosmosDatabase.name}, the local run's, or auditfeed)
  --container NAME   container (default: ${SETTINGS.cosmosContainer.name}, the local run's, or records)
  --local            the running local stack even when ${SETTINGS.cosmosEndpoint.name} is set
  --state-dir DIR    where the local stack's last-run.json is (default .local; also AUDITFEED_LOCAL_DIR)
  --help             this text

Where it reads: --endpoint; else ${SETTINGS.cosmosEndpoint.name} (the deployed account, with your Azure
sign-in through DefaultAzureCredential: az login; you need a Cosmos DB data reader role); else the running
local stack (\`npm start -- --follow\`, found in .local/last-run.json; no settings needed).

Exit code: 0 done, 1 the query failed, 2 bad arguments or settings.`;

export interface CosmosCommandOptions {
  format: Format;
  progress: boolean;
  target: CosmosTarget;
}

export function cosmosOptions(p: Parsed, io: Io): CosmosCommandOptions {
  const format = parseFormat(flagValue(p, 'format'));
  const target = resolveCosmos(io.env, {
    endpoint: flagValue(p, 'endpoint'),
    database: flagValue(p, 'database'),
    container: flagValue(p, 'container'),
    local: flagSet(p, 'local'),
    stateDir: flagValue(p, 'state-dir'),
  });
  return { format, progress: flagSet(p, 'progress') || io.errIsTTY, target };
}

/** What a command prints: rows, or for a report its own JSON object and table text. */
export interface Output {
  rows: Row[];
  /** --format json prints this instead of the rows (a report is not a list). */
  json?: unknown;
  /** --format table prints this instead of the rows. */
  table?: string;
}

/**
 * Opens the container, runs `fn`, prints its output, and turns the usual failures into messages that say
 * what to do: no sign-in, no such container, the local stand-in gone.
 */
export async function withContainer(
  io: Io,
  label: string,
  o: CosmosCommandOptions,
  fn: (container: Container, progress: Progress) => Promise<Output>,
): Promise<number> {
  const { config } = o.target;
  const client = cosmosClientFor(config);
  const progress = new Progress(io, label, o.progress);
  try {
    const result = await fn(client.database(config.database).container(config.container), progress);
    progress.done();
    if (o.format === 'json' && result.json !== undefined) io.out(`${JSON.stringify(result.json, null, 2)}\n`);
    else if (o.format === 'table' && result.table !== undefined) io.out(result.table);
    else io.out(formatRows(result.rows, o.format, io.columns));
    io.err(`${result.rows.length} row(s) from ${config.endpoint} ${config.database}/${config.container}\n`);
    return 0;
  } catch (e) {
    progress.done();
    io.err(`auditfeed ${label} failed: ${explain(e, o.target)}\n`);
    return 1;
  } finally {
    client.dispose();
  }
}

function explain(e: unknown, target: CosmosTarget): string {
  const { config, source } = target;
  const err = e as { code?: unknown; name?: string };
  if (err.name === 'CredentialUnavailableError' || err.name === 'AggregateAuthenticationError')
    return (
      `no Azure sign-in for ${config.endpoint} (from ${source}): sign in with \`az login\` (DefaultAzureCredential), ` +
      `or for a local emulator set ${SETTINGS.cosmosKey.name}`
    );
  if (err.code === 404)
    return (
      `${config.endpoint} has no container "${config.container}" in database "${config.database}" (from ${source}): ` +
      `check --database/--container or ${SETTINGS.cosmosDatabase.name}/${SETTINGS.cosmosContainer.name}`
    );
  if (err.code === 403 || err.code === 401)
    return (
      `${describeError(e)}\n${config.endpoint} refused the request (from ${source}): your sign-in needs a Cosmos DB ` +
      'data reader role on the account (Cosmos DB Built-in Data Reader)'
    );
  if (err.code === 'ECONNREFUSED' && target.localRun)
    return `${config.endpoint} does not answer (ECONNREFUSED): the local stack in ${target.localRun} has stopped; ${START_HINT}`;
  return describeError(e);
}
