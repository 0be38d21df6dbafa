import { readFileSync } from 'node:fs';
import { CONTENT_TYPES, isContentType } from '../../shared/contentTypes';
import type { AuditRecord, ContentType } from '../../shared/contentTypes';
import { isGuid } from '../../shared/guid';
import type { ResolvedBulkySpec } from './bulky';
import { toDate } from './clock';
import { GRAPH_AUDIT_PERMISSION, resolveGraphAudit } from './graphAudit';
import type { GraphAuditSpec, ResolvedGraphAudit } from './graphAudit';
import { HOSTILE_KINDS } from './hostile';
import type { HostileKind, ResolvedHostileSpec } from './hostile';
import { resolveLatency } from './latency';
import type { LatencySpec, ResolvedLatency } from './latency';
import type { LateDistribution } from './lateness';
import { Rng } from './rng';
import { DAY } from './time';
import { UNREADABLE_KINDS } from './unreadable';
import type { ResolvedUnreadableSpec, UnreadableKind } from './unreadable';

export interface TenantSpec {
  tenantId: string;
  users?: number;
  /** Overrides the scenario-wide limit for this tenant. */
  rateLimitPerMinute?: number;
}

export interface AppSpec {
  clientId: string;
  clientSecret?: string;
  /** Public certificate (PEM) whose key signs client_assertion JWTs. */
  certificatePem?: string;
  /** Federated identity credential: accepts assertions minted by the simulator's managed-identity endpoint. */
  federated?: { subject: string; issuer?: string; audience?: string };
  /** Tenants where the app is consented; default all scenario tenants. */
  tenants?: string[];
  /**
   * Application permissions carried by its tokens (Management API and Graph alike); default
   * ActivityFeed.Read, ActivityFeed.ReadDlp, ServiceHealth.Read, AuditLogsQuery.Read.All.
   */
  permissions?: string[];
}

export interface ManagedIdentitySpec {
  clientId: string;
  /** Object (principal) id: the `sub` of assertions it mints, what a federated credential matches. */
  principalId: string;
  /** Home tenant; default the first scenario tenant. */
  tenantId?: string;
}

export interface ExplicitBlobSpec {
  tenantId: string;
  contentType: ContentType;
  contentCreated: string;
  availableAt?: string;
  contentId?: string;
  records: AuditRecord[];
}

/**
 * A scripted attack woven into a tenant's activity: its records are served in ordinary content blobs
 * and are part of the ground truth (`truth.stories()`), so a run can check the attack was collected.
 */
export interface StorySpec {
  /** Business-email compromise (see records/bec.ts). */
  kind: 'bec';
  tenantId: string;
  /** CreationTime of the story's first record. */
  start: string | Date;
}

export interface ScenarioSpec {
  seed: number | string;
  tenants: TenantSpec[];
  apps?: AppSpec[];
  managedIdentities?: ManagedIdentitySpec[];
  contentTypes?: ContentType[];
  activity?: {
    start: string | Date;
    end: string | Date;
    recordsPerHour?: Partial<Record<ContentType, number>>;
  };
  blobs?: {
    recordsPerBlob?: [number, number];
    aggregationMinutes?: number;
    /** Delay from the end of a blob's aggregation window to its contentCreated. */
    latencyMinutes?: [number, number];
    /** Share of blobs that become available hours to days after their contentCreated. */
    lateFraction?: number;
    /** How late, in hours; default [2, 160]. A blob late by 168 h or more is never listable. */
    lateHours?: [number, number];
    /**
     * How lateness spreads over lateHours. Default 'logUniform' (mostly hours, some days) when lateHours
     * is defaulted too; 'uniform' when a scenario sets lateHours, as it was written for.
     */
    lateDistribution?: LateDistribution;
    /** Share of blobs that repeat some records of an earlier blob of the same stream. */
    duplicateFraction?: number;
    largeRecordEvery?: number;
    largeRecordBytes?: number;
    /** Generated blobs that cannot be read for a while after they are listed (or until expiry). */
    unreadable?: UnreadableSpec;
    /** Generated blobs that carry one extra hostile array element besides their records. */
    hostileRecords?: { fraction: number; kinds?: HostileKind[] };
    /** Generated blobs that carry about `bytes` of ordinary records, served streamed (chunked). */
    bulky?: { count: number; bytes: number };
  };
  listing?: { pageSize?: number; nextPageHeader?: 'NextPageUri' | 'NextPageUrl' | 'alternate' };
  subscriptions?: { preStarted?: boolean };
  explicit?: ExplicitBlobSpec[];
  stories?: StorySpec[];
  tokenLifetimeSeconds?: number;
  /** Per-tenant API request limit (AF429 over it); default unlimited. */
  rateLimitPerMinute?: number;
  /**
   * Network latency, wall-time ms, added to each response: `[min, max]` for content listing and blob
   * requests, or per route (`{ content: [150, 200], blob: [50, 400], token: [20, 40] }`). Default none.
   */
  latencyMs?: LatencySpec;
  /** Graph audit log query API (graphAudit.ts): paging, query run times, failures, retention, limits. */
  graphAudit?: GraphAuditSpec;
}

