import type { ScenarioSpec } from '../../scripts/simulator';
import { Watermark } from '../../shared/collector/watermark';
import { collect } from '../../shared/handlers/collect';
import { contextLogger, type Logger } from '../../shared/logging';
import { DAY_MS, HOUR_MS, planWindows } from '../../shared/collector/windows';
import { WatermarkConflictError } from '../../shared/storage/watermarkStore';
import { countIds, startCollectorStack, type CollectorStack } from '../helpers/stack';
import { RecordingLogger } from '../writer/helpers';

/** Collector details on small scenarios: summary counters, subscriptions, watermark races, windows. */

const TENANT = '3a9d4c2e-7b1f-4e5a-8c6d-2f1e0d9c8b7a';
const NOW = '2026-11-20T12:00:00Z';
const MINUTE = 60_000;

function scenario(extra: Partial<ScenarioSpec> = {}): ScenarioSpec {
  return {
    seed: 'details',
    tenants: [{ tenantId: TENANT, users: 10 }],
    activity: {
      start: '2026-11-19T00:00:00Z',
      end: '2026-11-20T11:00:00Z',
      recordsPerHour: { 'Audit.General': 12, 'Audit.Exchange': 12 },
    },
    blobs: { recordsPerBlob: [1, 4], aggregationMinutes: 30, latencyMinutes: [1, 10], lateFraction: 0 },
    listing: { pageSize: 10 },
    tokenLifetimeSeconds: 30 * 24 * 3600,
    ...extra,
  };
}

describe('collector run summary', () => {
  let stack: CollectorStack;
  afterEach(async () => stack?.stop());

  it('counts throttles and retries, logs them, and keeps them in the watermark', async () => {
    stack = await startCollectorStack({ scenario: scenario(), clock: { start: NOW, frozen: true } });
    stack.sim.faults.add({ route: 'content', action: { kind: 'throttle', shape: '403-AF429' } });
    stack.sim.faults.add({ route: 'blob', action: { kind: 'throttle', shape: '429', retryAfterSeconds: 1 } });
    stack.sim.faults.add({ route: 'blob', after: 3, action: { kind: 'error', status: 503 } });
    const runtime = stack.runtime({ AUDITFEED_CONTENT_TYPES: 'Audit.General' });
    const logger = new RecordingLogger();
    // Also as Application Insights gets it: the Functions context logger's text lines.
    const traces: string[] = [];
    const asTrace = contextLogger({
      log: (t: unknown) => traces.push(String(t)),
      warn: (t: unknown) => traces.push(String(t)),
      error: (t: unknown) => traces.push(String(t)),
    });
    const both: Logger = {
      info: (m, p) => (logger.info(m, p), asTrace.info(m, p)),
      warn: (m, p) => (logger.warn(m, p), asTrace.warn(m, p)),
      error: (m, p) => (logger.error(m, p), asTrace.error(m, p)),
    };

    const summary = await stack.collect(runtime, { logger: both });

    expect(summary.contentTypes[0]).toMatchObject({ outcome: 'complete', throttles: 2, retries: 3 });
    const { watermark } = await runtime.watermarks.load(TENANT, 'Audit.General');
    expect(watermark.lastRun).toMatchObject({ outcome: 'complete', throttles: 2, retries: 3 });
    const finished = logger.lines.find((l) => l.message === 'Collector run finished');
    expect(finished?.properties?.summary).toMatchObject({
      totals: { throttles: 2, retries: 3, records: summary.totals.records },
    });
    expect(summary.totals.records).toBeGreaterThan(0);

    // What the collector alerts' queries do with the trace (infra/app/alerts.bicep): the per tenant ×
    // content type line, parsed from its first "{".
    const trace = traces.find((t) => t.startsWith('Content type collected'))!;
    expect(trace.length).toBeLessThan(4096);
    const line = JSON.parse(trace.substring(trace.indexOf('{'))) as Record<string, unknown>;
    expect(line).toMatchObject({
      tenantId: TENANT,
      contentType: 'Audit.General',
      lagSeconds: summary.contentTypes[0]!.lagSeconds,
      quarantined: 0,
      lateBlobs: 0,
      maxLatenessSeconds: null,
    });
    // The run line stays short too: no per-content-type detail in it.
    const finishedTrace = traces.find((t) => t.startsWith('Collector run finished'))!;
    expect(finishedTrace.length).toBeLessThan(2048);
  });
});

