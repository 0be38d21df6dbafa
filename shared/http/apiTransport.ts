import http from 'node:http';
import https from 'node:https';
import axios, { type AxiosInstance, type AxiosResponse } from 'axios';
import { AbortedError, ApiRequestError, UntrustedUrlError, type ApiRequestErrorDetails } from '../errors';
import type { Logger } from '../logging';
import {
  backoffDelay,
  DEFAULT_RETRY,
  parseRetryAfter,
  type RetryOptions,
} from '../managementApi/retryPolicy';
import type { AccessTokenCache } from '../managementApi/tokenCache';
import { sleep as realSleep } from '../sleep';

/** A response check: the typed value, or what is wrong with the body (named in a malformed-response error). */
export type Checked<T> = { ok: true; value: T } | { ok: false; problem: string };

export interface ApiRetryStats {
  requests: number;
  retries: number;
  throttled: number;
}

/** Builds the API's own error classes, so callers keep branching on them. */
export interface ApiErrorFactory {
  /** Any failure of a call (status, network). */
  failed(message: string, details: ApiRequestErrorDetails): ApiRequestError;
  /** A success status whose body is not the documented JSON. */
  malformed(message: string, details: ApiRequestErrorDetails): ApiRequestError;
}

export interface ApiTransportOptions {
  /** The API's origin: the token is attached to requests for this origin and no other. */
  origin: string;
  /** The API's name in messages, e.g. "Management API". */
  api: string;
  errors: ApiErrorFactory;
  /** Response headers naming the request id, first present wins. */
  requestIdHeaders: readonly string[];
  retry: RetryOptions;
  timeoutMs: number;
  /** Largest response body accepted (a streamed request may lift it). */
  maxResponseBytes: number;
  /** Extra CA to trust (the local simulator's self-signed certificate). */
  tlsCaPem?: string | undefined;
  logger: Logger;
  /** Waits between retries; tests pass one that moves a virtual clock instead of waiting. */
  sleep?: ((ms: number, signal?: AbortSignal) => Promise<void>) | undefined;
  /** For Retry-After given as an HTTP date. */
  now?: (() => number) | undefined;
}

/** One operation for `withRetries`: the attempt and what to count and log around it. */
export interface RetriedOperation<T> {
  url: URL;
  tokens: AccessTokenCache;
  signal?: AbortSignal | undefined;
  /** Fewer retries than the transport's own. */
  maxRetries?: number | undefined;
  /** Runs before each attempt (a pacer). */
  beforeAttempt?: () => Promise<void>;
  count: (key: keyof ApiRetryStats) => void;
  /** The warning logged before each retry, and the fields it carries besides the error's. */
  retryMessage: string;
  logFields: Record<string, unknown>;
  attempt: (token: string) => Promise<T>;
}

export interface JsonRequest<T> {
  method: 'GET' | 'POST';
  url: URL;
  token: string;
  /** How the request is named in errors and logs (see describeRequest). */
  request: string;
  check: (body: unknown) => Checked<T>;
  /** The error for a non-2xx answer, from the parsed body (undefined when empty or not JSON). */
  statusError: (response: AxiosResponse<string>, body: unknown, details: DetailsOf) => ApiRequestError;
  signal?: AbortSignal | undefined;
  payload?: unknown;
}

/** Error details of one response: its status and request id, with the given retryability. */
export type DetailsOf = (
  retryable: boolean,
  extra?: Partial<ApiRequestErrorDetails>,
) => ApiRequestErrorDetails;

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
 * The HTTP side of an API client: pooled connections, tokens sent to the configured origin only (no
 * redirects, other origins refused unsent), failures without a response mapped to typed errors, and
 * retries of throttling (Retry-After), 5xx and network errors with back-off and one fresh token on 401.
 */
export class ApiTransport {
  readonly http: AxiosInstance;
  readonly origin: string;
  readonly retry: RetryOptions;
  private readonly agents: { http: http.Agent; https: https.Agent };
  private readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  private readonly now: () => number;