export interface UnreadableSpec {
  fraction: number;
  /** Default all four kinds. */
  kinds?: UnreadableKind[];
  /** Hours after availability until the blob reads normally; null: never. Default [1, 48]. */
  recoverAfterHours?: [number, number] | null;
  /** Share of the unreadable blobs that never recover even when recoverAfterHours is set; default 0. */
  permanentFraction?: number;
}

/**
 * Unreadable blobs and hostile records at rates a long run meets several of, for the chaos suite and local
 * runs: `blobs: { ...spec.blobs, ...HOSTILE_BLOB_DEFAULTS }`. Off unless a scenario asks for it.
 */
export const HOSTILE_BLOB_DEFAULTS: Readonly<
  Pick<NonNullable<ScenarioSpec['blobs']>, 'unreadable' | 'hostileRecords'>
> = Object.freeze({
  unreadable: { fraction: 0.02, recoverAfterHours: [1, 48], permanentFraction: 0.25 },
  hostileRecords: { fraction: 0.02 },
});

export interface ResolvedTenant {
  tenantId: string;
  users: number;
  rateLimitPerMinute: number | undefined;
}

export interface ResolvedApp {
  clientId: string;
  clientSecret?: string;
  certificatePem?: string;
  federated?: { subject: string; issuer?: string; audience?: string };
  tenants: string[];
  permissions: string[];
}

export interface ResolvedStory {
  kind: 'bec';
  tenantId: string;
  start: number;
}

export interface ResolvedExplicitBlob {
  tenantId: string;
  contentType: ContentType;
  contentCreated: number;
  availableAt: number;
  contentId: string | undefined;
  records: AuditRecord[];
}

/** A scenario with every default filled in; what the rest of the simulator works from. */
export interface ResolvedScenario {
  seed: string;
  tenants: ResolvedTenant[];
  apps: ResolvedApp[];
  managedIdentities: Required<ManagedIdentitySpec>[];
  contentTypes: ContentType[];
  activity: { start: number; end: number; recordsPerHour: Record<ContentType, number> };
  blobs: {
    recordsPerBlob: [number, number];
    aggregationMinutes: number;
    latencyMinutes: [number, number];
    lateFraction: number;
    lateHours: [number, number];
    lateDistribution: LateDistribution;
    duplicateFraction: number;
    largeRecordEvery: number;
    largeRecordBytes: number;
    unreadable: ResolvedUnreadableSpec;
    hostileRecords: ResolvedHostileSpec;
    bulky: ResolvedBulkySpec;
  };
  listing: { pageSize: number; nextPageHeader: 'NextPageUri' | 'NextPageUrl' | 'alternate' };
  subscriptions: { preStarted: boolean };
  explicit: ResolvedExplicitBlob[];
  stories: ResolvedStory[];
  tokenLifetimeSeconds: number;
  /** Latency ranges per route at start (the live setting is `sim.latency`); `{}` for none. */
  latencyMs: ResolvedLatency;
  graphAudit: ResolvedGraphAudit;
}

/** Modest per-tenant hourly volumes, roughly in the proportions a small organisation produces. */
export const DEFAULT_RECORDS_PER_HOUR: Record<ContentType, number> = {
  'Audit.AzureActiveDirectory': 60,
  'Audit.Exchange': 120,
  'Audit.SharePoint': 90,
  'Audit.General': 30,
  'DLP.All': 3,
};

const DEFAULT_PERMISSIONS = [
  'ActivityFeed.Read',
  'ActivityFeed.ReadDlp',
  'ServiceHealth.Read',
  GRAPH_AUDIT_PERMISSION,
];

function range(
  value: [number, number] | undefined,
  fallback: [number, number],
  what: string,
): [number, number] {
  const r = value ?? fallback;
  if (!Array.isArray(r) || r.length !== 2 || !(r[0] <= r[1]) || r[0] < 0) {
    throw new Error(
      `scenario: ${what} must be [min, max] with 0 <= min <= max, got ${JSON.stringify(value)}`,
    );
  }
  return [r[0], r[1]];
}

function fraction(value: number | undefined, fallback: number, what: string): number {
  const f = value ?? fallback;
  if (!(f >= 0 && f <= 1)) throw new Error(`scenario: ${what} must be between 0 and 1, got ${value}`);
  return f;
}

