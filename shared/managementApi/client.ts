import http from 'node:http';
import https from 'node:https';
import axios, { type AxiosInstance, type AxiosResponse } from 'axios';
import type { TokenCredential } from '@azure/identity';
import type { AuditRecord, ContentBlobRef, ContentType } from '../contentTypes';
import {
  AbortedError,
  ContentUnavailableError,
  MalformedResponseError,
  ManagementApiError,
  type ManagementApiErrorDetails,
  SubscriptionNotEnabledError,
  ThrottledError,
  UntrustedUrlError,
} from '../errors';
import { silentLogger, type Logger } from '../logging';
import { sleep } from '../sleep';
import { RequestPacer } from './pacer';
import {
  checkContentBlob,
  checkContentList,
  checkSubscription,
  checkSubscriptionList,
  readServiceError,
  type Checked,
  type SubscriptionState,
} from './responses';
import { backoffDelay, DEFAULT_RETRY, parseRetryAfter, type RetryOptions } from './retryPolicy';
import { AccessTokenCache, type TokenCacheOptions } from './tokenCache';

export interface ManagementActivityClientOptions {
  tenantId: string;
  /** Management API origin, e.g. https://manage.office.com. The token goes to this origin and no other. */
  apiOrigin: string;
  credential: TokenCredential;
  /** PublisherIdentifier on every request. Default: the tenant id. */
  publisherId?: string;
  /** Share one pacer per tenant across clients; default: a pacer of its own at requestsPerMinute. */
  pacer?: RequestPacer;
  requestsPerMinute?: number;
  retry?: Partial<RetryOptions>;
  timeoutMs?: number;
  /** Extra CA to trust (the local simulator's self-signed certificate). */
  tlsCaPem?: string;
  /** Largest response body accepted. Default 512 MiB. */
  maxResponseBytes?: number;
  logger?: Logger;
  tokenCache?: TokenCacheOptions;
}

export interface OperationOptions {
  signal?: AbortSignal;
  /** Also count this operation's requests, retries and throttles here (e.g. per content type). */
  stats?: ClientStats;
}

export interface ContentPage {
  /** 0-based page number within this listing. */
  page: number;
  items: ContentBlobRef[];
  nextPageUri: string | undefined;
}

export interface ClientStats {
  requests: number;
  retries: number;
  throttled: number;
}

interface Sent<T> {
  value: T;
  headers: AxiosResponse['headers'];
}

const RETRYABLE_SERVICE_CODES = new Set(['AF50000', 'AF50005', 'AF50006']);
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

/**
 * Client of the Office 365 Management Activity API for one tenant: paced, retried, shape-checked, and
 * never sending its token anywhere but the configured API origin.
 */
export class ManagementActivityClient {
  readonly tenantId: string;
  readonly stats: ClientStats = { requests: 0, retries: 0, throttled: 0 };
  private readonly origin: string;
  private readonly feedRoot: string;
  private readonly publisherId: string;
  private readonly tokens: AccessTokenCache;
  private readonly pacer: RequestPacer;
  private readonly retry: RetryOptions;
  private readonly http: AxiosInstance;
  private readonly agents: { http: http.Agent; https: https.Agent };
  private readonly logger: Logger;

