import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isScaleCommand, parseScaleArgs, type ScaleOptions } from '../../scripts/bench/scaleArgs';
import {
  distribution,
  formatScaleTable,
  lagSample,
  minimumForUnits,
  percentile,
  rateFigures,
  requestFigures,
  type RateLimitTenant,
  type ScaleRunFigures,
} from '../../scripts/bench/scaleReport';
import { recordsPerHour, scaleScenario, scaleTenants, sizeCounts } from '../../scripts/bench/scaleScenario';
import { swap } from '../../scripts/bench/tenantProxy';
import { CONTENT_TYPES } from '../../shared/contentTypes';
import { dist, ROOT } from '../helpers/childProcesses';

/** The scale bench (`npm run bench -- --tenants N`): its arithmetic on fixed inputs, then one tiny run. */

function options(argv: string[]): ScaleOptions {
  const c = parseScaleArgs(argv);
  if (c.help) throw new Error('help');
  return c.options;
}

describe('scale bench arguments', () => {
  it('is chosen by --tenants and leaves the plain bench alone', () => {
    expect(isScaleCommand(['--tenants', '500'])).toBe(true);
    expect(isScaleCommand(['--records', '1000'])).toBe(false);
    expect(isScaleCommand([])).toBe(false);
  });

  it('has the documented defaults', () => {
    const o = options(['--tenants', '500']);
    expect(o).toMatchObject({
      tenants: 500,
      workers: [1, 2, 4, 8],
      tasksPerWorker: 12,
      intervalSeconds: 60,
      steadyIntervals: 3,
      lookbackHours: 1,
      apiRequestsPerMinute: 2_000,
      latencyMs: [200, 800],
      sizes: { small: 60, medium: 1_000, large: 10_000 },
      outDir: 'results',
    });
    expect(o.contentTypes).toEqual([...CONTENT_TYPES]);
  });

  it('reads every option', () => {
    const o = options([
      '--tenants',
      '3',
      '--workers',
      '2,4',
      '--tasks-per-worker',
      '8',
      '--interval-seconds',
      '30',
      '--steady-intervals',
      '2',
      '--catch-up-timeout',
      '600',
      '--lookback-hours',
      '2',
      '--api-rpm',
      '2_000',
      '--latency-ms',
      '100,300',
      '--content-types',
      'Audit.Exchange,DLP.All',
      '--sizes',
      '10,20,30',
      '--seed',
      'x',
      '--out',
      'elsewhere',
    ]);
    expect(o).toEqual({
      tenants: 3,
      workers: [2, 4],
      tasksPerWorker: 8,
      intervalSeconds: 30,
      steadyIntervals: 2,
      catchUpTimeoutSeconds: 600,
      lookbackHours: 2,
      apiRequestsPerMinute: 2_000,
      latencyMs: [100, 300],
      contentTypes: ['Audit.Exchange', 'DLP.All'],
      sizes: { small: 10, medium: 20, large: 30 },
      seed: 'x',
      outDir: 'elsewhere',
    });
    expect(options(['--tenants', '1', '--latency-ms', '250']).latencyMs).toEqual([250, 250]);
  });

  it('refuses bad command lines with a message', () => {
    expect(() => parseScaleArgs(['--workers', '2'])).toThrow('--tenants N is required');
    expect(() => parseScaleArgs(['--tenants', '0'])).toThrow('--tenants must be an integer ≥ 1, got 0');
    expect(() => parseScaleArgs(['--tenants', '5', '--workers', '1,x'])).toThrow(
      '--workers must be integers',
    );
    expect(() => parseScaleArgs(['--tenants', '5', '--latency-ms', '800,200'])).toThrow('--latency-ms');
    expect(() => parseScaleArgs(['--tenants', '5', '--content-types', 'Audit.Nope'])).toThrow('Audit.Nope');
    expect(() => parseScaleArgs(['--tenants', '5', '--sizes', '1,2'])).toThrow('three numbers');
    expect(() => parseScaleArgs(['--tenants', '5', '--records', '10'])).toThrow('unknown argument --records');
    expect(() => parseScaleArgs(['--tenants'])).toThrow('--tenants needs a value');
    expect(parseScaleArgs(['--tenants', '5', '--help'])).toEqual({ help: true });
  });
});

