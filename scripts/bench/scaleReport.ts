import { minimumRequests, type BlobRef } from './apiRequests';
import { fmt } from './report';

/** The scale bench's arithmetic, apart from the processes: percentiles, minimums and the table. */

/** Nearest-rank percentile (p in 0..100) of unsorted values; null for none. */
export function percentile(values: readonly number[], p: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

export interface Distribution {
  count: number;
  p50: number | null;
  p99: number | null;
  max: number | null;
  mean: number | null;
}

export function distribution(values: readonly number[]): Distribution {
  return {
    count: values.length,
    p50: percentile(values, 50),
    p99: percentile(values, 99),
    max: values.length === 0 ? null : values.reduce((a, b) => Math.max(a, b)),
    mean: values.length === 0 ? null : values.reduce((a, b) => a + b, 0) / values.length,
  };
}

/** now − cursor of every unit that has a cursor, seconds. */
export function lagSample(cursors: ReadonlyMap<string, string | null>, now: number): number[] {
  const lags: number[] = [];
  for (const c of cursors.values()) if (c) lags.push(Math.max(0, (now - Date.parse(c)) / 1000));
  return lags;
}

export interface UnitSpan {
  tenantId: string;
  contentType: string;
  /** The unit's first-run start (watermark origin), ISO. */
  origin: string | null;
  /** How far it has listed, ISO. */
  cursor: string | null;
}

/**
 * The fewest requests that collect what these units have covered: one subscription start per unit, the
 * listing pages of [origin, cursor) (one even when empty) and one fetch per blob created in it.
 */
export function minimumForUnits(
  units: readonly UnitSpan[],
  blobs: readonly (BlobRef & { tenantId: string })[],
  pageSize: number,
): Map<string, number> {
  const byUnit = new Map<string, BlobRef[]>();
  for (const b of blobs) {
    const key = `${b.tenantId}/${b.contentType}`;
    const list = byUnit.get(key) ?? [];
    list.push(b);
    byUnit.set(key, list);
  }
  const perTenant = new Map<string, number>();
  for (const u of units) {
    let n = 1; // the subscription start
    if (u.origin && u.cursor) {
      const from = Date.parse(u.origin);
      const to = Date.parse(u.cursor);
      const inSpan = (byUnit.get(`${u.tenantId}/${u.contentType}`) ?? []).filter((b) => {
        const t = Date.parse(b.contentCreated);
        return t >= from && t < to;
      });
      n += inSpan.length === 0 ? 1 : minimumRequests(inSpan, pageSize).total;
    }
    perTenant.set(u.tenantId, (perTenant.get(u.tenantId) ?? 0) + n);
  }
  return perTenant;
}

export interface RateLimitTenant {
  tenantId: string;
  limitPerMinute: number | null;
  requests: number;
  throttled: number;
  peakPerMinute: number;
  peakWindowEnd: string | null;
}

export interface RequestFigures {
  /** Requests per tenant the simulators counted (start, listing, blob; throttled ones too). */
  actualPerTenant: number;
  minimumPerTenant: number;
  /** actual ÷ minimum over all tenants. */
  ratio: number | null;
  /** The tenant furthest above its minimum. */
  worstRatio: number | null;
}

export function requestFigures(
  stats: readonly RateLimitTenant[],
  minimum: ReadonlyMap<string, number>,
): RequestFigures {
  let actual = 0;
  let min = 0;
  let worst: number | null = null;
  for (const t of stats) {
    const m = minimum.get(t.tenantId) ?? 0;
    actual += t.requests;
    min += m;
    if (m > 0) worst = Math.max(worst ?? 0, t.requests / m);
  }
  const n = Math.max(1, stats.length);
  return {
    actualPerTenant: actual / n,
    minimumPerTenant: min / n,
    ratio: min > 0 ? actual / min : null,
    worstRatio: worst,
  };
}

export interface RateFigures {
  limitPerMinute: number | null;
  maxPeakPerMinute: number;
  /** The tenant of that peak. */
  peakTenant: string | null;
  throttled: number;
  tenantsThrottled: number;
  requests: number;
}

export function rateFigures(stats: readonly RateLimitTenant[]): RateFigures {
  let peak: RateLimitTenant | undefined;
  for (const t of stats) if (!peak || t.peakPerMinute > peak.peakPerMinute) peak = t;
  return {
    limitPerMinute: stats.find((t) => t.limitPerMinute !== null)?.limitPerMinute ?? null,
    maxPeakPerMinute: peak?.peakPerMinute ?? 0,
    peakTenant: peak?.tenantId ?? null,
    throttled: stats.reduce((s, t) => s + t.throttled, 0),
    tenantsThrottled: stats.filter((t) => t.throttled > 0).length,
    requests: stats.reduce((s, t) => s + t.requests, 0),
  };
}

export interface ScaleRunFigures {
  workers: number;
  slots: number;
  units: number;
  seconds: number;
  catchUp: {
    caughtUp: boolean;
    /** From the first planner run until every unit had finished a task caught up to its now. */
    seconds: number | null;
    unitsCaughtUp: number;
    requests: RequestFigures | null;
    behind?: {
      unit: string;
      tasks: number;
      cursor: string | null;
      lastResult: string | null;
      lastError: string | null;
    }[];
  };
  /** now − cursor over units, sampled every few seconds after catch-up, seconds. */
  /** now − cursor of every unit, sampled every few seconds over the steady intervals (the sawtooth). */
  lag: Distribution & { samples: number; fromSeconds: number; toSeconds: number };
  /** The lag each steady-state task reported when it finished: what the collector-lag alert reads. */
  lagAtTaskEnd?: Distribution;
  requests: RequestFigures;
  /** Requests per tenant per hour of steady state. */
  steadyRequestsPerTenantHour: number | null;
  rate: RateFigures;
  tasks: {
    ran: number;
    stale: number;
    duplicate: number;
    errors: number;
    poisoned: number;
    records: number;
    /** Throttling answers the client met (should be 0) and retries it made. */
    throttles: number;
    retries: number;
    durationMs: Distribution;
    queuedMs: Distribution;
  };
  planner: {
    runs: number;
    maxDispatched: number;
    expired: number;
    failed: number;
    conflicts: number;
    requeued: number;
    durationMs: Distribution;
    taskDeadlineSeconds: number | null;
  };
  batches: { messages: number; records: number };
  /** Length of the work queue (auditfeed-collect) over the run. */
  workQueue: { maxMessages: number; samples: { atSeconds: number; messages: number }[] };
  loadAverage: number[];
}

const s = (n: number | null | undefined, digits = 0): string =>
  n === null || n === undefined ? '—' : n.toFixed(digits);
const duration = (seconds: number | null): string => {
  if (seconds === null) return 'not caught up';
  const m = Math.floor(seconds / 60);
  return m > 0 ? `${m} min ${Math.round(seconds % 60)} s` : `${Math.round(seconds)} s`;
};

/** One column per worker count. */
export function formatScaleTable(runs: readonly ScaleRunFigures[], header: string): string {
  const rows: [string, (r: ScaleRunFigures) => string][] = [
    ['Worker processes (slots)', (r) => `${r.workers} (${r.slots})`],
    [
      'Catch-up from the backlog',
      (r) =>
        r.catchUp.caughtUp
          ? duration(r.catchUp.seconds)
          : `not in time (${fmt(r.catchUp.unitsCaughtUp)}/${fmt(r.units)})`,
    ],
    ['Lag p50 / p99, steady (s)', (r) => `${s(r.lag.p50)} / ${s(r.lag.p99)}`],
    ['Lag max, steady (s)', (r) => s(r.lag.max)],
    [
      'Lag at task end p50 / p99 / max (s)',
      (r) => `${s(r.lagAtTaskEnd?.p50)} / ${s(r.lagAtTaskEnd?.p99)} / ${s(r.lagAtTaskEnd?.max)}`,
    ],
    [
      'Requests/tenant at catch-up vs min',
      (r) =>
        r.catchUp.requests
          ? `${s(r.catchUp.requests.actualPerTenant, 1)} / ${s(r.catchUp.requests.minimumPerTenant, 1)} (×${s(r.catchUp.requests.ratio, 2)})`
          : '—',
    ],
    [
      'Requests/tenant whole run vs min',
      (r) =>
        `${s(r.requests.actualPerTenant, 1)} / ${s(r.requests.minimumPerTenant, 1)} (×${s(r.requests.ratio, 2)})`,
    ],
    ['Steady requests/tenant/hour', (r) => s(r.steadyRequestsPerTenantHour)],
    [
      'Peak/min, busiest tenant vs limit',
      (r) =>
        `${fmt(r.rate.maxPeakPerMinute)} / ${r.rate.limitPerMinute === null ? '∞' : fmt(r.rate.limitPerMinute)}`,
    ],
    ['Throttled (AF429), tenants', (r) => `${fmt(r.rate.throttled)}, ${fmt(r.rate.tenantsThrottled)}`],
    [
      'Tasks ran / stale / duplicate',
      (r) => `${fmt(r.tasks.ran)} / ${fmt(r.tasks.stale)} / ${fmt(r.tasks.duplicate)}`,
    ],
    ['Task errors / poisoned', (r) => `${fmt(r.tasks.errors)} / ${fmt(r.tasks.poisoned)}`],
    [
      'Task time p50 / p99 (s)',
      (r) => `${s(ms(r.tasks.durationMs.p50), 1)} / ${s(ms(r.tasks.durationMs.p99), 1)}`,
    ],
    [
      'Queue wait p50 / p99 (s)',
      (r) => `${s(ms(r.tasks.queuedMs.p50), 1)} / ${s(ms(r.tasks.queuedMs.p99), 1)}`,
    ],
    [
      'Planner runs, time p50 / max (s)',
      (r) =>
        `${fmt(r.planner.runs)}, ${s(ms(r.planner.durationMs.p50), 1)} / ${s(ms(r.planner.durationMs.max), 1)}`,
    ],
    [
      'Planner expired / failed / requeued',
      (r) => `${fmt(r.planner.expired)} / ${fmt(r.planner.failed)} / ${fmt(r.planner.requeued)}`,
    ],
    ['Work queue length, max', (r) => fmt(r.workQueue.maxMessages)],
    ['Records collected', (r) => fmt(r.tasks.records)],
    ['Load average (1 min) at end', (r) => s(r.loadAverage[0], 1)],
    ['Run time', (r) => duration(r.seconds)],
  ];
  const cells = rows.map(([label, f]) => [label, ...runs.map(f)]);
  const widths = cells[0]!.map((_, i) => Math.max(...cells.map((row) => row[i]!.length)));
  const line = (row: string[]): string =>
    `| ${row.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' | ')} |`;
  const rule = `|${widths.map((w, i) => (i === 0 ? '-'.repeat(w + 2) : `${'-'.repeat(w + 1)}:`)).join('|')}|`;
  return [header, '', line(cells[0]!), rule, ...cells.slice(1).map(line)].join('\n');
}

const ms = (v: number | null): number | null => (v === null ? null : v / 1000);
