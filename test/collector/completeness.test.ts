import type { ScenarioSpec } from '../../scripts/simulator';
import type { AuditRecord, ContentType } from '../../shared/contentTypes';
import type { CollectorRuntime } from '../../shared/runtime';
import { readStatus } from '../../shared/status';
import { countIds, startCollectorStack, type CollectorStack, type DrainedMessage } from '../helpers/stack';

/**
 * Issue 10: every record the API offers is collected — however late its blob is listed, whatever a
 * neighbouring blob or record looks like — and what cannot be collected is reported.
 */

const TENANT = '5e2a9c41-7d3b-4f68-a0c1-9b8e7d6c5f4a';
const NOW = Date.parse('2026-11-20T12:00:00Z');
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const iso = (ms: number): string => new Date(ms).toISOString();
const CT: ContentType = 'Audit.General';

function record(id: string, at: number): AuditRecord {
  return {
    Id: id,
    CreationTime: iso(at).slice(0, 19),
    Operation: 'FileAccessed',
    OrganizationId: TENANT,
    RecordType: 6,
    UserKey: 'u1',
    UserType: 0,
    Version: 1,
    Workload: 'General',
    UserId: 'megan@contoso.example',
  };
}

/** A quiet tenant whose only content is the blobs a test writes down. */
function scenario(explicit: ScenarioSpec['explicit'], extra: Partial<ScenarioSpec> = {}): ScenarioSpec {
  return {
    seed: 'completeness',
    tenants: [{ tenantId: TENANT, users: 5 }],
    contentTypes: [CT],
    activity: { start: iso(NOW - 8 * DAY), end: iso(NOW - 8 * DAY), recordsPerHour: { [CT]: 0 } },
    explicit,
    tokenLifetimeSeconds: 30 * 24 * 3600,
    ...extra,
  };
}

/** What `npm run status` reports for the test tenant now. */
function statusOf(runtime: CollectorRuntime, stack: CollectorStack) {
  return readStatus({
    tenants: [TENANT],
    contentTypes: [CT],
    watermarks: runtime.watermarks,
    queues: runtime.storage.queues,
    queueName: runtime.config.queueName,
    lagWarningSeconds: 3600,
    now: stack.sim.clock.now(),
  });
}

function recordIds(messages: DrainedMessage[]): Set<string> {
  return new Set(countIds(messages).keys());
}

describe('content listed late', () => {
  let stack: CollectorStack;
  afterEach(async () => stack?.stop());

  // Runs are hourly, so a run lists from (its start − up to an hour) − the 6-hour overlap: a blob listed
  // up to 5 h 50 m after its contentCreated is always within reach, one listed 7 h 10 m after never is.
  const blobs = [
    { name: 'inside', created: NOW - 10 * HOUR, late: 5 * HOUR + 50 * MINUTE },
    { name: 'outside', created: NOW - 10 * HOUR, late: 7 * HOUR + 10 * MINUTE },
    { name: 'days', created: NOW - 3 * DAY - 2 * HOUR, late: 3 * DAY },
    { name: 'on-time', created: NOW - 9 * HOUR, late: 0 },
  ];
  const explicit = blobs.map((b) => ({
    tenantId: TENANT,
    contentType: CT,
    contentCreated: iso(b.created),
    availableAt: iso(b.created + b.late),
    records: [record(`${b.name}-1`, b.created - MINUTE), record(`${b.name}-2`, b.created - 2 * MINUTE)],
  }));

  /** Hourly runs from 12 hours before NOW to 2 hours after; what was enqueued, and the summaries. */
  async function hourlyRuns(settings: Record<string, string>) {
    stack = await startCollectorStack({
      scenario: scenario(explicit),
      clock: { start: iso(NOW - 12 * HOUR), frozen: true },
    });
    const runtime = stack.runtime({ AUDITFEED_CONTENT_TYPES: CT, ...settings });
    const received: DrainedMessage[] = [];
    const summaries = [];
    while (stack.sim.clock.now().getTime() <= NOW + 2 * HOUR) {
      summaries.push(await stack.collect(runtime));
      received.push(...(await stack.drain()));
      stack.sim.clock.advance(HOUR);
    }
    return { runtime, received, summaries };
  }

  it('misses a blob listed later than the overlap reaches when nothing re-lists the retention (the old behaviour)', async () => {
    // The longest interval allowed: one sweep at the first run, none after.
    const { received } = await hourlyRuns({ AUDITFEED_SWEEP_INTERVAL_MINUTES: '10080' });
    const ids = recordIds(received);
    expect(ids.has('inside-1')).toBe(true);
    expect(ids.has('on-time-1')).toBe(true);
    expect(ids.has('outside-1')).toBe(false);
    expect(ids.has('days-1')).toBe(false);
  });

  it('collects every blob however late it is listed, once, and reports how many and how late', async () => {
    const { runtime, received, summaries } = await hourlyRuns({});
    const counts = countIds(received);
    for (const b of blobs) {
      expect([b.name, counts.get(`${b.name}-1`), counts.get(`${b.name}-2`)]).toEqual([b.name, 1, 1]);
    }
    const late = summaries.flatMap((s) => s.contentTypes).filter((c) => c.lateBlobs > 0);
    // Each late blob is reported by the run that found it, with how late it was then.
    expect(late.reduce((n, c) => n + c.lateBlobs, 0)).toBe(3);
    expect(late.reduce((n, c) => n + c.lateRecords, 0)).toBe(6);
    const worst = Math.max(...late.map((c) => c.maxLatenessSeconds ?? 0));
    // Found by the first hourly run after it was listed: at most an hour more than its lateness.
    expect(worst).toBeGreaterThanOrEqual((3 * DAY) / 1000);
    expect(worst).toBeLessThanOrEqual((3 * DAY + HOUR) / 1000);
    expect(summaries.some((s) => s.maxLatenessSeconds === worst)).toBe(true);

    // status shows what the last run found, and the sweep.
    const status = await statusOf(runtime, stack);
    expect(status.contentTypes[0]?.lastSweepCompletedAt).not.toBeNull();
    expect(status.problems).toEqual([]);
  });
});

