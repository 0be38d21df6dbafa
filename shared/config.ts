import { readFileSync } from 'node:fs';
import { CLOUD_ENDPOINTS, CLOUDS, parseCloud, type AuditLogQueryAvailability, type Cloud } from './clouds';
import { CONTENT_TYPES, type ContentType } from './contentTypes';
import { ConfigError, type ConfigProblem } from './errors';
import { isGuid } from './guid';
import { readHostSettingsIfPresent, type HostSettings } from './hostSettings';
import { InvalidScheduleError, NcrontabSchedule } from './ncrontab';
import { Secret } from './secret';

/**
 * The one place that reads and validates settings (app settings in Azure, environment locally).
 * Every setting the code reads is declared in SETTINGS, so docs and infra can be checked against it.
 */

export type AuthConfig =
  | { mode: 'federated'; clientId: string; managedIdentityClientId: string }
  | { mode: 'certificate'; clientId: string; certificate: { pem: Secret } | { path: string } }
  | { mode: 'secret'; clientId: string; clientSecret: Secret };

export interface TenantConfig {
  tenantId: string;
  /** Sent as PublisherIdentifier; decides which throttling quota the requests count against. */
  publisherId: string;
}

export interface EndpointsConfig {
  loginHost: string;
  apiOrigin: string;
  tokenExchangeAudience: string;
  /**
   * Microsoft Graph origin for the audit log query API (the backfill): the cloud's, or the simulator's with
   * AUDITFEED_GRAPH_ENDPOINT. The token scope stays the cloud's Graph resource (CLOUD_ENDPOINTS[cloud].graphOrigin).
   */
  graphOrigin: string;
  /** Whether Microsoft documents the audit log query API in this cloud (shared/clouds.ts). */
  auditLogQuery: AuditLogQueryAvailability;
  /** True when the simulator's endpoints replace the cloud's. */
  overridden: boolean;
  /** Extra CA (PEM) trusted for overridden endpoints, e.g. the simulator's self-signed certificate. */
  tlsCaPem?: string;
}

/** A storage account: a connection string locally, service URIs + managed identity in Azure. */
export type StorageConnection =
  | { kind: 'connectionString'; connectionString: Secret }
  | { kind: 'identity'; blobServiceUri: string; queueServiceUri: string; identity: IdentityChoice };

/** managedidentity in Azure (optionally user-assigned); otherwise the developer's sign-in (DefaultAzureCredential). */
export type IdentityChoice = { kind: 'managedIdentity'; clientId?: string } | { kind: 'developer' };

export interface CosmosConfig {
  endpoint: string;
  /** Local stand-in or emulator key; absent in Azure, where the identity is used. */
  key?: Secret;
  identity: IdentityChoice;
  database: string;
  container: string;
}

export interface AuditfeedConfig {
  tenants: TenantConfig[];
  contentTypes: ContentType[];
  cloud: Cloud;
  endpoints: EndpointsConfig;
  auth: AuthConfig;
  collectSchedule: string;
  runDeadlineMs: number;
  /** host.json maxDequeueCount: the writer keeps a copy of a message on this, its last, attempt. */
  maxDequeueCount: number;
  initialLookbackHours: number;
  retentionDays: number;
  contentTypeRetentionDays: Partial<Record<ContentType, number>>;
  http: { timeoutMs: number; maxRequestsPerMinute: number; maxRetries: number };
  storage: StorageConnection;
  cosmos: CosmosConfig;
  queueName: string;
  overlapMs: number;
  /** Every this long a collector run re-lists the API's whole retention (a full sweep); 0 = every run. */
  sweepIntervalMs: number;
  concurrency: { tenants: number; contentTypes: number; fetches: number };
  /**
   * inline: the timer collects every tenant itself; fanout: the timer enqueues one task per due tenant ×
   * content type on the work queue and collectorWorker instances run them (docs/scale.md).
   */
  collectMode: 'inline' | 'fanout';
  workQueueName: string;
  /** Tasks the deployment runs at once (all instances); the timer shares each interval among due tasks by it. */
  collectSlots: number;
  /** The backfill from the audit log (docs/backfill.md). */
  backfill: BackfillConfig;
}

export interface BackfillConfig {
  /** Queue of stored backfill requests the backfill function carries out. */
  queueName: string;
  /** How far back the tenant's audit log keeps records (Audit Standard: 180 days). */
  auditRetentionDays: number;
  /** Audit log queries one backfill keeps in flight at once (a tenant's backfills add up). */
  queriesInFlight: number;
  /** Queries one backfill creates in any 24 hours. */
  queriesPerDay: number;
}

export interface SettingSpec {
  name: string;
  description: string;
  example: string;
  /** Default value when unset; undefined = required or conditional (see description). */
  default?: string;
  /** Only for local runs against the simulator; deployment never sets it. */
  localOnly?: boolean;
  /** A credential: configuration errors show it as [redacted], never its value. */
  secret?: boolean;
}

const EXAMPLE_TENANT = '8d41e0c4-1b2c-4d5e-9f60-0a1b2c3d4e5f';
const EXAMPLE_CLIENT = '0f3a9c27-5e4b-4d1a-8c6f-2b7e9d0a1c35';

