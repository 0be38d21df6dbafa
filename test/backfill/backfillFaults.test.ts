/**
 * The backfill's fault paths against the simulator: a window over the record limit (halved, or partial at
 * the floor), failed queries (re-created, then the window reported failed), 429 with Retry-After beyond the
 * client's own retries, a query gone (404), the daily query budget, two runs racing for one backfill, and
 * the deployed path (the backfill function stopping at its deadline and continuing from its own message).
 */
import { randomUUID } from 'node:crypto';
import {
  BACKFILL_MESSAGE_VERSION,
  encodeBackfillMessage,
  type BackfillMessage,
} from '../../shared/backfill/backfillMessage';
import { CONTENT_TYPES, type ContentType } from '../../shared/contentTypes';
import { backfillTask } from '../../shared/handlers/backfill';
import { silentLogger } from '../../shared/logging';
import { BadMessageError } from '../../shared/messages/envelope';
import { readStatus } from '../../shared/status';
import { CONTAINERS } from '../../shared/storage/clients';
import { WatermarkStore } from '../../shared/storage/watermarkStore';
import { REJECTED_CONTAINER } from '../../shared/writer/rejectedRecords';
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

/** A day of the scenario holds about 36 records: a limit of 20 puts every day window over it. */
const LIMIT = 20;

/** A refused record's blob in the rejected container. */
interface KeptRecord {
  tenantId: string;
  contentType: string;
  reason: string;
  contentId: string;
  record: { id: string; auditData?: unknown };
}

