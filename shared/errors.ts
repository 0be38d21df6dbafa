/**
 * Typed errors. Every error auditfeed raises on purpose is an AuditfeedError with a stable `code`,
 * so callers branch on type or code, never on message text.
 */
export class AuditfeedError extends Error {
  constructor(
    message: string,
    readonly code: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

export interface ConfigProblem {
  setting: string;
  value: string | undefined;
  problem: string;
  example: string;
}

/** Bad configuration: lists every problem found, each with the setting, the bad value and a valid example. */
export class ConfigError extends AuditfeedError {
  constructor(readonly problems: ConfigProblem[]) {
    super(
      `Invalid configuration (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n` +
        problems
          .map(
            (p) =>
              `  - ${p.setting}${p.value === undefined ? ' (not set)' : `=${JSON.stringify(p.value)}`}: ${p.problem}. ` +
              `Example: ${p.setting}=${p.example}`,
          )
          .join('\n'),
      'InvalidConfiguration',
    );
  }
}

export interface ApiRequestErrorDetails {
  /** HTTP status, or undefined when no response arrived (timeout, reset). */
  status?: number;
  /** The service's error code (AF20022, TooManyRequests), or a network code such as ECONNRESET. */
  serviceCode?: string;
  requestId?: string;
  /** Method and URL, query secrets left out; never the token. */
  request: string;
  retryable: boolean;
  /** A throttling answer: the retry loop counts it, and waits its Retry-After (`retryAfterMs`, when sent). */
  throttled?: boolean;
  retryAfterMs?: number | undefined;
  cause?: unknown;
}

/** A call to one of the HTTP APIs auditfeed reads failed: the fields every API's error carries. */
export class ApiRequestError extends AuditfeedError {
  readonly status: number | undefined;
  readonly serviceCode: string | undefined;
  readonly requestId: string | undefined;
  readonly request: string;
  readonly retryable: boolean;
  readonly throttled: boolean;
  readonly retryAfterMs: number | undefined;

  constructor(message: string, details: ApiRequestErrorDetails, code: string) {
    super(message, code, { cause: details.cause });
    this.status = details.status;
    this.serviceCode = details.serviceCode;
    this.requestId = details.requestId;
    this.request = details.request;
    this.retryable = details.retryable;
    this.throttled = details.throttled ?? false;
    this.retryAfterMs = details.retryAfterMs;
  }
}

/** A Management Activity API call failed. Carries the service's AF code, the HTTP status and the request id. */
export class ManagementApiError extends ApiRequestError {
  constructor(message: string, details: ApiRequestErrorDetails, code = 'ManagementApiError') {
    super(message, details, code);
  }
}

/** Throttled (403 AF429 or 429). `retryAfterMs` is set when the service sent Retry-After. */
export class ThrottledError extends ManagementApiError {
  constructor(message: string, details: ApiRequestErrorDetails, retryAfterMs: number | undefined) {
    super(message, { ...details, throttled: true, retryAfterMs }, 'Throttled');
  }
}

/** AF20022 / AF20023: the content type has no enabled subscription; start it and try again. */
export class SubscriptionNotEnabledError extends ManagementApiError {
  constructor(message: string, details: ApiRequestErrorDetails) {
    super(message, details, 'SubscriptionNotEnabled');
  }
}

/** AF20050 / AF20051: the content blob does not exist or has expired. Terminal for that blob: a gap. */
export class ContentUnavailableError extends ManagementApiError {
  constructor(message: string, details: ApiRequestErrorDetails) {
    super(message, details, 'ContentUnavailable');
  }
}

/** The response arrived but does not have the documented shape. */
export class MalformedResponseError extends ManagementApiError {
  constructor(message: string, details: ApiRequestErrorDetails) {
    super(message, details, 'MalformedResponse');
  }
}

/** A URL from a response points at a host other than the configured API host; the token was not sent. */
export class UntrustedUrlError extends AuditfeedError {
  constructor(
    readonly url: string,
    readonly expectedOrigin: string,
    api = 'Management API',
  ) {
    super(
      `Refusing to follow ${redactQuery(url)}: it is not on the configured ${api} host ${expectedOrigin}; the access token was not sent.`,
      'UntrustedUrl',
    );
  }
}

/** Getting an access token failed (bad secret, missing consent, unreachable login host). */
export class AuthenticationError extends AuditfeedError {
  constructor(message: string, cause?: unknown) {
    super(message, 'AuthenticationFailed', { cause });
  }
}

/** The operation was cancelled through its AbortSignal (e.g. the collector's deadline). */
export class AbortedError extends AuditfeedError {
  constructor(message = 'The operation was aborted.') {
    super(message, 'Aborted');
  }
}

export function redactQuery(url: string): string {
  const q = url.indexOf('?');
  return q === -1 ? url : `${url.slice(0, q)}?…`;
}