describe('scale bench tenants', () => {
  it('are 80% small, 16% medium, 4% large, with one of each from 3 tenants', () => {
    expect(sizeCounts(500)).toEqual({ small: 400, medium: 80, large: 20 });
    expect(sizeCounts(3)).toEqual({ small: 1, medium: 1, large: 1 });
    expect(sizeCounts(1)).toEqual({ small: 1, medium: 0, large: 0 });
    const tenants = scaleTenants(500, 's');
    expect(new Set(tenants.map((t) => t.tenantId)).size).toBe(500);
    expect(scaleTenants(500, 's')).toEqual(tenants);
  });

  it('split their volume over the content types in the default mix', () => {
    const split = recordsPerHour(303, [...CONTENT_TYPES]);
    expect(split).toEqual({
      'Audit.AzureActiveDirectory': 60,
      'Audit.Exchange': 120,
      'Audit.SharePoint': 90,
      'Audit.General': 30,
      'DLP.All': 3,
    });
    expect(recordsPerHour(10, ['DLP.All', 'Audit.Exchange'])).toEqual({ 'DLP.All': 1, 'Audit.Exchange': 10 });
  });

  it('get one simulator scenario per size, limited and slowed as asked', () => {
    const tenants = scaleTenants(3, 's');
    const spec = scaleScenario({
      seed: 's',
      tenants,
      size: 'large',
      recordsPerHour: 10_000,
      contentTypes: [...CONTENT_TYPES],
      rateLimitPerMinute: 300,
      latencyMs: [200, 800],
      historyHours: 3,
      futureHours: 2,
      now: Date.parse('2026-12-03T06:00:00Z'),
    });
    expect(spec.tenants).toEqual([{ tenantId: tenants[2]!.tenantId, users: 200 }]);
    expect(spec.rateLimitPerMinute).toBe(300);
    expect(spec.latencyMs).toEqual({ content: [200, 800], blob: [200, 800] });
    expect(spec.activity).toMatchObject({
      start: '2026-12-03T03:00:00.000Z',
      end: '2026-12-03T08:00:00.000Z',
    });
    expect(spec.blobs).toEqual({ lateFraction: 0 });
  });
});

