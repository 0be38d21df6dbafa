import { CONTENT_TYPES, isContentType, type ContentType } from '../../shared/contentTypes';
import { flagValue, parseFlags, UsageError as CliUsageError, type FlagSpec } from '../cli/args';
import { UsageError } from './args';

/** `npm run bench -- --tenants N`: fanned-out collection of many tenants by several worker processes. */
export interface ScaleOptions {
  tenants: number;
  /** Worker-process counts, run one after another (the scale-out curve). */
  workers: number[];
  /** Tasks one worker process runs at once: host.json batchSize + newBatchThreshold. */
  tasksPerWorker: number;
  /** Wall seconds between planner runs (the timer's schedule, compressed). */
  intervalSeconds: number;
  /** Planner intervals of steady state sampled after catch-up. */
  steadyIntervals: number;
  /** Give up waiting for catch-up after this many seconds (the run is reported as not caught up). */
  catchUpTimeoutSeconds: number;
  /** Backlog each unit starts with (AUDITFEED_INITIAL_LOOKBACK_HOURS). */
  lookbackHours: number;
  /** Collector budget per tenant (AUDITFEED_MAX_REQUESTS_PER_MINUTE) and the simulator's limit per tenant. */
  apiRequestsPerMinute: number;
  /** Simulated network latency of listing and blob requests, ms. */
  latencyMs: [number, number];
  contentTypes: ContentType[];
  /** Records per hour per tenant of the small, medium and large tenants (all content types together). */
  sizes: { small: number; medium: number; large: number };
  seed: string;
  outDir: string;
}

export const SCALE_USAGE = `usage: npm run bench -- --tenants N [options]   (fanned-out collection; docs/scale.md)
  --tenants N              simulated tenants: 80% small, 16% medium, 4% large (required for this mode)
  --workers A,B,...        collector worker processes, one run per count (default 1,2,4,8)
  --tasks-per-worker N     tasks one worker runs at once (default 12: host.json batchSize 8 + newBatchThreshold 4)
  --interval-seconds N     wall seconds between planner runs, the compressed timer (default 60)
  --steady-intervals N     planner intervals of steady state sampled after catch-up (default 3)
  --catch-up-timeout N     seconds to wait for catch-up before giving up on a run (default 1800)
  --lookback-hours N       backlog each tenant x content type starts with (default 1)
  --api-rpm N              collector budget per tenant = the simulator's limit per tenant (default 2000)
  --latency-ms MIN,MAX     simulated latency of every listing and blob request (default 200,800)
  --content-types A,B,...  content types collected (default all five)
  --sizes S,M,L            records per hour per tenant of small, medium, large tenants (default 60,1000,10000)
  --seed S                 scenario seed (default scale)
  --out DIR                where the JSON result goes (default results)
  --help                   this text`;

export function isScaleCommand(argv: readonly string[]): boolean {
  return argv.includes('--tenants');
}

const SCALE_FLAGS: readonly FlagSpec[] = [
  { name: 'tenants', value: 'N' },
  { name: 'workers', value: 'A,B,...' },
  { name: 'tasks-per-worker', value: 'N' },
  { name: 'interval-seconds', value: 'N' },
  { name: 'steady-intervals', value: 'N' },
  { name: 'catch-up-timeout', value: 'N' },
  { name: 'lookback-hours', value: 'N' },
  { name: 'api-rpm', value: 'N' },
  { name: 'latency-ms', value: 'MIN,MAX' },
  { name: 'content-types', value: 'A,B,...' },
  { name: 'sizes', value: 'S,M,L' },
  { name: 'seed', value: 'S' },
  { name: 'out', value: 'DIR' },
];

/** An integer of at least `min` (`_` allowed as a digit separator), or a UsageError naming the flag. */
function integer(flag: string, raw: string, min: number): number {
  const n = Number(raw.trim().replace(/_/g, ''));
  if (raw.trim() === '' || !Number.isInteger(n) || n < min)
    throw new UsageError(`--${flag} must be an integer ≥ ${min}, got ${raw}`);
  return n;
}