export const SETTINGS = {
  tenantIds: {
    name: 'AUDITFEED_TENANT_IDS',
    description: 'Tenant ids (GUIDs) to collect, separated by commas.',
    example: `${EXAMPLE_TENANT},3c2b1a09-8f7e-4d6c-b5a4-9e8d7c6b5a41`,
  },
  contentTypes: {
    name: 'AUDITFEED_CONTENT_TYPES',
    description: 'Content types to collect, separated by commas.',
    example: 'Audit.Exchange,Audit.AzureActiveDirectory',
    default: CONTENT_TYPES.join(','),
  },
  cloud: {
    name: 'AUDITFEED_CLOUD',
    description: `Microsoft 365 cloud: ${CLOUDS.join(', ')}.`,
    example: 'GCCHigh',
    default: 'Enterprise',
  },
  authMode: {
    name: 'AUDITFEED_AUTH_MODE',
    description:
      'How to authenticate to the Management API: federated (managed identity as federated credential), certificate, secret.',
    example: 'federated',
    default: 'federated',
  },
  clientId: {
    name: 'AUDITFEED_CLIENT_ID',
    description: 'Application (client) id of the multi-tenant app registration with ActivityFeed.Read.',
    example: EXAMPLE_CLIENT,
  },
  managedIdentityClientId: {
    name: 'AUDITFEED_MANAGED_IDENTITY_CLIENT_ID',
    description:
      'Client id of the user-assigned managed identity used as federated credential (auth mode federated).',
    example: '5b8e2f14-9a3c-4e6d-b1f0-7c2a9e4d8b63',
  },
  clientCertificate: {
    name: 'AUDITFEED_CLIENT_CERTIFICATE',
    description:
      'PEM with certificate and private key (auth mode certificate), normally a Key Vault reference. Alternative: AUDITFEED_CLIENT_CERTIFICATE_PATH.',
    example: '@Microsoft.KeyVault(SecretUri=https://kv-auditfeed.vault.azure.net/secrets/mgmt-api-cert/)',
    secret: true,
  },
  clientCertificatePath: {
    name: 'AUDITFEED_CLIENT_CERTIFICATE_PATH',
    description: 'Path to a PEM file with certificate and private key (auth mode certificate).',
    example: '/home/site/certs/auditfeed.pem',
  },
  clientSecret: {
    name: 'AUDITFEED_CLIENT_SECRET',
    description: 'Client secret (auth mode secret), as a Key Vault reference in Azure.',
    example: '@Microsoft.KeyVault(SecretUri=https://kv-auditfeed.vault.azure.net/secrets/mgmt-api-secret/)',
    secret: true,
  },
  publisherId: {
    name: 'AUDITFEED_PUBLISHER_ID',
    description:
      'PublisherIdentifier sent on every request (the GUID of your own tenant); default: each tenant its own id.',
    example: EXAMPLE_TENANT,
  },
  apiEndpoint: {
    name: 'AUDITFEED_API_ENDPOINT',
    description: 'Local simulator only: replaces the Management API origin (loopback addresses only).',
    example: 'https://127.0.0.1:7443',
    localOnly: true,
  },
  graphEndpoint: {
    name: 'AUDITFEED_GRAPH_ENDPOINT',
    description:
      "Local simulator only: replaces the Microsoft Graph origin of the audit log query API (backfill); loopback addresses only. The simulator serves Graph on its own origin, so this is the same value as AUDITFEED_API_ENDPOINT; the token scope stays the cloud's Graph resource (https://graph.microsoft.com/.default).",
    example: 'https://127.0.0.1:7443',
    localOnly: true,
  },
  loginEndpoint: {
    name: 'AUDITFEED_LOGIN_ENDPOINT',
    description:
      'Local simulator only: replaces the Entra login host (https on a loopback address; @azure/identity refuses http authorities).',
    example: 'https://127.0.0.1:7443',
    localOnly: true,
  },
  tlsCaFile: {
    name: 'AUDITFEED_TLS_CA_FILE',
    description:
      "Local simulator only: PEM file of the simulator's self-signed certificate, trusted for the overridden endpoints.",
    example: '.local/simulator-ca.pem',
    localOnly: true,
  },
  collectSchedule: {
    name: 'AUDITFEED_COLLECT_SCHEDULE',
    description: 'NCRONTAB schedule of the collector (six fields, UTC).',
    example: '0 */5 * * * *',
    default: '0 */5 * * * *',
  },
  runDeadlineSeconds: {
    name: 'AUDITFEED_RUN_DEADLINE_SECONDS',
    description:
      'A collector run stops taking new work after this many seconds (keep below functionTimeout in host.json).',
    example: '480',
    default: '480',
  },
  initialLookbackHours: {
    name: 'AUDITFEED_INITIAL_LOOKBACK_HOURS',
    description: 'How far back the first run of a content type starts (1 to 168; the API keeps 7 days).',
    example: '24',
    default: '168',
  },
  retentionDays: {
    name: 'AUDITFEED_RETENTION_DAYS',
    description: 'Days a record is kept in Cosmos DB (container default TTL).',
    example: '365',
    default: '180',
  },
  contentTypeRetentionDays: {
    name: 'AUDITFEED_CONTENT_TYPE_RETENTION_DAYS',
    description: 'Per-content-type retention overriding AUDITFEED_RETENTION_DAYS, as ContentType=days pairs.',
    example: 'Audit.AzureActiveDirectory=90,Audit.Exchange=365',
    default: '',
  },
  httpTimeoutSeconds: {
    name: 'AUDITFEED_HTTP_TIMEOUT_SECONDS',
    description: 'Timeout of one Management API request.',
    example: '60',
    default: '60',
  },
  maxRequestsPerMinute: {
    name: 'AUDITFEED_MAX_REQUESTS_PER_MINUTE',
    description: 'Request pace per tenant, under the service limit (2,000 per minute baseline).',
    example: '1800',
    default: '1800',
  },
  maxRetries: {
    name: 'AUDITFEED_MAX_RETRIES',
    description: 'Retries of one Management API request on throttling, 5xx and network errors.',
    example: '6',
    default: '6',
  },
  storage: {
    name: 'AUDITFEED_STORAGE',
    description:
      'Storage for the batch queue, watermarks and claim checks, as a connection string (local runs). In Azure use the __blobServiceUri / __queueServiceUri settings with a managed identity instead.',
    example: 'UseDevelopmentStorage=true',
    secret: true,
  },
  storageBlobServiceUri: {
    name: 'AUDITFEED_STORAGE__blobServiceUri',
    description: 'Blob endpoint of the storage account (identity-based connection).',
    example: 'https://stauditfeed.blob.core.windows.net',
  },
  storageQueueServiceUri: {
    name: 'AUDITFEED_STORAGE__queueServiceUri',
    description: 'Queue endpoint of the storage account (identity-based connection).',
    example: 'https://stauditfeed.queue.core.windows.net',
  },
  storageCredential: {
    name: 'AUDITFEED_STORAGE__credential',
    description: 'Credential of the identity-based storage connection: managedidentity.',
    example: 'managedidentity',
  },
  storageClientId: {
    name: 'AUDITFEED_STORAGE__clientId',
    description: 'Client id of the user-assigned managed identity for storage.',
    example: '5b8e2f14-9a3c-4e6d-b1f0-7c2a9e4d8b63',
  },
  cosmosEndpoint: {
    name: 'AUDITFEED_COSMOS__accountEndpoint',
    description: 'Cosmos DB account endpoint.',
    example: 'https://cosmos-auditfeed.documents.azure.com:443/',
  },
  cosmosCredential: {
    name: 'AUDITFEED_COSMOS__credential',
    description: 'managedidentity in Azure; unset locally (a key, or your own sign-in).',
    example: 'managedidentity',
  },
  cosmosClientId: {
    name: 'AUDITFEED_COSMOS__clientId',
    description: 'Client id of the user-assigned managed identity for Cosmos DB.',
    example: '5b8e2f14-9a3c-4e6d-b1f0-7c2a9e4d8b63',
  },
  cosmosKey: {
    name: 'AUDITFEED_COSMOS__accountKey',
    description: 'Local only: key of the local Cosmos DB stand-in or emulator.',
    example: 'C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw==',
    localOnly: true,
    secret: true,
  },
  cosmosDatabase: {
    name: 'AUDITFEED_COSMOS_DATABASE',
    description: 'Cosmos DB database name.',
    example: 'auditfeed',
    default: 'auditfeed',
  },
  cosmosContainer: {
    name: 'AUDITFEED_COSMOS_CONTAINER',
    description: 'Cosmos DB container name (partition key /pk).',
    example: 'records',
    default: 'records',
  },
  queueName: {
    name: 'AUDITFEED_QUEUE_NAME',
    description: 'Queue the collector fills and the writer drains; its poison queue is <name>-poison.',
    example: 'auditfeed-batches',
    default: 'auditfeed-batches',
  },
  overlapMinutes: {
    name: 'AUDITFEED_OVERLAP_MINUTES',
    description:
      'Each run lists this much before its cursor again, to pick up content that became available late (blobs already enqueued are skipped).',
    example: '360',
    default: '360',
  },
  sweepIntervalMinutes: {
    name: 'AUDITFEED_SWEEP_INTERVAL_MINUTES',
    description:
      "Every this many minutes the collector re-lists the API's whole 7-day retention (a full sweep) and collects content blobs that became listable late; 0 or 1 makes every run a full sweep.",
    example: '180',
    default: '60',
  },
  tenantConcurrency: {
    name: 'AUDITFEED_TENANT_CONCURRENCY',
    description: 'Tenants collected at the same time.',
    example: '2',
    default: '2',
  },
  contentTypeConcurrency: {
    name: 'AUDITFEED_CONTENT_TYPE_CONCURRENCY',
    description: 'Content types of one tenant collected at the same time.',
    example: '5',
    default: '5',
  },
  fetchConcurrency: {
    name: 'AUDITFEED_FETCH_CONCURRENCY',
    description: 'Content blobs of one content type fetched at the same time.',
    example: '4',
    default: '4',
  },
  collectMode: {
    name: 'AUDITFEED_COLLECT_MODE',
    description:
      'inline: the timer collects every tenant in its own run; fanout: the timer enqueues one task per due tenant × content type and the queue-triggered collectorWorker runs them on as many instances as Functions scales to; auto: fanout from 2 tenants on.',
    example: 'fanout',
    default: 'auto',
  },
  workQueueName: {
    name: 'AUDITFEED_WORK_QUEUE_NAME',
    description:
      'Queue of collection tasks in fanout mode (the timer fills it, collectorWorker drains it); its poison queue is <name>-poison.',
    example: 'auditfeed-collect',
    default: 'auditfeed-collect',
  },
  collectSlots: {
    name: 'AUDITFEED_COLLECT_SLOTS',
    description:
      "Collection tasks the deployment runs at once in fanout mode (collectorWorker instances × host.json batchSize + newBatchThreshold, up to the plan's instance limit). The timer gives each due task an equal share of the schedule interval by it (between 60 s and AUDITFEED_RUN_DEADLINE_SECONDS), so every tenant moves in every interval.",
    example: '48',
    default: '24',
  },
  backfillQueueName: {
    name: 'AUDITFEED_BACKFILL_QUEUE_NAME',
    description:
      'Queue of backfill requests (`auditfeed backfill --submit`) that the backfill function carries out, re-enqueueing a continuation until done; its poison queue is <name>-poison.',
    example: 'auditfeed-backfill',
    default: 'auditfeed-backfill',
  },
  auditRetentionDays: {
    name: 'AUDITFEED_AUDIT_RETENTION_DAYS',
    description:
      "How many days the tenants' audit log keeps records (Audit Standard 180; Audit Premium 365 for the core workloads): a backfill may not start earlier.",
    example: '365',
    default: '180',
  },
  backfillQueriesInFlight: {
    name: 'AUDITFEED_BACKFILL_QUERIES_IN_FLIGHT',
    description:
      'Audit log queries one backfill keeps queued or running at once; backfills of one tenant run separately add up (the service allows at least 50 per tenant, shared with the Purview portal and other tools).',
    example: '4',
    default: '4',
  },
  backfillQueriesPerDay: {
    name: 'AUDITFEED_BACKFILL_QUERIES_PER_DAY',
    description:
      'Audit log queries a backfill creates in any 24 hours; it stops and continues later past this (the tenant has at least 200 a day, shared).',
    example: '150',
    default: '150',
  },
} as const satisfies Record<string, SettingSpec>;