  constructor(private readonly o: ApiTransportOptions) {
    this.origin = new URL(o.origin).origin;
    this.retry = o.retry;
    this.sleep = o.sleep ?? realSleep;
    this.now = o.now ?? Date.now;
    this.agents = {
      http: new http.Agent({ keepAlive: true }),
      https: new https.Agent({ keepAlive: true, ...(o.tlsCaPem !== undefined ? { ca: o.tlsCaPem } : {}) }),
    };
    this.http = axios.create({
      timeout: o.timeoutMs,
      // A redirect would carry the Authorization header to wherever it points.
      maxRedirects: 0,
      responseType: 'text',
      transformResponse: [(data: unknown) => data],
      validateStatus: () => true,
      maxContentLength: o.maxResponseBytes,
      httpAgent: this.agents.http,
      httpsAgent: this.agents.https,
      headers: { Accept: 'application/json', 'User-Agent': 'auditfeed' },
    });
  }

  /** Closes pooled connections. */
  close(): void {
    this.agents.http.destroy();
    this.agents.https.destroy();
  }

  /** Parses a URL and refuses any origin but the API's, before a token is attached. */
  trustedUrl(raw: string): URL {
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      throw new UntrustedUrlError(raw, this.origin, this.o.api);
    }
    if (url.origin !== this.origin || url.username !== '' || url.password !== '') {
      throw new UntrustedUrlError(raw, this.origin, this.o.api);
    }
    return url;
  }

  /** Authenticates and retries one operation (throttling, 5xx, network, one fresh token on 401). */
  async withRetries<T>(op: RetriedOperation<T>): Promise<T> {
    const { signal } = op;
    const maxRetries = Math.min(this.retry.maxRetries, op.maxRetries ?? Infinity);
    const throttleBudget = this.retry.maxThrottleWaitMs ?? Infinity;
    let throttleWaited = 0;
    let reauthenticated = false;
    for (let retry = 0; ;) {
      if (signal?.aborted) throw new AbortedError();
      await op.beforeAttempt?.();
      const token = await op.tokens.get();
      try {
        op.count('requests');
        return await op.attempt(token);
      } catch (e) {
        if (!(e instanceof ApiRequestError)) throw e;
        if (e.throttled) op.count('throttled');
        if (e.status === 401 && !reauthenticated) {
          // The token may have been revoked or expired early: one fresh token, then give up.
          reauthenticated = true;
          op.tokens.invalidate(token);
          continue;
        }
        if (!e.retryable || retry >= maxRetries) throw e;
        const delay = this.delayFor(e, retry);
        if (delay === undefined) throw e;
        if (e.throttled) {
          if (throttleWaited + delay > throttleBudget) throw e;
          throttleWaited += delay;
        }
        retry++;
        op.count('retries');
        this.o.logger.warn(op.retryMessage, {
          ...op.logFields,
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

  /** Retry-After when throttled (undefined, so the caller decides, past maxRetryAfterMs), else back-off. */
  private delayFor(e: ApiRequestError, retry: number): number | undefined {
    if (e.throttled && e.retryAfterMs !== undefined) {
      const max = this.retry.maxRetryAfterMs ?? DEFAULT_RETRY.maxRetryAfterMs;
      return e.retryAfterMs > max ? undefined : e.retryAfterMs;
    }
    return backoffDelay(retry, this.retry);
  }

  /** Sends one request and checks its JSON answer: the value, or a typed error (malformed, status, network). */
  async requestJson<T>(r: JsonRequest<T>): Promise<{ value: T; headers: AxiosResponse['headers'] }> {
    const hasPayload = r.payload !== undefined;
    let response: AxiosResponse<string>;
    try {
      response = await this.http.request<string>({
        method: r.method,
        url: r.url.toString(),
        headers: {
          Authorization: `Bearer ${r.token}`,
          ...(hasPayload ? { 'Content-Type': 'application/json' } : {}),
        },
        ...(hasPayload ? { data: JSON.stringify(r.payload) } : {}),
        ...(r.signal ? { signal: r.signal } : {}),
      });
    } catch (e) {
      throw this.networkError(e, r.request, r.signal);
    }
    const details = this.detailsOf(response, r.request);

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
        throw this.o.errors.malformed(
          `${r.request} returned HTTP ${response.status} with a body that is not valid JSON (${describeBody(response.data)}).`,
          details(true),
        );
      }
      const checked = r.check(body);
      if (!checked.ok) {
        throw this.o.errors.malformed(
          `${r.request} returned a response of unexpected shape: ${checked.problem}.`,
          details(false),
        );
      }
      return { value: checked.value, headers: response.headers };
    }
    throw r.statusError(response, body, details);
  }

  /** Error details of one response: its status and request id. */
  detailsOf(response: AxiosResponse, request: string): DetailsOf {
    const requestId = this.o.requestIdHeaders
      .map((h) => headerValue(response.headers, h))
      .find((v) => v !== undefined);
    return (retryable, extra = {}) => ({
      status: response.status,
      request,
      retryable,
      ...(requestId !== undefined ? { requestId } : {}),
      ...extra,
    });
  }

  /** The Retry-After of a response, in ms. */
  retryAfter(response: AxiosResponse): number | undefined {
    return parseRetryAfter(headerValue(response.headers, 'retry-after'), this.now());
  }

  /** A failure without a usable response: aborted, too large (final), or a network error (mostly retryable). */
  networkError(e: unknown, request: string, signal: AbortSignal | undefined): Error {
    if (signal?.aborted || axios.isCancel(e)) return new AbortedError();
    const code =
      (axios.isAxiosError(e) ? e.code : undefined) ?? (e as NodeJS.ErrnoException).code ?? 'NETWORK_ERROR';
    const reason = e instanceof Error ? e.message : String(e);
    // axios reports a body over maxContentLength as ERR_BAD_RESPONSE: it will be as big next time.
    if (/maxContentLength/.test(reason)) {
      return this.o.errors.failed(`${request} failed: the response is larger than allowed (${reason}).`, {
        request,
        serviceCode: 'ResponseTooLarge',
        retryable: false,
        cause: e,
      });
    }
    return this.o.errors.failed(`${request} failed without a response: ${reason} (${code}).`, {
      request,
      serviceCode: code,
      retryable: !NON_RETRYABLE_NETWORK_CODES.has(code),
      cause: e,
    });
  }
}

/** A non-2xx answer: the service's error code and message, and the error text that names them. */
export interface Failure {
  status: number;
  code?: string;
  message?: string;
  /** `serviceCode` for the error's details, when the body named one. */
  codeDetail: Partial<ApiRequestErrorDetails>;
  text: string;
}

/** Reads an error answer: `{"error":{"code":…,"message":…}}` (both APIs use it), else the body itself. */
export function readFailure(response: AxiosResponse<string>, body: unknown, details: DetailsOf): Failure {
  const { request, requestId } = details(false);
  const error = isObject(body) && isObject(body.error) ? body.error : {};
  const code = typeof error.code === 'string' ? error.code : undefined;
  const message = typeof error.message === 'string' ? error.message : undefined;
  const text =
    `${request} failed: HTTP ${response.status}${code ? ` ${code}` : ''}: ${message ?? describeBody(response.data)}` +
    (requestId ? ` (request-id ${requestId})` : '');
  return {
    status: response.status,
    ...(code !== undefined ? { code } : {}),
    ...(message !== undefined ? { message } : {}),
    codeDetail: code !== undefined ? { serviceCode: code } : {},
    text,
  };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** "METHOD /path?query", or with `redact` the query string left out (skip tokens stay out of messages). */
export function describeRequest(method: string, url: URL, redact: boolean): string {
  return `${method} ${url.pathname}${redact ? (url.search ? '?…' : '') : url.search}`;
}

export function headerValue(headers: AxiosResponse['headers'], name: string): string | undefined {
  const v: unknown = headers[name];
  return typeof v === 'string' && v !== '' ? v : undefined;
}

export function describeBody(data: string): string {
  if (data === '') return 'empty body';
  return data.length > 200 ? `${data.slice(0, 200)}… (${data.length} bytes)` : data;
}