function kinds<K extends string>(value: K[] | undefined, all: readonly K[], what: string): K[] {
  const list = value ?? [...all];
  if (!Array.isArray(list) || list.length === 0 || list.some((k) => !all.includes(k))) {
    throw new Error(
      `scenario: ${what} must be a non-empty list of ${all.join(', ')}, got ${JSON.stringify(value)}`,
    );
  }
  return [...list];
}

function resolveLateness(b: NonNullable<ScenarioSpec['blobs']>): {
  lateHours: [number, number];
  lateDistribution: LateDistribution;
} {
  const lateHours = range(b.lateHours, [2, 160], 'blobs.lateHours');
  const lateDistribution = b.lateDistribution ?? (b.lateHours === undefined ? 'logUniform' : 'uniform');
  if (lateDistribution !== 'uniform' && lateDistribution !== 'logUniform') {
    throw new Error(
      `scenario: blobs.lateDistribution must be 'uniform' or 'logUniform', got ${String(lateDistribution)}`,
    );
  }
  if (lateDistribution === 'logUniform' && !(lateHours[0] > 0)) {
    throw new Error('scenario: blobs.lateHours minimum must be above 0 for a logUniform lateDistribution');
  }
  return { lateHours, lateDistribution };
}

function resolveUnreadable(u: UnreadableSpec | undefined): ResolvedUnreadableSpec {
  const recover = u?.recoverAfterHours;
  return {
    fraction: fraction(u?.fraction, 0, 'blobs.unreadable.fraction'),
    kinds: kinds(u?.kinds, UNREADABLE_KINDS, 'blobs.unreadable.kinds'),
    recoverAfterHours:
      recover === null ? null : range(recover, [1, 48], 'blobs.unreadable.recoverAfterHours'),
    permanentFraction: fraction(u?.permanentFraction, 0, 'blobs.unreadable.permanentFraction'),
  };
}

function resolveBulky(v: { count: number; bytes: number } | undefined): ResolvedBulkySpec {
  const count = v?.count ?? 0;
  const bytes = v?.bytes ?? 150 * 1024 * 1024;
  if (!(Number.isInteger(count) && count >= 0))
    throw new Error('scenario: blobs.bulky.count must be an integer >= 0');
  if (!(bytes > 0)) throw new Error('scenario: blobs.bulky.bytes must be positive');
  return { count, bytes };
}