describe('record limit, throttling, gone queries, budget, races, the function', () => {
  let stack: BackfillStack;

  beforeAll(async () => {
    stack = await startBackfillStack({
      scenario: scenario({
        graphAudit: { pageSize: 100, startDelaySeconds: 5, runSeconds: [10, 40], recordCountLimit: LIMIT },
      }),
      clock: { start: NOW, frozen: true },
    });
  }, 60_000);

  afterAll(async () => {
    await stack?.stop();
  });

  const ranges = dayRanges(20);
  function range(days: number): { from: string; to: string } {
    const { from, to } = ranges(days);
    return { from: iso(from), to: iso(to) };
  }

  it('halves a window over the record limit until each half fits, and stores every record once', async () => {
    const { from, to } = range(2);
    const writer = stack.writer();
    const s = await stack.backfill({ from, to });
    expect(s.outcome).toBe('complete');
    // Each day was over the limit: split at least once, so more windows than days, none partial.
    expect(s.windows.total).toBeGreaterThan(2);
    expect(s.windows.partial).toBe(0);
    expect(s.windows.split).toBeGreaterThanOrEqual(2);
    expect(s.run.queriesCreated).toBe(s.windows.total + s.windows.split);
    await stack.writeAll(writer);
    expectExactlyOnce(await stack.stored(writer), stack.truth(from, to));
  });

  it('keeps a window still over the limit at the floor, stores what came and reports it partial', async () => {
    const { from, to } = range(2);
    const writer = stack.writer();
    // A floor of a day: the day windows cannot be halved.
    const s = await stack.backfill({ from, to, floorMs: DAY });
    expect(s).toMatchObject({
      outcome: 'finished-with-problems',
      windows: { total: 2, partial: 2, done: 0 },
    });
    expect(s.partialWindows).toHaveLength(2);
    expect(s.partialWindows[0]!.reason).toMatch(/record limit \(20 records\).*missing/);
    expect(s.run.records).toBe(2 * LIMIT);
    await stack.writeAll(writer);
    const stored = await stack.stored(writer);
    expect(stored.size).toBe(2 * LIMIT);
    expect([...stored.values()].every((n) => n === 1)).toBe(true);
    const truth = stack.truth(from, to);
    expect([...stored.keys()].every((id) => truth.has(id))).toBe(true);
  });

  it('waits out 429 Retry-After beyond the client’s own retries, on creating and on paging, and loses nothing', async () => {
    const sim = stack.collector.sim;
    const { from, to } = range(1);
    const before = sim.clock.now().getTime();
    // The client retries 3 times (AUDITFEED_MAX_RETRIES); the 5th answer is the engine's to wait out.
    const create = sim.faults.add({
      route: 'graphQueries',
      tenantId: TENANT,
      times: 6,
      action: { kind: 'error', status: 429, code: 'TooManyRequests', retryAfterSeconds: 30 },
    });
    // A page throttled as long: its records must still arrive.
    const page = sim.faults.add({
      route: 'graphRecords',
      tenantId: TENANT,
      times: 5,
      action: { kind: 'error', status: 429, code: 'TooManyRequests', retryAfterSeconds: 30 },
    });
    const writer = stack.writer();
    const s = await stack.backfill({ from, to });
    create.remove();
    page.remove();
    expect([create.hits, page.hits]).toEqual([6, 5]);
    expect(s.run.throttled).toBeGreaterThanOrEqual(1);
    expect(s).toMatchObject({ outcome: 'complete', windows: { partial: 0, failed: 0, open: 0 } });
    expect(sim.clock.now().getTime() - before).toBeGreaterThanOrEqual(11 * 30_000);
    await stack.writeAll(writer);
    // Against the simulator's ground truth, not the run's own count: a throttled page dropped would show.
    const truth = stack.truth(from, to);
    expect(truth.size).toBeGreaterThan(LIMIT);
    expectExactlyOnce(await stack.stored(writer), truth);
  });

  it('creates a query again when the service has lost it (404), and stores every record once', async () => {
    const sim = stack.collector.sim;
    const { from, to } = range(1);
    const fault = sim.faults.add({
      route: 'graphRecords',
      tenantId: TENANT,
      times: 1,
      action: { kind: 'error', status: 404, code: 'NotFound', message: 'query not found' },
    });
    const writer = stack.writer();
    const s = await stack.backfill({ from, to, windowMs: 12 * 3_600_000 });
    fault.remove();
    expect(fault.hits).toBe(1);
    expect(s.outcome).toBe('complete');
    expect(s.windows.total).toBe(2);
    expect(s.run.queriesCreated).toBe(3);
    await stack.writeAll(writer);
    expectExactlyOnce(await stack.stored(writer), stack.truth(from, to));
  });

  it('stops at the daily query budget, says when to go on, and continues then', async () => {
    const sim = stack.collector.sim;
    const { from, to } = range(3);
    const writer = stack.writer();
    const first = await stack.backfill({ from, to, windowMs: DAY, floorMs: DAY }, { maxQueriesPerDay: 2 });
    expect(first).toMatchObject({ outcome: 'stopped', stoppedBecause: 'query-budget' });
    expect(first.run.queriesCreated).toBe(2);
    expect(Date.parse(first.resumeAfter!)).toBeGreaterThan(sim.clock.now().getTime());
    // Too early: still stopped, nothing created.
    const early = await stack.backfill({ from, to }, { maxQueriesPerDay: 2 });
    expect(early).toMatchObject({ outcome: 'stopped', run: { queriesCreated: 0 } });
    sim.clock.set(new Date(Date.parse(first.resumeAfter!) + 1000));
    const later = await stack.backfill({ from, to }, { maxQueriesPerDay: 2 });
    expect(later.outcome).toBe('finished-with-problems'); // the floor of a day: partial windows
    expect(later.run.queriesCreated).toBe(1);
    expect(later.windows).toMatchObject({ total: 3, open: 0 });
    await stack.writeAll(writer);
    expect((await stack.stored(writer)).size).toBe(3 * LIMIT);
  });

  it('stops at a safe point on abort (Ctrl-C), releases its claim, and the next run finishes it', async () => {
    const { from, to } = range(3);
    const writer = stack.writer();
    const abort = new AbortController();
    let saved = 0;
    const stopped = await stack.backfill(
      { from, to, windowMs: DAY, floorMs: DAY },
      {
        abortSignal: abort.signal,
        maxQueriesInFlight: 1,
        onStep: (step) => {
          if (step === 'page-saved' && ++saved === 1) abort.abort();
        },
      },
    );
    expect(stopped).toMatchObject({
      outcome: 'stopped',
      stoppedBecause: 'aborted',
      windows: { partial: 1, open: 2 },
    });
    // Not a crash: the claim is released, so the same backfill continues at once.
    const rest = await stack.backfill({ from, to });
    expect(rest).toMatchObject({
      outcome: 'finished-with-problems',
      windows: { total: 3, partial: 3, open: 0 },
    });
    expect(rest.run.queriesCreated).toBe(2);
    await stack.writeAll(writer);
    expect((await stack.stored(writer)).size).toBe(3 * LIMIT);
  });

  it('lets one of two runs started together work on a backfill; the other is told it is busy', async () => {
    const { from, to } = range(1);
    const [a, b] = await Promise.all([stack.backfill({ from, to }), stack.backfill({ from, to })]);
    expect([a.outcome, b.outcome].sort()).toEqual(['busy', 'complete']);
    expect([a, b].find((s) => s.outcome === 'busy')!.run.queriesCreated).toBe(0);
    await stack.writeAll(stack.writer());
  });

  it('the backfill function runs to its deadline, continues from its own message and stores every record once', async () => {
    const sim = stack.collector.sim;
    const { from, to } = range(4);
    const writer = stack.writer();
    const queue = stack.runtime.storage.queues.getQueueClient(`backfill-${randomUUID().slice(0, 8)}`);
    await queue.create();
    const request: BackfillMessage = {
      v: BACKFILL_MESSAGE_VERSION,
      kind: 'backfill',
      tenantId: TENANT,
      from,
      to,
      contentTypes: [...CONTENT_TYPES],
      windowMs: DAY,
      createdBy: 'test --submit',
      run: 1,
      enqueuedAt: sim.clock.now().toISOString(),
    };
    await queue.sendMessage(encodeBackfillMessage(request));
    const deps = {
      ...stack.runtime,
      ...stack.runtime.engineParts(),
      settings: stack.config.backfill,
      queue,
      // A minute of simulator time per invocation: queries take 10-40 s, so each run gets a little done.
      runDeadlineMs: 60_000,
      continueDelaySeconds: 0,
    };
    let invocations = 0;
    let last: Awaited<ReturnType<typeof backfillTask>> | undefined;
    for (;;) {
      const { receivedMessageItems: items } = await queue.receiveMessages({ numberOfMessages: 1 });
      if (items.length === 0) break;
      const m = items[0]!;
      last = await backfillTask(deps, m.messageText, silentLogger, () => sim.clock.now(), {
        sleep: stack.sleep,
      });
      await queue.deleteMessage(m.messageId, m.popReceipt);
      invocations++;
      expect(invocations).toBeLessThan(200);
    }
    expect(invocations).toBeGreaterThan(2);
    expect(last!.summary.outcome).toBe('complete');
    expect(last!.continuedInSeconds).toBeUndefined();
    await stack.writeAll(writer);
    expectExactlyOnce(await stack.stored(writer), stack.truth(from, to));
    await queue.delete();
  });

  it('the backfill function waits for the query budget: its continuation is hidden until the budget allows more', async () => {
    const sim = stack.collector.sim;
    const { from, to } = range(2);
    const queue = stack.runtime.storage.queues.getQueueClient(`budget-${randomUUID().slice(0, 8)}`);
    await queue.create();
    const deps = {
      ...stack.runtime.engineParts(),
      queue,
      settings: { ...stack.config.backfill, queriesPerDay: 1 },
      runDeadlineMs: 3_600_000,
    };
    const message: BackfillMessage = {
      v: BACKFILL_MESSAGE_VERSION,
      kind: 'backfill',
      tenantId: TENANT,
      from,
      to,
      contentTypes: [...CONTENT_TYPES],
      windowMs: DAY,
      createdBy: 'test --submit',
      run: 1,
      enqueuedAt: sim.clock.now().toISOString(),
    };
    const first = await backfillTask(
      deps,
      encodeBackfillMessage(message),
      silentLogger,
      () => sim.clock.now(),
      {
        sleep: stack.sleep,
      },
    );
    expect(first.summary).toMatchObject({ outcome: 'stopped', stoppedBecause: 'query-budget' });
    const wait = (Date.parse(first.summary.resumeAfter!) - sim.clock.now().getTime()) / 1000;
    expect(first.continuedInSeconds).toBeGreaterThanOrEqual(Math.floor(wait));
    expect(first.continuedInSeconds).toBeLessThanOrEqual(Math.ceil(wait) + 1);
    // Hidden: nothing to receive now.
    expect((await queue.receiveMessages()).receivedMessageItems).toHaveLength(0);
    await stack.writeAll(stack.writer());
    await queue.delete();
  });

  it('keeps the records it refuses in the rejected container with their reason, once however often they are read', async () => {
    const sim = stack.collector.sim;
    const { from, to } = range(1);
    // A record whose auditData is missing, one whose auditData is not JSON, one without an Id, one too
    // large for any queue batch (16 MiB of JSON), and two nested 20,000 levels deep (JSON.parse reads them,
    // JSON.stringify overflows): each is refused, and none stops the rest.
    const wrapper = (n: number, auditData: unknown): Record<string, unknown> => ({
      id: `0000000${n}-bad0-4bad-8bad-00000000000${n}`,
      createdDateTime: from,
      auditLogRecordType: 'exchangeItem',
      operation: 'Send',
      service: 'Exchange',
      ...(auditData === undefined ? {} : { auditData }),
    });
    const big = {
      Id: '00000005-bad0-4bad-8bad-000000000005',
      CreationTime: from.slice(0, 19),
      RecordType: 2,
      Workload: 'Exchange',
      Operation: 'Send',
      Padding: 'x'.repeat(16 * 1024 * 1024),
    };
    const deep = (n: number): string => {
      const head = JSON.stringify({
        ...wrapper(n, undefined),
        auditData: { ...big, Id: `deep-${n}`, Padding: 0 },
      });
      // auditData.Padding becomes {"a":{"a":…1…}} 20,000 levels deep.
      return head.replace('"Padding":0', `"Padding":${'{"a":'.repeat(20_000)}1${'}'.repeat(20_000)}`);
    };
    const shallow = JSON.stringify([
      wrapper(1, undefined),
      wrapper(2, '{"Id": "truncated'),
      wrapper(3, { CreationTime: from.slice(0, 19), RecordType: 2, Workload: 'Exchange' }),
      wrapper(5, big),
    ]);
    const body = `{"value":${shallow.slice(0, -1)},${deep(6)},${deep(7)}]}`;
    const rejected = stack.runtime.storage.blobs.getContainerClient(REJECTED_CONTAINER);
    const blobsNow = async (): Promise<string[]> => {
      const names: string[] = [];
      for await (const b of rejected.listBlobsFlat({ prefix: `${TENANT}/` })) names.push(b.name);
      return names.sort();
    };
    const before = new Set(await blobsNow());
    const runWithBadPage = async (contentTypes: ContentType[]) => {
      // Every query's first page is the bad one (it has no nextLink: the window ends there).
      const fault = sim.faults.add({
        route: 'graphRecords',
        tenantId: TENANT,
        times: 1,
        action: { kind: 'malformed', body },
      });
      const s = await stack.backfill({ from, to, windowMs: DAY, contentTypes });
      fault.remove();
      return s;
    };

    const s = await runWithBadPage(['Audit.Exchange']);
    expect(s.outcome).toBe('complete');
    expect(Object.values(s.run.refused).reduce((a, b) => a + b, 0)).toBe(6);
    expect(Object.keys(s.run.refused).join('\n')).toMatch(/no auditData/);
    expect(Object.keys(s.run.refused).join('\n')).toMatch(/too large for a queue batch/);
    const kept = (await blobsNow()).filter((n) => !before.has(n));
    expect(kept).toHaveLength(6);
    const docs = await Promise.all(
      kept.map(
        async (n) =>
          JSON.parse((await rejected.getBlobClient(n).downloadToBuffer()).toString()) as KeptRecord,
      ),
    );
    // As received (the Graph record), with the reason, the query it came from and its content type if known.
    const byId = new Map(docs.filter((d) => typeof d.record === 'object').map((d) => [d.record.id, d]));
    // Too deep to serialise: kept as JSON text, each under its own name.
    const deepKept = docs.filter((d) => typeof d.record === 'string');
    expect(deepKept.map((d) => (d.record as unknown as string).slice(0, 60)).sort()).toEqual(
      [deep(6), deep(7)].map((t) => t.slice(0, 60)).sort(),
    );
    for (const d of deepKept)
      expect(d.reason).toMatch(/nests over 1000 levels, so "record" holds its JSON text/);
    const noAuditData = byId.get(wrapper(1, undefined).id as string)!;
    expect(noAuditData).toMatchObject({ tenantId: TENANT, contentType: 'unknown' });
    expect(noAuditData.reason).toMatch(/no auditData/);
    expect(noAuditData.contentId).toMatch(/^graph:/);
    expect(byId.get(wrapper(2, '').id as string)!.reason).toMatch(/not JSON/);
    expect(byId.get(wrapper(3, {}).id as string)!.reason).toMatch(/no usable Id/);
    const large = byId.get(wrapper(5, {}).id as string)!;
    expect(large.contentType).toBe('Audit.Exchange');
    expect(large.reason).toMatch(/too large/);
    expect((large.record.auditData as typeof big).Padding).toHaveLength(big.Padding.length);

    // `auditfeed status` counts them and says where they are.
    const status = await readStatus({
      tenants: [TENANT],
      contentTypes: ['Audit.Exchange'],
      watermarks: new WatermarkStore(stack.runtime.storage.blobs.getContainerClient(CONTAINERS.watermarks)),
      backfills: stack.runtime.store,
      queues: stack.runtime.storage.queues,
      queueName: stack.config.queueName,
      lagWarningSeconds: 3600,
      now: sim.clock.now(),
    });
    expect(status.backfills.find((b) => b.from === from && b.to === to)).toMatchObject({ refused: 6 });
    expect(status.problems.join('\n')).toMatch(
      new RegExp(`${from} to ${to} refused 6 record\\(s\\) .*kept with its reason in the rejected container`),
    );

    // Read again by another backfill of the same day: the same blobs, no new ones.
    const again = await runWithBadPage(['Audit.Exchange', 'Audit.General']);
    expect(Object.values(again.run.refused).reduce((a, b) => a + b, 0)).toBe(6);
    expect((await blobsNow()).filter((n) => !before.has(n))).toEqual(kept);
  });

  it('refuses a malformed or unknown backfill message before doing anything', async () => {
    const deps = {
      ...stack.runtime.engineParts(),
      queue: stack.runtime.queue,
      settings: stack.config.backfill,
      runDeadlineMs: 60_000,
    };
    await expect(backfillTask(deps, '{"v":9,"kind":"backfill"}', silentLogger)).rejects.toThrow(
      /version 9 .*this function reads version 1/,
    );
    await expect(
      backfillTask(deps, JSON.stringify({ v: 1, kind: 'backfill', tenantId: 'x' }), silentLogger),
    ).rejects.toBeInstanceOf(BadMessageError);
    await expect(backfillTask(deps, 'not json', silentLogger)).rejects.toThrow(/not JSON/);
  });
});

