import type { Gap } from '../collector/windows';
import type { ContentType } from '../contentTypes';
import type { BackfillProgress, GapRef } from './progressStore';
import { HOUR_MS } from './windows';

/**
 * `auditfeed backfill --gaps`: the recorded gaps of the watermarks (content the Management API no longer
 * had) as backfill ranges. A gap is a span of contentCreated, or one blob's contentCreated; the records
 * of a blob were created before it, by up to the service's latency (usually minutes, at times more than a
 * day), so each range starts RECORD_LEAD_MS earlier. Overlapping ranges of one tenant merge into one
 * backfill with the content types that had a gap there; re-sending records already stored is harmless.
 */

/** How far before a gap's contentCreated its records may have been created. */
export const RECORD_LEAD_MS = 48 * HOUR_MS;

export interface GapFill {
  tenantId: string;
  from: string;
  to: string;
  contentTypes: ContentType[];
  fills: GapRef[];
}

export interface GapPlan {
  fills: GapFill[];
  /** Gaps older than the audit retention: nothing can fill them any more. */
  tooOld: GapRef[];
  /** Gaps a finished backfill already filled. */
  alreadyFilled: GapRef[];
}

const floorHour = (t: number): number => Math.floor(t / HOUR_MS) * HOUR_MS;
const ceilHour = (t: number): number => Math.ceil(t / HOUR_MS) * HOUR_MS;

/** Where the records of a gap starting at `start` (contentCreated) may begin. */
const recordsStart = (start: string): number => floorHour(Date.parse(start) - RECORD_LEAD_MS);

/** The range of records a recorded gap stands for. */
export function gapRange(gap: Gap): { start: number; end: number } {
  const created = Date.parse(gap.start);
  // A blob gap's end is its expiration (7 days later): its records are all before contentCreated.
  const end = gap.contentId ? created + 60_000 : Date.parse(gap.end);
  return { start: recordsStart(gap.start), end: ceilHour(end) };
}

export const gapKey = (tenantId: string, g: GapRef): string =>
  `${tenantId}|${g.contentType}|${g.start}|${g.end}`;

export interface FilledGap {
  /** When the backfill that filled it finished. */
  at: string;
  /**
   * Set when the gap was only partly filled: its records before this moment were already older than the
   * audit retention when the backfill was planned, so nothing could read them.
   */
  tooOldBefore?: string;
}

/** The gaps finished backfills filled (their request's `fills`, once every window is done). */
export function filledGaps(backfills: readonly BackfillProgress[]): Map<string, FilledGap> {
  const filled = new Map<string, FilledGap>();
  for (const b of backfills) {
    if (!b.finishedAt || !b.request.fills) continue;
    if (!b.windows.every((w) => w.state === 'done' || w.state === 'split')) continue;
    const from = Date.parse(b.request.from);
    for (const g of b.request.fills) {
      // planGapFills cuts a gap's range at the retention, and the cut range is where the backfill starts.
      const cut = recordsStart(g.start) < from;
      filled.set(gapKey(b.request.tenantId, g), {
        at: b.finishedAt,
        ...(cut ? { tooOldBefore: b.request.from } : {}),
      });
    }
  }
  return filled;
}

export function planGapFills(
  gaps: ReadonlyArray<{ tenantId: string; contentType: ContentType; gaps: readonly Gap[] }>,
  options: { oldest: Date; now: Date; filled: ReadonlyMap<string, FilledGap> },
): GapPlan {
  const plan: GapPlan = { fills: [], tooOld: [], alreadyFilled: [] };
  const byTenant = new Map<string, Array<{ start: number; end: number; ref: GapRef }>>();
  for (const { tenantId, contentType, gaps: list } of gaps) {
    for (const gap of list) {
      const ref: GapRef = { contentType, start: gap.start, end: gap.end };
      if (options.filled.has(gapKey(tenantId, ref))) {
        plan.alreadyFilled.push(ref);
        continue;
      }
      const r = gapRange(gap);
      const start = Math.max(r.start, ceilHour(options.oldest.getTime()));
      const end = Math.min(r.end, options.now.getTime());
      if (start >= end) {
        plan.tooOld.push(ref);
        continue;
      }
      // A range cut at the retention starts the backfill there; filledGaps reports such a gap partly filled.
      const list2 = byTenant.get(tenantId) ?? [];
      list2.push({ start, end, ref });
      byTenant.set(tenantId, list2);
    }
  }
  for (const [tenantId, ranges] of byTenant) {
    ranges.sort((a, b) => a.start - b.start);
    let current: { start: number; end: number; refs: GapRef[] } | undefined;
    const flush = (): void => {
      if (!current) return;
      const contentTypes = [...new Set(current.refs.map((r) => r.contentType))].sort();
      plan.fills.push({
        tenantId,
        from: new Date(current.start).toISOString(),
        to: new Date(current.end).toISOString(),
        contentTypes,
        fills: current.refs,
      });
    };
    for (const r of ranges) {
      if (current && r.start <= current.end) {
        current.end = Math.max(current.end, r.end);
        current.refs.push(r.ref);
      } else {
        flush();
        current = { start: r.start, end: r.end, refs: [r.ref] };
      }
    }
    flush();
  }
  return plan;
}
