import type { AxiosResponse } from 'axios';
import type { TokenCredential } from '@azure/identity';
import { CLOUD_ENDPOINTS, type AuditLogQueryAvailability, type Cloud } from '../clouds';
import type { AuditfeedConfig } from '../config';
import {
  ApiTransport,
  describeBody,
  describeRequest,
  readFailure,
  type Checked,
  type DetailsOf,
} from '../http/apiTransport';
import { silentLogger, type Logger } from '../logging';
import type { RetryOptions } from '../managementApi/retryPolicy';
import { AccessTokenCache, type TokenCacheOptions } from '../managementApi/tokenCache';
import {
  GraphAuditError,
  GraphAuditUnavailableError,
  GraphMalformedResponseError,
  GraphPermissionError,
  GraphThrottledError,
} from './errors';
import type {
  AuditLogCallOptions,
  AuditLogQuery,
  AuditLogQueryApi,
  AuditLogQueryRequest,
  AuditLogRecordPage,
} from './types';

export interface GraphAuditClientOptions {
  /** Microsoft Graph origin, e.g. https://graph.microsoft.com. Tokens go to this origin and no other. */
  graphOrigin: string;
  /** Token scope; default `${graphOrigin}/.default` (the simulator wants the cloud's Graph resource). */
  scope?: string;
  /** One credential per tenant (shared/auth/credentials.ts ManagementCredentials serves any scope). */
  credentials: { forTenant(tenantId: string): TokenCredential };
  /** For messages; default Enterprise. */
  cloud?: Cloud;
  /** Whether Microsoft documents the API in this cloud; default documented. */
  availability?: AuditLogQueryAvailability;
  /** Admin-consent guidance in the permission error. */
  consent?: { loginHost: string; clientId?: string };
  retry?: Partial<RetryOptions>;
  timeoutMs?: number;
  /** Extra CA to trust (the local simulator's self-signed certificate). */
  tlsCaPem?: string;
  /** Largest response accepted; default 64 MiB (a records page carries whole records). */
  maxResponseBytes?: number;
  logger?: Logger;
  tokenCache?: TokenCacheOptions;
  /** Waits between retries; tests pass one that moves a virtual clock instead of waiting. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** For Retry-After given as an HTTP date. */
  now?: () => number;
}

export interface GraphAuditClientStats {
  requests: number;
  retries: number;
  throttled: number;
}

const QUERIES_PATH = '/v1.0/security/auditLog/queries';

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Client of Microsoft Graph's audit log query API (docs/backfill-reference.md §1) for any number of
 * tenants: one token cache per tenant, throttling and 5xx retried, responses shape-checked, and tokens
 * sent to the configured Graph origin only — an `@odata.nextLink` elsewhere is refused unsent.
 */
export class GraphAuditClient implements AuditLogQueryApi {
  readonly stats: GraphAuditClientStats = { requests: 0, retries: 0, throttled: 0 };
  private readonly origin: string;
  private readonly scope: string;
  private readonly tokens = new Map<string, AccessTokenCache>();
  private readonly transport: ApiTransport;

  constructor(private readonly options: GraphAuditClientOptions) {
    this.origin = new URL(options.graphOrigin).origin;
    this.scope = options.scope ?? `${this.origin}/.default`;
    this.transport = new ApiTransport({
      origin: this.origin,
      api: 'Microsoft Graph',
      errors: {
        failed: (message, details) => new GraphAuditError(message, details),
        malformed: (message, details) => new GraphMalformedResponseError(message, details),
      },
      requestIdHeaders: ['request-id', 'client-request-id'],
      retry: { maxRetries: 6, ...options.retry },
      timeoutMs: options.timeoutMs ?? 60_000,
      maxResponseBytes: options.maxResponseBytes ?? 64 * 1024 * 1024,
      tlsCaPem: options.tlsCaPem,
      logger: options.logger ?? silentLogger,
      sleep: options.sleep,
      now: options.now,
    });
  }

  /** Tokens acquired from the credentials so far, all tenants. */
  get tokenAcquisitions(): number {
    let n = 0;
    for (const t of this.tokens.values()) n += t.acquisitions;
    return n;
  }

