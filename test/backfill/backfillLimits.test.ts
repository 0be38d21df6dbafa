/**
 * The backfill's limits against the simulator: windows overlap at their edges (Graph does not document
 * whether its filters are inclusive), one broken window (a bad link, a repeating or untrusted nextLink)
 * does not end the backfill, the function's hard stop cuts a throttled call short, a query that never
 * finishes is given up, the CLI's claim holds while it waits, and a run's error is kept in the progress.
 */
import { randomUUID } from 'node:crypto';
import { BACKFILL_MESSAGE_VERSION, encodeBackfillMessage } from '../../shared/backfill/backfillMessage';
import { BackfillRuntime } from '../../shared/backfill/backfillRuntime';
import { CONTENT_TYPES, type ContentType } from '../../shared/contentTypes';
import { AbortedError } from '../../shared/errors';
import { backfillTask } from '../../shared/handlers/backfill';
import { silentLogger } from '../../shared/logging';
import { readStatus } from '../../shared/status';
import { CONTAINERS } from '../../shared/storage/clients';
import { WatermarkStore } from '../../shared/storage/watermarkStore';
import {
  DAY,
  dayRanges,
  expectExactlyOnce,
  iso,
  MIDNIGHT,
  NOW,
  scenario,
  startBackfillStack,
  TENANT,
  type BackfillStack,
} from './backfillStack';

const HOUR = 3_600_000;
const ALL = [...CONTENT_TYPES] as ContentType[];

