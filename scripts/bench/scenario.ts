import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ContentType } from '../../shared/contentTypes';
import { DEFAULT_RECORDS_PER_HOUR, type ScenarioSpec } from '../simulator/scenario';

export const BENCH_TENANT = '5b0c1d2e-3f4a-4b5c-8d6e-7f8091a2b3c4';
const HOUR = 3_600_000;

export interface BenchScenarioOptions {
  /** Records in the backlog (approximately: the simulator jitters volumes around the mean). */
  records: number;
  seed: string;
  /** Days of activity; must fit the API's 7 days. Default 6. */
  days?: number;
  /** Listing page size the simulator serves. Default 100 (the simulator's own default). */
  pageSize?: number;
  users?: number;
  now?: number;
}

/**
 * One tenant's backlog: all five content types in the proportions of the simulator's default tenant
 * (a small organisation's mix), its default blob sizes, late and repeated blobs, and now and then a very
 * large record. Activity ends 14 hours ago, so even late blobs (up to 12 h) are all listable when the run
 * starts and every phase of the bench sees the same backlog.
 */
export function benchScenario(o: BenchScenarioOptions): ScenarioSpec {
  const days = o.days ?? 6;
  if (!(days > 0 && days <= 6.5)) throw new Error('bench scenario: days must be in (0, 6.5]');
  const now = o.now ?? Date.now();
  const end = now - 14 * HOUR;
  const start = end - days * 24 * HOUR;
  const weights = Object.entries(DEFAULT_RECORDS_PER_HOUR) as [ContentType, number][];
  const total = weights.reduce((s, [, w]) => s + w, 0);
  const perHour = o.records / (days * 24);
  const recordsPerHour = Object.fromEntries(
    weights.map(([ct, w]) => [ct, Math.max(1, Math.round((perHour * w) / total))]),
  ) as Record<ContentType, number>;
  return {
    seed: o.seed,
    tenants: [{ tenantId: BENCH_TENANT, users: o.users ?? 2_000 }],
    activity: { start: new Date(start).toISOString(), end: new Date(end).toISOString(), recordsPerHour },
    // Simulator defaults for sizes, latency and repeated blobs; a ~256 KB record every 1,000 blobs. Late
    // blobs up to 12 h, so every phase sees the same backlog (lateness across the retention is the
    // chaos suite's and the tests' business, not a throughput figure's).
    blobs: { largeRecordEvery: 1_000, lateHours: [2, 12], lateDistribution: 'uniform' },
    listing: { pageSize: o.pageSize ?? 100 },
    tokenLifetimeSeconds: 3599,
  };
}

export function writeScenario(dir: string, name: string, spec: ScenarioSpec): string {
  const file = join(dir, `${name}.json`);
  writeFileSync(file, JSON.stringify(spec));
  return file;
}