describe('bounded work in flight', () => {
  let stack: CollectorStack;
  afterEach(async () => stack?.stop());

  it('fetches at most fetch-concurrency blobs per content type, for as many content types as allowed', async () => {
    const activity = { start: '2026-11-20T06:00:00Z', end: '2026-11-20T10:00:00Z' };
    stack = await startCollectorStack({
      scenario: scenario({
        activity: { ...activity, recordsPerHour: { 'Audit.General': 20, 'Audit.Exchange': 20 } },
        contentTypes: ['Audit.General', 'Audit.Exchange'],
        blobs: { recordsPerBlob: [1, 2], aggregationMinutes: 10, latencyMinutes: [1, 5], lateFraction: 0 },
      }),
      clock: { start: NOW, frozen: true },
    });
    stack.sim.faults.add({ route: 'blob', times: Infinity, action: { kind: 'delay', ms: 40 } });
    const maxOpenBlobs = (): number =>
      Math.max(...stack.sim.truth.requests.filter((r) => r.route === 'blob').map((r) => r.inFlight ?? 0));

    const types = {
      AUDITFEED_CONTENT_TYPES: 'Audit.General,Audit.Exchange',
      AUDITFEED_FETCH_CONCURRENCY: '3',
    };
    const one = stack.runtime({ ...types, AUDITFEED_CONTENT_TYPE_CONCURRENCY: '1' });
    await stack.collect(one);
    expect(maxOpenBlobs()).toBe(3);

    stack.sim.truth.clearRequests();
    stack.sim.clock.advance(6 * HOUR_MS);
    const two = stack.runtime({ ...types, AUDITFEED_CONTENT_TYPE_CONCURRENCY: '2' });
    // Fresh watermarks for the second runtime's content types would be the same blobs: clear them.
    await two.ensureResources();
    const watermarks = two.storage.blobs.getContainerClient('watermarks');
    for await (const blob of watermarks.listBlobsFlat({ prefix: `${TENANT}/` })) {
      await watermarks.deleteBlob(blob.name);
    }
    await stack.collect(two);
    expect(maxOpenBlobs()).toBeGreaterThan(3);
    expect(maxOpenBlobs()).toBeLessThanOrEqual(6);
  });
});

describe('poison queue report', () => {
  let stack: CollectorStack;
  afterEach(async () => stack?.stop());

  it('says on every run how many batches wait in the poison queue, and nothing when there are none', async () => {
    stack = await startCollectorStack({ scenario: scenario(), clock: { start: NOW, frozen: true } });
    const runtime = stack.runtime({ AUDITFEED_CONTENT_TYPES: 'DLP.All' });
    const quiet = new RecordingLogger();
    await collect(runtime, quiet);
    expect(quiet.lines.filter((l) => /oison/.test(l.message))).toEqual([]);

    const poison = runtime.storage.queues.getQueueClient(`${runtime.config.queueName}-poison`);
    await poison.create();
    await poison.sendMessage('{"v":1}');
    await poison.sendMessage('{"v":1}');
    for (let run = 0; run < 2; run++) {
      const logger = new RecordingLogger();
      await collect(runtime, logger);
      const line = logger.at('error').find((l) => l.message.startsWith('Poison queue holds 2 message(s)'));
      expect(line?.properties).toEqual({ poisonQueue: poison.name, poisonMessages: 2 });
    }
  });
});