describe('window edges, broken windows, the hard stop, lastError', () => {
  let stack: BackfillStack;

  beforeAll(async () => {
    stack = await startBackfillStack({
      // Small pages: a day of records (about 36) spans several pages, so there are nextLinks to break.
      scenario: scenario({ graphAudit: { pageSize: 10, startDelaySeconds: 5, runSeconds: [10, 40] } }),
      clock: { start: NOW, frozen: true },
    });
  }, 60_000);

  afterAll(async () => {
    await stack?.stop();
  });

  const range = dayRanges(30);

  function newQueries(
    before: Set<string>,
  ): ReturnType<BackfillStack['collector']['sim']['graphAudit']['queries']> {
    return stack.collector.sim.graphAudit
      .queries(TENANT)
      .filter((q) => !before.has(q.id))
      .sort((a, b) => Date.parse(a.filterEndDateTime) - Date.parse(b.filterEndDateTime));
  }

  it('starts each query a second before its window, so neighbours overlap, and the overlap adds no documents', async () => {
    const sim = stack.collector.sim;
    const { from, to } = range(2);
    const before = new Set(sim.graphAudit.queries(TENANT).map((q) => q.id));
    const writer = stack.writer();
    const s = await stack.backfill({ from: iso(from), to: iso(to), windowMs: DAY });
    expect(s.outcome).toBe('complete');
    const qs = newQueries(before);
    expect(qs).toHaveLength(2);
    expect(Date.parse(qs[0]!.filterStartDateTime)).toBe(from - 1000);
    expect(Date.parse(qs[0]!.filterEndDateTime)).toBe(from + DAY);
    expect(Date.parse(qs[1]!.filterStartDateTime)).toBe(from + DAY - 1000);
    // The second query's start lies before the first one's end: a record on the edge is read by both.
    expect(Date.parse(qs[1]!.filterStartDateTime)).toBeLessThan(Date.parse(qs[0]!.filterEndDateTime));
    await stack.writeAll(writer);
    expectExactlyOnce(await stack.stored(writer), stack.truth(iso(from - 1000), iso(to)));

    // Two backfills that meet just after a stored record: both read it, one document holds it.
    const { resources } = await stack.cosmosClient
      .database(writer.config.cosmos.database)
      .container(writer.config.cosmos.container)
      .items.query<{ CreationTime: string }>('SELECT c.CreationTime FROM c')
      .fetchAll();
    const times = resources
      .map((r) => Date.parse(`${r.CreationTime.replace(/Z?$/, 'Z')}`))
      .filter((t) => t > from + 2000 && t < from + DAY - 2000)
      .sort((a, b) => a - b);
    expect(times.length).toBeGreaterThan(0);
    const edge = Math.floor(times[0]! / 1000) * 1000 + 1000;
    const second = stack.writer();
    const a = await stack.backfill({ from: iso(from), to: iso(edge), windowMs: DAY });
    const b = await stack.backfill({ from: iso(edge), to: iso(from + DAY), windowMs: DAY });
    expect([a.outcome, b.outcome]).toEqual(['complete', 'complete']);
    await stack.writeAll(second);
    const stored = await stack.stored(second);
    expect(a.run.records + b.run.records).toBeGreaterThan(stored.size);
    expectExactlyOnce(stored, stack.truth(iso(from - 1000), iso(from + DAY)));
  });

  it.each([
    // The first page passes; every later /records request of the first window is refused.
    ['its nextLink is refused (400)', 'graphRecords', 1, 'The skiptoken is not valid.', 4],
    ['the service refuses to create its query (400)', 'graphQueries', 0, 'Invalid filter.', 1],
  ] as const)(
    'reports one window failed when %s, finishes the others, and a later run completes it',
    async (_, route, after, message, created) => {
      const sim = stack.collector.sim;
      const { from, to } = range(2);
      const fault = sim.faults.add({
        route,
        tenantId: TENANT,
        after,
        times: 3,
        action: { kind: 'error', status: 400, code: 'BadRequest', message },
      });
      const writer = stack.writer();
      const s = await stack.backfill(
        { from: iso(from), to: iso(to), windowMs: DAY },
        { maxQueriesInFlight: 1 },
      );
      fault.remove();
      expect(fault.hits).toBe(3);
      expect(s).toMatchObject({
        outcome: 'finished-with-problems',
        windows: { total: 2, failed: 1, done: 1 },
      });
      expect(s.failedWindows[0]!.start).toBe(iso(from));
      expect(s.failedWindows[0]!.reason).toContain(message);
      expect(s.failedWindows[0]!.reason).toMatch(/3 queries tried/);
      expect(s.run.queriesCreated).toBe(created);
      await stack.writeAll(writer);
      const stored = await stack.stored(writer);
      const second = stack.truth(iso(from + DAY - 1000), iso(to));
      expect([...second].every((id) => stored.get(id) === 1)).toBe(true);
      expect([...stored.values()].every((n) => n === 1)).toBe(true);

      // A later run tries the failed window again and completes the backfill.
      const again = await stack.backfill({ from: iso(from), to: iso(to), windowMs: DAY });
      expect(again).toMatchObject({ outcome: 'complete', windows: { total: 2, done: 2 } });
      await stack.writeAll(writer);
      expectExactlyOnce(await stack.stored(writer), stack.truth(iso(from - 1000), iso(to)));
    },
  );

  it('does not count a create stopped by throttling at the deadline, or failed by a 5xx, as one of the window’s queries', async () => {
    const sim = stack.collector.sim;
    const { from, to } = range(1);
    const request = { from: iso(from), to: iso(to), windowMs: DAY };
    // Three hours of Retry-After, far past each run's deadline: every run stops at it.
    const throttled = sim.faults.add({
      route: 'graphQueries',
      tenantId: TENANT,
      times: Infinity,
      action: { kind: 'throttle', shape: '429', retryAfterSeconds: 3 * 3600 },
    });
    for (let run = 0; run < 4; run++) {
      const s = await stack.backfill(request, { deadline: sim.clock.now().getTime() + 9 * 60_000 });
      expect(s).toMatchObject({ outcome: 'stopped', stoppedBecause: 'deadline' });
      sim.clock.advance(10 * 60_000);
    }
    throttled.remove();
    // 5xx on every try of the client (AUDITFEED_MAX_RETRIES 3): the run fails, the window is not charged.
    const outage = sim.faults.add({
      route: 'graphQueries',
      tenantId: TENANT,
      times: 4,
      action: { kind: 'error', status: 503 },
    });
    const failed = await stack.backfill(request);
    outage.remove();
    expect(failed).toMatchObject({ outcome: 'failed', stoppedBecause: 'error' });
    const store = stack.runtime.store;
    const { progress } = await store.load(
      store.blobName({ ...request, tenantId: TENANT, contentTypes: ALL }),
    );
    expect(progress!.windows).toEqual([expect.objectContaining({ state: 'pending', queries: 0 })]);

    const writer = stack.writer();
    const done = await stack.backfill(request);
    expect(done).toMatchObject({ outcome: 'complete', run: { queriesCreated: 1 } });
    await stack.writeAll(writer);
    expectExactlyOnce(await stack.stored(writer), stack.truth(iso(from - 1000), iso(to)));
  });

  it('ends the run when every create is refused, without spending the daily query budget', async () => {
    const sim = stack.collector.sim;
    const { from, to } = range(4);
    const request = { from: iso(from), to: iso(to), windowMs: DAY };
    const fault = sim.faults.add({
      route: 'graphQueries',
      tenantId: TENANT,
      times: Infinity,
      action: { kind: 'error', status: 400, code: 'BadRequest', message: 'Filter not supported.' },
    });
    const s = await stack.backfill(request, { maxQueriesInFlight: 1 });
    fault.remove();
    // Two windows' worth of refusals (3 each), then the run ends with the service's answer.
    expect(fault.hits).toBe(6);
    expect(s).toMatchObject({ outcome: 'failed', stoppedBecause: 'error' });
    expect(s.error).toContain('Filter not supported.');
    const store = stack.runtime.store;
    const { progress } = await store.load(
      store.blobName({ ...request, tenantId: TENANT, contentTypes: ALL }),
    );
    expect(progress!.recentQueries).toEqual([]);
    expect(progress!.lastError!.message).toContain('Filter not supported.');
  });

  it.each([
    [
      'repeats',
      (base: string) => `${base}/v1.0/security/auditLog/queries/${randomUUID()}/records?%24skiptoken=10`,
      /RepeatedNextLink/,
    ],
    ['leaves Graph', () => 'https://graph.example.invalid/v1.0/records?%24skiptoken=10', /UntrustedUrl/],
  ])(
    'treats a nextLink that %s as a broken window, not an endless or failed run',
    async (_, link, reason) => {
      const sim = stack.collector.sim;
      const { from, to } = range(1);
      const nextLink = link(sim.graphAudit.baseUrl);
      const fault = sim.faults.add({
        route: 'graphRecords',
        tenantId: TENANT,
        times: Infinity,
        action: { kind: 'malformed', body: JSON.stringify({ value: [], '@odata.nextLink': nextLink }) },
      });
      let pages = 0;
      const s = await stack.backfill(
        { from: iso(from), to: iso(to), windowMs: DAY },
        {
          onStep: (step) => {
            // Without the check the link is followed for ever: crash the run instead of hanging the test.
            if (step === 'page-read' && ++pages > 30) throw new Error('followed the nextLink 30 times');
          },
        },
      );
      fault.remove();
      expect(s).toMatchObject({ outcome: 'finished-with-problems', windows: { total: 1, failed: 1 } });
      expect(s.failedWindows[0]!.reason).toMatch(reason);
      expect(s.failedWindows[0]!.reason).not.toContain('skiptoken=10');
      expect(s.run.queriesCreated).toBe(3);
    },
  );

  it('ends the run on a missing permission (403) and keeps the error in the progress until a run succeeds', async () => {
    const sim = stack.collector.sim;
    const { from, to } = range(1);
    const fault = sim.faults.add({
      route: 'graphQueries',
      tenantId: TENANT,
      times: Infinity,
      action: { kind: 'error', status: 403, code: 'Forbidden', message: 'Missing application permission.' },
    });
    const request = { tenantId: TENANT, from: iso(from), to: iso(to), contentTypes: ALL };
    const failed = await stack.backfill(request);
    fault.remove();
    expect(failed).toMatchObject({ outcome: 'failed', stoppedBecause: 'error' });
    const store = stack.runtime.store;
    const { progress } = await store.load(store.blobName(request));
    expect(progress!.lastError).toMatchObject({
      at: sim.clock.now().toISOString(),
      code: 'GraphPermissionMissing',
    });
    expect(progress!.lastError!.message).toMatch(/AuditLogsQuery\.Read\.All/);
    expect(progress!.owner).toBeUndefined();
    // `auditfeed status` shows it.
    const watermarks = new WatermarkStore(
      stack.runtime.storage.blobs.getContainerClient(CONTAINERS.watermarks),
    );
    await watermarks.ensureContainer();
    const status = await readStatus({
      tenants: [TENANT],
      contentTypes: ['Audit.Exchange'],
      watermarks,
      backfills: store,
      queues: stack.runtime.storage.queues,
      queueName: stack.config.queueName,
      lagWarningSeconds: 3600,
      now: sim.clock.now(),
    });
    const shown = status.backfills.find((b) => b.from === request.from && b.to === request.to);
    expect(shown).toMatchObject({ state: 'stopped', lastError: { code: 'GraphPermissionMissing' } });
    expect(status.problems.join('\n')).toMatch(
      new RegExp(
        `${request.from} to ${request.to} stopped .*after an error at .*GraphPermissionMissing: .*AuditLogsQuery`,
      ),
    );

    const again = await stack.backfill(request);
    expect(again.outcome).toBe('complete');
    expect((await store.load(store.blobName(request))).progress!.lastError).toBeUndefined();
    await stack.writeAll(stack.writer());
  });

  it('the function’s hard stop cuts the Graph client’s Retry-After waits short at the deadline + grace, and its continuation carries on', async () => {
    const sim = stack.collector.sim;
    const { from, to } = range(1);
    // Timers on the simulator's clock: a sleep ends early when a timer due within it aborts its signal.
    const timers: Array<{ at: number; fire: () => void }> = [];
    const sleep = async (ms: number, signal?: AbortSignal): Promise<void> => {
      const target = sim.clock.now().getTime() + ms;
      await new Promise((r) => setImmediate(r));
      for (;;) {
        if (signal?.aborted) throw new AbortedError();
        const now = sim.clock.now().getTime();
        const due = timers.filter((t) => t.at <= target).sort((x, y) => x.at - y.at)[0];
        if (!due) {
          if (now < target) sim.clock.advance(target - now);
          return;
        }
        if (due.at > now) sim.clock.advance(due.at - now);
        timers.splice(timers.indexOf(due), 1);
        due.fire();
      }
    };
    const hardStopTimer = (ms: number, fire: () => void): (() => void) => {
      const t = { at: sim.clock.now().getTime() + ms, fire };
      timers.push(t);
      return () => {
        const i = timers.indexOf(t);
        if (i >= 0) timers.splice(i, 1);
      };
    };
    const runtime = new BackfillRuntime(stack.config, { sleep, now: () => sim.clock.now().getTime() });
    const queue = runtime.storage.queues.getQueueClient(`hardstop-${randomUUID().slice(0, 8)}`);
    await queue.create();
    const deps = {
      ...runtime.engineParts(),
      queue,
      settings: stack.config.backfill,
      runDeadlineMs: 60_000,
      continueDelaySeconds: 0,
      hardStopTimer,
    };
    // Every submission is throttled for 100 s: the client alone would wait 3 × 100 s (AUDITFEED_MAX_RETRIES).
    const fault = sim.faults.add({
      route: 'graphQueries',
      tenantId: TENANT,
      times: Infinity,
      action: { kind: 'error', status: 429, code: 'TooManyRequests', retryAfterSeconds: 100 },
    });
    const message = encodeBackfillMessage({
      v: BACKFILL_MESSAGE_VERSION,
      kind: 'backfill',
      tenantId: TENANT,
      from: iso(from),
      to: iso(to),
      contentTypes: ALL,
      windowMs: DAY,
      createdBy: 'test --submit',
      run: 1,
      enqueuedAt: sim.clock.now().toISOString(),
    });
    const started = sim.clock.now().getTime();
    const first = await backfillTask(deps, message, silentLogger, () => sim.clock.now(), { sleep });
    const elapsed = sim.clock.now().getTime() - started;
    fault.remove();
    expect(first.summary).toMatchObject({ outcome: 'stopped', stoppedBecause: 'deadline' });
    // The deadline (60 s) + the hard-stop grace (60 s), by the simulator's clock.
    expect(elapsed).toBeLessThanOrEqual(120_000);
    expect(first.continuedInSeconds).toBe(0);
    expect(timers).toHaveLength(0);

    // The continuation finishes the backfill.
    let last = first;
    for (let i = 0; i < 50; i++) {
      const { receivedMessageItems: items } = await queue.receiveMessages({ numberOfMessages: 1 });
      if (items.length === 0) break;
      last = await backfillTask(deps, items[0]!.messageText, silentLogger, () => sim.clock.now(), { sleep });
      await queue.deleteMessage(items[0]!.messageId, items[0]!.popReceipt);
    }
    expect(last.summary.outcome).toBe('complete');
    await stack.writeAll(stack.writer());
    await queue.delete();
  });
});

