import { randomUUID } from 'node:crypto';
import type { AuditRecord } from '../../shared/contentTypes';
import type { SimClock } from './clock';
import type { BlobMeta, ContentStore } from './content';
import { JSON_TYPE, json } from './http';
import type { SimResponse } from './http';
import { Rng } from './rng';
import { DAY, SECOND } from './time';
import type { TokenService } from './tokens';

/**
 * Microsoft Graph's audit log query API (`/v1.0/security/auditLog/queries`, docs/backfill-reference.md §1)
 * served from the same ground truth as the Management API: a query returns every generated record of the
 * tenant whose CreationTime falls in its range, that the audit log had ingested (its blob available) and
 * that is inside the audit retention — the very records the content blobs carry, byte for byte, as
 * `auditData`. Graph is served on the simulator's own origin (`{baseUrl}/v1.0/...`) and wants a token for
 * a Graph resource (`https://graph.microsoft.com/.default`) whose app holds `AuditLogsQuery.Read.All`.
 */

/** Scenario settings (`ScenarioSpec.graphAudit`). */
export interface GraphAuditSpec {
  /** Records per `/records` page; default 100 (Graph documents none). A `$top` up to 1,000 overrides it. */
  pageSize?: number;
  /** Simulator-clock seconds a query stays `notStarted`; default 5. */
  startDelaySeconds?: number;
  /** Simulator-clock seconds from creation to `succeeded`/`failed`, drawn per query; default [20, 120]. */
  runSeconds?: [number, number];
  /** Share of queries that end `failed`; default 0. */
  failFraction?: number;
  /** Audit retention: older records are never returned; default 180 days. */
  retentionDays?: number;
  /** Records a query returns at most; over it the query succeeds with isRecordCountLimitExceeded. Default 1,000,000. */
  recordCountLimit?: number;
  /** Queued or running queries per tenant; one more is answered 429. Default 50. */
  maxConcurrentQueries?: number;
  /** Submissions per tenant in any rolling 24 h of simulator time; one more is answered 429. Default 200. */
  maxQueriesPerDay?: number;
}

export type ResolvedGraphAudit = Required<GraphAuditSpec>;

export const GRAPH_AUDIT_PERMISSION = 'AuditLogsQuery.Read.All';

/** Graph resource ids per cloud, accepted as token audiences for the Graph routes. */
export const GRAPH_RESOURCES = [
  'https://graph.microsoft.com',
  'https://graph.microsoft.us',
  'https://dod-graph.microsoft.us',
  'https://microsoftgraph.chinacloudapi.cn',
];

function positiveInt(v: number | undefined, fallback: number, what: string, min = 1): number {
  const n = v ?? fallback;
  if (!(Number.isInteger(n) && n >= min))
    throw new Error(`scenario: graphAudit.${what} must be an integer >= ${min}, got ${String(v)}`);
  return n;
}

export function resolveGraphAudit(spec: GraphAuditSpec | undefined): ResolvedGraphAudit {
  const s = spec ?? {};
  const run = s.runSeconds ?? [20, 120];
  if (!Array.isArray(run) || run.length !== 2 || !(run[0] >= 0 && run[0] <= run[1])) {
    throw new Error(
      `scenario: graphAudit.runSeconds must be [min, max] with 0 <= min <= max, got ${JSON.stringify(run)}`,
    );
  }
  const startDelaySeconds = s.startDelaySeconds ?? 5;
  if (!(startDelaySeconds >= 0)) throw new Error('scenario: graphAudit.startDelaySeconds must be >= 0');
  const failFraction = s.failFraction ?? 0;
  if (!(failFraction >= 0 && failFraction <= 1))
    throw new Error('scenario: graphAudit.failFraction must be between 0 and 1');
  return {
    pageSize: positiveInt(s.pageSize, 100, 'pageSize'),
    startDelaySeconds,
    runSeconds: [run[0], run[1]],
    failFraction,
    retentionDays: positiveInt(s.retentionDays, 180, 'retentionDays'),
    recordCountLimit: positiveInt(s.recordCountLimit, 1_000_000, 'recordCountLimit'),
    maxConcurrentQueries: positiveInt(s.maxConcurrentQueries, 50, 'maxConcurrentQueries'),
    maxQueriesPerDay: positiveInt(s.maxQueriesPerDay, 200, 'maxQueriesPerDay'),
  };
}

