import type { ContentType } from '../contentTypes';

/** What one collector run did for one tenant × content type (logged, kept in the watermark). */
export interface ContentTypeRunSummary {
  tenantId: string;
  contentType: ContentType;
  startedAt: string;
  finishedAt: string;
  /** complete: caught up to now; deadline: stopped early, continues next run; conflict: another run owns it. */
  outcome: 'complete' | 'deadline' | 'conflict' | 'failed';
  error?: string;
  windows: number;
  pages: number;
  blobs: number;
  /** Blobs listed again in the overlap and skipped because they were already enqueued. */
  blobsSkipped: number;
  records: number;
  bytes: number;
  messages: number;
  claimChecks: number;
  throttles: number;
  retries: number;
  gaps: number;
  cursor: string | null;
  /** now − cursor, in seconds: how far behind the feed this content type is. */
  lagSeconds: number | null;
}

export interface RunSummary {
  startedAt: string;
  finishedAt: string;
  durationMs: number;
  contentTypes: ContentTypeRunSummary[];
  totals: Pick<
    ContentTypeRunSummary,
    | 'windows'
    | 'pages'
    | 'blobs'
    | 'blobsSkipped'
    | 'records'
    | 'bytes'
    | 'messages'
    | 'claimChecks'
    | 'throttles'
    | 'retries'
    | 'gaps'
  >;
  /** The largest lag of any content type, seconds. */
  maxLagSeconds: number | null;
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
] as const;

export function summarise(startedAt: Date, finishedAt: Date, parts: ContentTypeRunSummary[]): RunSummary {
  const totals = Object.fromEntries(
    COUNTERS.map((k) => [k, parts.reduce((s, p) => s + p[k], 0)]),
  ) as RunSummary['totals'];
  const lags = parts.map((p) => p.lagSeconds).filter((l): l is number => l !== null);
  return {
    startedAt: startedAt.toISOString(),
    finishedAt: finishedAt.toISOString(),
    durationMs: finishedAt.getTime() - startedAt.getTime(),
    contentTypes: parts,
    totals,
    maxLagSeconds: lags.length > 0 ? Math.max(...lags) : null,
  };
}
