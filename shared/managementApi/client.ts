import http from 'node:http';
import https from 'node:https';
import type { Readable } from 'node:stream';
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
  redactQuery,
} from '../errors';
import { silentLogger, type Logger } from '../logging';
import { MAX_BATCH_JSON_BYTES } from '../messages/envelope';
import { sleep } from '../sleep';
import { MAX_DOCUMENT_NESTING } from '../writer/nesting';
import { RequestPacer } from './pacer';
import { BlobBodyError, RecordSplitter, type BlobElement } from './recordSplitter';
import {
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
  /** Largest listing or error body accepted (content blobs are streamed, record by record). Default 16 MiB. */
  maxResponseBytes?: number;
  /** Limits on one record of a content blob; bigger or deeper records are refused, not fetched again. */
  recordLimits?: { maxBytes: number; maxDepth: number };
  logger?: Logger;
  tokenCache?: TokenCacheOptions;
}

export interface OperationOptions {
  signal?: AbortSignal;
  /** Also count this operation's requests, retries and throttles here (e.g. per content type). */
  stats?: ClientStats;
  /** Fewer retries than the client's own, e.g. for a blob already known to fail. */
  maxRetries?: number;
}

export interface ContentPage {
  /** 0-based page number within this listing. */
  page: number;
  items: ContentBlobRef[];
  nextPageUri: string | undefined;
  /** The URL this page was listed from (to list it again later). */
  uri: string;
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

/** What reading one content blob delivered. */
export interface BlobReadResult {
  /** Elements of the blob's array, refused ones included. */
  elements: number;
  records: number;
  rejected: number;
  /** Body bytes read in the attempt that finished. */
  bytes: number;
}

/** Receives each element of a content blob in order; awaited, so a slow consumer slows the download. */
export type ElementHandler = (element: BlobElement) => void | Promise<void>;

/**
 * Defaults for one record: what the queue's batches can carry (less room for the batch around it), and
 * the nesting Cosmos DB stores — the same limits the batcher and the writer apply.
 */
export const DEFAULT_RECORD_LIMITS = {
  maxBytes: MAX_BATCH_JSON_BYTES - 1024 * 1024,
  maxDepth: MAX_DOCUMENT_NESTING,
};

/** An error thrown by the caller's element handler: never retried here. */
class HandlerError extends Error {
  constructor(readonly inner: unknown) {
    super('element handler failed');
  }
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

  /** The pace this client keeps (its pacer's; shared pacers are shared budgets). */
  get requestsPerMinute(): number {
    return this.pacer.requestsPerMinute;
  }
  private readonly retry: RetryOptions;
  private readonly http: AxiosInstance;
  private readonly agents: { http: http.Agent; https: https.Agent };
  private readonly logger: Logger;
  private readonly recordLimits: { maxBytes: number; maxDepth: number };
  private readonly timeoutMs: number;

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
    this.recordLimits = options.recordLimits ?? DEFAULT_RECORD_LIMITS;
    this.timeoutMs = options.timeoutMs ?? 60_000;
    this.logger = options.logger ?? silentLogger;
    this.agents = {
      http: new http.Agent({ keepAlive: true }),
      https: new https.Agent({
        keepAlive: true,
        ...(options.tlsCaPem !== undefined ? { ca: options.tlsCaPem } : {}),
      }),
    };
    this.http = axios.create({
      timeout: this.timeoutMs,
      // A redirect would carry the Authorization header to wherever it points.
      maxRedirects: 0,
      responseType: 'text',
      transformResponse: [(data: unknown) => data],
      validateStatus: () => true,
      maxContentLength: options.maxResponseBytes ?? 16 * 1024 * 1024,
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
    options: OperationOptions & { fromPage?: string } = {},
  ): AsyncGenerator<ContentPage, void, undefined> {
    // fromPage: a NextPageUri saved by an earlier listing of the same window, to continue where it stopped.
    let url: string | undefined =
      options.fromPage ??
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
      yield { page, items: value, nextPageUri: next, uri: url };
      url = next;
    }
  }

  /**
   * Reads one content blob as a stream, handing each element of its array to `onElement` in order, so
   * memory stays bounded by the largest record whatever the blob's size. Elements that are not usable
   * records (not an object, invalid JSON, too large, too deep) come as `rejected`, and the rest flows.
   * A read cut off part-way is retried from where it stopped: elements already handed over are skipped.
   */
  async readContent(
    contentUri: string,
    onElement: ElementHandler,
    options: OperationOptions = {},
  ): Promise<BlobReadResult> {
    const progress: BlobReadResult = { elements: 0, records: 0, rejected: 0, bytes: 0 };
    return this.withRetries('GET', contentUri, options, (url, token) =>
      this.attemptStream(url, token, onElement, progress, options.signal),
    );
  }

  /** Fetches one content blob whole: its records. For small blobs and tests; the collector streams. */
  async fetchContent(contentUri: string, options: OperationOptions = {}): Promise<AuditRecord[]> {
    const records: AuditRecord[] = [];
    const refused: string[] = [];
    await this.readContent(
      contentUri,
      (e) => {
        if (e.kind === 'record') records.push(JSON.parse(e.json) as AuditRecord);
        else refused.push(`element ${e.index}: ${e.reason}`);
      },
      options,
    );
    if (refused.length > 0) {
      throw new MalformedResponseError(
        `GET ${redactQuery(contentUri)} returned unusable records: ${refused.slice(0, 3).join('; ')}.`,
        { request: `GET ${redactQuery(contentUri)}`, retryable: false },
      );
    }
    return records;
  }

