import http from 'node:http';
import https from 'node:https';
import axios, { type AxiosInstance, type AxiosResponse } from 'axios';
import type { TokenCredential } from '@azure/identity';
import { CLOUD_ENDPOINTS, type AuditLogQueryAvailability, type Cloud } from '../clouds';
import type { AuditfeedConfig } from '../config';
import { AbortedError, UntrustedUrlError } from '../errors';
import { silentLogger, type Logger } from '../logging';
import {
  backoffDelay,
  DEFAULT_RETRY,
  parseRetryAfter,
  type RetryOptions,
} from '../managementApi/retryPolicy';
import { AccessTokenCache, type TokenCacheOptions } from '../managementApi/tokenCache';
import { sleep as realSleep } from '../sleep';
import {
  GraphAuditError,
  GraphAuditUnavailableError,
  GraphMalformedResponseError,
  GraphPermissionError,
  GraphThrottledError,
  type GraphAuditErrorDetails,
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

const NON_RETRYABLE_NETWORK_CODES = new Set([
  'ERR_FR_MAX_CONTENT_LENGTH_EXCEEDED',
  'ERR_BAD_OPTION',
  'ERR_INVALID_URL',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'CERT_HAS_EXPIRED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

type Checked<T> = { ok: true; value: T } | { ok: false; problem: string };

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
  private readonly retry: RetryOptions;
  private readonly http: AxiosInstance;
  private readonly agents: { http: http.Agent; https: https.Agent };
  private readonly logger: Logger;
  private readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  private readonly now: () => number;

  constructor(private readonly options: GraphAuditClientOptions) {
    this.origin = new URL(options.graphOrigin).origin;
    this.scope = options.scope ?? `${this.origin}/.default`;
    this.retry = { maxRetries: 6, ...options.retry };
    this.logger = options.logger ?? silentLogger;
    this.sleep = options.sleep ?? realSleep;
    this.now = options.now ?? Date.now;
    this.agents = {
      http: new http.Agent({ keepAlive: true }),
      https: new https.Agent({
        keepAlive: true,
        ...(options.tlsCaPem !== undefined ? { ca: options.tlsCaPem } : {}),
      }),
    };
    this.http = axios.create({
      timeout: options.timeoutMs ?? 60_000,
      // A redirect would carry the Authorization header to wherever it points.
      maxRedirects: 0,
      responseType: 'text',
      transformResponse: [(data: unknown) => data],
      validateStatus: () => true,
      maxContentLength: options.maxResponseBytes ?? 64 * 1024 * 1024,
      httpAgent: this.agents.http,
      httpsAgent: this.agents.https,
      headers: { Accept: 'application/json', 'User-Agent': 'auditfeed' },
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
    if (page.nextLink !== undefined) this.trustedUrl(page.nextLink);
    return page;
  }

  /** Closes pooled connections. */
  close(): void {
    this.agents.http.destroy();
    this.agents.https.destroy();
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
    body?: unknown,
  ): Promise<T> {
    this.checkAvailable();
    const signal = options.abortSignal;
    const url = this.trustedUrl(rawUrl);
    const tokens = this.tokenCache(tenantId);
    let reauthenticated = false;
    for (let retry = 0; ;) {
      if (signal?.aborted) throw new AbortedError();
      const token = await tokens.get();
      try {
        this.stats.requests++;
        return await this.attempt(tenantId, method, url, token, check, signal, body);
      } catch (e) {
        if (!(e instanceof GraphAuditError)) throw e;
        if (e instanceof GraphThrottledError) this.stats.throttled++;
        if (e.status === 401 && !reauthenticated) {
          // The token may have been revoked or expired early: one fresh token, then give up.
          reauthenticated = true;
          tokens.invalidate(token);
          continue;
        }
        if (!e.retryable || retry >= this.retry.maxRetries) throw e;
        const delay = this.delayFor(e, retry);
        if (delay === undefined) throw e;
        retry++;
        this.stats.retries++;
        this.logger.warn('Graph audit log query request failed; retrying', {
          tenantId,
          request: e.request,
          status: e.status,
          serviceCode: e.serviceCode,
          requestId: e.requestId,
          retry,
          delayMs: Math.round(delay),
        });
        await this.sleep(delay, signal);
      }
    }
  }

  private delayFor(e: GraphAuditError, retry: number): number | undefined {
    if (e instanceof GraphThrottledError && e.retryAfterMs !== undefined) {
      const max = this.retry.maxRetryAfterMs ?? DEFAULT_RETRY.maxRetryAfterMs;
      // Longer than the client waits (a daily limit): the caller decides, with retryAfterMs.
      return e.retryAfterMs > max ? undefined : e.retryAfterMs;
    }
    return backoffDelay(retry, this.retry);
  }

  private async attempt<T>(
    tenantId: string,
    method: 'GET' | 'POST',
    url: URL,
    token: string,
    check: (body: unknown) => Checked<T>,
    signal: AbortSignal | undefined,
    payload: unknown,
  ): Promise<T> {
    // Query strings (skip tokens) stay out of messages and logs.
    const request = `${method} ${url.pathname}${url.search ? '?…' : ''}`;
    let response: AxiosResponse<string>;
    try {
      response = await this.http.request<string>({
        method,
        url: url.toString(),
        headers: {
          Authorization: `Bearer ${token}`,
          ...(payload !== undefined ? { 'Content-Type': 'application/json' } : {}),
        },
        ...(payload !== undefined ? { data: JSON.stringify(payload) } : {}),
        ...(signal ? { signal } : {}),
      });
    } catch (e) {
      throw this.networkError(e, request, signal);
    }
    const requestId =
      headerValue(response.headers, 'request-id') ?? headerValue(response.headers, 'client-request-id');
    const details = (retryable: boolean, serviceCode?: string): GraphAuditErrorDetails => ({
      status: response.status,
      request,
      retryable,
      ...(requestId !== undefined ? { requestId } : {}),
      ...(serviceCode !== undefined ? { serviceCode } : {}),
    });

    let body: unknown;
    let parseFailed = false;
    try {
      body = response.data === '' ? undefined : JSON.parse(response.data);
    } catch {
      parseFailed = true;
    }

    if (response.status >= 200 && response.status < 300) {
      if (parseFailed) {
        // A cut-off body is transient; retried a few times before it counts as malformed.
        throw new GraphMalformedResponseError(
          `${request} returned HTTP ${response.status} with a body that is not valid JSON (${describeBody(response.data)}).`,
          details(true),
        );
      }
      const checked = check(body);
      if (!checked.ok) {
        throw new GraphMalformedResponseError(
          `${request} returned a response of unexpected shape: ${checked.problem}.`,
          details(false),
        );
      }
      return checked.value;
    }

    const { code, message } = readGraphError(body);
    const text =
      `${request} failed: HTTP ${response.status}${code ? ` ${code}` : ''}: ${message ?? describeBody(response.data)}` +
      (requestId ? ` (request-id ${requestId})` : '');
    const retryAfter = parseRetryAfter(headerValue(response.headers, 'retry-after'), this.now());
    if (response.status === 429 || (response.status === 503 && retryAfter !== undefined)) {
      throw new GraphThrottledError(text, details(true, code), retryAfter);
    }
    if (response.status === 403) {
      throw new GraphPermissionError(
        tenantId,
        message ?? describeBody(response.data),
        details(false, code),
        this.options.consent,
      );
    }
    const retryable = response.status === 408 || response.status >= 500;
    throw new GraphAuditError(text, details(retryable, code));
  }

  private networkError(e: unknown, request: string, signal: AbortSignal | undefined): Error {
    if (signal?.aborted || axios.isCancel(e)) return new AbortedError();
    const code =
      (axios.isAxiosError(e) ? e.code : undefined) ?? (e as NodeJS.ErrnoException).code ?? 'NETWORK_ERROR';
    const reason = e instanceof Error ? e.message : String(e);
    if (/maxContentLength/.test(reason)) {
      return new GraphAuditError(`${request} failed: the response is larger than allowed (${reason}).`, {
        request,
        serviceCode: 'ResponseTooLarge',
        retryable: false,
        cause: e,
      });
    }
    return new GraphAuditError(`${request} failed without a response: ${reason} (${code}).`, {
      request,
      serviceCode: code,
      retryable: !NON_RETRYABLE_NETWORK_CODES.has(code),
      cause: e,
    });
  }

  /** Parses a URL and refuses any origin but Graph's, before a token is attached. */
  private trustedUrl(raw: string): URL {
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      throw new UntrustedUrlError(raw, this.origin, 'Microsoft Graph');
    }
    if (url.origin !== this.origin || url.username !== '' || url.password !== '') {
      throw new UntrustedUrlError(raw, this.origin, 'Microsoft Graph');
    }
    return url;
  }
}

/** The client for the configured cloud (or the simulator, with AUDITFEED_GRAPH_ENDPOINT). */
export function graphAuditClientFromConfig(
  config: Pick<AuditfeedConfig, 'cloud' | 'endpoints' | 'auth' | 'http'>,
  credentials: { forTenant(tenantId: string): TokenCredential },
  extra: Partial<GraphAuditClientOptions> = {},
): GraphAuditClient {
  const { endpoints } = config;
  return new GraphAuditClient({
    graphOrigin: endpoints.graphOrigin,
    // The cloud's Graph resource even when the simulator stands in for its host.
    scope: `${CLOUD_ENDPOINTS[config.cloud].graphOrigin}/.default`,
    credentials,
    cloud: config.cloud,
    availability: endpoints.auditLogQuery,
    consent: { loginHost: endpoints.loginHost, clientId: config.auth.clientId },
    retry: { maxRetries: config.http.maxRetries },
    timeoutMs: config.http.timeoutMs,
    ...(endpoints.tlsCaPem !== undefined ? { tlsCaPem: endpoints.tlsCaPem } : {}),
    ...extra,
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

function readGraphError(body: unknown): { code?: string; message?: string } {
  if (!isObject(body) || !isObject(body.error)) return {};
  const { code, message } = body.error;
  return {
    ...(typeof code === 'string' ? { code } : {}),
    ...(typeof message === 'string' ? { message } : {}),
  };
}

function headerValue(headers: AxiosResponse['headers'], name: string): string | undefined {
  const v: unknown = headers[name];
  return typeof v === 'string' && v !== '' ? v : undefined;
}

function describeBody(data: string): string {
  if (data === '') return 'empty body';
  return data.length > 200 ? `${data.slice(0, 200)}… (${data.length} bytes)` : data;
}
