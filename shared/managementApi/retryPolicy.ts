export interface RetryOptions {
  /** Retries after the first attempt. */
  maxRetries: number;
  /** First backoff step. Default 1 s. */
  baseDelayMs?: number;
  /** Cap of one backoff. Default 60 s. */
  maxDelayMs?: number;
  /** A Retry-After longer than this is not waited for: the error goes to the caller. Default 120 s. */
  maxRetryAfterMs?: number;
  /**
   * Total wait for throttling (Retry-After or back-off) within one call; a throttled answer whose wait would
   * pass it goes to the caller at once, with its retryAfterMs (a caller holding a lease waits in pieces).
   * Default: no limit.
   */
  maxThrottleWaitMs?: number;
  random?: () => number;
}

export const DEFAULT_RETRY = { baseDelayMs: 1000, maxDelayMs: 60_000, maxRetryAfterMs: 120_000 };

/** Exponential backoff with "equal jitter": half fixed, half random, so clients spread out but still back off. */
export function backoffDelay(retry: number, options: RetryOptions): number {
  const base = options.baseDelayMs ?? DEFAULT_RETRY.baseDelayMs;
  const cap = options.maxDelayMs ?? DEFAULT_RETRY.maxDelayMs;
  const step = Math.min(cap, base * 2 ** retry);
  return step / 2 + (options.random ?? Math.random)() * (step / 2);
}

/** Parses Retry-After (delta seconds or HTTP date) into milliseconds; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  if (/^\d+(\.\d+)?$/.test(value.trim())) return Math.round(Number(value) * 1000);
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}