describe('subscriptions', () => {
  let stack: CollectorStack;
  afterEach(async () => stack?.stop());

  it('takes "already enabled" (AF20024) as success and does not ask again next run', async () => {
    stack = await startCollectorStack({
      scenario: scenario({ subscriptions: { preStarted: true } }),
      clock: { start: NOW, frozen: true },
    });
    const runtime = stack.runtime({ AUDITFEED_CONTENT_TYPES: 'Audit.General' });
    const first = await stack.collect(runtime);
    expect(first.contentTypes[0]?.outcome).toBe('complete');
    expect(stack.sim.truth.requests.filter((r) => r.route === 'start').map((r) => r.status)).toEqual([400]);
    await stack.collect(runtime);
    expect(stack.sim.truth.requests.filter((r) => r.route === 'start')).toHaveLength(1);
    const { watermark } = await runtime.watermarks.load(TENANT, 'Audit.General');
    expect(watermark.subscription.enabled).toBe(true);
  });

  it('starts a subscription an admin disabled (AF20023) again and loses nothing', async () => {
    stack = await startCollectorStack({ scenario: scenario(), clock: { start: NOW, frozen: true } });
    const runtime = stack.runtime({ AUDITFEED_CONTENT_TYPES: 'Audit.Exchange' });
    await stack.collect(runtime);
    stack.sim.subscriptions.disable(TENANT, 'Audit.Exchange', 'a tenant admin');
    stack.sim.clock.advance(HOUR_MS);

    const second = await stack.collect(runtime);

    expect(second.contentTypes[0]?.outcome).toBe('complete');
    expect(stack.sim.truth.requests.filter((r) => r.route === 'start')).toHaveLength(2);
    expect(stack.sim.subscriptions.state(TENANT, 'Audit.Exchange')).toBe('enabled');
    expect(
      stack.sim.truth.requests.filter((r) => r.route === 'content').map((r) => r.errorCode ?? r.status),
    ).toContain('AF20023');
    const received = countIds(await stack.drain());
    const expected = stack.sim.truth.recordIds({
      contentType: 'Audit.Exchange',
      availableBy: stack.sim.clock.now(),
    });
    expect(new Set(received.keys())).toEqual(new Set(expected));
  });
});

describe('watermark blobs', () => {
  let stack: CollectorStack;
  afterEach(async () => stack?.stop());

  it('lets only the first of two runs holding the same ETag save; a repeat of our own landed write is ours', async () => {
    stack = await startCollectorStack({ scenario: scenario(), clock: { start: NOW, frozen: true } });
    const runtime = stack.runtime();
    await runtime.ensureResources();
    const store = runtime.watermarks;
    const now = new Date(NOW);
    await store.save(new Watermark(TENANT, 'Audit.General'), undefined, now);

    const a = await store.load(TENANT, 'Audit.General');
    const b = await store.load(TENANT, 'Audit.General');
    a.watermark.cursor = new Date(Date.parse(NOW) - HOUR_MS);
    b.watermark.cursor = new Date(Date.parse(NOW) - 2 * HOUR_MS);
    const saved = await store.save(a.watermark, a.etag, now);
    await expect(store.save(b.watermark, b.etag, now)).rejects.toBeInstanceOf(WatermarkConflictError);

    // What the SDK does when the answer to a write that landed is lost: the same bytes, the old ETag.
    expect(await store.save(a.watermark, a.etag, now)).toBe(saved);
    const after = await store.load(TENANT, 'Audit.General');
    expect(after.watermark.cursor?.toISOString()).toBe(a.watermark.cursor.toISOString());
    // A first write races too: If-None-Match: * lets only one create the blob.
    await expect(
      store.save(new Watermark(TENANT, 'Audit.General'), undefined, new Date(Date.parse(NOW) + 1)),
    ).rejects.toBeInstanceOf(WatermarkConflictError);
  });

  it('starts a first run at the configured lookback, saves that start at once, and lists nothing before it', async () => {
    const activity = { start: '2026-11-19T00:00:00Z', end: '2026-11-21T00:00:00Z' };
    stack = await startCollectorStack({
      scenario: scenario({ activity: { ...activity, recordsPerHour: { 'Audit.Exchange': 24 } } }),
      clock: { start: NOW, frozen: true },
    });
    const runtime = stack.runtime({
      AUDITFEED_CONTENT_TYPES: 'Audit.Exchange',
      AUDITFEED_INITIAL_LOOKBACK_HOURS: '24',
      AUDITFEED_OVERLAP_MINUTES: '60',
    });
    // The first listing fails for good: the start point is saved all the same.
    stack.sim.faults.add({
      route: 'content',
      times: Infinity,
      action: { kind: 'error', status: 400, code: 'AF20012' },
    });
    const failed = await stack.collect(runtime);
    expect(failed.contentTypes[0]?.outcome).toBe('failed');
    const saved = await runtime.watermarks.load(TENANT, 'Audit.Exchange');
    expect(saved.watermark.cursor?.toISOString()).toBe('2026-11-19T12:00:00.000Z');
    expect(saved.watermark.origin?.toISOString()).toBe('2026-11-19T12:00:00.000Z');

    stack.sim.faults.clear();
    stack.sim.truth.clearRequests();
    stack.sim.clock.advance(HOUR_MS);
    const first = await stack.collect(runtime);
    expect(first.totals.gaps).toBe(0);
    // From the saved start, not from an hour later; the overlap does not reach before the start.
    const starts = stack.sim.truth.requests
      .filter((r) => r.route === 'content')
      .map((r) => new URLSearchParams(r.query).get('startTime'));
    expect(starts[0]).toMatch(/^2026-11-19T12:00:00/);
    expect(starts.every((t) => t === null || t >= '2026-11-19T12:00:00')).toBe(true);
    const received = new Set(countIds(await stack.drain()).keys());
    const expected = stack.sim.truth
      .blobs({ contentType: 'Audit.Exchange', availableBy: stack.sim.clock.now() })
      .filter((b) => b.contentCreated >= '2026-11-19T12:00:00');
    for (const b of expected) {
      for (const r of stack.sim.truth.records({ contentType: 'Audit.Exchange' })) {
        if (r.contentId === b.contentId && r.id) expect(received.has(r.id)).toBe(true);
      }
    }
  });
});

