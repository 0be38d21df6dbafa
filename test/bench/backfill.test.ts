import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  backfillFigures,
  type BackfillFigures,
  type BackfillInputs,
  type EngineRun,
} from '../../scripts/bench/backfill';
import {
  DEFAULT_BACKFILL_RECORDS_PER_HOUR,
  isBackfillCommand,
  parseBackfillArgs,
  type BackfillBenchOptions,
} from '../../scripts/bench/backfillArgs';
import { backfillRange, backfillScenario, DAY } from '../../scripts/bench/backfillSim';
import { UsageError } from '../../scripts/bench/args';
import type { WriterRun } from '../../scripts/bench/report';
import { dist, ROOT } from '../helpers/childProcesses';

/** The backfill bench (`npm run bench -- --backfill`): its options and arithmetic, then one tiny run. */

function options(argv: string[]): BackfillBenchOptions {
  const c = parseBackfillArgs(argv);
  if (c.help) throw new Error('help');
  return c.options;
}

describe('backfill bench arguments', () => {
  it('is chosen by --backfill and leaves the other modes alone', () => {
    expect(isBackfillCommand(['--backfill'])).toBe(true);
    expect(isBackfillCommand(['--records', '1000'])).toBe(false);
    expect(isBackfillCommand(['--tenants', '5'])).toBe(false);
  });

  it('has the documented defaults: 30 days of the simulator default tenant, pages of 100', () => {
    expect(options(['--backfill'])).toEqual({
      days: 30,
      recordsPerHour: 303,
      pageSize: 100,
      latencyMs: [200, 800],
      querySeconds: [60, 300],
      queriesInFlight: 4,
      writerBatchSize: 8,
      users: 500,
      seed: 'backfill',
      outDir: 'results',
    });
    expect(DEFAULT_BACKFILL_RECORDS_PER_HOUR).toBe(303);
  });

  it('reads every option', () => {
    expect(
      options([
        '--backfill',
        '--days',
        '150',
        '--records-per-hour',
        '1_000',
        '--page-size',
        '500',
        '--latency-ms',
        '50',
        '--query-seconds',
        '0,0',
        '--queries-in-flight',
        '8',
        '--writer-batch-size',
        '16',
        '--users',
        '20',
        '--seed',
        'x',
        '--out=elsewhere',
      ]),
    ).toEqual({
      days: 150,
      recordsPerHour: 1_000,
      pageSize: 500,
      latencyMs: [50, 50],
      querySeconds: [0, 0],
      queriesInFlight: 8,
      writerBatchSize: 16,
      users: 20,
      seed: 'x',
      outDir: 'elsewhere',
    });
    expect(parseBackfillArgs(['--backfill', '--help'])).toEqual({ help: true });
  });

  it.each([
    [['--backfill', '--days', '0'], '--days must be an integer from 1 to 150, got 0'],
    [['--backfill', '--days', '151'], '--days must be an integer from 1 to 150, got 151'],
    [['--backfill', '--page-size', '1001'], '--page-size must be an integer from 1 to 1000, got 1001'],
    [
      ['--backfill', '--latency-ms', '300,100'],
      '--latency-ms must be MIN[,MAX] with 0 ≤ MIN ≤ MAX, got 300,100',
    ],
    [['--backfill', '--query-seconds', 'a'], '--query-seconds must be MIN[,MAX] with 0 ≤ MIN ≤ MAX, got a'],
    [
      ['--backfill', '--queries-in-flight', '51'],
      '--queries-in-flight must be an integer from 1 to 50, got 51',
    ],
    [['--backfill', '--tenants', '5'], 'unknown argument --tenants (in --backfill mode)'],
    [['--backfill', 'extra'], 'unknown argument extra (in --backfill mode)'],
  ])('refuses %j with one line', (argv, message) => {
    expect(() => parseBackfillArgs(argv)).toThrow(new UsageError(message));
  });
});

