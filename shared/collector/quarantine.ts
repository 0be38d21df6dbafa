import type { ContentBlobRef } from '../contentTypes';
import { AuditfeedError, ContentUnavailableError, ManagementApiError } from '../errors';
import type { QuarantinedBlob } from './watermark';
import { HOUR_MS, MINUTE_MS } from './windows';

/**
 * When a content blob cannot be read (a body of the wrong shape, a server that keeps failing for that
 * blob), it is set aside here instead of holding up its content type for 7 days (DESIGN §3.5): the
 * cursor moves on, the blob is retried on later runs with a growing pause, and if it is still unreadable
 * when the service lets it expire, it becomes a gap with the last error.
 */
export interface QuarantinePolicy {
  /** Largest number of blobs set aside per tenant × content type; past it the content type stops. */
  maxEntries: number;
  /** Pause before the second attempt; doubles with each failure up to maxDelayMs. */
  firstDelayMs: number;
  maxDelayMs: number;
  /** One last attempt this long before the blob expires, whatever the pause. */
  lastChanceMs: number;
  /** Quarantined blobs retried per run and content type, so a long list cannot eat the run. */
  retriesPerRun: number;
}

export const DEFAULT_QUARANTINE: QuarantinePolicy = {
  maxEntries: 500,
  firstDelayMs: 5 * MINUTE_MS,
  maxDelayMs: 6 * HOUR_MS,
  lastChanceMs: 30 * MINUTE_MS,
  retriesPerRun: 20,
};

/** The quarantine of a tenant × content type is full: something is wrong beyond single blobs. */
export class QuarantineFullError extends AuditfeedError {
  constructor(count: number) {
    super(
      `${count} content blobs of this content type are quarantined (the limit): the failure is not about ` +
        'single blobs. The cursor stays where it is until the cause is fixed; see the quarantined errors in ' +
        '`npm run status`.',
      'QuarantineFull',
    );
  }
}

/** True when the service says the blob itself is gone for good (expired): no retry can help. */
export function isExpiredForGood(e: unknown, blob: ContentBlobRef, now: Date): boolean {
  if (!(e instanceof ContentUnavailableError)) return false;
  return e.serviceCode === 'AF20051' || now.getTime() >= Date.parse(blob.contentExpiration);
}

/** The quarantine entry after one more failed attempt. */
export function quarantined(
  blob: ContentBlobRef,
  previous: QuarantinedBlob | undefined,
  error: unknown,
  now: Date,
  policy: QuarantinePolicy,
): QuarantinedBlob {
  const attempts = (previous?.attempts ?? 0) + 1;
  const pause = Math.min(policy.maxDelayMs, policy.firstDelayMs * 2 ** (attempts - 1));
  const expires = Date.parse(blob.contentExpiration);
  const lastChance = expires - policy.lastChanceMs;
  let next = now.getTime() + pause;
  if (next > lastChance) next = Math.max(now.getTime() + MINUTE_MS, lastChance);
  const code = error instanceof ManagementApiError ? error.serviceCode : undefined;
  return {
    contentId: blob.contentId,
    contentUri: blob.contentUri,
    contentCreated: blob.contentCreated,
    contentExpiration: blob.contentExpiration,
    attempts,
    firstFailedAt: previous?.firstFailedAt ?? now.toISOString(),
    lastFailedAt: now.toISOString(),
    nextAttemptAt: new Date(next).toISOString(),
    error: error instanceof Error ? error.message : String(error),
    ...(code !== undefined ? { code } : {}),
  };
}

export function isDue(entry: QuarantinedBlob, now: Date): boolean {
  return now.getTime() >= Date.parse(entry.nextAttemptAt);
}

export function hasExpired(entry: QuarantinedBlob, now: Date): boolean {
  return now.getTime() >= Date.parse(entry.contentExpiration);
}
