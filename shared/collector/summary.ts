import type { ContentType } from '../contentTypes';

/** What one collector run did for one tenant × content type (logged, kept in the watermark). */
export interface ContentTypeRunSummary {
  tenantId: string;
  contentType: ContentType;
  startedAt: string;
  finishedAt: string;
  /**
   * complete: caught up to now; deadline: stopped early, continues next run; conflict: another run owns
   * it; running: only in a watermark's lastRun, saved while that run went on (it did not reach its end).
   */
  outcome: 'complete' | 'deadline' | 'conflict' | 'failed' | 'running';
  error?: string;
  windows: number;
  pages: number;
  blobs: number;
  /** Blobs listed again and skipped because they were already collected. */
  blobsSkipped: number;
  records: number;
  bytes: number;
  messages: number;
  claimChecks: number;
  throttles: number;
  retries: number;
  gaps: number;
  /** Blobs found below the cursor this run started from: listed late, found by re-listing. */
  lateBlobs: number;
  lateRecords: number;
  /** The latest of them: now − contentCreated when it was found, seconds; null when none. */
  maxLatenessSeconds: number | null;
  /** The full-retention re-listing: not due, in progress (continues next run), or finished this run. */
  sweep: 'none' | 'partial' | 'complete';
  /** now − when the last full re-listing finished, seconds; null before the first has finished. */
  sweepAgeSeconds: number | null;
  /** Blobs that failed and went to quarantine this run. */
  quarantinedNew: number;
  /** Quarantined blobs collected this run. */
  recovered: number;
  /** Blobs in quarantine when the run ended. */
  quarantined: number;
  /** Records the collector could not use (kept in the rejected container with the reason). */
  rejectedRecords: number;
  cursor: string | null;
  /** now − cursor, in seconds: how far behind the feed this content type is. */
  lagSeconds: number | null;
}

const COUNTERS = [
  'windows',
  'pages',
  'blobs',
  'blobsSkipped',
  'records',
  'bytes',
  'messages',
  'claimChecks',
  'throttles',
  'retries',
  'gaps',
  'lateBlobs',
  'lateRecords',
  'quarantinedNew',
  'recovered',
  'quarantined',
  'rejectedRecords',
] as const;

export type RunTotals = Pick<ContentTypeRunSummary, (typeof COUNTERS)[number]>;

export interface RunSummary {
  startedAt: string;
  finishedAt: string;
  durationMs: number;
  contentTypes: ContentTypeRunSummary[];
  totals: RunTotals;
  /** The largest lag of any content type, seconds. */
  maxLagSeconds: number | null;
  maxLatenessSeconds: number | null;
}

export function emptyContentTypeSummary(
  tenantId: string,
  contentType: ContentType,
  startedAt: Date,
): ContentTypeRunSummary {
  return {
    tenantId,
    contentType,
    startedAt: startedAt.toISOString(),
    finishedAt: '',
    outcome: 'complete',
    windows: 0,
    pages: 0,
    blobs: 0,
    blobsSkipped: 0,
    records: 0,
    bytes: 0,
    messages: 0,
    claimChecks: 0,
    throttles: 0,
    retries: 0,
    gaps: 0,
    lateBlobs: 0,
    lateRecords: 0,
    maxLatenessSeconds: null,
    sweep: 'none',
    sweepAgeSeconds: null,
    quarantinedNew: 0,
    recovered: 0,
    quarantined: 0,
    rejectedRecords: 0,
    cursor: null,
    lagSeconds: null,
  };
}

function maxOf(values: (number | null)[]): number | null {
  const present = values.filter((v): v is number => v !== null);
  return present.length > 0 ? Math.max(...present) : null;
}

export function summarise(startedAt: Date, finishedAt: Date, parts: ContentTypeRunSummary[]): RunSummary {
  const totals = Object.fromEntries(
    COUNTERS.map((k) => [k, parts.reduce((s, p) => s + p[k], 0)]),
  ) as unknown as RunTotals;
  return {
    startedAt: startedAt.toISOString(),
    finishedAt: finishedAt.toISOString(),
    durationMs: finishedAt.getTime() - startedAt.getTime(),
    contentTypes: parts,
    totals,
    maxLagSeconds: maxOf(parts.map((p) => p.lagSeconds)),
    maxLatenessSeconds: maxOf(parts.map((p) => p.maxLatenessSeconds)),
  };
}