/**
 * Management API RecordType number → Graph auditLogRecordType member (reference §2.2: by name, never by
 * ordinal; 26 and 27 are not members, 44 is workplaceAnalytics). Numbers missing here are newer than the
 * Graph enum and come back as `unknownFutureValue` (open question 11).
 */
export const GRAPH_RECORD_TYPES: Record<number, string> = {
  1: 'exchangeAdmin',
  2: 'exchangeItem',
  3: 'exchangeItemGroup',
  4: 'sharePoint',
  5: 'syntheticProbe',
  6: 'sharePointFileOperation',
  7: 'oneDrive',
  8: 'azureActiveDirectory',
  9: 'azureActiveDirectoryAccountLogon',
  10: 'dataCenterSecurityCmdlet',
  11: 'complianceDLPSharePoint',
  12: 'sway',
  13: 'complianceDLPExchange',
  14: 'sharePointSharingOperation',
  15: 'azureActiveDirectoryStsLogon',
  16: 'skypeForBusinessPSTNUsage',
  17: 'skypeForBusinessUsersBlocked',
  18: 'securityComplianceCenterEOPCmdlet',
  19: 'exchangeAggregatedOperation',
  20: 'powerBIAudit',
  21: 'crm',
  22: 'yammer',
  23: 'skypeForBusinessCmdlets',
  24: 'discovery',
  25: 'microsoftTeams',
  28: 'threatIntelligence',
  29: 'mailSubmission',
  30: 'microsoftFlow',
  31: 'aeD',
  32: 'microsoftStream',
  33: 'complianceDLPSharePointClassification',
  34: 'threatFinder',
  35: 'project',
  36: 'sharePointListOperation',
  37: 'sharePointCommentOperation',
  38: 'dataGovernance',
  39: 'kaizala',
  40: 'securityComplianceAlerts',
  41: 'threatIntelligenceUrl',
  42: 'securityComplianceInsights',
  43: 'mipLabel',
  44: 'workplaceAnalytics',
  45: 'powerAppsApp',
  46: 'powerAppsPlan',
  47: 'threatIntelligenceAtpContent',
  48: 'labelContentExplorer',
  49: 'teamsHealthcare',
  50: 'exchangeItemAggregated',
  51: 'hygieneEvent',
  52: 'dataInsightsRestApiAudit',
  53: 'informationBarrierPolicyApplication',
  54: 'sharePointListItemOperation',
  55: 'sharePointContentTypeOperation',
  56: 'sharePointFieldOperation',
  57: 'microsoftTeamsAdmin',
  58: 'hrSignal',
  59: 'microsoftTeamsDevice',
  60: 'microsoftTeamsAnalytics',
  61: 'informationWorkerProtection',
  62: 'campaign',
  63: 'dlpEndpoint',
  64: 'airInvestigation',
  65: 'quarantine',
  66: 'microsoftForms',
  67: 'applicationAudit',
  68: 'complianceSupervisionExchange',
  69: 'customerKeyServiceEncryption',
  70: 'officeNative',
  71: 'mipAutoLabelSharePointItem',
  72: 'mipAutoLabelSharePointPolicyLocation',
  73: 'microsoftTeamsShifts',
};
const RECORD_TYPE_BY_NAME = new Map(
  Object.entries(GRAPH_RECORD_TYPES).map(([n, name]) => [name.toLowerCase(), Number(n)]),
);

/** auditLogUserType members in Management API UserType order (reference §2.1). */
export const GRAPH_USER_TYPES = [
  'regular',
  'reserved',
  'admin',
  'dcAdmin',
  'system',
  'application',
  'servicePrincipal',
  'customPolicy',
  'systemPolicy',
  'partnerTechnician',
  'guest',
];

const ODATA_TYPE = '#microsoft.graph.security.defaultAuditData';

/** A record a query returns: where it is in its blob's served array, so its text can be regenerated. */
interface Hit {
  blob: BlobMeta;
  /** Index in the blob's served array (`ContentStore.refs`). */
  position: number;
  id: string;
  time: number;
}

