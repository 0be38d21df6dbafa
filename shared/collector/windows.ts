/**
 * Listing windows over contentCreated (DESIGN §3.3). Windows are half-open [start, end), whole seconds,
 * at most 24 hours, never starting earlier than the API allows.
 */

export const HOUR_MS = 3_600_000;
export const DAY_MS = 24 * HOUR_MS;
/** The API lists content up to 7 days back. */
export const API_RETENTION_MS = 7 * DAY_MS;

export interface Window {
  start: Date;
  end: Date;
}

export interface Gap {
  start: string;
  end: string;
  reason: 'cursor-older-than-api-retention' | 'content-expired';
  contentId?: string;
}

export interface WindowPlan {
  windows: Window[];
  /** Content between the cursor and the oldest time the API still lists: lost, and reported. */
  gap: { start: Date; end: Date } | undefined;
  /** The earliest listing start of this plan; seen entries older than this can be forgotten. */
  listFrom: Date;
}

export interface PlanOptions {
  now: Date;
  /** Re-list this much before the cursor to catch content that became available late. */
  overlapMs: number;
  /** Stay this far inside the 7-day limit, so a request queued for a while is still accepted. */
  retentionMarginMs: number;
  /** Longest window; the API accepts 24 hours. */
  maxWindowMs?: number;
}

export function floorToSecond(d: Date | number): Date {
  const ms = typeof d === 'number' ? d : d.getTime();
  return new Date(ms - (((ms % 1000) + 1000) % 1000));
}

/** Plans the windows from `cursor − overlap` to `now`. */
export function planWindows(cursor: Date, options: PlanOptions): WindowPlan {
  const now = floorToSecond(options.now).getTime();
  const oldest = floorToSecond(now - API_RETENTION_MS + options.retentionMarginMs).getTime();
  const maxWindow = options.maxWindowMs ?? DAY_MS;
  const cursorMs = floorToSecond(cursor).getTime();

  const gap = cursorMs < oldest ? { start: new Date(cursorMs), end: new Date(oldest) } : undefined;
  const from = Math.min(now, Math.max(oldest, cursorMs - options.overlapMs));

  const windows: Window[] = [];
  for (let start = from; start < now; start += maxWindow) {
    windows.push({ start: new Date(start), end: new Date(Math.min(now, start + maxWindow)) });
  }
  return { windows, gap, listFrom: new Date(from) };
}
