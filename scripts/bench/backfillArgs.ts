import { DEFAULT_RECORDS_PER_HOUR } from '../simulator/scenario';
import { flagValue, parseFlags, UsageError as CliUsageError, type FlagSpec } from '../cli/args';
import { UsageError } from './args';

/** `npm run bench -- --backfill`: a backfill of a long history through the real queue and writer. */
export interface BackfillBenchOptions {
  /** Days of history backfilled (whole UTC days ending at midnight before the simulated now). */
  days: number;
  /** Records per hour of the tenant, all five content types in the simulator's default tenant's mix. */
  recordsPerHour: number;
  /** Records per Graph `/records` page (undocumented by Microsoft; the simulator's default). */
  pageSize: number;
  /** Wall-time latency of every Graph request (create, poll, page), ms. */
  latencyMs: [number, number];
  /** Creation to `succeeded` of each audit log query, simulator-clock seconds (waited on that clock). */
  querySeconds: [number, number];
  /** Audit log queries in flight at once (AUDITFEED_BACKFILL_QUERIES_IN_FLIGHT). */
  queriesInFlight: number;
  /** host.json batchSize: messages the writer handles at once. */
  writerBatchSize: number;
  users: number;
  seed: string;
  outDir: string;
}

/** The simulator's default tenant (a small organisation): 303 records an hour, about 7,300 a day. */
export const DEFAULT_BACKFILL_RECORDS_PER_HOUR = Object.values(DEFAULT_RECORDS_PER_HOUR).reduce(
  (a, b) => a + b,
  0,
);

export const BACKFILL_USAGE = `usage: npm run bench -- --backfill [options]   (backfill throughput; docs/performance.md#backfill)
  --backfill               this mode: a backfill of a long history, Graph → queue → writer → Cosmos stand-in
  --days N                 days of history backfilled, one query a day (default 30; at most 150, the engine's
                           daily query budget AUDITFEED_BACKFILL_QUERIES_PER_DAY: a longer one continues a day later)
  --records-per-hour N     the tenant's volume, five content types in a small organisation's mix
                           (default ${DEFAULT_BACKFILL_RECORDS_PER_HOUR}, the simulator's default tenant)
  --page-size N            records per Graph /records page, not documented by Microsoft (default 100)
  --latency-ms MIN,MAX     wall-time latency of every Graph request: create, poll, page (default 200,800)
  --query-seconds MIN,MAX  each query's run time on the simulator's clock; the backfill's waits move that
                           clock instead of waiting, so this costs polls, not wall time (default 60,300)
  --queries-in-flight N    audit log queries at once, AUDITFEED_BACKFILL_QUERIES_IN_FLIGHT (default 4)
  --writer-batch-size N    messages the writer handles at once (default 8, host.json batchSize)
  --users N                users in the simulated tenant (default 500)
  --seed S                 scenario seed (default backfill)
  --out DIR                where the JSON result goes (default results)
  --help                   this text`;

export function isBackfillCommand(argv: readonly string[]): boolean {
  return argv.includes('--backfill');
}

const FLAGS: readonly FlagSpec[] = [
  { name: 'backfill' },
  { name: 'days', value: 'N' },
  { name: 'records-per-hour', value: 'N' },
  { name: 'page-size', value: 'N' },
  { name: 'latency-ms', value: 'MIN,MAX' },
  { name: 'query-seconds', value: 'MIN,MAX' },
  { name: 'queries-in-flight', value: 'N' },
  { name: 'writer-batch-size', value: 'N' },
  { name: 'users', value: 'N' },
  { name: 'seed', value: 'S' },
  { name: 'out', value: 'DIR' },
];

/** An integer in [min, max] (`_` allowed as a digit separator), or a UsageError naming the flag. */
function integer(flag: string, raw: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const n = Number(raw.trim().replace(/_/g, ''));
  if (raw.trim() === '' || !Number.isInteger(n) || n < min || n > max)
    throw new UsageError(
      `--${flag} must be an integer ${max === Number.MAX_SAFE_INTEGER ? `≥ ${min}` : `from ${min} to ${max}`}, got ${raw}`,
    );
  return n;
}

/** MIN[,MAX] with 0 ≤ MIN ≤ MAX. */
function range(flag: string, raw: string): [number, number] {
  const parts = raw.split(',');
  const bad = (): UsageError => new UsageError(`--${flag} must be MIN[,MAX] with 0 ≤ MIN ≤ MAX, got ${raw}`);
  if (parts.length > 2) throw bad();
  let values: number[];
  try {
    values = parts.map((p) => integer(flag, p, 0));
  } catch {
    throw bad();
  }
  const min = values[0]!;
  const max = values[1] ?? min;
  if (max < min) throw bad();
  return [min, max];
}

export function parseBackfillArgs(
  argv: readonly string[],
): { help: true } | { help: false; options: BackfillBenchOptions } {
  let p;
  try {
    p = parseFlags(argv, FLAGS);
  } catch (e) {
    // The same one-line message, as the bench's UsageError (run.ts prints it with the hint).
    throw e instanceof CliUsageError ? new UsageError(`${e.message} (in --backfill mode)`) : e;
  }
  if (p.help) return { help: true };
  if (p.positionals.length > 0)
    throw new UsageError(`unknown argument ${p.positionals[0]} (in --backfill mode)`);
  const o: BackfillBenchOptions = {
    days: 30,
    recordsPerHour: DEFAULT_BACKFILL_RECORDS_PER_HOUR,
    pageSize: 100,
    latencyMs: [200, 800],
    querySeconds: [60, 300],
    queriesInFlight: 4,
    writerBatchSize: 8,
    users: 500,
    seed: 'backfill',
    outDir: 'results',
  };
  const int = (flag: string, min: number, max: number, set: (n: number) => void): void => {
    const v = flagValue(p, flag);
    if (v !== undefined) set(integer(flag, v, min, max));
  };
  // One query a day: more than the daily query budget (default 150) would stop the run until the next day.
  int('days', 1, 150, (n) => (o.days = n));
  int('records-per-hour', 1, 1_000_000, (n) => (o.recordsPerHour = n));
  // $top's documented maximum in the simulator; Graph documents none.
  int('page-size', 1, 1_000, (n) => (o.pageSize = n));
  // The service allows at least 50 queued or running queries per tenant.
  int('queries-in-flight', 1, 50, (n) => (o.queriesInFlight = n));
  int('writer-batch-size', 1, 32, (n) => (o.writerBatchSize = n));
  int('users', 1, 1_000_000, (n) => (o.users = n));
  const latency = flagValue(p, 'latency-ms');
  if (latency !== undefined) o.latencyMs = range('latency-ms', latency);
  const query = flagValue(p, 'query-seconds');
  if (query !== undefined) o.querySeconds = range('query-seconds', query);
  o.seed = flagValue(p, 'seed') ?? o.seed;
  o.outDir = flagValue(p, 'out') ?? o.outDir;
  return { help: false, options: o };
}