describe('unreadable blobs', () => {
  let stack: CollectorStack;
  afterEach(async () => stack?.stop());

  const good = (n: number, created: number) => ({
    tenantId: TENANT,
    contentType: CT,
    contentCreated: iso(created),
    records: [record(`good-${n}`, created - MINUTE)],
  });

  it('quarantines a blob with a body of the wrong shape, moves the cursor on, and collects it once it reads', async () => {
    const victimCreated = NOW - 3 * HOUR;
    stack = await startCollectorStack({
      scenario: scenario([
        good(1, NOW - 4 * HOUR),
        { ...good(2, victimCreated), contentId: 'victim$audit_general' },
        good(3, NOW - 2 * HOUR),
      ]),
      clock: { start: iso(NOW), frozen: true },
    });
    const fault = stack.sim.faults.add({
      route: 'blob',
      contentId: 'victim$audit_general',
      times: 2,
      action: { kind: 'malformed', body: '{"value":[{"Id":"x"}]}' },
    });
    const runtime = stack.runtime({ AUDITFEED_CONTENT_TYPES: CT, AUDITFEED_INITIAL_LOOKBACK_HOURS: '24' });

    const first = await stack.collect(runtime);
    expect(first.contentTypes[0]).toMatchObject({
      outcome: 'complete',
      quarantinedNew: 1,
      quarantined: 1,
      cursor: iso(NOW),
      gaps: 0,
    });
    expect(recordIds(await stack.drain())).toEqual(new Set(['good-1', 'good-3']));
    const status = await statusOf(runtime, stack);
    expect(status.contentTypes[0]?.quarantine).toEqual([
      expect.objectContaining({
        contentId: 'victim$audit_general',
        attempts: 1,
      }),
    ]);
    expect(status.contentTypes[0]?.quarantine[0]?.error).toMatch(/not a JSON array of records/);
    expect(status.problems.join('\n')).toMatch(/1 content blob\(s\) quarantined/);

    // Not due yet: left alone. Then due, fails once more, and the pause doubles.
    stack.sim.clock.advance(MINUTE);
    expect((await stack.collect(runtime)).contentTypes[0]?.recovered).toBe(0);
    expect(fault.hits).toBe(1);
    stack.sim.clock.advance(5 * MINUTE);
    await stack.collect(runtime);
    expect(fault.hits).toBe(2);
    const second = (await runtime.watermarks.load(TENANT, CT)).watermark.quarantine.get(
      'victim$audit_general',
    );
    expect(second?.attempts).toBe(2);
    expect(Date.parse(second!.nextAttemptAt) - stack.sim.clock.now().getTime()).toBe(10 * MINUTE);

    stack.sim.clock.advance(10 * MINUTE);
    const recovered = await stack.collect(runtime);
    expect(recovered.contentTypes[0]).toMatchObject({ recovered: 1, quarantined: 0, gaps: 0 });
    expect(recordIds(await stack.drain())).toEqual(new Set(['good-2']));
  });

  it('records a gap with the last error when a quarantined blob expires unread, and nothing else', async () => {
    // Created almost 7 days back: it expires 90 minutes after NOW.
    const created = NOW - 7 * DAY + 90 * MINUTE;
    stack = await startCollectorStack({
      scenario: scenario([
        { ...good(1, created), contentId: 'doomed$audit_general' },
        good(2, created + 5 * MINUTE),
      ]),
      clock: { start: iso(NOW), frozen: true },
    });
    stack.sim.faults.add({
      route: 'blob',
      contentId: 'doomed$audit_general',
      times: Infinity,
      action: { kind: 'malformed', body: '<html><body>Service Unavailable</body></html>' },
    });
    const runtime = stack.runtime({ AUDITFEED_CONTENT_TYPES: CT });
    const runs = [];
    for (let i = 0; i < 5; i++) {
      runs.push(await stack.collect(runtime));
      stack.sim.clock.advance(30 * MINUTE);
    }
    expect(recordIds(await stack.drain())).toEqual(new Set(['good-2']));
    const { watermark } = await runtime.watermarks.load(TENANT, CT);
    expect(watermark.quarantine.size).toBe(0);
    expect(watermark.gaps).toEqual([
      {
        start: iso(created),
        end: iso(created + 7 * DAY),
        reason: 'quarantined-until-expired',
        contentId: 'doomed$audit_general',
        error: watermark.gaps[0]?.error,
      },
    ]);
    expect(watermark.gaps[0]?.error).toMatch(/not a JSON array of records/);
    expect(runs.reduce((n, r) => n + r.totals.gaps, 0)).toBe(1);
  });

  it('keeps the records of a blob whose neighbours in it are hostile, and the hostile ones with their reason', async () => {
    const created = NOW - 2 * HOUR;
    const deep = `{"Id":"deep","CreationTime":"2026-11-20T09:00:00","x":${'['.repeat(6000)}1${']'.repeat(6000)}}`;
    const body =
      `[${JSON.stringify(record('kept-1', created - MINUTE))},42,"text",null,${deep},` +
      `{"Id":"broken","x":tru},${JSON.stringify(record('kept-2', created - MINUTE))}]`;
    stack = await startCollectorStack({
      scenario: scenario([{ ...good(1, created), contentId: 'mixed$audit_general' }]),
      clock: { start: iso(NOW), frozen: true },
    });
    stack.sim.faults.add({
      route: 'blob',
      contentId: 'mixed$audit_general',
      times: Infinity,
      action: { kind: 'malformed', body },
    });
    const runtime = stack.runtime({ AUDITFEED_CONTENT_TYPES: CT, AUDITFEED_INITIAL_LOOKBACK_HOURS: '24' });
    const summary = await stack.collect(runtime);
    expect(summary.contentTypes[0]).toMatchObject({
      outcome: 'complete',
      records: 2,
      rejectedRecords: 5,
      quarantined: 0,
    });
    expect(recordIds(await stack.drain())).toEqual(new Set(['kept-1', 'kept-2']));

    const rejected = runtime.storage.blobs.getContainerClient('rejected');
    const kept: { index: number; reason: string; record: string; contentId: string }[] = [];
    for await (const blob of rejected.listBlobsFlat({ prefix: `${TENANT}/${CT}/` })) {
      kept.push(
        JSON.parse(
          (await rejected.getBlockBlobClient(blob.name).downloadToBuffer()).toString(),
        ) as (typeof kept)[0],
      );
    }
    kept.sort((a, b) => a.index - b.index);
    expect(kept.map((k) => [k.index, k.reason.replace(/:.*/, '')])).toEqual([
      [1, 'element is not a JSON object'],
      [2, 'element is not a JSON object'],
      [3, 'element is not a JSON object'],
      [4, 'record nests 6001 levels deep, over the limit of 128'],
      [5, 'record is not valid JSON'],
    ]);
    expect(kept[3]?.record).toBe(deep);
    expect(kept.every((k) => k.contentId === 'mixed$audit_general')).toBe(true);
  });
});

