import type { ScenarioSpec, Simulator } from '../../scripts/simulator';
import type { CollectorStep } from '../../shared/collector/collector';
import { Watermark } from '../../shared/collector/watermark';
import { CONTENT_TYPES, type ContentType } from '../../shared/contentTypes';
import { QUEUE_MESSAGE_LIMIT_BYTES } from '../../shared/messages/envelope';
import { countIds, startCollectorStack, type CollectorStack, type DrainedMessage } from '../helpers/stack';

const TENANT = '6f1d2c3b-4a59-4e68-9d7c-8b9a0f1e2d3c';
const NOW = '2026-11-20T12:00:00Z';
const HOUR = 3_600_000;

function scenario(extra: Partial<ScenarioSpec> = {}): ScenarioSpec {
  return {
    seed: 'collector',
    tenants: [{ tenantId: TENANT, users: 30 }],
    activity: {
      start: '2026-11-18T00:00:00Z',
      end: '2026-11-20T20:00:00Z',
      recordsPerHour: {
        'Audit.Exchange': 40,
        'Audit.AzureActiveDirectory': 30,
        'Audit.SharePoint': 20,
        'Audit.General': 8,
        'DLP.All': 3,
      },
    },
    blobs: {
      recordsPerBlob: [1, 8],
      aggregationMinutes: 10,
      latencyMinutes: [1, 20],
      lateFraction: 0.15,
      lateHours: [1, 3],
      duplicateFraction: 0.1,
    },
    listing: { pageSize: 25, nextPageHeader: 'alternate' },
    // These tests move the simulator's clock by hours; MSAL caches tokens by the wall clock.
    tokenLifetimeSeconds: 30 * 24 * 3600,
    ...extra,
  };
}

/** Occurrences of each record id the simulator makes available by its current time. */
function expectedOccurrences(
  sim: Simulator,
  contentType?: ContentType,
): { ids: Map<string, number>; total: number } {
  const ids = new Map<string, number>();
  let total = 0;
  for (const r of sim.truth.records({
    availableBy: sim.clock.now(),
    ...(contentType ? { contentType } : {}),
  })) {
    total++;
    if (r.id !== undefined) ids.set(r.id, (ids.get(r.id) ?? 0) + 1);
  }
  return { ids, total };
}

function totalRecords(messages: DrainedMessage[]): number {
  return messages.reduce((n, m) => n + m.records.length, 0);
}

