import type { Readable } from 'node:stream';
import type { AxiosResponse } from 'axios';
import type { TokenCredential } from '@azure/identity';
import type { AuditRecord, ContentBlobRef, ContentType } from '../contentTypes';
import {
  ContentUnavailableError,
  MalformedResponseError,
  ManagementApiError,
  SubscriptionNotEnabledError,
  ThrottledError,
  redactQuery,
} from '../errors';
import {
  ApiTransport,
  describeRequest,
  headerValue,
  readFailure,
  type Checked,
  type DetailsOf,
} from '../http/apiTransport';
import { silentLogger, type Logger } from '../logging';
import { MAX_BATCH_JSON_BYTES } from '../messages/envelope';
import { MAX_DOCUMENT_NESTING } from '../writer/nesting';
import { RequestPacer } from './pacer';
import { BlobBodyError, RecordSplitter, type BlobElement } from './recordSplitter';
import {
  checkContentList,
  checkSubscription,
  checkSubscriptionList,
  type SubscriptionState,
} from './responses';
import type { RetryOptions } from './retryPolicy';
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
  private readonly transport: ApiTransport;
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
    this.recordLimits = options.recordLimits ?? DEFAULT_RECORD_LIMITS;
    this.timeoutMs = options.timeoutMs ?? 60_000;
    this.logger = options.logger ?? silentLogger;
    this.transport = new ApiTransport({
      origin: this.origin,
      api: 'Management API',
      errors: {
        failed: (message, details) => new ManagementApiError(message, details),
        malformed: (message, details) => new MalformedResponseError(message, details),
      },
      requestIdHeaders: ['request-id', 'x-ms-request-id'],
      retry: { maxRetries: 6, ...options.retry },
      timeoutMs: this.timeoutMs,
      maxResponseBytes: options.maxResponseBytes ?? 16 * 1024 * 1024,
      tlsCaPem: options.tlsCaPem,
      logger: this.logger,
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
    try {
      return await this.withRetries(contentUri, options, (url, token) =>
        this.attemptStream(url, token, onElement, progress, options.signal),
      );
    } catch (e) {
      // The caller's own error, as it threw it: never retried.
      if (e instanceof HandlerError) throw e.inner;
      throw e;
    }
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
    this.transport.close();
  }

  private send<T>(
    method: 'GET' | 'POST',
    rawUrl: string,
    check: (body: unknown) => Checked<T>,
    options: OperationOptions,
  ): Promise<Sent<T>> {
    return this.withRetries(rawUrl, options, (url, token) =>
      this.transport.requestJson({
        method,
        url,
        token,
        request: describeRequest(method, url, false),
        check,
        statusError: (response, body, details) => this.statusError(response, body, details),
        signal: options.signal,
      }),
    );
  }

  /** Paces, authenticates and retries one operation (throttling, 5xx, network, one fresh token on 401). */
  private withRetries<T>(
    rawUrl: string,
    options: OperationOptions,
    attempt: (url: URL, token: string) => Promise<T>,
  ): Promise<T> {
    const url = this.trustedUrl(rawUrl);
    return this.transport.withRetries({
      url,
      tokens: this.tokens,
      signal: options.signal,
      maxRetries: options.maxRetries,
      beforeAttempt: () => this.pacer.acquire(options.signal),
      count: (key) => {
        this.stats[key]++;
        if (options.stats) options.stats[key]++;
      },
      retryMessage: 'Management API request failed; retrying',
      logFields: { tenantId: this.tenantId },
      attempt: (token) => attempt(url, token),
    });
  }

  private async attemptStream(
    url: URL,
    token: string,
    onElement: ElementHandler,
    progress: BlobReadResult,
    signal: AbortSignal | undefined,
  ): Promise<BlobReadResult> {
    const request = describeRequest('GET', url, false);
    let response: AxiosResponse<Readable>;
    try {
      response = await this.transport.http.request<Readable>({
        method: 'GET',
        url: url.toString(),
        headers: { Authorization: `Bearer ${token}` },
        responseType: 'stream',
        // The splitter bounds memory per record; the blob's total size does not matter.
        maxContentLength: -1,
        ...(signal ? { signal } : {}),
      });
    } catch (e) {
      throw this.transport.networkError(e, request, signal);
    }
    const stream = response.data;
    const details = this.transport.detailsOf(response, request);

    if (response.status < 200 || response.status >= 300) {
      const text = await readBounded(stream, 64 * 1024).catch(() => '');
      let body: unknown;
      try {
        body = text === '' ? undefined : JSON.parse(text);
      } catch {
        body = undefined;
      }
      throw this.statusError({ ...response, data: text }, body, details);
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
      throw this.transport.networkError(e, request, signal);
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
    details: DetailsOf,
  ): ManagementApiError {
    const { status, code, codeDetail, text } = readFailure(response, body, details);
    const { request } = details(false);

    if (status === 429 || code === 'AF429') {
      return new ThrottledError(text, details(true, codeDetail), this.transport.retryAfter(response));
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

  /** Parses a URL and refuses any origin but the API's, before a token is attached. */
  private trustedUrl(raw: string): URL {
    const url = this.transport.trustedUrl(raw);
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