describe('queries that never finish', () => {
  let stack: BackfillStack;

  beforeAll(async () => {
    stack = await startBackfillStack({
      // Queries run for years of simulator time: they stay running.
      scenario: scenario({ graphAudit: { startDelaySeconds: 5, runSeconds: [1e9, 1e9] } }),
      clock: { start: NOW, frozen: true },
    });
  }, 60_000);

  afterAll(async () => {
    await stack?.stop();
  });

  it('gives a query up after 24 h still running, re-creates it a bounded number of times, then reports the window failed', async () => {
    const sim = stack.collector.sim;
    const from = MIDNIGHT - 40 * DAY;
    const s = await stack.backfill(
      { from: iso(from), to: iso(from + DAY), windowMs: DAY },
      // Hourly polls; without the limit the run would poll until this deadline.
      { poll: { initialMs: HOUR, maxMs: HOUR }, deadline: sim.clock.now().getTime() + 10 * DAY },
    );
    expect(s).toMatchObject({ outcome: 'finished-with-problems', windows: { total: 1, failed: 1 } });
    expect(s.run.queriesCreated).toBe(3);
    expect(s.failedWindows[0]!.reason).toMatch(
      /still running after 24\.0 h \(limit 24\.0 h\); 3 queries tried/,
    );
  });

  it('renews the CLI’s claim while it polls, so no other run can take over a waiting backfill', async () => {
    const sim = stack.collector.sim;
    const from = MIDNIGHT - 45 * DAY;
    const request = { from: iso(from), to: iso(from + DAY), windowMs: DAY };
    const store = stack.runtime.store;
    const name = store.blobName({ tenantId: TENANT, ...request, contentTypes: ALL });
    let checks = 0;
    let expired = 0;
    let sleeps = 0;
    const s = await stack.backfill(request, {
      maxQueryAgeMs: 40 * 60_000,
      maxQueryAttempts: 1,
      sleep: async (ms) => {
        // Without the age limit the run polls for ever: end it (as an error) instead of hanging the test.
        if (++sleeps > 200) throw new Error('still polling after 200 waits');
        await stack.sleep(ms);
        const { progress } = await store.load(name);
        if (!progress?.owner) return;
        checks++;
        if (Date.parse(progress.owner.until) <= sim.clock.now().getTime()) expired++;
      },
    });
    expect(s).toMatchObject({ outcome: 'finished-with-problems', windows: { failed: 1 } });
    expect(s.failedWindows[0]!.reason).toMatch(/still running after \d+ min \(limit 40 min\)/);
    expect(checks).toBeGreaterThan(15);
    expect(expired).toBe(0);
  });
});
