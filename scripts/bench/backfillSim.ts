import https from 'node:https';
import type { ContentType } from '../../shared/contentTypes';
import { DEFAULT_RECORDS_PER_HOUR, type ScenarioSpec } from '../simulator/scenario';
import type { BackfillBenchOptions } from './backfillArgs';

/**
 * The backfill bench's simulator side: a scenario with a long history, the simulator's `/_sim` control
 * routes over HTTPS, and a clock the backfill waits on by moving the simulator's clock instead of waiting.
 */

export const BACKFILL_TENANT = '7c2e4a61-0b9d-4f3e-a5c8-2d1f6e9b0a47';
const HOUR = 3_600_000;
export const DAY = 24 * HOUR;

export type BackfillScenarioOptions = Pick<
  BackfillBenchOptions,
  'days' | 'recordsPerHour' | 'pageSize' | 'latencyMs' | 'querySeconds' | 'users' | 'seed'
> & {
  /** Wall clock now (the simulator's clock starts there). */
  now: number;
};

/**
 * The range backfilled: whole UTC days ending at the midnight at least 14 hours ago, so every content blob of
 * the range is available (late ones up to 12 h, plus aggregation and latency) when the first query is created,
 * and every query sees the same audit log.
 */
export function backfillRange(now: number, days: number): { from: string; to: string } {
  const to = Math.floor((now - 14 * HOUR) / DAY) * DAY;
  return { from: new Date(to - days * DAY).toISOString(), to: new Date(to).toISOString() };
}

export function backfillScenario(o: BackfillScenarioOptions): ScenarioSpec {
  const { from, to } = backfillRange(o.now, o.days);
  const weights = Object.entries(DEFAULT_RECORDS_PER_HOUR) as [ContentType, number][];
  const total = weights.reduce((s, [, w]) => s + w, 0);
  // Fractions are fine: the simulator draws each blob's records around the mean.
  const recordsPerHour = Object.fromEntries(
    weights.map(([ct, w]) => [ct, Math.round(((o.recordsPerHour * w) / total) * 1000) / 1000]),
  ) as Record<ContentType, number>;
  const latency = o.latencyMs;
  return {
    seed: o.seed,
    tenants: [{ tenantId: BACKFILL_TENANT, users: o.users }],
    activity: { start: from, end: to, recordsPerHour },
    // The throughput bench's blobs: a ~256 KB record every 1,000 blobs (a claim check on the queue), late
    // blobs up to 12 h, repeated blobs (Graph serves each record once).
    blobs: { largeRecordEvery: 1_000, lateHours: [2, 12], lateDistribution: 'uniform' },
    // The backfill's waits move the simulator's clock by hours; MSAL caches tokens by wall time.
    tokenLifetimeSeconds: 30 * 24 * 3600,
    latencyMs: { graphQueries: latency, graphQuery: latency, graphRecords: latency },
    graphAudit: {
      pageSize: o.pageSize,
      startDelaySeconds: Math.min(5, o.querySeconds[0]),
      runSeconds: o.querySeconds,
      // The whole range is inside the retention whatever --days says.
      retentionDays: o.days + 3,
    },
  };
}

/** JSON over HTTPS to the simulator (its own CA), for `/_sim` routes. */
export function simJson<T>(
  baseUrl: string,
  ca: string,
  method: 'GET' | 'POST',
  path: string,
  body?: unknown,
): Promise<T> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = https.request(
      `${baseUrl}${path}`,
      {
        method,
        ca,
        headers: payload === undefined ? {} : { 'content-type': 'application/json' },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (d: Buffer) => chunks.push(d));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          if (res.statusCode !== 200) {
            reject(new Error(`${method} ${path}: HTTP ${String(res.statusCode)} ${text.slice(0, 200)}`));
            return;
          }
          try {
            resolve(JSON.parse(text) as T);
          } catch (e) {
            reject(e instanceof Error ? e : new Error(String(e)));
          }
        });
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

export interface SimClock {
  /** The simulator's clock now, epoch ms (its running clock plus every advance made here). */
  now: () => number;
  /**
   * Waits `ms` on the simulator's clock by moving it, at once. Concurrent waits move it to the latest end
   * asked for, never by their sum, as waits in real time would overlap.
   */
  sleep: (ms: number) => Promise<void>;
  /** Simulator-clock ms skipped so far. */
  advancedMs: () => number;
}

/**
 * A mirror of the simulator's running clock, moved forward by the backfill's waits (poll back-off, Retry-After):
 * query run times then cost the bench polls, not wall time. Only this process moves the clock.
 */
export async function simClock(baseUrl: string, ca: string): Promise<SimClock> {
  const read = await simJson<{ now: string }>(baseUrl, ca, 'GET', '/_sim/clock');
  const simAtStart = Date.parse(read.now);
  const wallAtStart = Date.now();
  let advanced = 0;
  // Advances are sent one after another, and every wait ends only after the ones before it arrived.
  let sent: Promise<unknown> = Promise.resolve();
  const now = (): number => simAtStart + (Date.now() - wallAtStart) + advanced;
  return {
    now,
    advancedMs: () => advanced,
    async sleep(ms) {
      const target = now() + ms;
      // Let waits that start at the same moment all ask before the clock moves.
      await new Promise((r) => setImmediate(r));
      const behind = target - now();
      if (behind > 0) {
        advanced += behind;
        sent = sent.then(() => simJson(baseUrl, ca, 'POST', '/_sim/clock', { advanceMs: behind }));
      }
      await sent;
    },
  };
}