export interface GraphQueryState {
  id: string;
  tenantId: string;
  displayName: string | undefined;
  filterStartDateTime: string;
  filterEndDateTime: string;
  recordTypeFilters: string[];
  serviceFilters: string[];
  /** Simulator-clock ms. */
  createdAt: number;
  startsAt: number;
  endsAt: number;
  willFail: boolean;
  /** Computed on first need after the query ends. */
  hits?: Hit[];
  matched?: number;
}

/** What `/_sim/graph/queries` and `sim.graphAudit.queries()` show of a query. */
export interface GraphQueryInfo {
  id: string;
  tenantId: string;
  status: string;
  createdAt: string;
  endsAt: string;
  filterStartDateTime: string;
  filterEndDateTime: string;
  recordTypeFilters: string[];
  serviceFilters: string[];
  willFail: boolean;
  /** Records returned (after the limit); undefined until the query ends and is read. */
  returned?: number;
  /** Records that matched before the limit. */
  matched?: number;
}

export interface GraphTruthFilter {
  tenantId: string;
  start: Date;
  end: Date;
  /** The moment the records must have been ingested by (default: now). */
  at?: Date;
  recordTypeFilters?: string[];
  serviceFilters?: string[];
}

export interface GraphAuditStats {
  /** Queries accepted (201). */
  created: number;
  /** Submissions refused 429 for the concurrent-query limit / the 24-hour limit. */
  throttledConcurrent: number;
  throttledDaily: number;
  /** `/records` pages served. */
  pages: number;
  /** Records served on those pages (a record re-read is counted again). */
  recordsServed: number;
}

export interface GraphAuditDeps {
  config: ResolvedGraphAudit;
  seed: string;
  store: ContentStore;
  tokens: TokenService;
  clock: SimClock;
  baseUrl: () => string;
}

export interface GraphRequest {
  method: string;
  /** Path segments after `v1.0/security/auditLog/queries`. */
  rest: string[];
  query: URLSearchParams;
  authorization: string | undefined;
  body: string;
}

export type GraphRoute = 'graphQueries' | 'graphQuery' | 'graphRecords';

/** Which fault route a Graph path is (`/queries`, `/queries/{id}`, `/queries/{id}/records`). */
export function graphRouteOf(rest: string[]): GraphRoute | undefined {
  if (rest.length === 0) return 'graphQueries';
  if (rest.length === 1) return 'graphQuery';
  if (rest.length === 2 && rest[1] === 'records') return 'graphRecords';
  return undefined;
}

/** Graph's error JSON: `{"error":{"code","message","innerError":{date,request-id}}}`. */
export function graphError(
  status: number,
  code: string,
  message: string,
  now: Date,
  headers: Record<string, string> = {},
): SimResponse {
  const requestId = randomUUID();
  return {
    ...json(
      status,
      {
        error: {
          code,
          message,
          innerError: { date: now.toISOString().slice(0, 19), 'request-id': requestId },
        },
      },
      headers,
    ),
    errorCode: code,
  };
}

const ISO_OFFSET = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,7})?)?(Z|[+-]\d{2}:\d{2})$/;

function parseOffsetTime(v: unknown): number | undefined {
  if (typeof v !== 'string' || !ISO_OFFSET.test(v)) return undefined;
  const t = Date.parse(v);
  return Number.isNaN(t) ? undefined : t;
}

function stringList(v: unknown): string[] | undefined {
  if (v === undefined || v === null) return [];
  if (typeof v === 'string') return [v];
  if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v;
  return undefined;
}

function normalizeIp(ip: unknown): string | null {
  if (typeof ip !== 'string' || ip === '') return null;
  const v6 = /^\[([^\]]+)\](?::\d+)?$/.exec(ip);
  if (v6) return v6[1] as string;
  const v4 = /^(\d{1,3}(?:\.\d{1,3}){3}):\d+$/.exec(ip);
  return v4 ? (v4[1] as string) : ip;
}

function numberOf(v: unknown): number | undefined {
  const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
  return Number.isFinite(n) ? n : undefined;
}