describe('budgets inside a run', () => {
  let stack: CollectorStack;
  afterEach(async () => stack?.stop());

  /** A tenant with many small blobs: `count` of them created over the last `hours` hours. */
  function busy(count: number, hours: number): ScenarioSpec['explicit'] {
    return Array.from({ length: count }, (_, i) => {
      const created = NOW - hours * HOUR + Math.floor((i * hours * HOUR) / count);
      return {
        tenantId: TENANT,
        contentType: CT,
        contentCreated: iso(created),
        records: [record(`b${i}`, created - MINUTE)],
      };
    });
  }

  it('stops part-way through a page when the share is spent, and the next run fetches the rest of it', async () => {
    stack = await startCollectorStack({
      scenario: scenario(busy(30, 5), { listing: { pageSize: 100 } }),
      clock: { start: iso(NOW), frozen: true },
    });
    const runtime = stack.runtime({
      AUDITFEED_CONTENT_TYPES: CT,
      AUDITFEED_INITIAL_LOOKBACK_HOURS: '24',
      AUDITFEED_FETCH_CONCURRENCY: '1',
    });
    // Counted work: each blob fetched is a second; a run may use ten.
    const onStep = (step: string): void => {
      if (step === 'fetched-blob') stack.sim.clock.advance(1000);
    };
    const first = await stack.collect(runtime, { deadlineMs: 10_000, onStep });
    expect(first.contentTypes[0]).toMatchObject({ outcome: 'deadline', pages: 1 });
    expect(first.contentTypes[0]!.blobs).toBeLessThan(15);
    const { watermark } = await runtime.watermarks.load(TENANT, CT);
    // The page it stopped in is where the next run starts.
    expect(watermark.resume?.nextPageUri).toMatch(
      /subscriptions\/content\?contentType=Audit\.General&startTime=/,
    );
    let runs = 1;
    while (
      (await stack.collect(runtime, { deadlineMs: 10_000, onStep })).contentTypes[0]!.outcome !== 'complete'
    ) {
      expect(++runs).toBeLessThan(10);
    }
    const counts = countIds(await stack.drain());
    expect(counts.size).toBe(30);
    expect([...counts.values()].every((n) => n === 1)).toBe(true);
  });

  it('keeps the recent listing moving while a long sweep continues across runs', async () => {
    stack = await startCollectorStack({
      scenario: scenario(busy(120, 6 * 24), { listing: { pageSize: 5 } }),
      clock: { start: iso(NOW), frozen: true },
    });
    const runtime = stack.runtime({ AUDITFEED_CONTENT_TYPES: CT, AUDITFEED_SWEEP_INTERVAL_MINUTES: '0' });
    const onStep = (): void => {
      stack.sim.clock.advance(1000);
    };
    // Catch up first; then every run sweeps 6 days of 5-blob pages, far more than a 20-step run.
    while ((await stack.collect(runtime)).contentTypes[0]!.outcome !== 'complete');
    await stack.drain();
    const sweeps: string[] = [];
    for (let run = 0; run < 40; run++) {
      const before = (await runtime.watermarks.load(TENANT, CT)).watermark.cursor!.getTime();
      stack.sim.clock.advance(5 * MINUTE);
      const c = (await stack.collect(runtime, { deadlineMs: 20_000, onStep })).contentTypes[0]!;
      sweeps.push(c.sweep);
      // The cursor moves every run, sweep or not.
      expect(Date.parse(c.cursor!)).toBeGreaterThan(before);
      if (c.sweep === 'complete') break;
    }
    expect(sweeps.slice(0, -1).every((s) => s === 'partial')).toBe(true);
    expect(sweeps[sweeps.length - 1]).toBe('complete');
    expect(sweeps.length).toBeGreaterThan(2);
  });

  it('leaves quarantined blobs for the next run when retrying them is throttled, and lists new content', async () => {
    const created = NOW - 3 * HOUR;
    stack = await startCollectorStack({
      scenario: scenario([
        {
          tenantId: TENANT,
          contentType: CT,
          contentCreated: iso(created),
          contentId: 'sick$audit_general',
          records: [record('sick', created - MINUTE)],
        },
      ]),
      clock: { start: iso(NOW), frozen: true },
    });
    stack.sim.faults.add({
      route: 'blob',
      contentId: 'sick$audit_general',
      times: 1,
      action: { kind: 'malformed', body: '{"error":"no"}' },
    });
    const runtime = stack.runtime({ AUDITFEED_CONTENT_TYPES: CT, AUDITFEED_INITIAL_LOOKBACK_HOURS: '24' });
    expect((await stack.collect(runtime)).contentTypes[0]).toMatchObject({ quarantined: 1 });
    stack.sim.faults.add({
      route: 'blob',
      contentId: 'sick$audit_general',
      times: Infinity,
      action: { kind: 'throttle', shape: '403-AF429' },
    });
    stack.sim.clock.advance(HOUR);
    const throttled = await stack.collect(runtime);
    expect(throttled.contentTypes[0]).toMatchObject({
      outcome: 'complete',
      quarantined: 1,
      cursor: iso(NOW + HOUR),
    });
    const entry = (await runtime.watermarks.load(TENANT, CT)).watermark.quarantine.get('sick$audit_general');
    expect(entry?.attempts).toBe(1);
  });
});

