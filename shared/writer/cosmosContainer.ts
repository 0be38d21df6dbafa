import type {
  Container,
  ContainerDefinition,
  ContainerRequest,
  CosmosClient,
  IndexingPolicy,
  PartitionKeyDefinition,
} from '@azure/cosmos';
import type { Logger } from '../logging';
import { ContainerMismatchError, CosmosProvisioningError } from './errors';

/** DESIGN §5: one path, value deterministic from the record. */
export const PARTITION_KEY_PATH = '/pk';

/**
 * Paths investigations filter and sort on; everything else is excluded to cut the RU cost of every
 * write (≈ 0.2 RU per indexed term). Record fields (PascalCase) as the service names them, plus our
 * normalised copies where the service's own spelling is unreliable: `clientIp` (no port), `recordType`
 * (number even when the record spells a string), `user` (lower case). `pk` is included so filters on it
 * stay cheap across partitions; `id` is always indexed by Cosmos.
 */
export const INDEXED_PATHS = [
  '/pk/?',
  '/CreationTime/?',
  '/Operation/?',
  '/UserId/?',
  '/user/?',
  '/ClientIP/?',
  '/clientIp/?',
  '/RecordType/?',
  '/recordType/?',
  '/Workload/?',
  '/ResultStatus/?',
  '/ObjectId/?',
  '/contentType/?',
  '/creationDay/?',
  '/tenantId/?',
  // The hunting pack (shared/hunting/queries/) filters on these. userAgent (legacy-protocol sign-ins) is on
  // Azure AD sign-ins and SharePoint/OneDrive records; the rest are sparse, only on inbox-rule, Set-Mailbox
  // and search records (forwarding pivots, payment searches). Together about +0.5 indexed terms and +1% RU
  // per write on the simulator's content-type mix (9.19 → 9.30 RU; 15.30 when indexing everything).
  '/userAgent/?',
  '/forwardTo/?',
  '/redirectTo/?',
  '/forwardAsAttachmentTo/?',
  '/forwardingSmtpAddress/?',
  '/forwardingAddress/?',
  '/QueryText/?',
] as const;

export const INDEXING_POLICY: IndexingPolicy = {
  indexingMode: 'consistent',
  automatic: true,
  includedPaths: INDEXED_PATHS.map((path) => ({ path })),
  excludedPaths: [{ path: '/*' }],
};

export const PARTITION_KEY: PartitionKeyDefinition = {
  paths: [PARTITION_KEY_PATH],
  kind: 'Hash' as PartitionKeyDefinition['kind'],
  version: 2,
};

export interface ContainerSettings {
  database: string;
  container: string;
  retentionDays: number;
}

export function containerDefinition(settings: ContainerSettings): ContainerRequest {
  return {
    id: settings.container,
    partitionKey: PARTITION_KEY,
    defaultTtl: settings.retentionDays * 86_400,
    indexingPolicy: INDEXING_POLICY,
  };
}

/**
 * Makes sure the container exists and fits, once at start-up. Creates database and container when
 * missing (locally; in Azure, Bicep creates them and the function's data-plane role cannot). A wrong
 * partition key stops the writer before it writes anything; a different TTL or indexing policy is only
 * reported, because in Azure the infrastructure owns them. Never replaces the container definition.
 */
export async function ensureCosmosContainer(
  client: CosmosClient,
  settings: ContainerSettings,
  logger: Logger,
): Promise<Container> {
  const container = client.database(settings.database).container(settings.container);
  let definition = await readDefinition(container, settings);
  if (definition === undefined) {
    await create(client, settings, logger);
    definition = await readDefinition(container, settings);
    if (definition === undefined) {
      throw new CosmosProvisioningError(
        `Cosmos DB container "${settings.database}/${settings.container}" was created but cannot be read back.`,
      );
    }
  }
  verify(definition, settings, logger);
  return container;
}