describe('backfill bench scenario', () => {
  it('backfills whole days ending at the midnight at least 14 hours ago, inside the retention', () => {
    const now = Date.parse('2026-12-03T09:00:00.000Z');
    expect(backfillRange(now, 30)).toEqual({
      from: '2026-11-02T00:00:00.000Z',
      to: '2026-12-02T00:00:00.000Z',
    });
    // Just after 14:00 the previous day becomes complete.
    expect(backfillRange(Date.parse('2026-12-03T14:00:01.000Z'), 1).to).toBe('2026-12-03T00:00:00.000Z');
    const spec = backfillScenario({
      ...options(['--backfill', '--days', '150']),
      now,
    });
    const range = backfillRange(now, 150);
    expect(spec.activity).toMatchObject({ start: range.from, end: range.to });
    const perHour = Object.values(spec.activity!.recordsPerHour!).reduce((a, b) => a + b, 0);
    expect(perHour).toBeCloseTo(303, 1);
    expect(spec.graphAudit!.retentionDays! * DAY).toBeGreaterThan(now - Date.parse(range.from));
    expect(spec.graphAudit).toMatchObject({ pageSize: 100, runSeconds: [60, 300] });
    expect(spec.latencyMs).toEqual({
      graphQueries: [200, 800],
      graphQuery: [200, 800],
      graphRecords: [200, 800],
    });
  });
});

describe('backfill bench figures', () => {
  const engine = (records: number, requests: number): EngineRun =>
    ({
      summary: {
        windows: { total: 2, done: 2, partial: 0, failed: 0, open: 0, split: 0 },
        run: { records, queriesCreated: 2, requestsPer1000Records: (requests / records) * 1000 },
      },
      seconds: 10,
      startedAt: 1_000,
      finishedAt: 11_000,
      simulatedWaitMs: 90_000,
      cpuMs: 2_000,
      maxRssBytes: 100 * 2 ** 20,
      startRssBytes: 50 * 2 ** 20,
    }) as unknown as EngineRun;
  const writer = {
    messages: 50,
    records: 1_000,
    seconds: 8,
    startedAt: 2_000,
    finishedAt: 21_000,
    claimChecks: 1,
    cpuMs: 1_000,
    maxRssBytes: 80 * 2 ** 20,
  } as WriterRun;
  const inputs = (over: Partial<BackfillInputs> = {}): BackfillInputs => ({
    options: options(['--backfill', '--days', '2', '--page-size', '100']),
    range: { from: '2026-11-30T00:00:00.000Z', to: '2026-12-02T00:00:00.000Z' },
    engine: engine(1_000, 20),
    writer,
    requests: { creates: 2, polls: 6, pages: 12, tokens: 1, throttled: 0, errors: 0 },
    queries: [
      {
        status: 'succeeded',
        createdAt: '2026-12-02T10:00:00.000Z',
        endsAt: '2026-12-02T10:01:00.000Z',
        returned: 600,
      },
      {
        status: 'succeeded',
        createdAt: '2026-12-02T10:00:00.000Z',
        endsAt: '2026-12-02T10:03:00.000Z',
        returned: 400,
      },
    ],
    expected: 1_000,
    stored: { documents: 1_000, distinct: 1_000, missing: 0, extra: 0, twice: 0 },
    serverCpuMs: { simulator: 500 },
    ...over,
  });

  it('rates, requests per 1,000 records and the minimum come from the inputs', () => {
    const f: BackfillFigures = backfillFigures(inputs());
    expect(f.recordsPerSecond).toEqual({ endToEnd: 50, engine: 100, writer: 125 });
    expect(f.seconds).toEqual({ endToEnd: 20, engine: 10, writer: 8, simulatedWait: 90 });
    expect(f.requestsPer1000).toEqual({ creates: 2, polls: 6, pages: 12, total: 20, engineCounted: 20 });
    // Two queries: a create and a poll each, 6 + 4 pages.
    expect(f.minimumRequests).toBe(14);
    expect(f.queryRunSeconds).toEqual({ mean: 120, max: 180 });
    expect(f.queueMessagesPer1000).toBe(50);
    expect(f.peakRssMiB).toEqual({ engine: 100, writer: 80 });
    expect(f.cpuMsPer1000).toEqual({ engine: 2_000, writer: 1_000, simulator: 500 });
    expect(f.exactlyOnce).toBe(true);
  });

  it('is exactly once when records on window edges were read twice (stored once)', () => {
    expect(backfillFigures(inputs({ engine: engine(1_003, 20) })).exactlyOnce).toBe(true);
  });

  it.each([
    ['a record missing', { stored: { documents: 999, distinct: 999, missing: 1, extra: 0, twice: 0 } }],
    ['a record twice', { stored: { documents: 1_001, distinct: 1_000, missing: 0, extra: 0, twice: 1 } }],
    [
      'a record not in the range',
      { stored: { documents: 1_001, distinct: 1_001, missing: 0, extra: 1, twice: 0 } },
    ],
    ['fewer records read than the truth', { engine: engine(999, 20) }],
  ])('is not exactly once with %s', (_, over) => {
    expect(backfillFigures(inputs(over as Partial<BackfillInputs>)).exactlyOnce).toBe(false);
  });
});