describe('failed queries', () => {
  let stack: BackfillStack;

  beforeAll(async () => {
    stack = await startBackfillStack({
      scenario: scenario({ graphAudit: { startDelaySeconds: 5, runSeconds: [10, 40], failFraction: 1 } }),
      clock: { start: NOW, frozen: true },
    });
  }, 60_000);

  afterAll(async () => {
    await stack?.stop();
  });

  it('re-creates a failed query a bounded number of times, then reports the window failed; a re-run tries again', async () => {
    const from = iso(MIDNIGHT - 12 * DAY);
    const to = iso(MIDNIGHT - 10 * DAY);
    const s = await stack.backfill({ from, to });
    expect(s).toMatchObject({ outcome: 'finished-with-problems', windows: { total: 2, failed: 2, done: 0 } });
    expect(s.run.queriesCreated).toBe(6);
    expect(s.failedWindows.map((w) => w.start)).toEqual([from, iso(MIDNIGHT - 11 * DAY)]);
    expect(s.failedWindows[0]!.reason).toMatch(/query \S+ failed; 3 queries tried/);
    expect(s.run.records).toBe(0);
    const again = await stack.backfill({ from, to });
    expect(again.run.queriesCreated).toBe(6);
    expect(again.windows.failed).toBe(2);
  });
});