  async createQuery(
    tenantId: string,
    request: AuditLogQueryRequest,
    options: AuditLogCallOptions = {},
  ): Promise<AuditLogQuery> {
    const body: Record<string, unknown> = {
      displayName: request.displayName,
      filterStartDateTime: request.filterStartDateTime,
      filterEndDateTime: request.filterEndDateTime,
    };
    if (request.recordTypeFilters?.length) body.recordTypeFilters = request.recordTypeFilters;
    if (request.serviceFilters?.length) body.serviceFilters = request.serviceFilters;
    try {
      return await this.send(tenantId, 'POST', `${this.origin}${QUERIES_PATH}`, checkQuery, options, body);
    } catch (e) {
      throw this.unavailableInstead(e);
    }
  }

  async getQuery(
    tenantId: string,
    queryId: string,
    options: AuditLogCallOptions = {},
  ): Promise<AuditLogQuery> {
    const url = `${this.origin}${QUERIES_PATH}/${encodeURIComponent(queryId)}`;
    return this.send(tenantId, 'GET', url, checkQuery, options);
  }

  async listRecords(
    tenantId: string,
    queryId: string,
    nextLink?: string,
    options: AuditLogCallOptions = {},
  ): Promise<AuditLogRecordPage> {
    const url = nextLink ?? `${this.origin}${QUERIES_PATH}/${encodeURIComponent(queryId)}/records`;
    const page = await this.send(tenantId, 'GET', url, checkRecordPage, options);
    // Checked on arrival too, so a caller that stores the link never stores one that leads elsewhere.
    if (page.nextLink !== undefined) this.transport.trustedUrl(page.nextLink);
    return page;
  }

  /** Closes pooled connections. */
  close(): void {
    this.transport.close();
  }

  private tokenCache(tenantId: string): AccessTokenCache {
    let cache = this.tokens.get(tenantId);
    if (!cache) {
      cache = new AccessTokenCache(this.options.credentials.forTenant(tenantId), this.scope, tenantId, {
        api: 'Microsoft Graph',
        ...this.options.tokenCache,
      });
      this.tokens.set(tenantId, cache);
    }
    return cache;
  }

  private checkAvailable(): void {
    if (this.options.availability === 'unavailable') {
      throw new GraphAuditUnavailableError(this.options.cloud ?? 'Enterprise');
    }
  }

  /** GCC: a "not here" answer to the first submission means the API is not offered to the tenant. */
  private unavailableInstead(e: unknown): unknown {
    if (this.options.availability !== 'unconfirmed' || !(e instanceof GraphAuditError)) return e;
    const notHere =
      e.status === 404 ||
      e.status === 501 ||
      (e.status === 400 && /not (supported|available|enabled)|unsupported/i.test(e.message));
    return notHere ? new GraphAuditUnavailableError(this.options.cloud ?? 'GCC', e.message) : e;
  }

  /** Authenticates and retries one operation (throttling, 5xx, network, malformed JSON, one fresh token on 401). */
  private async send<T>(
    tenantId: string,
    method: 'GET' | 'POST',
    rawUrl: string,
    check: (body: unknown) => Checked<T>,
    options: AuditLogCallOptions,
    payload?: unknown,
  ): Promise<T> {
    this.checkAvailable();
    const signal = options.abortSignal;
    const url = this.transport.trustedUrl(rawUrl);
    const { value } = await this.transport.withRetries({
      url,
      tokens: this.tokenCache(tenantId),
      signal,
      count: (key) => this.stats[key]++,
      retryMessage: 'Graph audit log query request failed; retrying',
      logFields: { tenantId },
      attempt: (token) =>
        this.transport.requestJson({
          method,
          url,
          token,
          // Query strings (skip tokens) stay out of messages and logs.
          request: describeRequest(method, url, true),
          check,
          statusError: (response, body, details) => this.statusError(tenantId, response, body, details),
          signal,
          payload,
        }),
    });
    return value;
  }

