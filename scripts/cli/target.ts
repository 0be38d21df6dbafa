import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { loadStoreSettings, SETTINGS, type CosmosConfig, type StorageConnection } from '../../shared/config';
import { CONTENT_TYPES, type ContentType } from '../../shared/contentTypes';
import { ConfigError } from '../../shared/errors';
import { projectRoot } from '../../shared/hostSettings';
import { Secret } from '../../shared/secret';
import { AZURITE_ACCOUNT_KEY, AZURITE_ACCOUNT_NAME } from '../local/azurite';
import type { RunReport } from '../local/report';
import { UsageError } from './args';

/**
 * Where a command reads: the deployed account (settings, or --endpoint; your own sign-in through
 * DefaultAzureCredential unless a key setting is given), or a running local stack (no settings at all:
 * what `npm start` wrote in `<state-dir>/last-run.json`, with the stand-ins' well-known keys).
 * Settings win over the local stack unless --local is given.
 */

type Env = Record<string, string | undefined>;

export const START_HINT = 'start one with `npm start -- --follow`';

export function stateDirOf(env: Env, flag: string | undefined): string {
  return flag ?? (env.AUDITFEED_LOCAL_DIR?.trim() || path.join(projectRoot(), '.local'));
}

/** The latest local run: its report when readable, whether its servers are up, or why not. */
export interface LocalRun {
  file: string;
  report: RunReport | undefined;
  live: boolean;
  /** Why it cannot be used (when not live). */
  why: string;
}

const LIVE_STATUSES = new Set(['running', 'following']);

export function readLocalRun(stateDir: string): LocalRun {
  const file = path.join(stateDir, 'last-run.json');
  if (!existsSync(file))
    return { file, report: undefined, live: false, why: `${file} is missing: no local run has started` };
  let report: RunReport;
  try {
    report = JSON.parse(readFileSync(file, 'utf8')) as RunReport;
    if (typeof report.status !== 'string' || typeof report.cosmos?.endpoint !== 'string')
      throw new Error('not a run report');
  } catch (e) {
    return { file, report: undefined, live: false, why: `${file} cannot be read (${(e as Error).message})` };
  }
  if (!LIVE_STATUSES.has(report.status))
    return { file, report, live: false, why: `${file} says the run ended (status "${report.status}")` };
  if (!processAlive(report.pid))
    return {
      file,
      report,
      live: false,
      why: `${file} says "${report.status}", but its process (pid ${report.pid}) is gone`,
    };
  return { file, report, live: true, why: '' };
}

function processAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: it exists, owned by someone else.
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

const set = (env: Env, name: string): boolean => (env[name] ?? '').trim() !== '';

/** Turns a ConfigError into the exit-2 message, as loadConfig words it. */
function settings<T>(load: () => T): T {
  try {
    return load();
  } catch (e) {
    if (e instanceof ConfigError) throw new UsageError(e.message);
    throw e;
  }
}

export interface CosmosFlags {
  endpoint?: string | undefined;
  database?: string | undefined;
  container?: string | undefined;
  local?: boolean;
  stateDir?: string | undefined;
}

export interface CosmosTarget {
  config: CosmosConfig;
  /** For messages: "the local stack's Cosmos DB stand-in", "AUDITFEED_COSMOS__accountEndpoint", … */
  source: string;
  /** The local run, when the target is its stand-in (for a better message when it stops). */
  localRun?: string;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,254}$/;

function cosmosName(flag: string, value: string | undefined): string | undefined {
  if (value !== undefined && !NAME.test(value))
    throw new UsageError(`--${flag} must be 1-255 letters, digits, hyphens and underscores (got ${value})`);
  return value;
}

function endpointFlag(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new UsageError(
      `--endpoint must be an absolute URL such as ${SETTINGS.cosmosEndpoint.example} (got ${value})`,
    );
  }
  if (url.search || url.username || url.password)
    throw new UsageError('--endpoint must be the plain account endpoint, without query string or user info');
  return value;
}

/** The Cosmos DB container a command reads. Throws UsageError saying what is missing and how to fix it. */
export function resolveCosmos(env: Env, flags: CosmosFlags): CosmosTarget {
  const database = cosmosName('database', flags.database);
  const container = cosmosName('container', flags.container);
  const stateDir = stateDirOf(env, flags.stateDir);
  const useSettings = !flags.local && set(env, SETTINGS.cosmosEndpoint.name);
  const run = useSettings ? undefined : readLocalRun(stateDir);
  // A stand-in is up only while its run is; an account of your own (local: false) outlives the run.
  const local = run?.report && (run.live || !run.report.cosmos.local) ? run.report : undefined;

  if (flags.endpoint !== undefined) {
    const endpoint = endpointFlag(flags.endpoint);
    // The local stand-in's well-known key when --endpoint is the running stack's; else a key setting or
    // your sign-in.
    const sameAsLocal = local && sameOrigin(local.cosmos.endpoint, endpoint) ? local.cosmos.key : undefined;
    const key = sameAsLocal ?? env[SETTINGS.cosmosKey.name]?.trim();
    return {
      config: {
        endpoint,
        identity: { kind: 'developer' },
        ...(key ? { key: new Secret(key) } : {}),
        database: database ?? env[SETTINGS.cosmosDatabase.name]?.trim() ?? SETTINGS.cosmosDatabase.default,
        container:
          container ?? env[SETTINGS.cosmosContainer.name]?.trim() ?? SETTINGS.cosmosContainer.default,
      },
      source: '--endpoint',
    };
  }
  if (useSettings) {
    const { cosmos } = settings(() => loadStoreSettings(env, ['cosmos']));
    return {
      config: {
        ...cosmos,
        ...(database ? { database } : {}),
        ...(container ? { container } : {}),
      },
      source: SETTINGS.cosmosEndpoint.name,
    };
  }
  if (local) {
    return {
      config: {
        endpoint: local.cosmos.endpoint,
        identity: { kind: 'developer' },
        ...(local.cosmos.key
          ? { key: new Secret(local.cosmos.key) }
          : env[SETTINGS.cosmosKey.name]?.trim()
            ? { key: new Secret(env[SETTINGS.cosmosKey.name]!.trim()) }
            : {}),
        database: database ?? local.cosmos.database,
        container: container ?? local.cosmos.container,
      },
      source: `the local stack (${run!.file})`,
      localRun: run!.file,
    };
  }
  throw new UsageError(
    `no Cosmos DB to read: no running local stack (${run!.why}); ${START_HINT}, ` +
      `or set ${SETTINGS.cosmosEndpoint.name} (or pass --endpoint) for the deployed account`,
  );
}