describe('scale bench figures', () => {
  it('percentiles by nearest rank', () => {
    const values = Array.from({ length: 100 }, (_, i) => 100 - i); // 100..1, unsorted
    expect(percentile(values, 50)).toBe(50);
    expect(percentile(values, 99)).toBe(99);
    expect(percentile(values, 100)).toBe(100);
    expect(percentile([7], 99)).toBe(7);
    expect(percentile([], 50)).toBeNull();
    expect(distribution([1, 2, 3, 10])).toEqual({ count: 4, p50: 2, p99: 10, max: 10, mean: 4 });
    expect(distribution([])).toEqual({ count: 0, p50: null, p99: null, max: null, mean: null });
  });

  it('lag is now − cursor of every unit with a cursor', () => {
    const now = Date.parse('2026-12-03T06:00:00Z');
    const cursors = new Map<string, string | null>([
      ['a', '2026-12-03T05:59:30Z'],
      ['b', '2026-12-03T05:58:00Z'],
      ['c', null],
    ]);
    expect(lagSample(cursors, now)).toEqual([30, 120]);
  });

  it('the minimum is a start, the listing pages and the blobs of each unit between origin and cursor', () => {
    const blob = (tenantId: string, contentType: string, at: string) => ({
      tenantId,
      contentType,
      contentCreated: at,
    });
    const blobs = [
      blob('t1', 'Audit.Exchange', '2026-12-03T05:10:00Z'),
      blob('t1', 'Audit.Exchange', '2026-12-03T05:20:00Z'),
      blob('t1', 'Audit.Exchange', '2026-12-03T04:00:00Z'), // before origin
      blob('t1', 'Audit.Exchange', '2026-12-03T06:30:00Z'), // after cursor
      ...Array.from({ length: 150 }, () => blob('t2', 'DLP.All', '2026-12-03T05:30:00Z')),
    ];
    const units = [
      {
        tenantId: 't1',
        contentType: 'Audit.Exchange',
        origin: '2026-12-03T05:00:00Z',
        cursor: '2026-12-03T06:00:00Z',
      },
      {
        tenantId: 't1',
        contentType: 'DLP.All',
        origin: '2026-12-03T05:00:00Z',
        cursor: '2026-12-03T06:00:00Z',
      },
      {
        tenantId: 't2',
        contentType: 'DLP.All',
        origin: '2026-12-03T05:00:00Z',
        cursor: '2026-12-03T06:00:00Z',
      },
      { tenantId: 't3', contentType: 'DLP.All', origin: null, cursor: null },
    ];
    const min = minimumForUnits(units, blobs, 100);
    // t1: Exchange 1 + 1 page + 2 blobs, DLP 1 + 1 empty listing; t2: 1 + 2 pages + 150; t3: the start only.
    expect(Object.fromEntries(min)).toEqual({ t1: 6, t2: 153, t3: 1 });
  });

  const stat = (tenantId: string, requests: number, peak: number, throttled = 0): RateLimitTenant => ({
    tenantId,
    limitPerMinute: 300,
    requests,
    throttled,
    peakPerMinute: peak,
    peakWindowEnd: null,
  });

  it('compares requests with the minimum and finds the busiest tenant', () => {
    const stats = [stat('a', 12, 10), stat('b', 30, 250, 2), stat('c', 6, 5)];
    const min = new Map([
      ['a', 10],
      ['b', 20],
      ['c', 6],
    ]);
    expect(requestFigures(stats, min)).toEqual({
      actualPerTenant: 16,
      minimumPerTenant: 12,
      ratio: 48 / 36,
      worstRatio: 1.5,
    });
    expect(rateFigures(stats)).toEqual({
      limitPerMinute: 300,
      maxPeakPerMinute: 250,
      peakTenant: 'b',
      throttled: 2,
      tenantsThrottled: 1,
      requests: 48,
    });
  });

  it('prints one column per worker count', () => {
    const run = (workers: number, catchUp: number | null): ScaleRunFigures => ({
      workers,
      slots: workers * 12,
      units: 2_500,
      seconds: 600,
      catchUp: {
        caughtUp: catchUp !== null,
        seconds: catchUp,
        unitsCaughtUp: catchUp === null ? 2_000 : 2_500,
        requests: { actualPerTenant: 40, minimumPerTenant: 30, ratio: 4 / 3, worstRatio: 2 },
      },
      lag: { ...distribution([10, 20, 30]), samples: 3, fromSeconds: 300, toSeconds: 480 },
      lagAtTaskEnd: distribution([5, 7, 40]),
      requests: { actualPerTenant: 80, minimumPerTenant: 35, ratio: 80 / 35, worstRatio: 3 },
      steadyRequestsPerTenantHour: 600,
      rate: rateFigures([stat('a', 80, 290)]),
      tasks: {
        ran: 9_000,
        stale: 0,
        duplicate: 0,
        errors: 0,
        poisoned: 0,
        records: 100_000,
        throttles: 0,
        retries: 0,
        durationMs: distribution([1_000, 2_000]),
        queuedMs: distribution([500]),
      },
      planner: {
        runs: 8,
        maxDispatched: 2_500,
        expired: 0,
        failed: 0,
        conflicts: 0,
        requeued: 0,
        durationMs: distribution([4_000]),
        taskDeadlineSeconds: 60,
      },
      batches: { messages: 100, records: 100_000 },
      workQueue: { maxMessages: 2_500, samples: [{ atSeconds: 0, messages: 2_500 }] },
      loadAverage: [3.5, 3, 2],
    });
    const table = formatScaleTable([run(1, null), run(8, 185)], 'Header');
    const lines = table.split('\n');
    expect(lines[0]).toBe('Header');
    expect(table).toContain('| Worker processes (slots)');
    expect(table).toMatch(/Catch-up from the backlog +\| +not in time \(2,000\/2,500\) \| +3 min 5 s \|/);
    expect(table).toMatch(/Lag p50 \/ p99, steady \(s\) +\| +20 \/ 30 \|/);
    expect(table).toMatch(/Peak\/min, busiest tenant vs limit +\| +290 \/ 300 \|/);
    expect(table).toContain('80.0 / 35.0 (×2.29)');
    // Every row has as many cells as the header row.
    const widths = new Set(lines.slice(2).map((l) => l.length));
    expect(widths.size).toBe(1);
  });

  it('the proxy swaps origins as written and URL-encoded', () => {
    const from = 'https://127.0.0.1:1';
    const to = 'http://127.0.0.1:2';
    expect(swap(`scope=${encodeURIComponent(`${from}/.default`)}&x=${from}/a`, from, to)).toBe(
      `scope=${encodeURIComponent(`${to}/.default`)}&x=${to}/a`,
    );
    expect(swap('nothing here', from, to)).toBe('nothing here');
  });
});