describe('many tenants, short runs', () => {
  let stack: CollectorStack;
  afterEach(async () => stack?.stop());

  it('moves every tenant in every run, records no gap for content it enqueued, and saves each first cursor', async () => {
    const tenants = Array.from(
      { length: 6 },
      (_, i) => `${(i + 1).toString(16).padStart(8, '0')}-1b2c-4d5e-8f60-0a1b2c3d4e5f`,
    );
    stack = await startCollectorStack({
      scenario: {
        seed: 'fair',
        tenants: tenants.map((tenantId) => ({ tenantId, users: 6 })),
        contentTypes: [CT],
        // A backlog at the very edge of the API's retention, where a starved tenant loses content.
        activity: { start: iso(NOW - 7 * DAY), end: iso(NOW - 5 * DAY), recordsPerHour: { [CT]: 6 } },
        blobs: { recordsPerBlob: [1, 3], aggregationMinutes: 60, latencyMinutes: [1, 10], lateFraction: 0 },
        listing: { pageSize: 10 },
        tokenLifetimeSeconds: 30 * 24 * 3600,
      },
      clock: { start: iso(NOW), frozen: true },
    });
    // Three times more tenants than run at once; counted work: every collector step is a second.
    const runtime = stack.runtime({ AUDITFEED_CONTENT_TYPES: CT, AUDITFEED_TENANT_CONCURRENCY: '2' });
    const step = (): void => {
      stack.sim.clock.advance(1000);
    };
    let complete = false;
    for (let run = 1; run <= 150 && !complete; run++) {
      const summary = await stack.collect(runtime, { deadlineMs: 120_000, onStep: step });
      expect(summary.contentTypes).toHaveLength(tenants.length);
      for (const c of summary.contentTypes) {
        expect([c.tenantId, run, c.pages > 0 || c.recovered > 0]).toEqual([c.tenantId, run, true]);
        expect([c.tenantId, c.gaps]).toEqual([c.tenantId, 0]);
      }
      if (run === 1) {
        for (const t of tenants) {
          const { watermark } = await runtime.watermarks.load(t, CT);
          expect(watermark.origin).not.toBeNull();
        }
      }
      console.log(
        run,
        summary.contentTypes
          .map((c) => `${c.outcome}:${c.pages}:${c.blobs}:${c.cursor?.slice(5, 16)}:${c.sweep}`)
          .join(' '),
      );
      complete = summary.contentTypes.every((c) => c.outcome === 'complete');
      stack.sim.clock.advance(5 * MINUTE);
    }
    expect(complete).toBe(true);
    // Every record created after each tenant's first cursor and listable by now is enqueued.
    const received = recordIds(await stack.drain());
    for (const t of tenants) {
      const { watermark } = await runtime.watermarks.load(t, CT);
      expect(watermark.gapCount).toBe(0);
      const origin = watermark.origin!.toISOString();
      const missing = stack.sim.truth
        .blobs({ tenantId: t, contentType: CT, availableBy: stack.sim.clock.now() })
        .filter(
          (b) =>
            b.contentCreated >= origin && Date.parse(b.contentExpiration) > stack.sim.clock.now().getTime(),
        )
        .flatMap((b) =>
          [...stack.sim.truth.records({ tenantId: t, contentType: CT })].filter(
            (r) => r.contentId === b.contentId,
          ),
        )
        .filter((r) => r.id !== undefined && !received.has(r.id));
      expect([t, missing.length]).toEqual([t, 0]);
    }
  });
});
