import { randomUUID } from 'node:crypto';

/** Message templates as the reference lists them; `{0}`, `{1}` are filled in order. */
export const AF_MESSAGES = {
  AF10001:
    'The permission set ({0}) sent in the request did not include the expected permission ActivityFeed.Read.',
  AF20001: 'Missing parameter: {0}.',
  AF20002: 'Invalid parameter type: {0}. Expected type: {1}',
  AF20003: 'Expiration {0} provided is set to past date and time.',
  AF20010:
    'The tenant ID passed in the URL ({0}) does not match the tenant ID passed in the access token ({1}).',
  AF20011: 'Specified tenant ID ({0}) does not exist in the system or has been deleted.',
  AF20012: 'Specified tenant ID ({0}) is incorrectly configured in the system.',
  AF20013: 'The tenant ID passed in the URL ({0}) is not a valid GUID.',
  AF20020: 'The specified content type is not valid.',
  AF20021: 'The webhook endpoint {{0}) could not be validated. {1}',
  AF20022: 'No subscription found for the specified content type.',
  AF20023: 'The subscription was disabled by {0}.',
  AF20024: 'The subscription is already enabled. No property change.',
  AF20030:
    'Start time and end time must both be specified (or both omitted) and must be less than or equal to 24 hours apart, with the start time no more than 7 days in the past.',
  AF20031: 'Invalid nextPage Input: {0}.',
  AF20050: 'The specified content ({0}) does not exist.',
  AF20051:
    'Content requested with the key {0} has already expired. Content older than 7 days cannot be retrieved.',
  AF20052: 'Content ID {0} in the URL is invalid.',
  AF20053: 'Only one language may be present in the Accept-Language header.',
  AF20054: 'Invalid syntax in Accept-Language header.',
  AF20055:
    'Start time and end time must both be specified (or both omitted) and must be less than or equal to 24 hours apart, with the start time prior to end time and start time no more than 7 days in the past.',
  AF429: 'Too many requests. Method={0}, PublisherId={1}',
  AF50000: 'An internal error occurred. Retry the request.',
  AF50005: 'An internal error occurred. Retry the request.',
  AF50006: 'An internal error occurred. Retry the request.',
} as const;

export type AfCode = keyof typeof AF_MESSAGES;

export function isAfCode(code: string): code is AfCode {
  return Object.prototype.hasOwnProperty.call(AF_MESSAGES, code);
}

/**
 * HTTP status per AF code. Microsoft documents none of these except AF429 (403 in the troubleshooting
 * guide); AF20022/AF20024 are 400 as other clients observed. The rest are our choice:
 * - every AF200xx input/state error → 400 (so a client cannot rely on 404 meaning "content gone");
 * - AF20010 (token of another tenant) → 401, it is an authorization failure;
 * - AF10001 (token lacks ActivityFeed.Read) → 403, authenticated but not allowed;
 * - AF429 → 403 (as documented; the fault injector can also answer 429);
 * - AF5xxxx → 500.
 */
export function afStatus(code: string): number {
  if (code === 'AF429' || code === 'AF10001') return 403;
  if (code === 'AF20010') return 401;
  if (code.startsWith('AF5')) return 500;
  return 400;
}

export function afMessage(code: AfCode, ...args: string[]): string {
  return AF_MESSAGES[code].replace(/\{(\d)\}/g, (_m, i: string) => args[Number(i)] ?? '');
}

export interface AfErrorBody {
  error: { code: string; message: string };
}

export function afBody(code: string, message: string): AfErrorBody {
  return { error: { code, message } };
}

/** Entra (AADSTS) error body, shaped like login.microsoftonline.com answers. */
export interface EntraErrorBody {
  error: string;
  error_description: string;
  error_codes: number[];
  timestamp: string;
  trace_id: string;
  correlation_id: string;
  error_uri: string;
}

export function entraError(
  error: string,
  aadsts: number,
  text: string,
  now: Date,
  correlationId: string = randomUUID(),
): EntraErrorBody {
  const traceId = randomUUID();
  const timestamp = `${now.toISOString().slice(0, 19).replace('T', ' ')}Z`;
  return {
    error,
    error_description: `AADSTS${aadsts}: ${text} Trace ID: ${traceId} Correlation ID: ${correlationId} Timestamp: ${timestamp}`,
    error_codes: [aadsts],
    timestamp,
    trace_id: traceId,
    correlation_id: correlationId,
    error_uri: `https://login.microsoftonline.com/error?code=${aadsts}`,
  };
}