describe('backfill bench, a tiny run', () => {
  const out = mkdtempSync(join(tmpdir(), 'auditfeed-backfill-bench-test-'));
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it('2 days through the real queue and writer: every record once, sane request counts', async () => {
    const args = [
      dist('scripts/bench/run.js'),
      '--backfill',
      '--days',
      '2',
      '--records-per-hour',
      '40',
      '--page-size',
      '50',
      '--latency-ms',
      '0,5',
      '--query-seconds',
      '20,90',
      '--out',
      out,
    ];
    const stdout = await new Promise<string>((resolve, reject) => {
      execFile(process.execPath, args, { cwd: ROOT, maxBuffer: 16 * 1024 * 1024 }, (e, so, se) =>
        e ? reject(new Error(`${e.message}\n${se}`)) : resolve(so),
      );
    });
    expect(stdout).toContain('| End to end (engine and writer at once)');
    expect(stdout).toContain('every record exactly once');
    const files = readdirSync(out).filter((f) => f.startsWith('backfill-'));
    expect(files).toHaveLength(1);
    const result = JSON.parse(readFileSync(join(out, files[0]!), 'utf8')) as {
      kind: string;
      machine: { loadAverageBefore: number[]; loadAverageAfter: number[] };
      figures: BackfillFigures;
      inputs: BackfillInputs;
    };
    expect(result.kind).toBe('backfill');
    expect(result.machine.loadAverageAfter).toHaveLength(3);
    const f = result.figures;
    expect(f.exactlyOnce).toBe(true);
    expect(f.records).toBeGreaterThan(1_000);
    // Records on a window edge are read by both neighbours: never fewer reads than records.
    expect(f.records).toBeGreaterThanOrEqual(f.stored.expected);
    expect(f.stored).toMatchObject({ distinct: f.stored.expected, documents: f.stored.expected });
    // One day-long window per day, one query each, nothing throttled or failed.
    expect(f.windows).toMatchObject({ total: 2, done: 2, partial: 0, failed: 0 });
    expect(f.queriesCreated).toBe(2);
    expect(f.requests).toMatchObject({ creates: 2, throttled: 0, errors: 0 });
    // Query run times of 20–90 s on the simulator's clock: waited by moving it, polled more than once.
    expect(f.queryRunSeconds.max).toBeLessThanOrEqual(90);
    expect(f.seconds.simulatedWait).toBeGreaterThanOrEqual(f.queryRunSeconds.max);
    expect(f.requests.polls).toBeGreaterThan(2);
    // Every page read once: the pages are the minimum, ⌈records per query / 50⌉.
    const queries = result.inputs.queries;
    expect(queries.map((q) => q.status)).toEqual(['succeeded', 'succeeded']);
    expect(queries.reduce((n, q) => n + (q.returned ?? 0), 0)).toBe(f.records);
    expect(f.requests.pages).toBe(f.minimumRequests - 2 * 2);
    expect(f.requests.total).toBeGreaterThanOrEqual(f.minimumRequests);
    // The simulator's log and the engine's own count agree; per 1,000 records is total / records.
    expect(result.inputs.engine.summary.run.requests).toBe(f.requests.total);
    expect(f.requestsPer1000.total).toBeCloseTo((f.requests.total / f.records) * 1000, 1);
    expect(f.recordsPerSecond.endToEnd).toBeGreaterThan(0);
    expect(f.recordsPerSecond.engine).toBeGreaterThanOrEqual(f.recordsPerSecond.endToEnd);
    expect(f.peakRssMiB.engine).toBeGreaterThan(0);
    expect(f.peakRssMiB.writer).toBeGreaterThan(0);
  });
});