/** The auditLogRecord wrapper around one Management API record (reference §1.3, §2.1), as JSON text. */
export function auditLogRecordText(recordText: string, record: AuditRecord): string {
  const rt = numberOf(record.RecordType);
  const ut = numberOf(record.UserType);
  const userId = typeof record.UserId === 'string' ? record.UserId : null;
  const created = typeof record.CreationTime === 'string' ? `${record.CreationTime.slice(0, 19)}Z` : null;
  const wrapper = {
    id: record.Id,
    createdDateTime: created,
    auditLogRecordType: (rt !== undefined && GRAPH_RECORD_TYPES[rt]) || 'unknownFutureValue',
    operation: record.Operation ?? null,
    organizationId: record.OrganizationId ?? null,
    userType: (ut !== undefined && GRAPH_USER_TYPES[ut]) || 'unknownFutureValue',
    userId,
    service: record.Workload ?? null,
    objectId: record.ObjectId ?? null,
    userPrincipalName: userId !== null && userId.includes('@') ? userId : null,
    clientIp: normalizeIp(record.ClientIP ?? record.ClientIPAddress),
    administrativeUnits: [],
  };
  // Spliced as text: the record is served exactly as its blob serves it (even a `__proto__` key survives).
  const auditData = `{"@odata.type":${JSON.stringify(ODATA_TYPE)}${recordText.trim() === '{}' ? '' : ','}${recordText.trim().slice(1)}`;
  return `${JSON.stringify(wrapper).slice(0, -1)},"auditData":${auditData}}`;
}

const SKIP_TOKEN = '$skiptoken';

/** The Graph audit log query service: queries per tenant, their lifecycle on the simulator clock, records. */
export class GraphAuditService {
  private readonly queries = new Map<string, GraphQueryState>();
  private readonly byTenant = new Map<string, GraphQueryState[]>();
  private readonly rng: Rng;
  readonly stats: GraphAuditStats = {
    created: 0,
    throttledConcurrent: 0,
    throttledDaily: 0,
    pages: 0,
    recordsServed: 0,
  };

  constructor(private readonly d: GraphAuditDeps) {
    this.rng = new Rng(`${d.seed}:graph-audit`);
  }

  private get config(): ResolvedGraphAudit {
    return this.d.config;
  }

  private now(): number {
    return this.d.clock.now().getTime();
  }

  private err(status: number, code: string, message: string, headers?: Record<string, string>): SimResponse {
    return graphError(status, code, message, this.d.clock.now(), headers);
  }

  /** Status at simulator time `at`. */
  statusOf(q: GraphQueryState, at = this.now()): string {
    if (at < q.startsAt) return 'notStarted';
    if (at < q.endsAt) return 'running';
    return q.willFail ? 'failed' : 'succeeded';
  }

  /** Tenant a token belongs to, for fault matching and the request log (no checks). */
  tenantOf(authorization: string | undefined): string | undefined {
    const c = this.d.tokens.checkGraph(authorization);
    return c.ok ? c.token.tenantId : undefined;
  }

  handle(req: GraphRequest): SimResponse {
    const auth = this.d.tokens.checkGraph(req.authorization);
    if (!auth.ok) {
      const messages: Record<string, string> = {
        missing: 'Access token is empty.',
        unknown: 'IDX14100: JWT is not well formed.',
        expired: 'Lifetime validation failed, the token is expired.',
        'wrong-resource': 'Invalid audience.',
      };
      return this.err(401, 'InvalidAuthenticationToken', messages[auth.reason] ?? 'Invalid token.', {
        'WWW-Authenticate':
          'Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize"',
      });
    }
    if (!auth.token.permissions.includes(GRAPH_AUDIT_PERMISSION)) {
      return this.err(
        403,
        'Forbidden',
        `Missing application permission ${GRAPH_AUDIT_PERMISSION}: the app's token carries ${
          auth.token.permissions.join(', ') || 'no roles'
        }. Grant the application permission and admin consent.`,
      );
    }
    const tenantId = auth.token.tenantId;
    const route = graphRouteOf(req.rest);
    if (route === 'graphQueries' && req.method === 'POST') return this.create(tenantId, req.body);
    if (route === 'graphQueries' && req.method === 'GET') {
      const value = (this.byTenant.get(tenantId) ?? []).map((q) => this.resource(q));
      return json(200, { '@odata.context': this.context('queries'), value });
    }
    if (route === 'graphQuery' && req.method === 'GET') {
      const q = this.find(tenantId, req.rest[0] as string);
      if (!q) return this.notFound(req.rest[0] as string);
      return json(200, { '@odata.context': this.context('queries/$entity'), ...this.resource(q) });
    }
    if (route === 'graphRecords' && req.method === 'GET') {
      const q = this.find(tenantId, req.rest[0] as string);
      if (!q) return this.notFound(req.rest[0] as string);
      return this.records(q, req.query);
    }
    if (route === undefined) {
      return this.err(400, 'BadRequest', `Resource not found for the segment '${req.rest.join('/')}'.`);
    }
    return this.err(405, 'Request_BadRequest', `The HTTP method '${req.method}' is not allowed here.`);
  }

