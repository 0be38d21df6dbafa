import { AuditfeedError } from '../errors';

/**
 * Query windows of a backfill (docs/backfill.md): [from, to) split into half-open windows the Graph audit
 * log query API answers in one query each. A window whose query stopped at recordCountLimit is halved,
 * down to a floor; one still over the limit at the floor is collected as far as the service returns it
 * and reported as partial, never dropped silently (docs/backfill-reference.md §1.2, §3.3).
 */

export const MINUTE_MS = 60_000;
export const HOUR_MS = 60 * MINUTE_MS;
export const DAY_MS = 24 * HOUR_MS;

/** One query per day to start with (third-party tools do the same). */
export const DEFAULT_WINDOW_MS = DAY_MS;
/** Halving stops here: a window this short that is still over the limit is reported as partial. */
export const DEFAULT_FLOOR_MS = 60 * MINUTE_MS;

export interface QueryWindow {
  /** ISO 8601 UTC, inclusive. */
  start: string;
  /** ISO 8601 UTC, exclusive. */
  end: string;
}

export class BackfillRangeError extends AuditfeedError {
  constructor(message: string) {
    super(message, 'BackfillRange');
  }
}

function ms(iso: string): number {
  return Date.parse(iso);
}

/** Whole seconds: query filters and blob names stay readable, and the same range always splits the same way. */
export function floorToSecond(t: number): number {
  return t - (((t % 1000) + 1000) % 1000);
}

/**
 * Splits [from, to) into windows of `windowMs`, aligned to multiples of it since the epoch (UTC midnight
 * for a day), so re-running a range, or a range that overlaps another, asks for the same windows.
 */
export function splitRange(from: Date, to: Date, windowMs = DEFAULT_WINDOW_MS): QueryWindow[] {
  const start = floorToSecond(from.getTime());
  const end = floorToSecond(to.getTime());
  if (!(windowMs >= 1000)) throw new BackfillRangeError(`window of ${windowMs} ms is too short`);
  if (!(start < end))
    throw new BackfillRangeError(`the range ${from.toISOString()} to ${to.toISOString()} is empty`);
  const windows: QueryWindow[] = [];
  for (let s = start; s < end;) {
    const aligned = Math.floor(s / windowMs) * windowMs + windowMs;
    const e = Math.min(end, aligned);
    windows.push({ start: new Date(s).toISOString(), end: new Date(e).toISOString() });
    s = e;
  }
  return windows;
}

export function windowMs(w: QueryWindow): number {
  return ms(w.end) - ms(w.start);
}

/**
 * The two halves of a window that exceeded the record limit, or undefined when it is at the floor
 * already (then it is kept, paged as far as it goes and reported as partial). Halves are whole minutes
 * and never shorter than the floor on the first side, so halving always terminates.
 */
export function halve(w: QueryWindow, floorMs = DEFAULT_FLOOR_MS): [QueryWindow, QueryWindow] | undefined {
  const size = windowMs(w);
  if (size <= floorMs) return undefined;
  const half = Math.max(floorMs, Math.floor(size / 2 / MINUTE_MS) * MINUTE_MS);
  if (half >= size) return undefined;
  const mid = new Date(ms(w.start) + half).toISOString();
  return [
    { start: w.start, end: mid },
    { start: mid, end: w.end },
  ];
}

/**
 * Graph does not document whether filterStartDateTime/filterEndDateTime are inclusive
 * (docs/backfill-reference.md §1.2): each query starts this much before its window, so a record on a
 * boundary is read by both neighbours (the writer stores it once) rather than by neither.
 */
export const QUERY_OVERLAP_MS = 1000;

/** The query filter of a window: its start moved back by QUERY_OVERLAP_MS, its end as is. */
export function queryFilter(w: QueryWindow): { filterStartDateTime: string; filterEndDateTime: string } {
  return {
    filterStartDateTime: new Date(ms(w.start) - QUERY_OVERLAP_MS).toISOString(),
    filterEndDateTime: w.end,
  };
}

/** Display name of a window's query: says who made it and for which window (the Purview portal lists it). */
export function queryDisplayName(w: QueryWindow): string {
  return `auditfeed backfill ${w.start} to ${w.end}`;
}

/**
 * Runs work items pulled from `next()` with at most `limit` in flight. The queue may grow while items run
 * (a window split into halves), so an idle worker waits for the running ones before it gives up. The first
 * failure is re-thrown once the items in flight have settled (a window in flight is never abandoned
 * half-way by a sibling's failure); `stop()` returning true keeps further items from starting.
 */
export async function runLimited<T>(
  next: () => T | undefined,
  limit: number,
  task: (item: T) => Promise<void>,
  stop: () => boolean = () => false,
): Promise<void> {
  let active = 0;
  let failure: { error: unknown } | undefined;
  let wake: () => void = () => undefined;
  let changed = new Promise<void>((r) => (wake = r));
  const settle = (): void => {
    const w = wake;
    changed = new Promise<void>((r) => (wake = r));
    w();
  };
  const worker = async (): Promise<void> => {
    for (;;) {
      if (failure || stop()) return;
      const item = next();
      if (item === undefined) {
        if (active === 0) return;
        await changed;
        continue;
      }
      active++;
      try {
        await task(item);
      } catch (e) {
        failure ??= { error: e };
      } finally {
        active--;
        settle();
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, limit) }, () => worker()));
  if (failure) throw failure.error;
}