describe('scale bench, a tiny run', () => {
  const out = mkdtempSync(join(tmpdir(), 'auditfeed-scale-test-'));
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it('3 tenants and 2 worker processes catch up within the limit and report sane figures', async () => {
    const args = [
      dist('scripts/bench/run.js'),
      '--tenants',
      '3',
      '--workers',
      '2',
      '--interval-seconds',
      '10',
      '--steady-intervals',
      '1',
      '--sizes',
      '20,100,400',
      '--latency-ms',
      '20,50',
      '--api-rpm',
      '600',
      '--out',
      out,
    ];
    const stdout = await new Promise<string>((resolve, reject) => {
      execFile(process.execPath, args, { cwd: ROOT, maxBuffer: 16 * 1024 * 1024 }, (e, so, se) =>
        e ? reject(new Error(`${e.message}\n${se}`)) : resolve(so),
      );
    });
    expect(stdout).toContain('| Worker processes (slots)');
    const files = readdirSync(out).filter((f) => f.startsWith('scale-'));
    expect(files).toHaveLength(1);
    const result = JSON.parse(readFileSync(join(out, files[0]!), 'utf8')) as {
      kind: string;
      tenants: Record<string, number>;
      runs: ScaleRunFigures[];
    };
    expect(result.kind).toBe('scale');
    expect(result.tenants).toEqual({ small: 1, medium: 1, large: 1 });
    expect(result.runs).toHaveLength(1);
    const r = result.runs[0]!;
    expect(r).toMatchObject({ workers: 2, slots: 24, units: 15 });
    expect(r.catchUp.caughtUp).toBe(true);
    expect(r.catchUp.unitsCaughtUp).toBe(15);
    expect(r.lag.count).toBeGreaterThan(0);
    expect(r.lag.p50).toBeGreaterThanOrEqual(0);
    expect(r.lag.p99).toBeGreaterThanOrEqual(r.lag.p50!);
    // Steady-state tasks report their lag; right after a task it is below the sampled sawtooth's top.
    expect(r.lagAtTaskEnd!.count).toBeGreaterThan(0);
    expect(r.lagAtTaskEnd!.max!).toBeLessThanOrEqual(r.lag.max! + 1);
    // Never fewer requests than the minimum; within the limit, so nothing throttled.
    expect(r.requests.ratio).toBeGreaterThanOrEqual(1);
    expect(r.rate.limitPerMinute).toBe(600);
    expect(r.rate.maxPeakPerMinute).toBeLessThanOrEqual(600);
    expect(r.rate.throttled).toBe(0);
    expect(r.tasks.ran).toBeGreaterThanOrEqual(15);
    expect(r.tasks.errors).toBe(0);
    expect(r.tasks.poisoned).toBe(0);
    expect(r.tasks.records).toBeGreaterThan(0);
    expect(r.batches.records).toBeLessThanOrEqual(r.tasks.records);
    expect(r.planner.runs).toBeGreaterThanOrEqual(1);
    expect(r.planner.failed).toBe(0);
  });
});