  /** Closes pooled connections. */
  close(): void {
    this.agents.http.destroy();
    this.agents.https.destroy();
  }

  private send<T>(
    method: 'GET' | 'POST',
    rawUrl: string,
    check: (body: unknown) => Checked<T>,
    options: OperationOptions,
  ): Promise<Sent<T>> {
    return this.withRetries(method, rawUrl, options, (url, token) =>
      this.attempt(method, url, token, check, options.signal),
    );
  }

  /** Paces, authenticates and retries one operation (throttling, 5xx, network, one fresh token on 401). */
  private async withRetries<T>(
    method: 'GET' | 'POST',
    rawUrl: string,
    options: OperationOptions,
    attempt: (url: URL, token: string) => Promise<T>,
  ): Promise<T> {
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
        return await attempt(url, token);
      } catch (e) {
        if (e instanceof HandlerError) throw e.inner;
        if (!(e instanceof ManagementApiError)) throw e;
        if (e instanceof ThrottledError) count('throttled');
        if (e.status === 401 && !reauthenticated) {
          // The token may have been revoked or expired early: one fresh token, then give up.
          reauthenticated = true;
          this.tokens.invalidate(token);
          continue;
        }
        if (!e.retryable || retry >= Math.min(this.retry.maxRetries, options.maxRetries ?? Infinity)) throw e;
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

  private async attemptStream(
    url: URL,
    token: string,
    onElement: ElementHandler,
    progress: BlobReadResult,
    signal: AbortSignal | undefined,
  ): Promise<BlobReadResult> {
    const request = `GET ${url.pathname}${url.search}`;
    let response: AxiosResponse<Readable>;
    try {
      response = await this.http.request<Readable>({
        method: 'GET',
        url: url.toString(),
        headers: { Authorization: `Bearer ${token}` },
        responseType: 'stream',
        // The splitter bounds memory per record; the blob's total size does not matter.
        maxContentLength: -1,
        ...(signal ? { signal } : {}),
      });
    } catch (e) {
      throw this.networkError(e, request, signal);
    }
    const stream = response.data;
    const requestId =
      headerValue(response.headers, 'request-id') ?? headerValue(response.headers, 'x-ms-request-id');
    const details = (retryable: boolean): ManagementApiErrorDetails => ({
      status: response.status,
      request,
      retryable,
      ...(requestId !== undefined ? { requestId } : {}),
    });

    if (response.status < 200 || response.status >= 300) {
      const text = await readBounded(stream, 64 * 1024).catch(() => '');
      let body: unknown;
      try {
        body = text === '' ? undefined : JSON.parse(text);
      } catch {
        body = undefined;
      }
      throw this.statusError({ ...response, data: text }, body, request, (retryable, extra = {}) => ({
        ...details(retryable),
        ...extra,
      }));
    }

    // Elements handed over by an earlier, cut-off attempt are skipped: a blob's content does not change.
    const skip = progress.elements;
    const splitter = new RecordSplitter({
      maxRecordBytes: this.recordLimits.maxBytes,
      maxDepth: this.recordLimits.maxDepth,
    });
    let bytes = 0;
    // A body that stops arriving is cut off after the request timeout of silence.
    let idle: NodeJS.Timeout | undefined;
    const arm = (): void => {
      clearTimeout(idle);
      idle = setTimeout(() => stream.destroy(new IdleBodyError(this.timeoutMs)), this.timeoutMs);
    };
    try {
      arm();
      for await (const chunk of stream as AsyncIterable<Buffer>) {
        arm();
        bytes += chunk.length;
        for (const element of splitter.push(chunk)) {
          if (element.index < skip) continue;
          clearTimeout(idle);
          try {
            await onElement(element);
          } catch (e) {
            throw new HandlerError(e);
          }
          arm();
          progress.elements = element.index + 1;
          if (element.kind === 'record') progress.records++;
          else progress.rejected++;
        }
      }
      splitter.end();
    } catch (e) {
      if (e instanceof HandlerError) throw e;
      if (e instanceof BlobBodyError) {
        // A cut-off body is transient; a body of the wrong shape will not improve.
        throw new MalformedResponseError(
          `${request} returned HTTP ${response.status} with ${e.truncated ? 'a cut-off body' : 'a body that is not a JSON array of records'}: ${e.message}.`,
          details(e.truncated),
        );
      }
      throw this.networkError(e, request, signal);
    } finally {
      clearTimeout(idle);
      stream.destroy();
    }
    progress.bytes = bytes;
    return { ...progress };
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
    // axios reports a body over maxContentLength as ERR_BAD_RESPONSE: it will be as big next time.
    if (/maxContentLength/.test(reason)) {
      return new ManagementApiError(`${request} failed: the response is larger than allowed (${reason}).`, {
        request,
        serviceCode: 'ResponseTooLarge',
        retryable: false,
        cause: e,
      });
    }
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

/** The body was silent for longer than the request timeout. */
class IdleBodyError extends Error {
  readonly code = 'ETIMEDOUT';
  constructor(ms: number) {
    super(`no data for ${ms} ms while reading the body`);
  }
}

/** Reads at most `max` bytes of a stream as text (an error body; anything past the cap is dropped). */
async function readBounded(stream: Readable, max: number): Promise<string> {
  const parts: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    if (size < max) parts.push(chunk.subarray(0, max - size));
    size += chunk.length;
    if (size >= max) break;
  }
  return Buffer.concat(parts).toString('utf8');
}

function describeBody(data: string): string {
  if (data === '') return 'empty body';
  return data.length > 200 ? `${data.slice(0, 200)}… (${data.length} bytes)` : data;
}