  private statusError(
    tenantId: string,
    response: AxiosResponse<string>,
    body: unknown,
    details: DetailsOf,
  ): GraphAuditError {
    const { status, message, codeDetail, text } = readFailure(response, body, details);
    const retryAfter = this.transport.retryAfter(response);
    if (status === 429 || (status === 503 && retryAfter !== undefined)) {
      return new GraphThrottledError(text, details(true, codeDetail), retryAfter);
    }
    if (status === 403) {
      return new GraphPermissionError(
        tenantId,
        message ?? describeBody(response.data),
        details(false, codeDetail),
        this.options.consent,
      );
    }
    return new GraphAuditError(text, details(status === 408 || status >= 500, codeDetail));
  }
}

/** The client for the configured cloud (or the simulator, with AUDITFEED_GRAPH_ENDPOINT). */
export function graphAuditClientFromConfig(
  config: Pick<AuditfeedConfig, 'cloud' | 'endpoints' | 'auth' | 'http'>,
  credentials: { forTenant(tenantId: string): TokenCredential },
  extra: Partial<GraphAuditClientOptions> = {},
): GraphAuditClient {
  const { endpoints } = config;
  const { retry, ...rest } = extra;
  return new GraphAuditClient({
    graphOrigin: endpoints.graphOrigin,
    // The cloud's Graph resource even when the simulator stands in for its host.
    scope: `${CLOUD_ENDPOINTS[config.cloud].graphOrigin}/.default`,
    credentials,
    cloud: config.cloud,
    availability: endpoints.auditLogQuery,
    consent: { loginHost: endpoints.loginHost, clientId: config.auth.clientId },
    timeoutMs: config.http.timeoutMs,
    ...(endpoints.tlsCaPem !== undefined ? { tlsCaPem: endpoints.tlsCaPem } : {}),
    ...rest,
    // Merged, so a caller's retry setting (maxRetryAfterMs) keeps the configured maxRetries.
    retry: { maxRetries: config.http.maxRetries, ...retry },
  });
}

function checkQuery(body: unknown): Checked<AuditLogQuery> {
  if (!isObject(body)) return { ok: false, problem: 'expected an auditLogQuery JSON object' };
  // The get page's example wraps the query in "value" (reference §1.1): read both until seen live.
  const q = typeof body.status !== 'string' && isObject(body.value) ? body.value : body;
  if (typeof q.id !== 'string' || q.id === '') return { ok: false, problem: 'the auditLogQuery has no id' };
  if (typeof q.status !== 'string' || q.status === '') {
    return { ok: false, problem: `the auditLogQuery ${q.id} has no status` };
  }
  const query: AuditLogQuery = { id: q.id, status: q.status };
  if (typeof q.displayName === 'string') query.displayName = q.displayName;
  if (typeof q.filterStartDateTime === 'string') query.filterStartDateTime = q.filterStartDateTime;
  if (typeof q.filterEndDateTime === 'string') query.filterEndDateTime = q.filterEndDateTime;
  if (typeof q.isRecordCountLimitExceeded === 'boolean')
    query.isRecordCountLimitExceeded = q.isRecordCountLimitExceeded;
  const approx = numberOf(q.approximateReturnedRecordCount);
  if (approx !== undefined) query.approximateReturnedRecordCount = approx;
  const limit = numberOf(q.recordCountLimit);
  if (limit !== undefined) query.recordCountLimit = limit;
  return { ok: true, value: query };
}

function checkRecordPage(body: unknown): Checked<AuditLogRecordPage> {
  if (!isObject(body) || !Array.isArray(body.value)) {
    return { ok: false, problem: 'expected a JSON object with a "value" array of auditLogRecords' };
  }
  const next = body['@odata.nextLink'];
  if (next !== undefined && next !== null && typeof next !== 'string') {
    return { ok: false, problem: '"@odata.nextLink" is not a string' };
  }
  return {
    ok: true,
    value: { records: body.value, ...(typeof next === 'string' && next !== '' ? { nextLink: next } : {}) },
  };
}

/** Int64 properties may come as JSON numbers or (IEEE754Compatible) strings. */
function numberOf(v: unknown): number | undefined {
  const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
  return Number.isFinite(n) ? n : undefined;
}