type SettingKey = keyof typeof SETTINGS;
type Env = Record<string, string | undefined>;

/** Thrown inside a parser; turned into a ConfigProblem for its setting. */
class Invalid extends Error {}

/** App Service leaves a Key Vault reference it could not resolve in the setting as this literal text. */
const KEY_VAULT_REFERENCE = /^@Microsoft\.KeyVault\(/i;

const UNRESOLVED_KEY_VAULT_REFERENCE =
  "is an unresolved Key Vault reference: the function app could not read the secret (check the app's identity " +
  "has Key Vault Secrets User on the vault, the secret exists, and the reference's syntax; the portal shows " +
  'the reference status under Environment variables)';

/**
 * What a configuration error may show of a value: URL query strings (SAS tokens), URL user info and
 * signature-like key=value pairs are cut out, whatever the setting. Also applied to problem texts, which
 * quote values ("x" is not a GUID), so a query stops at a quote.
 */
function redact(text: string): string {
  return text
    .replace(/([a-z][a-z0-9+.-]*:\/\/)[^\s/?#@]+@/gi, '$1…@')
    .replace(/\?[^\s"]*=[^\s"]*/g, '?…')
    .replace(
      /\b(sig|signature|accountkey|sharedaccesskey|sharedaccesssignature|password|pwd|secret)=[^&;\s]*/gi,
      '$1=…',
    );
}

class SettingsReader {
  readonly problems: ConfigProblem[] = [];
  /** Settings holding an unresolved Key Vault reference: that is their one problem, reported once. */
  private readonly unresolved = new Set<SettingKey>();

  constructor(private readonly env: Env) {
    for (const key of Object.keys(SETTINGS) as SettingKey[]) {
      const value = this.raw(key);
      if (value !== undefined && KEY_VAULT_REFERENCE.test(value)) {
        this.problem(key, value, UNRESOLVED_KEY_VAULT_REFERENCE);
        this.unresolved.add(key);
      }
    }
  }

  raw(key: SettingKey): string | undefined {
    const value = this.env[SETTINGS[key].name];
    return value === undefined || value.trim() === '' ? undefined : value.trim();
  }

  /** Parses a setting (or its default); records a problem and returns undefined if it is invalid or missing. */
  get<T>(key: SettingKey, parse: (value: string) => T, required = false): T | undefined {
    const spec: SettingSpec = SETTINGS[key];
    const value = this.raw(key) ?? spec.default;
    if (value === undefined) {
      if (required) this.problem(key, undefined, 'is required');
      return undefined;
    }
    try {
      return parse(value);
    } catch (e) {
      if (!(e instanceof Invalid)) throw e;
      this.problem(key, this.raw(key), e.message);
      return undefined;
    }
  }

  /** Records a problem; every value shown passes through here, so redaction is decided once, centrally. */
  problem(key: SettingKey, value: string | undefined, problem: string): void {
    if (this.unresolved.has(key)) return;
    const spec: SettingSpec = SETTINGS[key];
    // A Key Vault reference is where the secret lives, not the secret: showing it helps find the fault.
    const shown =
      value === undefined
        ? undefined
        : spec.secret && !KEY_VAULT_REFERENCE.test(value)
          ? '[redacted]'
          : redact(value);
    this.problems.push({ setting: spec.name, value: shown, problem: redact(problem), example: spec.example });
  }
}

function list(value: string): string[] {
  return value
    .split(/[,;\s]+/)
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

function guid(value: string): string {
  if (!isGuid(value)) throw new Invalid(`"${value}" is not a GUID`);
  return value.toLowerCase();
}

function integer(min: number, max: number) {
  return (value: string): number => {
    if (!/^-?\d+$/.test(value)) throw new Invalid('must be a whole number');
    const n = Number(value);
    if (n < min || n > max) throw new Invalid(`must be between ${min} and ${max}`);
    return n;
  };
}

function contentType(value: string): ContentType {
  const match = CONTENT_TYPES.find((ct) => ct.toLowerCase() === value.toLowerCase());
  if (!match) throw new Invalid(`"${value}" is not a content type (valid: ${CONTENT_TYPES.join(', ')})`);
  return match;
}

function tenantIdList(value: string): string[] {
  const ids = [...new Set(list(value).map(guid))];
  if (ids.length === 0) throw new Invalid('names no tenant');
  return ids;
}

function contentTypeList(value: string): ContentType[] {
  const cts = [...new Set(list(value).map(contentType))];
  if (cts.length === 0) throw new Invalid('names no content type');
  return cts;
}

/** The rules of the timer trigger (shared/ncrontab.ts), plus: it must fire within the next few years. */
function ncrontab(value: string): string {
  try {
    NcrontabSchedule.parse(value).next(new Date());
  } catch (e) {
    if (e instanceof InvalidScheduleError) throw new Invalid(e.reason);
    throw e;
  }
  return value;
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

function loopbackOrigin(value: string, httpsOnly = false): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new Invalid('is not an absolute URL');
  }
  if (httpsOnly && url.protocol !== 'https:') {
    throw new Invalid(
      'must be an https URL: @azure/identity refuses a login authority that is not https (start the simulator ' +
        'with TLS and trust its certificate with AUDITFEED_TLS_CA_FILE)',
    );
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new Invalid('must be an http(s) URL');
  if (!LOOPBACK.has(url.hostname)) {
    throw new Invalid(
      'endpoint overrides are for the local simulator only and must point at a loopback address',
    );
  }
  if (url.pathname !== '/' || url.search || url.hash || url.username || url.password)
    throw new Invalid('must be an origin without path, query or user info');
  return url.origin;
}

function perContentTypeDays(value: string): Partial<Record<ContentType, number>> {
  const result: Partial<Record<ContentType, number>> = {};
  for (const pair of list(value)) {
    const [ct, days, extra] = pair.split('=');
    if (ct === undefined || days === undefined || extra !== undefined)
      throw new Invalid(`"${pair}" is not ContentType=days`);
    result[contentType(ct)] = integer(1, MAX_RETENTION_DAYS)(days);
  }
  return result;
}

/** Cosmos DB's defaultTtl (and a document's ttl) is at most 2,147,483,647 seconds: 24,855 whole days. */
export const MAX_RETENTION_DAYS = Math.floor(2_147_483_647 / 86_400);

/** A collector run that overruns its deadline is cut off this much later (the host's timeout comes after). */
export const HARD_STOP_GRACE_SECONDS = 60;

/**
 * Reads and validates all settings. Throws ConfigError listing every problem at once. `host` is the
 * app's host.json, for the settings that must agree with it.
 */
export function loadConfig(
  env: Env = process.env,
  host:
    | Pick<HostSettings, 'functionTimeoutSeconds' | 'queues' | 'file'>
    | undefined = readHostSettingsIfPresent(),
): AuditfeedConfig {
  const r = new SettingsReader(env);

  const tenantIds = r.get('tenantIds', tenantIdList, true);
  const contentTypes = r.get('contentTypes', contentTypeList);
  const cloud = r.get('cloud', (v) => {
    const c = parseCloud(v);
    if (!c) throw new Invalid(`is not a known cloud (valid: ${CLOUDS.join(', ')})`);
    return c;
  });
  const publisherId = r.get('publisherId', guid);

  const auth = readAuth(r);
  const endpoints = cloud ? readEndpoints(r, cloud) : undefined;

  const collectSchedule = r.get('collectSchedule', ncrontab);
  const runDeadlineSeconds = r.get('runDeadlineSeconds', (v) => {
    const seconds = integer(30, 3600)(v);
    const timeout = host?.functionTimeoutSeconds;
    if (timeout !== undefined && seconds + HARD_STOP_GRACE_SECONDS >= timeout) {
      throw new Invalid(
        `leaves no room before functionTimeout (${timeout} s, ${host!.file}): a run is cut off ` +
          `${HARD_STOP_GRACE_SECONDS} s after its deadline, so use at most ${timeout - HARD_STOP_GRACE_SECONDS - 1}, ` +
          'or raise functionTimeout',
      );
    }
    return seconds;
  });
  const initialLookbackHours = r.get('initialLookbackHours', integer(1, 168));
  const retentionDays = r.get('retentionDays', integer(1, MAX_RETENTION_DAYS));
  const contentTypeRetentionDays = r.get('contentTypeRetentionDays', perContentTypeDays);
  const timeoutSeconds = r.get('httpTimeoutSeconds', integer(1, 600));
  const maxRequestsPerMinute = r.get('maxRequestsPerMinute', integer(1, 60000));
  const maxRetries = r.get('maxRetries', integer(0, 20));
  const storage = readStorage(r);
  const cosmos = readCosmos(r);
  const queueName = r.get('queueName', queueNameRule);
  const overlapMinutes = r.get('overlapMinutes', integer(0, 24 * 60));
  const sweepIntervalMinutes = r.get('sweepIntervalMinutes', integer(0, 7 * 24 * 60));
  const tenantConcurrency = r.get('tenantConcurrency', integer(1, 64));
  const contentTypeConcurrency = r.get('contentTypeConcurrency', integer(1, 5));
  const fetchConcurrency = r.get('fetchConcurrency', integer(1, 64));
  const collectMode = r.get('collectMode', (v) => {
    const mode = v.trim().toLowerCase();
    if (mode !== 'auto' && mode !== 'inline' && mode !== 'fanout') {
      throw new Invalid('must be auto, inline or fanout');
    }
    return mode;
  });
  const workQueueName = r.get('workQueueName', (v) => {
    const name = queueNameRule(v);
    if (queueName !== undefined && (name === queueName || name === `${queueName}-poison`)) {
      throw new Invalid(`must differ from AUDITFEED_QUEUE_NAME (${queueName}) and its poison queue`);
    }
    return name;
  });
  const collectSlots = r.get('collectSlots', integer(1, 10_000));
  const backfill = readBackfill(r, [queueName, workQueueName]);

  if (r.problems.length > 0) throw new ConfigError(r.problems);
  // All values are defined here: every undefined above recorded a problem.
  return {
    tenants: tenantIds!.map((tenantId) => ({ tenantId, publisherId: publisherId ?? tenantId })),
    contentTypes: contentTypes!,
    cloud: cloud!,
    endpoints: endpoints!,
    auth: auth!,
    collectSchedule: collectSchedule!,
    runDeadlineMs: runDeadlineSeconds! * 1000,
    maxDequeueCount: host?.queues.maxDequeueCount ?? 5,
    initialLookbackHours: initialLookbackHours!,
    retentionDays: retentionDays!,
    contentTypeRetentionDays: contentTypeRetentionDays!,
    http: {
      timeoutMs: timeoutSeconds! * 1000,
      maxRequestsPerMinute: maxRequestsPerMinute!,
      maxRetries: maxRetries!,
    },
    storage: storage!,
    cosmos: cosmos!,
    queueName: queueName!,
    overlapMs: overlapMinutes! * 60_000,
    sweepIntervalMs: sweepIntervalMinutes! * 60_000,
    concurrency: {
      tenants: tenantConcurrency!,
      contentTypes: contentTypeConcurrency!,
      fetches: fetchConcurrency!,
    },
    collectMode: collectMode === 'auto' ? (tenantIds!.length > 1 ? 'fanout' : 'inline') : collectMode!,
    workQueueName: workQueueName!,
    collectSlots: collectSlots!,
    backfill: backfill!,
  };
}

/** The backfill's settings (also read alone by `auditfeed backfill --submit`). */
function readBackfill(r: SettingsReader, otherQueues: Array<string | undefined>): BackfillConfig | undefined {
  const queueName = r.get('backfillQueueName', (v) => {
    const name = queueNameRule(v);
    for (const other of otherQueues) {
      if (other !== undefined && (name === other || name === `${other}-poison`))
        throw new Invalid(`must differ from the batch and work queues (${other}) and their poison queues`);
    }
    return name;
  });
  const auditRetentionDays = r.get('auditRetentionDays', integer(1, 3650));
  const queriesInFlight = r.get('backfillQueriesInFlight', integer(1, 50));
  const queriesPerDay = r.get('backfillQueriesPerDay', integer(1, 10_000));
  if (!queueName || !auditRetentionDays || !queriesInFlight || !queriesPerDay) return undefined;
  return { queueName, auditRetentionDays, queriesInFlight, queriesPerDay };
}

/** The backfill's settings alone (the CLI's --submit, which needs no credentials), with loadConfig's rules. */
export function loadBackfillSettings(env: Env): BackfillConfig {
  const r = new SettingsReader(env);
  const queueName = r.get('queueName', queueNameRule);
  const workQueueName = r.get('workQueueName', queueNameRule);
  const backfill = readBackfill(r, [queueName, workQueueName]);
  if (r.problems.length > 0) throw new ConfigError(r.problems);
  return backfill!;
}

/** What operator commands (status, replay-poison, query) read: the stores, not the collector's settings. */
export interface StoreSettings {
  tenantIds: string[];
  contentTypes: ContentType[];
  storage: StorageConnection;
  cosmos: CosmosConfig;
  queueName: string;
  sweepIntervalMs: number;
}

/**
 * Validates only the settings of the stores a command uses (`parts`; plus content types, queue name and
 * sweep interval, which have defaults), with the same rules and messages as loadConfig. Throws ConfigError.
 */
export function loadStoreSettings<P extends 'tenantIds' | 'storage' | 'cosmos'>(
  env: Env,
  parts: readonly P[],
): Pick<StoreSettings, P | 'contentTypes' | 'queueName' | 'sweepIntervalMs'> {
  const r = new SettingsReader(env);
  const want = new Set<string>(parts);
  const tenantIds = want.has('tenantIds') ? r.get('tenantIds', tenantIdList, true) : undefined;
  const contentTypes = r.get('contentTypes', contentTypeList);
  const storage = want.has('storage') ? readStorage(r) : undefined;
  const cosmos = want.has('cosmos') ? readCosmos(r) : undefined;
  const queueName = r.get('queueName', queueNameRule);
  const sweepIntervalMinutes = r.get('sweepIntervalMinutes', integer(0, 7 * 24 * 60));
  if (r.problems.length > 0) throw new ConfigError(r.problems);
  return {
    ...(tenantIds ? { tenantIds } : {}),
    ...(storage ? { storage } : {}),
    ...(cosmos ? { cosmos } : {}),
    contentTypes: contentTypes!,
    queueName: queueName!,
    sweepIntervalMs: sweepIntervalMinutes! * 60_000,
  } as Pick<StoreSettings, P | 'contentTypes' | 'queueName' | 'sweepIntervalMs'>;
}

function queueNameRule(value: string): string {
  // 3-63 lower-case letters, digits and single hyphens; leave room for the -poison suffix.
  if (!/^[a-z0-9](?:[a-z0-9]|-(?!-))*[a-z0-9]$/.test(value) || value.length < 3 || value.length > 56) {
    throw new Invalid(
      'must be 3-56 lower-case letters, digits and single hyphens (the poison queue adds "-poison")',
    );
  }
  return value;
}

function serviceUri(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new Invalid('is not an absolute URL');
  }
  if (url.protocol !== 'https:' && !LOOPBACK.has(url.hostname)) throw new Invalid('must be an https URL');
  // A SAS token or password in the URI would be a secret in a plain setting; the identity authenticates.
  if (url.search || url.hash || url.username || url.password) {
    throw new Invalid(
      'must be the plain endpoint, without query string, fragment or user info (a SAS token or key is not used: ' +
        'the connection authenticates with its identity or key setting)',
    );
  }
  return value.replace(/\/+$/, '');
}

const IDENTITY_STORAGE_KEYS = [
  'storageBlobServiceUri',
  'storageQueueServiceUri',
  'storageCredential',
  'storageClientId',
] as const satisfies readonly SettingKey[];

function readStorage(r: SettingsReader): StorageConnection | undefined {
  const connectionString = r.raw('storage');
  if (connectionString !== undefined) {
    const identityParts = IDENTITY_STORAGE_KEYS.filter((k) => r.raw(k) !== undefined);
    if (identityParts.length > 0) {
      const names = identityParts.map((k) => SETTINGS[k].name).join(', ');
      r.problem(
        'storage',
        connectionString,
        `is a connection string, and ${names} ${identityParts.length === 1 ? 'describes' : 'describe'} an ` +
          'identity-based connection to storage: the two contradict each other. Remove AUDITFEED_STORAGE ' +
          '(Azure, managed identity) or remove the AUDITFEED_STORAGE__* settings (local run with a connection string)',
      );
      return undefined;
    }
    if (!/AccountName=|UseDevelopmentStorage=true|BlobEndpoint=/i.test(connectionString)) {
      r.problem('storage', connectionString, 'is not a storage connection string');
      return undefined;
    }
    return { kind: 'connectionString', connectionString: new Secret(connectionString) };
  }
  if (r.raw('storageBlobServiceUri') === undefined && r.raw('storageQueueServiceUri') === undefined) {
    r.problem(
      'storage',
      undefined,
      'is required: a connection string, or AUDITFEED_STORAGE__blobServiceUri and AUDITFEED_STORAGE__queueServiceUri with a managed identity',
    );
    return undefined;
  }
  const blobServiceUri = r.get('storageBlobServiceUri', serviceUri, true);
  const queueServiceUri = r.get('storageQueueServiceUri', serviceUri, true);
  const identity = readIdentity(r, 'storageCredential', 'storageClientId');
  if (!blobServiceUri || !queueServiceUri || !identity) return undefined;
  return { kind: 'identity', blobServiceUri, queueServiceUri, identity };
}

function readIdentity(
  r: SettingsReader,
  credentialKey: SettingKey,
  clientIdKey: SettingKey,
): IdentityChoice | undefined {
  const credential = r.get(credentialKey, (v) => {
    if (v.toLowerCase() !== 'managedidentity')
      throw new Invalid('must be managedidentity (or unset to use your own sign-in)');
    return 'managedidentity';
  });
  const clientId = r.get(clientIdKey, guid);
  if (r.raw(credentialKey) !== undefined && credential === undefined) return undefined;
  if (r.raw(clientIdKey) !== undefined && clientId === undefined) return undefined;
  if (credential === undefined) return { kind: 'developer' };
  return { kind: 'managedIdentity', ...(clientId ? { clientId } : {}) };
}

function cosmosName(value: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9_-]{0,254}$/.test(value)) {
    throw new Invalid('must be 1-255 letters, digits, hyphens and underscores');
  }
  return value;
}

function readCosmos(r: SettingsReader): CosmosConfig | undefined {
  const endpoint = r.get('cosmosEndpoint', serviceUri, true);
  const key = r.raw('cosmosKey');
  const identity = readIdentity(r, 'cosmosCredential', 'cosmosClientId');
  const database = r.get('cosmosDatabase', cosmosName);
  const container = r.get('cosmosContainer', cosmosName);
  if (key !== undefined && identity?.kind === 'managedIdentity') {
    r.problem(
      'cosmosKey',
      key,
      'is set together with AUDITFEED_COSMOS__credential=managedidentity: a key and the managed identity ' +
        'contradict each other. Remove AUDITFEED_COSMOS__accountKey (Azure, where key access is off) or remove ' +
        'AUDITFEED_COSMOS__credential (local stand-in or emulator with its key)',
    );
    return undefined;
  }
  if (!endpoint || !identity || !database || !container) return undefined;
  return { endpoint, identity, database, container, ...(key !== undefined ? { key: new Secret(key) } : {}) };
}

function readAuth(r: SettingsReader): AuthConfig | undefined {
  const mode = r.get('authMode', (v) => {
    const m = v.toLowerCase();
    if (m !== 'federated' && m !== 'certificate' && m !== 'secret') {
      throw new Invalid('must be one of federated, certificate, secret');
    }
    return m;
  });
  const clientId = r.get('clientId', guid, true);
  if (!mode || !clientId) return undefined;
  switch (mode) {
    case 'federated': {
      const managedIdentityClientId = r.get('managedIdentityClientId', guid);
      if (!managedIdentityClientId) {
        if (!r.raw('managedIdentityClientId')) {
          r.problem(
            'managedIdentityClientId',
            undefined,
            'is required when AUDITFEED_AUTH_MODE is federated',
          );
        }
        return undefined;
      }
      return { mode, clientId, managedIdentityClientId };
    }
    case 'certificate': {
      const pem = r.raw('clientCertificate');
      const path = r.raw('clientCertificatePath');
      if (pem !== undefined) {
        if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(pem) || !pem.includes('-----BEGIN CERTIFICATE-----')) {
          r.problem(
            'clientCertificate',
            pem,
            'must be a PEM holding both the certificate and its private key',
          );
          return undefined;
        }
        return { mode, clientId, certificate: { pem: new Secret(pem) } };
      }
      if (path !== undefined) return { mode, clientId, certificate: { path } };
      r.problem(
        'clientCertificate',
        undefined,
        'is required when AUDITFEED_AUTH_MODE is certificate (or set AUDITFEED_CLIENT_CERTIFICATE_PATH)',
      );
      return undefined;
    }
    case 'secret': {
      const secret = r.raw('clientSecret');
      if (secret === undefined) {
        r.problem('clientSecret', undefined, 'is required when AUDITFEED_AUTH_MODE is secret');
        return undefined;
      }
      return { mode, clientId, clientSecret: new Secret(secret) };
    }
  }
}