  private context(what: string): string {
    return `${this.d.baseUrl()}/v1.0/$metadata#security/auditLog/${what}`;
  }

  private find(tenantId: string, id: string): GraphQueryState | undefined {
    const q = this.queries.get(id.toLowerCase());
    return q && q.tenantId === tenantId ? q : undefined;
  }

  private notFound(id: string): SimResponse {
    return this.err(404, 'NotFound', `The audit log query '${id}' was not found.`);
  }

  private resource(q: GraphQueryState): Record<string, unknown> {
    const status = this.statusOf(q);
    const done = status === 'succeeded';
    if (done) this.compute(q);
    const returned = q.hits?.length ?? 0;
    return {
      '@odata.type': '#microsoft.graph.security.auditLogQuery',
      id: q.id,
      displayName: q.displayName ?? null,
      filterStartDateTime: q.filterStartDateTime,
      filterEndDateTime: q.filterEndDateTime,
      recordTypeFilters: q.recordTypeFilters,
      keywordFilter: null,
      serviceFilters: q.serviceFilters,
      operationFilters: [],
      userPrincipalNameFilters: [],
      ipAddressFilters: [],
      objectIdFilters: [],
      administrativeUnitIdFilters: [],
      status,
      recordCountLimit: this.config.recordCountLimit,
      isRecordCountLimitExceeded: done && (q.matched ?? 0) > this.config.recordCountLimit,
      approximateReturnedRecordCount: done ? returned : 0,
    };
  }

  private create(tenantId: string, body: string): SimResponse {
    let b: Record<string, unknown>;
    try {
      const v = JSON.parse(body) as unknown;
      if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('not an object');
      b = v as Record<string, unknown>;
    } catch {
      return this.err(400, 'BadRequest', 'The request body must be a JSON auditLogQuery object.');
    }
    const now = this.now();
    const retentionStart = now - this.config.retentionDays * DAY;
    const start =
      b.filterStartDateTime === undefined ? retentionStart : parseOffsetTime(b.filterStartDateTime);
    const end = b.filterEndDateTime === undefined ? now : parseOffsetTime(b.filterEndDateTime);
    if (start === undefined || end === undefined) {
      return this.err(
        400,
        'BadRequest',
        'filterStartDateTime and filterEndDateTime must be ISO 8601 date-times with a zone (e.g. 2026-11-01T00:00:00Z).',
      );
    }
    if (!(start < end)) {
      return this.err(400, 'BadRequest', 'filterStartDateTime must be before filterEndDateTime.');
    }
    const recordTypeFilters = stringList(b.recordTypeFilters);
    // The create page documents `serviceFilter` (one string), the resource page `serviceFilters` (reference §1.2).
    const serviceFilters = stringList(b.serviceFilters ?? b.serviceFilter);
    if (!recordTypeFilters || !serviceFilters) {
      return this.err(400, 'BadRequest', 'recordTypeFilters and serviceFilters must be arrays of strings.');
    }
    const unknownType = recordTypeFilters.find((n) => !RECORD_TYPE_BY_NAME.has(n.toLowerCase()));
    if (unknownType !== undefined) {
      return this.err(
        400,
        'BadRequest',
        `Requested value '${unknownType}' was not found in microsoft.graph.security.auditLogRecordType.`,
      );
    }

    const mine = this.byTenant.get(tenantId) ?? [];
    const active = mine.filter(
      (q) => this.statusOf(q, now) === 'notStarted' || this.statusOf(q, now) === 'running',
    );
    if (active.length >= this.config.maxConcurrentQueries) {
      this.stats.throttledConcurrent += 1;
      const soonest = Math.min(...active.map((q) => q.endsAt));
      return this.err(
        429,
        'TooManyRequests',
        `Too many audit log queries are queued or running for this tenant (limit ${this.config.maxConcurrentQueries}).`,
        { 'Retry-After': String(Math.max(1, Math.ceil((soonest - now) / SECOND))) },
      );
    }
    const lastDay = mine.filter((q) => q.createdAt > now - DAY);
    if (lastDay.length >= this.config.maxQueriesPerDay) {
      this.stats.throttledDaily += 1;
      const oldest = Math.min(...lastDay.map((q) => q.createdAt));
      return this.err(
        429,
        'TooManyRequests',
        `The tenant's daily audit log query submission limit (${this.config.maxQueriesPerDay} in 24 hours) is reached.`,
        { 'Retry-After': String(Math.max(1, Math.ceil((oldest + DAY - now) / SECOND))) },
      );
    }

    const [lo, hi] = this.config.runSeconds;
    const runMs = (lo + this.rng.next() * (hi - lo)) * SECOND;
    const q: GraphQueryState = {
      id: this.rng.uuid(),
      tenantId,
      displayName: typeof b.displayName === 'string' ? b.displayName : undefined,
      filterStartDateTime: new Date(start).toISOString(),
      filterEndDateTime: new Date(end).toISOString(),
      recordTypeFilters,
      serviceFilters,
      createdAt: now,
      startsAt: now + Math.min(this.config.startDelaySeconds * SECOND, runMs),
      endsAt: now + runMs,
      willFail: this.rng.chance(this.config.failFraction),
    };
    this.queries.set(q.id, q);
    mine.push(q);
    this.byTenant.set(tenantId, mine);
    this.stats.created += 1;
    return json(
      201,
      { '@odata.context': this.context('queries/$entity'), ...this.resource(q) },
      {
        Location: `${this.d.baseUrl()}/v1.0/security/auditLog/queries/${q.id}`,
      },
    );
  }