  constructor(options: ManagementActivityClientOptions) {
    this.tenantId = options.tenantId;
    this.origin = new URL(options.apiOrigin).origin;
    this.feedRoot = `${this.origin}/api/v1.0/${encodeURIComponent(options.tenantId)}/activity/feed`;
    this.publisherId = options.publisherId ?? options.tenantId;
    this.tokens = new AccessTokenCache(
      options.credential,
      `${this.origin}/.default`,
      options.tenantId,
      options.tokenCache,
    );
    this.pacer = options.pacer ?? new RequestPacer({ requestsPerMinute: options.requestsPerMinute ?? 1800 });
    this.retry = { maxRetries: 6, ...options.retry };
    this.logger = options.logger ?? silentLogger;
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
      maxContentLength: options.maxResponseBytes ?? 512 * 1024 * 1024,
      httpAgent: this.agents.http,
      httpsAgent: this.agents.https,
      headers: { Accept: 'application/json', 'User-Agent': 'auditfeed' },
    });
  }

  /** Tokens acquired from the credential so far. */
  get tokenAcquisitions(): number {
    return this.tokens.acquisitions;
  }

  /** Starts the subscription; one that is already enabled (AF20024) counts as success. */
  async startSubscription(
    contentType: ContentType,
    options: OperationOptions = {},
  ): Promise<SubscriptionState & { alreadyEnabled: boolean }> {
    const url = `${this.feedRoot}/subscriptions/start?contentType=${encodeURIComponent(contentType)}`;
    try {
      const { value } = await this.send('POST', url, checkSubscription, options);
      return { ...value, alreadyEnabled: false };
    } catch (e) {
      if (e instanceof ManagementApiError && e.serviceCode === 'AF20024') {
        return { contentType, status: 'enabled', webhook: null, alreadyEnabled: true };
      }
      throw e;
    }
  }

  async listSubscriptions(options: OperationOptions = {}): Promise<SubscriptionState[]> {
    return (await this.send('GET', `${this.feedRoot}/subscriptions/list`, checkSubscriptionList, options))
      .value;
  }

  /**
   * Lists content blobs created in [start, end), page by page, following NextPageUri / NextPageUrl.
   * The service takes whole seconds, at most 24 hours apart, start at most 7 days back.
   */
  async *listContent(
    contentType: ContentType,
    start: Date,
    end: Date,
    options: OperationOptions = {},
  ): AsyncGenerator<ContentPage, void, undefined> {
    let url: string | undefined =
      `${this.feedRoot}/subscriptions/content?contentType=${encodeURIComponent(contentType)}` +
      `&startTime=${formatTime(start)}&endTime=${formatTime(end)}`;
    const seen = new Set<string>();
    for (let page = 0; url !== undefined; page++) {
      seen.add(url);
      const { value, headers }: Sent<ContentBlobRef[]> = await this.send(
        'GET',
        url,
        (b) => checkContentList(b, contentType),
        options,
      );
      const next: string | undefined =
        headerValue(headers, 'nextpageuri') ?? headerValue(headers, 'nextpageurl');
      if (next !== undefined && seen.has(next)) {
        throw new MalformedResponseError(`The listing's next-page link repeats an earlier page (${next}).`, {
          request: `GET ${url}`,
          retryable: false,
        });
      }
      yield { page, items: value, nextPageUri: next };
      url = next;
    }
  }

  /** Fetches one content blob: the audit records it holds. */
  async fetchContent(contentUri: string, options: OperationOptions = {}): Promise<AuditRecord[]> {
    return (await this.send('GET', contentUri, checkContentBlob, options)).value;
  }

  /** Closes pooled connections. */
  close(): void {
    this.agents.http.destroy();
    this.agents.https.destroy();
  }

  private async send<T>(
    method: 'GET' | 'POST',
    rawUrl: string,
    check: (body: unknown) => Checked<T>,
    options: OperationOptions,
  ): Promise<Sent<T>> {
    const { signal } = options;
    const count = (key: keyof ClientStats): void => {
      this.stats[key]++;
      if (options.stats) options.stats[key]++;
    };
    const url = this.trustedUrl(rawUrl);
    let reauthenticated = false;
    for (let retry = 0; ;) {
      if (signal?.aborted) throw new AbortedError();
      await this.pacer.acquire(signal);
      const token = await this.tokens.get();
      try {
        count('requests');
        return await this.attempt(method, url, token, check, signal);
      } catch (e) {
        if (!(e instanceof ManagementApiError)) throw e;
        if (e instanceof ThrottledError) count('throttled');
        if (e.status === 401 && !reauthenticated) {
          // The token may have been revoked or expired early: one fresh token, then give up.
          reauthenticated = true;
          this.tokens.invalidate(token);
          continue;
        }
        if (!e.retryable || retry >= this.retry.maxRetries) throw e;
        const delay = this.delayFor(e, retry);
        if (delay === undefined) throw e;
        retry++;
        count('retries');
        this.logger.warn('Management API request failed; retrying', {
          tenantId: this.tenantId,
          request: e.request,
          status: e.status,
          serviceCode: e.serviceCode,
          requestId: e.requestId,
          retry,
          delayMs: Math.round(delay),
        });
        await sleep(delay, signal);
      }
    }
  }

  private delayFor(e: ManagementApiError, retry: number): number | undefined {
    if (e instanceof ThrottledError && e.retryAfterMs !== undefined) {
      const max = this.retry.maxRetryAfterMs ?? DEFAULT_RETRY.maxRetryAfterMs;
      return e.retryAfterMs > max ? undefined : e.retryAfterMs;
    }
    return backoffDelay(retry, this.retry);
  }

  private async attempt<T>(
    method: 'GET' | 'POST',
    url: URL,
    token: string,
    check: (body: unknown) => Checked<T>,
    signal: AbortSignal | undefined,
  ): Promise<Sent<T>> {
    const request = `${method} ${url.pathname}${url.search}`;
    let response: AxiosResponse<string>;
    try {
      response = await this.http.request<string>({
        method,
        url: url.toString(),
        headers: { Authorization: `Bearer ${token}` },
        ...(signal ? { signal } : {}),
      });
    } catch (e) {
      throw this.networkError(e, request, signal);
    }

    const requestId =
      headerValue(response.headers, 'request-id') ?? headerValue(response.headers, 'x-ms-request-id');
    const details = (
      retryable: boolean,
      extra: Partial<ManagementApiErrorDetails> = {},
    ): ManagementApiErrorDetails => ({
      status: response.status,
      request,
      retryable,
      ...(requestId !== undefined ? { requestId } : {}),
      ...extra,
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
        // A cut-off body is transient; retry a few times before calling the response malformed.
        throw new MalformedResponseError(
          `${request} returned HTTP ${response.status} with a body that is not valid JSON (${describeBody(response.data)}).`,
          details(true),
        );
      }
      const checked = check(body);
      if (!checked.ok) {
        throw new MalformedResponseError(
          `${request} returned a response of unexpected shape: ${checked.problem}.`,
          details(false),
        );
      }
      return { value: checked.value, headers: response.headers };
    }
    throw this.statusError(response, body, request, details);
  }

  private statusError(
    response: AxiosResponse<string>,
    body: unknown,
    request: string,
    details: (retryable: boolean, extra?: Partial<ManagementApiErrorDetails>) => ManagementApiErrorDetails,
  ): ManagementApiError {
    const { status } = response;
    const { code, message } = readServiceError(body);
    const codeDetail = code !== undefined ? { serviceCode: code } : {};
    const text =
      `${request} failed: HTTP ${status}${code ? ` ${code}` : ''}: ${message ?? describeBody(response.data)}` +
      (details(false).requestId ? ` (request-id ${details(false).requestId})` : '');

    if (status === 429 || code === 'AF429') {
      const retryAfter = parseRetryAfter(headerValue(response.headers, 'retry-after'));
      return new ThrottledError(text, details(true, codeDetail), retryAfter);
    }
    if (code === 'AF20022' || code === 'AF20023') {
      return new SubscriptionNotEnabledError(text, details(false, codeDetail));
    }
    if (
      code === 'AF20050' ||
      code === 'AF20051' ||
      (status === 404 && request.includes('/activity/feed/audit/'))
    ) {
      return new ContentUnavailableError(text, details(false, codeDetail));
    }
    const retryable =
      status === 408 || status >= 500 || (code !== undefined && RETRYABLE_SERVICE_CODES.has(code));
    return new ManagementApiError(text, details(retryable, codeDetail));
  }

  private networkError(e: unknown, request: string, signal: AbortSignal | undefined): Error {
    if (signal?.aborted || axios.isCancel(e)) return new AbortedError();
    const code =
      (axios.isAxiosError(e) ? e.code : undefined) ?? (e as NodeJS.ErrnoException).code ?? 'NETWORK_ERROR';
    const reason = e instanceof Error ? e.message : String(e);
    return new ManagementApiError(`${request} failed without a response: ${reason} (${code}).`, {
      request,
      serviceCode: code,
      retryable: !NON_RETRYABLE_NETWORK_CODES.has(code),
      cause: e,
    });
  }

  /** Parses a URL and refuses any origin but the API's, before a token is attached. */
  private trustedUrl(raw: string): URL {
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      throw new UntrustedUrlError(raw, this.origin);
    }
    if (url.origin !== this.origin || url.username !== '' || url.password !== '') {
      throw new UntrustedUrlError(raw, this.origin);
    }
    url.searchParams.set('PublisherIdentifier', this.publisherId);
    return url;
  }
}

/** The API's documented time format, to the second, UTC. */
export function formatTime(d: Date): string {
  if (d.getTime() % 1000 !== 0) {
    throw new RangeError(`Listing times are whole seconds; got ${d.toISOString()}.`);
  }
  return d.toISOString().slice(0, 19);
}

function headerValue(headers: AxiosResponse['headers'], name: string): string | undefined {
  const v: unknown = headers[name];
  return typeof v === 'string' && v !== '' ? v : undefined;
}

function describeBody(data: string): string {
  if (data === '') return 'empty body';
  return data.length > 200 ? `${data.slice(0, 200)}… (${data.length} bytes)` : data;
}
