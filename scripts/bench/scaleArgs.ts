import { CONTENT_TYPES, isContentType, type ContentType } from '../../shared/contentTypes';
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

export function parseScaleArgs(
  argv: readonly string[],
): { help: true } | { help: false; options: ScaleOptions } {
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
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new UsageError(`${a} needs a value`);
      return v;
    };
    const toInt = (raw: string, min: number): number => {
      const n = Number(raw.trim().replace(/_/g, ''));
      if (!Number.isInteger(n) || n < min)
        throw new UsageError(`${a} must be an integer ≥ ${min}, got ${raw}`);
      return n;
    };
    const int = (min = 1): number => toInt(value(), min);
    const ints = (min: number): number[] => {
      const raw = value();
      const parts = raw.split(',');
      try {
        return parts.map((p) => toInt(p, min));
      } catch {
        throw new UsageError(`${a} must be integers ≥ ${min} separated by commas, got ${raw}`);
      }
    };
    if (a === '--tenants') o.tenants = int();
    else if (a === '--workers') o.workers = ints(1);
    else if (a === '--tasks-per-worker') o.tasksPerWorker = int();
    else if (a === '--interval-seconds') o.intervalSeconds = int(5);
    else if (a === '--steady-intervals') o.steadyIntervals = int();
    else if (a === '--catch-up-timeout') o.catchUpTimeoutSeconds = int();
    else if (a === '--lookback-hours') o.lookbackHours = int();
    else if (a === '--api-rpm') o.apiRequestsPerMinute = int();
    else if (a === '--latency-ms') {
      const range = ints(0);
      const [min, max = min] = range;
      if (min === undefined || max === undefined || max < min || range.length > 2)
        throw new UsageError('--latency-ms must be MIN[,MAX] with MIN ≤ MAX');
      o.latencyMs = [min, max];
    } else if (a === '--content-types') {
      const raw = value();
      const cts = raw.split(',').map((s) => s.trim());
      const bad = cts.filter((c) => !isContentType(c));
      if (bad.length > 0 || cts.length === 0)
        throw new UsageError(
          `--content-types: unknown ${bad.join(', ')} (valid: ${CONTENT_TYPES.join(', ')})`,
        );
      o.contentTypes = [...new Set(cts)] as ContentType[];
    } else if (a === '--sizes') {
      const [small, medium, large] = ints(1);
      if (small === undefined || medium === undefined || large === undefined)
        throw new UsageError('--sizes needs three numbers: small,medium,large');
      o.sizes = { small, medium, large };
    } else if (a === '--seed') o.seed = value();
    else if (a === '--out') o.outDir = value();
    else if (a === '--help' || a === '-h') help = true;
    else throw new UsageError(`unknown argument ${String(a)} (in --tenants mode)`);
  }
  if (help) return { help: true };
  if (o.tenants < 1) throw new UsageError('--tenants N is required');
  if (o.lookbackHours > 168) throw new UsageError('--lookback-hours is at most 168');
  if (o.tasksPerWorker > 32)
    throw new UsageError('--tasks-per-worker is at most 32 (the queue trigger maximum)');
  return { help: false, options: o };
}