  /** The query's records, found once it has ended, as of its creation (what the audit log held then). */
  private compute(q: GraphQueryState): void {
    if (q.hits) return;
    const all = this.matching({
      tenantId: q.tenantId,
      start: new Date(q.filterStartDateTime),
      end: new Date(q.filterEndDateTime),
      at: new Date(q.createdAt),
      recordTypeFilters: q.recordTypeFilters,
      serviceFilters: q.serviceFilters,
    });
    q.matched = all.length;
    q.hits = all.slice(0, this.config.recordCountLimit);
  }

  /** Every record such a query returns, in the order it returns them (CreationTime, then Id). */
  private matching(f: GraphTruthFilter): Hit[] {
    const tenantId = f.tenantId.toLowerCase();
    const at = (f.at ?? this.d.clock.now()).getTime();
    const start = Math.max(f.start.getTime(), at - this.config.retentionDays * DAY);
    const end = f.end.getTime();
    const types = new Set((f.recordTypeFilters ?? []).map((n) => RECORD_TYPE_BY_NAME.get(n.toLowerCase())));
    const services = new Set((f.serviceFilters ?? []).map((s) => s.toLowerCase()));
    const filtered = types.size > 0 || services.size > 0;
    const seen = new Set<string>();
    const hits: Hit[] = [];
    for (const blob of this.d.store.all) {
      if (blob.tenantId !== tenantId || blob.availableAt > at) continue;
      // Generated blobs know their CreationTime range; explicit and story records are checked one by one.
      if (!blob.explicit) {
        const src = blob.dup?.source;
        const from = Math.min(blob.recordsFrom, src?.recordsFrom ?? Infinity);
        const to = Math.max(blob.recordsTo, src?.recordsTo ?? -Infinity);
        if (to <= start || from >= end) continue;
      }
      const refs = this.d.store.refs(blob);
      const texts = filtered ? [...this.d.store.recordTexts(blob)] : undefined;
      // A record repeated in several blobs is in the audit log once, from the first of them available.
      for (let position = 0; position < refs.length; position++) {
        const r = refs[position];
        if (!r || r.outcome !== 'store' || r.id === undefined || r.creationTime === undefined) continue;
        const time = Date.parse(`${r.creationTime.slice(0, 19)}Z`);
        if (!(time >= start && time < end)) continue;
        if (texts) {
          const rec = JSON.parse(texts[position] as string) as AuditRecord;
          const rt = numberOf(rec.RecordType);
          if (types.size > 0 && (rt === undefined || !types.has(rt))) continue;
          if (
            services.size > 0 &&
            !services.has(typeof rec.Workload === 'string' ? rec.Workload.toLowerCase() : '')
          )
            continue;
        }
        if (seen.has(r.id)) continue;
        seen.add(r.id);
        hits.push({ blob, position, id: r.id, time });
      }
    }
    hits.sort((a, b) => a.time - b.time || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    return hits;
  }

  private records(q: GraphQueryState, query: URLSearchParams): SimResponse {
    const status = this.statusOf(q);
    if (status !== 'succeeded') {
      return this.err(
        400,
        'BadRequest',
        `The audit log query '${q.id}' has status ${status}; its records can be read once it has succeeded.`,
      );
    }
    this.compute(q);
    const hits = q.hits as Hit[];
    const token = query.get(SKIP_TOKEN);
    const offset = token === null ? 0 : Number(token);
    if (!(Number.isInteger(offset) && offset >= 0 && offset <= hits.length)) {
      return this.err(400, 'BadRequest', `The ${SKIP_TOKEN} '${token ?? ''}' is not valid.`);
    }
    const topText = query.get('$top');
    const top = topText === null ? this.config.pageSize : Number(topText);
    if (!(Number.isInteger(top) && top >= 1 && top <= 1000)) {
      return this.err(400, 'BadRequest', "'$top' must be an integer between 1 and 1000.");
    }
    const page = hits.slice(offset, offset + top);
    const texts = this.texts(page);
    const next = offset + page.length < hits.length ? offset + page.length : undefined;
    let body = `{"@odata.context":${JSON.stringify(this.context(`queries('${q.id}')/records`))},"value":[${texts.join(',')}]`;
    if (next !== undefined) {
      const u = new URL(`${this.d.baseUrl()}/v1.0/security/auditLog/queries/${q.id}/records`);
      if (topText !== null) u.searchParams.set('$top', String(top));
      u.searchParams.set(SKIP_TOKEN, String(next));
      body += `,"@odata.nextLink":${JSON.stringify(u.toString())}`;
    }
    body += '}';
    this.stats.pages += 1;
    this.stats.recordsServed += page.length;
    return { status: 200, headers: { 'Content-Type': JSON_TYPE }, body };
  }

  /** auditLogRecord texts of a page, regenerating each blob it touches once. */
  private texts(page: Hit[]): string[] {
    const byBlob = new Map<BlobMeta, Map<number, string>>();
    for (const h of page) {
      let m = byBlob.get(h.blob);
      if (!m) byBlob.set(h.blob, (m = new Map<number, string>()));
      m.set(h.position, '');
    }
    for (const [blob, wanted] of byBlob) {
      let i = 0;
      let left = wanted.size;
      for (const text of this.d.store.recordTexts(blob)) {
        if (wanted.has(i)) {
          wanted.set(i, text);
          if (--left === 0) break;
        }
        i++;
      }
    }
    return page.map((h) => {
      const text = byBlob.get(h.blob)?.get(h.position) as string;
      return auditLogRecordText(text, JSON.parse(text) as AuditRecord);
    });
  }

  // ---- ground truth and control ----

  /** Ids a query for `f` would return (before any record-count limit), in the order it returns them. */
  truthRecordIds(f: GraphTruthFilter): string[] {
    return this.matching(f).map((h) => h.id);
  }

  queryInfos(tenantId?: string): GraphQueryInfo[] {
    const t = tenantId?.toLowerCase();
    return [...this.queries.values()]
      .filter((q) => t === undefined || q.tenantId === t)
      .map((q) => ({
        id: q.id,
        tenantId: q.tenantId,
        status: this.statusOf(q),
        createdAt: new Date(q.createdAt).toISOString(),
        endsAt: new Date(q.endsAt).toISOString(),
        filterStartDateTime: q.filterStartDateTime,
        filterEndDateTime: q.filterEndDateTime,
        recordTypeFilters: q.recordTypeFilters,
        serviceFilters: q.serviceFilters,
        willFail: q.willFail,
        ...(q.hits ? { returned: q.hits.length, matched: q.matched } : {}),
      }));
  }

  /** Forgets every query (and so the limits' history); the stats are zeroed. */
  reset(): void {
    this.queries.clear();
    this.byTenant.clear();
    Object.assign(this.stats, {
      created: 0,
      throttledConcurrent: 0,
      throttledDaily: 0,
      pages: 0,
      recordsServed: 0,
    });
  }
}