function sameOrigin(a: string, b: string): boolean {
  try {
    return new URL(a).origin === new URL(b).origin;
  } catch {
    return false;
  }
}

export interface StorageFlags {
  local?: boolean;
  stateDir?: string | undefined;
  /** Also the tenants and content types whose watermarks to read (status). */
  tenants?: boolean;
}

export interface StorageTarget {
  storage: StorageConnection;
  queueName: string;
  tenantIds: string[];
  contentTypes: ContentType[];
  sweepIntervalMs: number;
  source: string;
}

const STORAGE_SETTINGS = [
  SETTINGS.storage.name,
  SETTINGS.storageBlobServiceUri.name,
  SETTINGS.storageQueueServiceUri.name,
];

/** The storage account (queues, watermarks) a command reads. Throws UsageError saying how to fix it. */
export function resolveStorage(env: Env, flags: StorageFlags): StorageTarget {
  if (!flags.local && STORAGE_SETTINGS.some((n) => set(env, n))) {
    const s = settings(() =>
      flags.tenants ? loadStoreSettings(env, ['storage', 'tenantIds']) : loadStoreSettings(env, ['storage']),
    );
    return {
      storage: s.storage,
      queueName: s.queueName,
      tenantIds: (s as { tenantIds?: string[] }).tenantIds ?? [],
      contentTypes: s.contentTypes,
      sweepIntervalMs: s.sweepIntervalMs,
      source: STORAGE_SETTINGS.filter((n) => set(env, n)).join(', '),
    };
  }
  const run = readLocalRun(stateDirOf(env, flags.stateDir));
  if (!run.live || !run.report) {
    throw new UsageError(
      `no storage account to read: no running local stack (${run.why}); ${START_HINT}, or set ` +
        `${SETTINGS.storage.name} (a connection string) or ${SETTINGS.storageBlobServiceUri.name} and ` +
        `${SETTINGS.storageQueueServiceUri.name} (your sign-in) for the deployed account`,
    );
  }
  const r = run.report;
  // "blob http://127.0.0.1:PORT/devstoreaccount1, queue http://127.0.0.1:PORT/devstoreaccount1" (localStack.ts)
  const azurite = /^blob (\S+), queue (\S+)$/.exec(r.storage.endpoint);
  if (!r.storage.where.startsWith('Azurite') || !azurite) {
    throw new UsageError(
      `the local stack in ${run.file} uses ${r.storage.where}, whose credentials it does not record: set ` +
        `${SETTINGS.storage.name} as for that run`,
    );
  }
  const connectionString =
    `DefaultEndpointsProtocol=http;AccountName=${AZURITE_ACCOUNT_NAME};AccountKey=${AZURITE_ACCOUNT_KEY};` +
    `BlobEndpoint=${azurite[1]};QueueEndpoint=${azurite[2]};`;
  const known = Object.keys(r.contentTypes).filter((ct): ct is ContentType =>
    (CONTENT_TYPES as readonly string[]).includes(ct),
  );
  const s = settings(() => loadStoreSettings(env, []));
  const tenantIds = r.scenario?.tenantIds ?? [];
  let fromSettings: string[] = [];
  if (flags.tenants && tenantIds.length === 0) {
    if (!set(env, SETTINGS.tenantIds.name))
      throw new UsageError(
        `the local stack in ${run.file} collects a real tenant, which it does not record: set ` +
          `${SETTINGS.tenantIds.name} as for that run`,
      );
    fromSettings = settings(() => loadStoreSettings(env, ['tenantIds'])).tenantIds;
  }
  return {
    storage: { kind: 'connectionString', connectionString: new Secret(connectionString) },
    queueName: r.storage.queue,
    tenantIds: tenantIds.length > 0 ? tenantIds : fromSettings,
    contentTypes: known.length > 0 ? known : s.contentTypes,
    // Against the simulator the local stack makes every run a full sweep (localStack.ts) unless set.
    sweepIntervalMs:
      r.mode === 'simulator' && !set(env, SETTINGS.sweepIntervalMinutes.name) ? 0 : s.sweepIntervalMs,
    source: `the local stack (${run.file})`,
  };
}