describe('Collector', () => {
  let stack: CollectorStack;

  afterEach(async () => {
    await stack?.stop();
  });

  it('enqueues exactly the records the API serves, across runs, with late blobs, repeats and paging', async () => {
    stack = await startCollectorStack({ scenario: scenario(), clock: { start: NOW, frozen: true } });
    const runtime = stack.runtime();
    const received: DrainedMessage[] = [];
    for (let run = 0; run < 7; run++) {
      const summary = await stack.collect(runtime);
      expect(summary.contentTypes.map((c) => c.error ?? c.outcome)).toEqual(
        CONTENT_TYPES.map(() => 'complete'),
      );
      received.push(...(await stack.drain()));
      stack.sim.clock.advance(HOUR);
    }
    stack.sim.clock.advance(-HOUR);

    const expected = expectedOccurrences(stack.sim);
    expect(expected.total).toBeGreaterThan(5000);
    expect(
      stack.sim.truth.blobs({ availableBy: stack.sim.clock.now() }).filter((b) => b.late).length,
    ).toBeGreaterThan(20);
    // Each blob enqueued once: every occurrence of every record, no more, no less.
    expect(totalRecords(received)).toBe(expected.total);
    expect(countIds(received)).toEqual(expected.ids);
    for (const m of received) expect(m.bytes).toBeLessThanOrEqual(QUEUE_MESSAGE_LIMIT_BYTES);

    // The subscription was started once per content type and remembered.
    expect(stack.sim.truth.requests.filter((r) => r.route === 'start')).toHaveLength(CONTENT_TYPES.length);
    const wm = await runtime.watermarks.load(TENANT, 'Audit.Exchange');
    expect(wm.watermark.cursor?.toISOString()).toBe(stack.sim.clock.now().toISOString());
    expect(wm.watermark.lastRun).toMatchObject({ outcome: 'complete', lagSeconds: 0 });
  });

  const steps: CollectorStep[] = [
    'listed-page',
    'fetched-blob',
    'enqueued-page',
    'saving-watermark',
    'saved-watermark',
  ];

  it.each(steps)('loses nothing and redoes only the unfinished page after a crash at %s', async (crashAt) => {
    stack = await startCollectorStack({
      scenario: scenario({
        blobs: { recordsPerBlob: [2, 6], aggregationMinutes: 10, lateFraction: 0, duplicateFraction: 0 },
      }),
      clock: { start: NOW, frozen: true },
    });
    const runtime = stack.runtime({ AUDITFEED_CONTENT_TYPES: 'Audit.Exchange' });
    let seen = 0;
    let crashedPage: { window: string; page: number | undefined } | undefined;
    const crash = await stack.collect(runtime, {
      onStep: (step, info) => {
        if (step === crashAt && ++seen === 7) {
          crashedPage = { window: info.window.start.toISOString(), page: info.page };
          throw new Error(`simulated crash at ${step}`);
        }
      },
    });
    expect(crashedPage).toBeDefined();
    expect(crash.contentTypes[0]).toMatchObject({
      outcome: 'failed',
      error: `simulated crash at ${crashAt}`,
    });
    const first = await stack.drain();

    const after = await stack.collect(runtime);
    expect(after.contentTypes[0]!.outcome).toBe('complete');
    const second = await stack.drain();

    const expected = expectedOccurrences(stack.sim, 'Audit.Exchange');
    const all = [...first, ...second];
    expect(new Set(countIds(all).keys())).toEqual(new Set(expected.ids.keys()));
    // Re-enqueued: at most the records of the one page that was in flight (25 blobs × 6 records).
    const duplicates = totalRecords(all) - expected.total;
    expect(duplicates).toBeGreaterThanOrEqual(0);
    expect(duplicates).toBeLessThanOrEqual(25 * 6);
    if (crashAt === 'listed-page' || crashAt === 'fetched-blob') expect(duplicates).toBe(0);
  });

  it('lets one of two racing collectors own each content type and loses nothing', async () => {
    stack = await startCollectorStack({ scenario: scenario(), clock: { start: NOW, frozen: true } });
    const [a, b] = await Promise.all([stack.collect(stack.runtime()), stack.collect(stack.runtime())]);
    const outcomes = [...a.contentTypes, ...b.contentTypes].map((c) => c.outcome);
    expect(outcomes.filter((o) => o === 'conflict').length).toBeGreaterThanOrEqual(CONTENT_TYPES.length);
    // A third run finds nothing left to do and everything arrived.
    const c = await stack.collect(stack.runtime());
    expect(c.contentTypes.every((x) => x.outcome === 'complete')).toBe(true);
    const received = await stack.drain();
    expect(new Set(countIds(received).keys())).toEqual(new Set(expectedOccurrences(stack.sim).ids.keys()));
  });

  it('records a gap with the exact range when the cursor is older than the API keeps', async () => {
    stack = await startCollectorStack({ scenario: scenario(), clock: { start: NOW, frozen: true } });
    const runtime = stack.runtime({ AUDITFEED_CONTENT_TYPES: 'Audit.SharePoint' });
    await runtime.ensureResources();
    const old = new Watermark(TENANT, 'Audit.SharePoint');
    old.cursor = new Date(Date.parse(NOW) - 9 * 24 * HOUR);
    old.subscription = { enabled: true, confirmedAt: NOW };
    await runtime.watermarks.save(old, undefined, new Date(NOW));

    const summary = await stack.collect(runtime);
    expect(summary.totals.gaps).toBe(1);
    const { watermark } = await runtime.watermarks.load(TENANT, 'Audit.SharePoint');
    expect(watermark.gaps).toEqual([
      {
        start: '2026-11-11T12:00:00.000Z',
        // The oldest start the API accepts, with the collector's 2-minute margin.
        end: new Date(Date.parse(NOW) - 7 * 24 * HOUR + 2 * 60_000).toISOString(),
        reason: 'cursor-older-than-api-retention',
      },
    ]);
    expect(watermark.gapCount).toBe(1);
  });

  it('records expired content as a gap and does not let it block the cursor', async () => {
    stack = await startCollectorStack({ scenario: scenario(), clock: { start: NOW, frozen: true } });
    const victim = stack.sim.truth.blobs({ contentType: 'Audit.Exchange' })[3]!;
    stack.sim.faults.add({
      route: 'blob',
      contentId: victim.contentId,
      times: Infinity,
      action: { kind: 'error', status: 400, code: 'AF20051' },
    });
    const runtime = stack.runtime({ AUDITFEED_CONTENT_TYPES: 'Audit.Exchange' });
    const summary = await stack.collect(runtime);
    expect(summary.contentTypes[0]).toMatchObject({ outcome: 'complete', gaps: 1 });
    const { watermark } = await runtime.watermarks.load(TENANT, 'Audit.Exchange');
    expect(watermark.gaps).toEqual([
      {
        start: victim.contentCreated,
        end: victim.contentExpiration,
        reason: 'content-expired',
        contentId: victim.contentId,
      },
    ]);
    expect(watermark.cursor?.toISOString()).toBe(new Date(NOW).toISOString());
    const received = countIds(await stack.drain());
    const expected = new Set(
      stack.sim.truth.recordIds({ contentType: 'Audit.Exchange', availableBy: new Date(NOW) }),
    );
    const lost = [...stack.sim.truth.records({ contentType: 'Audit.Exchange' })].filter(
      (r) => r.contentId === victim.contentId && r.id !== undefined,
    );
    for (const r of lost) expected.delete(r.id!);
    for (const id of expected) expect(received.has(id)).toBe(true);
  });

  it('sends records too large for any message by claim check, intact', async () => {
    stack = await startCollectorStack({
      scenario: scenario({
        activity: {
          start: '2026-11-20T06:00:00Z',
          end: '2026-11-20T11:00:00Z',
          recordsPerHour: { 'Audit.AzureActiveDirectory': 30 },
        },
        blobs: {
          recordsPerBlob: [2, 5],
          aggregationMinutes: 15,
          largeRecordEvery: 4,
          largeRecordBytes: 1_000_000,
        },
        contentTypes: ['Audit.AzureActiveDirectory'],
      }),
      clock: { start: NOW, frozen: true },
    });
    const runtime = stack.runtime({ AUDITFEED_CONTENT_TYPES: 'Audit.AzureActiveDirectory' });
    const summary = await stack.collect(runtime);
    expect(summary.totals.claimChecks).toBeGreaterThan(3);
    const received = await stack.drain();
    expect(received.filter((m) => m.envelope.blob).length).toBe(summary.totals.claimChecks);

    // Compare every large record byte for byte with what the API serves.
    const client = runtime.clientFor(TENANT, 'Audit.Exchange');
    const big = stack.sim.truth.blobs().filter((b) => b.hasLargeRecord);
    const byId = new Map(received.flatMap((m) => m.records.map((r) => [r.Id as string, r])));
    for (const blob of big) {
      for (const record of await client.fetchContent(blob.contentUri)) {
        expect(byId.get(record.Id as string)).toEqual(record);
      }
    }
  });

  it('stops at its deadline, saves progress, and the next runs finish the backlog', async () => {
    stack = await startCollectorStack({
      scenario: scenario({
        // Half a day: some 40 pages per content type, a few per run on an idle machine, one on a busy one.
        activity: {
          start: '2026-11-19T23:00:00Z',
          end: '2026-11-20T11:00:00Z',
          recordsPerHour: { 'Audit.Exchange': 40, 'Audit.AzureActiveDirectory': 30 },
        },
        listing: { pageSize: 5 },
        blobs: { recordsPerBlob: [1, 4], aggregationMinutes: 5 },
      }),
      clock: { start: NOW, frozen: true },
    });
    const runtime = stack.runtime({
      AUDITFEED_CONTENT_TYPES: 'Audit.Exchange,Audit.AzureActiveDirectory',
      AUDITFEED_INITIAL_LOOKBACK_HOURS: '24',
      // Re-listing 6 hours of overlap would not fit in these tiny runs once caught up.
      AUDITFEED_OVERLAP_MINUTES: '30',
    });
    // Time is counted work: every step of the collector (a page listed, a blob fetched, a save) moves
    // the clock by a second, so a 40-second deadline stops each run after some 40 steps, on any machine.
    const received: DrainedMessage[] = [];
    let runs = 0;
    for (;;) {
      runs++;
      const summary = await stack.collect(runtime, {
        deadlineMs: 40_000,
        onStep: () => {
          stack.sim.clock.advance(1000);
        },
      });
      received.push(...(await stack.drain()));
      if (summary.contentTypes.every((c) => c.outcome === 'complete')) break;
      expect(summary.contentTypes.some((c) => c.outcome === 'deadline')).toBe(true);
      // Every run moves every content type (the first unit of work is always done).
      for (const c of summary.contentTypes) expect(c.pages).toBeGreaterThan(0);
      expect(runs).toBeLessThan(200);
    }
    expect(runs).toBeGreaterThan(3);
    // Everything available when the backlog started is in; nothing that was never available is.
    const ids = (by: Date): Set<string> => {
      const set = new Set<string>();
      for (const ct of ['Audit.Exchange', 'Audit.AzureActiveDirectory'] as const) {
        for (const id of stack.sim.truth.recordIds({ contentType: ct, availableBy: by })) set.add(id);
      }
      return set;
    };
    const got = new Set(countIds(received).keys());
    expect([...ids(new Date(NOW))].filter((id) => !got.has(id))).toEqual([]);
    const possible = ids(stack.sim.clock.now());
    expect([...got].filter((id) => !possible.has(id))).toEqual([]);
  });
});