async function readDefinition(
  container: Container,
  settings: ContainerSettings,
): Promise<ContainerDefinition | undefined> {
  try {
    const { resource } = await container.read();
    return resource;
  } catch (e) {
    const status = statusOf(e);
    if (status === 404) return undefined;
    if (status === 401 || status === 403) {
      throw new CosmosProvisioningError(
        `Cannot read Cosmos DB container "${settings.database}/${settings.container}" (HTTP ${status}): the ` +
          'identity has no data-plane role on the account (Cosmos DB Built-in Data Contributor), or the key is wrong.',
        e,
      );
    }
    throw e;
  }
}

async function create(client: CosmosClient, settings: ContainerSettings, logger: Logger): Promise<void> {
  try {
    const { database } = await client.databases.createIfNotExists({ id: settings.database });
    await database.containers.createIfNotExists(containerDefinition(settings));
    logger.info('Created Cosmos DB container', {
      database: settings.database,
      container: settings.container,
      partitionKey: PARTITION_KEY_PATH,
      defaultTtl: settings.retentionDays * 86_400,
    });
  } catch (e) {
    const status = statusOf(e);
    if (status === 403) {
      throw new CosmosProvisioningError(
        `Cosmos DB container "${settings.database}/${settings.container}" does not exist, and this identity may not ` +
          'create databases or containers (Cosmos DB data-plane RBAC only reads and writes items). The infrastructure ' +
          `should have created it (partition key ${PARTITION_KEY_PATH}, default TTL ${settings.retentionDays} days): ` +
          'run the deployment again, or check AUDITFEED_COSMOS_DATABASE / AUDITFEED_COSMOS_CONTAINER.',
        e,
      );
    }
    throw e;
  }
}

function verify(definition: ContainerDefinition, settings: ContainerSettings, logger: Logger): void {
  const key = definition.partitionKey;
  const paths = key?.paths ?? [];
  const kind = key?.kind ?? 'Hash';
  if (paths.length !== 1 || paths[0] !== PARTITION_KEY_PATH || kind !== 'Hash') {
    const actual =
      paths.length === 0 ? '(none)' : `${paths.join(', ')}${kind === 'Hash' ? '' : ` (${kind})`}`;
    throw new ContainerMismatchError(settings.database, settings.container, actual, PARTITION_KEY_PATH);
  }
  const expectedTtl = settings.retentionDays * 86_400;
  if (definition.defaultTtl !== expectedTtl) {
    logger.warn(
      definition.defaultTtl === undefined || definition.defaultTtl === null
        ? 'Cosmos DB container has no default TTL: records never expire and per-document ttl is ignored'
        : 'Cosmos DB container default TTL differs from AUDITFEED_RETENTION_DAYS; the container setting applies',
      {
        database: settings.database,
        container: settings.container,
        defaultTtlSeconds: definition.defaultTtl ?? null,
        expectedSeconds: expectedTtl,
      },
    );
  }
  const differences = indexingDifferences(definition.indexingPolicy);
  if (differences.length > 0) {
    logger.warn('Cosmos DB container indexing policy differs from the one auditfeed expects', {
      database: settings.database,
      container: settings.container,
      differences,
    });
  }
}

/** Human-readable differences in included/excluded paths; the service adds `_etag` on its own. */
export function indexingDifferences(policy: IndexingPolicy | undefined): string[] {
  const paths = (list: { path: string }[] | undefined): Set<string> =>
    new Set((list ?? []).map((p) => p.path).filter((p) => !p.includes('_etag')));
  const included = paths(policy?.includedPaths);
  const excluded = paths(policy?.excludedPaths);
  const wantIncluded = paths(INDEXING_POLICY.includedPaths);
  const wantExcluded = paths(INDEXING_POLICY.excludedPaths);
  const out: string[] = [];
  for (const p of wantIncluded) if (!included.has(p)) out.push(`not indexed: ${p}`);
  for (const p of included) if (!wantIncluded.has(p)) out.push(`also indexed: ${p}`);
  for (const p of wantExcluded) if (!excluded.has(p)) out.push(`not excluded: ${p}`);
  return out;
}

function statusOf(e: unknown): number | undefined {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}