describe('listing windows', () => {
  const now = new Date('2026-11-20T12:34:56.789Z');
  const options = { now, overlapMs: 30 * MINUTE };

  it('covers the cursor to now in contiguous half-open windows of at most 24 hours, then the overlap before it', () => {
    const cursor = new Date(now.getTime() - 3 * DAY_MS - 5 * HOUR_MS);
    const { windows, overlap, gap, listFrom } = planWindows(cursor, options);
    expect(gap).toBeUndefined();
    expect(listFrom.toISOString()).toBe('2026-11-17T07:04:56.000Z');
    expect(overlap).toEqual({ start: listFrom, end: new Date('2026-11-17T07:34:56.000Z') });
    expect(windows[0]?.start).toEqual(overlap?.end);
    expect(windows[windows.length - 1]?.end.toISOString()).toBe('2026-11-20T12:34:56.000Z');
    for (const [i, w] of windows.entries()) {
      expect(w.end.getTime() - w.start.getTime()).toBeLessThanOrEqual(DAY_MS);
      expect(w.end.getTime()).toBeGreaterThan(w.start.getTime());
      if (i > 0) expect(w.start).toEqual(windows[i - 1]!.end);
    }
    expect(windows).toHaveLength(4);
  });

  it('stays 2 minutes inside the 7 days, reports what lies before as a gap, and lists the edge hour by hour', () => {
    const cursor = new Date(now.getTime() - 9 * DAY_MS);
    const { windows, gap, overlap } = planWindows(cursor, options);
    const oldest = new Date('2026-11-13T12:36:56.000Z');
    expect(overlap).toBeUndefined();
    expect(gap).toEqual({ start: new Date('2026-11-11T12:34:56.000Z'), end: oldest });
    expect(windows[0]).toEqual({ start: oldest, end: new Date(oldest.getTime() + HOUR_MS) });
    expect(windows[windows.length - 1]?.end.toISOString()).toBe('2026-11-20T12:34:56.000Z');
    for (const [i, w] of windows.entries()) {
      if (i > 0) expect(w.start).toEqual(windows[i - 1]!.end);
      const nearEdge = w.start.getTime() < oldest.getTime() + DAY_MS;
      expect(w.end.getTime() - w.start.getTime()).toBeLessThanOrEqual(nearEdge ? HOUR_MS : DAY_MS);
    }
    // A day in hours, then days.
    expect(windows).toHaveLength(24 + 6);
  });

  it('plans nothing when the cursor is now', () => {
    expect(planWindows(now, { ...options, overlapMs: 0 }).windows).toEqual([]);
  });
});