/** Fills defaults and validates, so a typo in a scenario file fails at start, not mid-test. */
export function resolveScenario(spec: ScenarioSpec, clockStart: Date): ResolvedScenario {
  if (spec.seed === undefined || spec.seed === null) throw new Error('scenario: seed is required');
  if (!Array.isArray(spec.tenants) || spec.tenants.length === 0) {
    throw new Error('scenario: tenants must list at least one { tenantId }');
  }
  const seed = String(spec.seed);
  const rng = new Rng(`${seed}:defaults`);
  const tenants = spec.tenants.map((t) => {
    if (!isGuid(t.tenantId)) throw new Error(`scenario: tenantId must be a GUID, got ${t.tenantId}`);
    return {
      tenantId: t.tenantId.toLowerCase(),
      users: t.users ?? 25,
      rateLimitPerMinute: t.rateLimitPerMinute ?? spec.rateLimitPerMinute,
    };
  });
  const tenantIds = tenants.map((t) => t.tenantId);
  const homeTenant = tenantIds[0] as string;

  const managedIdentities = (
    spec.managedIdentities ?? [{ clientId: rng.uuid(), principalId: rng.uuid(), tenantId: homeTenant }]
  ).map((m) => ({ clientId: m.clientId, principalId: m.principalId, tenantId: m.tenantId ?? homeTenant }));

  const apps: ResolvedApp[] = (
    spec.apps ?? [
      {
        clientId: rng.uuid(),
        clientSecret: `sim~${rng.hex(8)}.${rng.hex(24)}`,
        federated: { subject: managedIdentities[0]?.principalId ?? rng.uuid() },
      },
    ]
  ).map((a) => {
    if (!a.clientId) throw new Error('scenario: every app needs a clientId');
    for (const t of a.tenants ?? []) {
      if (!tenantIds.includes(t.toLowerCase()))
        throw new Error(`scenario: app ${a.clientId} names unknown tenant ${t}`);
    }
    return {
      ...a,
      tenants: (a.tenants ?? tenantIds).map((t) => t.toLowerCase()),
      permissions: a.permissions ?? DEFAULT_PERMISSIONS,
    };
  });

  const contentTypes = spec.contentTypes ?? [...CONTENT_TYPES];
  for (const ct of contentTypes) {
    if (!isContentType(ct)) throw new Error(`scenario: unknown content type ${String(ct)}`);
  }

  const start = spec.activity
    ? toDate(spec.activity.start, 'activity.start').getTime()
    : clockStart.getTime() - 3 * DAY;
  const end = spec.activity ? toDate(spec.activity.end, 'activity.end').getTime() : clockStart.getTime();
  if (!(start <= end)) throw new Error('scenario: activity.start must not be after activity.end');
  const recordsPerHour = { ...DEFAULT_RECORDS_PER_HOUR, ...(spec.activity?.recordsPerHour ?? {}) };

  const b = spec.blobs ?? {};
  const recordsPerBlob = range(b.recordsPerBlob, [1, 120], 'blobs.recordsPerBlob');
  if (recordsPerBlob[0] < 1) throw new Error('scenario: blobs.recordsPerBlob minimum must be at least 1');
  const aggregationMinutes = b.aggregationMinutes ?? 5;
  if (!(aggregationMinutes > 0)) throw new Error('scenario: blobs.aggregationMinutes must be positive');

  const explicit = (spec.explicit ?? []).map((e, i) => {
    const tenantId = e.tenantId.toLowerCase();
    if (!tenantIds.includes(tenantId))
      throw new Error(`scenario: explicit[${i}] names unknown tenant ${e.tenantId}`);
    if (!isContentType(e.contentType)) throw new Error(`scenario: explicit[${i}] has unknown content type`);
    if (!Array.isArray(e.records)) throw new Error(`scenario: explicit[${i}].records must be an array`);
    const contentCreated = toDate(e.contentCreated, `explicit[${i}].contentCreated`).getTime();
    return {
      tenantId,
      contentType: e.contentType,
      contentCreated,
      availableAt: e.availableAt
        ? toDate(e.availableAt, `explicit[${i}].availableAt`).getTime()
        : contentCreated,
      contentId: e.contentId,
      records: e.records,
    };
  });

  const stories = (spec.stories ?? []).map((st, i) => {
    if (st.kind !== 'bec') throw new Error(`scenario: stories[${i}].kind must be 'bec'`);
    const tenantId = String(st.tenantId).toLowerCase();
    if (!tenantIds.includes(tenantId))
      throw new Error(`scenario: stories[${i}] names unknown tenant ${st.tenantId}`);
    return { kind: st.kind, tenantId, start: toDate(st.start, `stories[${i}].start`).getTime() };
  });

  const pageSize = spec.listing?.pageSize ?? 100;
  if (!(Number.isInteger(pageSize) && pageSize > 0))
    throw new Error('scenario: listing.pageSize must be a positive integer');

  return {
    seed,
    tenants,
    apps,
    managedIdentities,
    contentTypes,
    activity: { start, end, recordsPerHour },
    blobs: {
      recordsPerBlob,
      aggregationMinutes,
      latencyMinutes: range(b.latencyMinutes, [15, 90], 'blobs.latencyMinutes'),
      lateFraction: fraction(b.lateFraction, 0.03, 'blobs.lateFraction'),
      ...resolveLateness(b),
      duplicateFraction: fraction(b.duplicateFraction, 0.05, 'blobs.duplicateFraction'),
      largeRecordEvery: b.largeRecordEvery ?? 0,
      largeRecordBytes: b.largeRecordBytes ?? 256 * 1024,
      unreadable: resolveUnreadable(b.unreadable),
      hostileRecords: {
        fraction: fraction(b.hostileRecords?.fraction, 0, 'blobs.hostileRecords.fraction'),
        kinds: kinds(b.hostileRecords?.kinds, HOSTILE_KINDS, 'blobs.hostileRecords.kinds'),
      },
      bulky: resolveBulky(b.bulky),
    },
    listing: { pageSize, nextPageHeader: spec.listing?.nextPageHeader ?? 'NextPageUri' },
    subscriptions: { preStarted: spec.subscriptions?.preStarted ?? false },
    explicit,
    stories,
    tokenLifetimeSeconds: spec.tokenLifetimeSeconds ?? 3599,
    latencyMs: resolveLatency(spec.latencyMs, 'scenario: latencyMs'),
    graphAudit: resolveGraphAudit(spec.graphAudit),
  };
}

/** Reads a scenario from a JSON file (dates as ISO strings). */
export function loadScenarioFile(path: string): ScenarioSpec {
  const spec = JSON.parse(readFileSync(path, 'utf8')) as ScenarioSpec;
  if (typeof spec !== 'object' || spec === null) throw new Error(`${path}: not a scenario object`);
  return spec;
}