function integers(flag: string, raw: string, min: number): number[] {
  try {
    return raw.split(',').map((p) => integer(flag, p, min));
  } catch {
    throw new UsageError(`--${flag} must be integers ≥ ${min} separated by commas, got ${raw}`);
  }
}

export function parseScaleArgs(
  argv: readonly string[],
): { help: true } | { help: false; options: ScaleOptions } {
  let p;
  try {
    p = parseFlags(argv, SCALE_FLAGS);
  } catch (e) {
    // The same one-line message, as this mode's UsageError (run.ts prints it with the hint).
    throw e instanceof CliUsageError ? new UsageError(`${e.message} (in --tenants mode)`) : e;
  }
  if (p.help) return { help: true };
  if (p.positionals.length > 0)
    throw new UsageError(`unknown argument ${p.positionals[0]} (in --tenants mode)`);
  const o: ScaleOptions = {
    tenants: 0,
    workers: [1, 2, 4, 8],
    tasksPerWorker: 12,
    intervalSeconds: 60,
    steadyIntervals: 3,
    catchUpTimeoutSeconds: 1_800,
    lookbackHours: 1,
    apiRequestsPerMinute: 2_000,
    latencyMs: [200, 800],
    contentTypes: [...CONTENT_TYPES],
    sizes: { small: 60, medium: 1_000, large: 10_000 },
    seed: 'scale',
    outDir: 'results',
  };
  const int = (flag: string, min: number, set: (n: number) => void): void => {
    const v = flagValue(p, flag);
    if (v !== undefined) set(integer(flag, v, min));
  };
  int('tenants', 1, (n) => (o.tenants = n));
  int('tasks-per-worker', 1, (n) => (o.tasksPerWorker = n));
  int('interval-seconds', 5, (n) => (o.intervalSeconds = n));
  int('steady-intervals', 1, (n) => (o.steadyIntervals = n));
  int('catch-up-timeout', 1, (n) => (o.catchUpTimeoutSeconds = n));
  int('lookback-hours', 1, (n) => (o.lookbackHours = n));
  int('api-rpm', 1, (n) => (o.apiRequestsPerMinute = n));
  const workers = flagValue(p, 'workers');
  if (workers !== undefined) o.workers = integers('workers', workers, 1);
  const latency = flagValue(p, 'latency-ms');
  if (latency !== undefined) {
    const range = integers('latency-ms', latency, 0);
    const [min, max = min] = range;
    if (min === undefined || max === undefined || max < min || range.length > 2)
      throw new UsageError('--latency-ms must be MIN[,MAX] with MIN ≤ MAX');
    o.latencyMs = [min, max];
  }
  const contentTypes = flagValue(p, 'content-types');
  if (contentTypes !== undefined) {
    const cts = contentTypes.split(',').map((s) => s.trim());
    const bad = cts.filter((c) => !isContentType(c));
    if (bad.length > 0 || cts.length === 0)
      throw new UsageError(`--content-types: unknown ${bad.join(', ')} (valid: ${CONTENT_TYPES.join(', ')})`);
    o.contentTypes = [...new Set(cts)] as ContentType[];
  }
  const sizes = flagValue(p, 'sizes');
  if (sizes !== undefined) {
    const [small, medium, large, ...more] = integers('sizes', sizes, 1);
    if (small === undefined || medium === undefined || large === undefined || more.length > 0)
      throw new UsageError('--sizes needs three numbers: small,medium,large');
    o.sizes = { small, medium, large };
  }
  o.seed = flagValue(p, 'seed') ?? o.seed;
  o.outDir = flagValue(p, 'out') ?? o.outDir;
  if (o.tenants < 1) throw new UsageError('--tenants N is required');
  if (o.lookbackHours > 168) throw new UsageError('--lookback-hours is at most 168');
  if (o.tasksPerWorker > 32)
    throw new UsageError('--tasks-per-worker is at most 32 (the queue trigger maximum)');
  return { help: false, options: o };
}