function readEndpoints(r: SettingsReader, cloud: Cloud): EndpointsConfig | undefined {
  const base = CLOUD_ENDPOINTS[cloud];
  const apiOrigin = r.get('apiEndpoint', loopbackOrigin);
  const loginHost = r.get('loginEndpoint', (v) => loopbackOrigin(v, true));
  const graphOrigin = r.get('graphEndpoint', loopbackOrigin);
  const caFile = r.raw('tlsCaFile');
  const overridden =
    r.raw('apiEndpoint') !== undefined ||
    r.raw('loginEndpoint') !== undefined ||
    r.raw('graphEndpoint') !== undefined;
  if (r.raw('apiEndpoint') !== undefined && apiOrigin === undefined) return undefined;
  if (r.raw('loginEndpoint') !== undefined && loginHost === undefined) return undefined;
  if (r.raw('graphEndpoint') !== undefined && graphOrigin === undefined) return undefined;

  let tlsCaPem: string | undefined;
  if (caFile !== undefined) {
    if (!overridden) {
      r.problem(
        'tlsCaFile',
        caFile,
        'is only allowed together with AUDITFEED_API_ENDPOINT / AUDITFEED_LOGIN_ENDPOINT / AUDITFEED_GRAPH_ENDPOINT',
      );
      return undefined;
    }
    try {
      tlsCaPem = readFileSync(caFile, 'utf8');
    } catch (e) {
      r.problem('tlsCaFile', caFile, `cannot be read (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
      return undefined;
    }
    if (!tlsCaPem.includes('-----BEGIN CERTIFICATE-----')) {
      r.problem('tlsCaFile', caFile, 'does not contain a PEM certificate');
      return undefined;
    }
  }
  return {
    loginHost: loginHost ?? base.loginHost,
    apiOrigin: apiOrigin ?? base.apiOrigin,
    tokenExchangeAudience: base.tokenExchangeAudience,
    graphOrigin: graphOrigin ?? base.graphOrigin,
    auditLogQuery: base.auditLogQuery,
    overridden,
    ...(tlsCaPem !== undefined ? { tlsCaPem } : {}),
  };
}

/** A loggable view of the configuration: no secrets, no certificate bodies. */
export function describeConfig(config: AuditfeedConfig): Record<string, unknown> {
  return JSON.parse(
    JSON.stringify({ ...config, endpoints: { ...config.endpoints, tlsCaPem: undefined } }),
  ) as Record<string, unknown>;
}
