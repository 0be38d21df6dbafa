/**
 * Listing windows over contentCreated (DESIGN §3.3). Windows are half-open [start, end), whole seconds,
 * at most 24 hours, never starting earlier than the API allows.
 */

export const MINUTE_MS = 60_000;
export const HOUR_MS = 3_600_000;
export const DAY_MS = 24 * HOUR_MS;
/** The API lists content up to 7 days back. */
export const API_RETENTION_MS = 7 * DAY_MS;
/** Listing starts stay this far inside the 7 days, so a request that waits a little is still accepted. */
export const LIST_MARGIN_MS = 2 * MINUTE_MS;
/** A first run starts this far inside the 7 days: room for its first windows before they expire. */
export const FIRST_RUN_MARGIN_MS = 15 * MINUTE_MS;

export interface Window {
  start: Date;
  end: Date;
}

export interface Gap {
  start: string;
  end: string;
  reason: 'cursor-older-than-api-retention' | 'content-expired' | 'quarantined-until-expired';
  contentId?: string;
  /** Why the content could not be collected (quarantined blobs: the last error). */
  error?: string;
}

export interface WindowPlan {
  /** From the cursor to now: listing them moves the cursor. */
  windows: Window[];
  /** [cursor − overlap, cursor): listed again after the new content, for blobs that appeared late. */
  overlap: Window | undefined;
  /** Content between the cursor and the oldest time the API still lists: lost, and reported. */
  gap: { start: Date; end: Date } | undefined;
  /** Where this plan starts listing (cursor − overlap, or the oldest listable time). */
  listFrom: Date;
}

export interface PlanOptions {
  now: Date;
  /** Re-list this much before the cursor to catch content that became available late. */
  overlapMs: number;
  /** Stay this far inside the 7-day limit. Default LIST_MARGIN_MS. */
  retentionMarginMs?: number;
  /** Longest window; the API accepts 24 hours. */
  maxWindowMs?: number;
}

export function floorToSecond(d: Date | number): Date {
  const ms = typeof d === 'number' ? d : d.getTime();
  return new Date(ms - (((ms % 1000) + 1000) % 1000));
}

/** The oldest listing start the API accepts at `now`, with the margin. */
export function oldestListable(now: Date | number, marginMs = LIST_MARGIN_MS): Date {
  return floorToSecond((typeof now === 'number' ? now : now.getTime()) - API_RETENTION_MS + marginMs);
}

/**
 * Splits [from, to) into windows of at most `maxWindowMs`. Windows within a day of the retention edge
 * are at most an hour, so the cursor there moves in small steps and content that is about to expire is
 * not held up behind a whole day of listing.
 */
export function splitWindows(from: number, to: number, edge: number, maxWindowMs = DAY_MS): Window[] {
  const windows: Window[] = [];
  for (let start = from; start < to;) {
    const size = start < edge + DAY_MS ? Math.min(maxWindowMs, HOUR_MS) : maxWindowMs;
    const end = Math.min(to, start + size);
    windows.push({ start: new Date(start), end: new Date(end) });
    start = end;
  }
  return windows;
}

/**
 * Plans the listing from `cursor − overlap` to `now`: the windows that move the cursor, and the overlap
 * before it as one window (at most 24 hours), listed after them so new content comes first.
 */
export function planWindows(cursor: Date, options: PlanOptions): WindowPlan {
  const now = floorToSecond(options.now).getTime();
  const oldest = oldestListable(now, options.retentionMarginMs).getTime();
  const cursorMs = floorToSecond(cursor).getTime();

  const gap = cursorMs < oldest ? { start: new Date(cursorMs), end: new Date(oldest) } : undefined;
  const start = Math.min(now, Math.max(oldest, cursorMs));
  const from = Math.min(start, Math.max(oldest, cursorMs - options.overlapMs));
  return {
    windows: splitWindows(start, now, oldest, options.maxWindowMs),
    overlap: from < start ? { start: new Date(from), end: new Date(start) } : undefined,
    gap,
    listFrom: new Date(from),
  };
}
