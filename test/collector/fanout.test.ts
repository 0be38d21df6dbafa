import type { QueueClient } from '@azure/storage-queue';
import { drainQueue, type QueueDelivery } from '../../scripts/local/queueTrigger';
import type { Collector, CollectorOptions } from '../../shared/collector/collector';
import { taskDeadlineMs, type PlanSummary } from '../../shared/collector/planner';
import type { TaskResult } from '../../shared/collector/taskRunner';
import type { ContentType } from '../../shared/contentTypes';
import { collectTask } from '../../shared/handlers/collectTask';
import { BadMessageError } from '../../shared/messages/envelope';
import { decodeCollectTask, encodeCollectTask } from '../../shared/messages/collectTask';
import { CollectorRuntime } from '../../shared/runtime';
import { ClaimConflictError } from '../../shared/storage/taskClaimStore';
import { countIds, startCollectorStack, type CollectorStack, type DrainedMessage } from '../helpers/stack';

/**
 * Fanned-out collection (docs/scale.md) against the simulator and Azurite: the planner claims due units and
 * sends their tasks to the work queue; workers (the queue trigger's semantics, scripts/local/queueTrigger)
 * run them. Time is the simulator's clock, moved by the test.
 */

const TENANTS = [
  '1a2b3c4d-0000-4e5f-8a7b-000000000001',
  '1a2b3c4d-0000-4e5f-8a7b-000000000002',
  '1a2b3c4d-0000-4e5f-8a7b-000000000003',
];
const CONTENT_TYPES: ContentType[] = ['Audit.Exchange', 'Audit.SharePoint', 'Audit.AzureActiveDirectory'];
const HOUR = 3_600_000;
const MINUTE = 60_000;
const silent = { info: () => undefined, warn: () => undefined, error: () => undefined };

interface Recorder {
  lines: { level: string; message: string; fields?: Record<string, unknown> }[];
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

function recorder(): Recorder {
  const lines: Recorder['lines'] = [];
  const at =
    (level: string) =>
    (message: string, fields?: Record<string, unknown>): void => {
      lines.push({ level, message, ...(fields ? { fields } : {}) });
    };
  return { lines, info: at('info'), warn: at('warn'), error: at('error') };
}

/** A runtime (one "instance") whose collector counts, per unit, the tasks running at once. */
class CountingRuntime extends CollectorRuntime {
  constructor(
    settings: ConstructorParameters<typeof CollectorRuntime>[0],
    private readonly active: Map<string, number>,
    private readonly maxActive: Map<string, number>,
    private readonly runs: string[],
  ) {
    super(settings, silent);
  }

  override collector(overrides: Partial<CollectorOptions> = {}): Collector {
    const c = super.collector(overrides);
    const runOne = c.runOne.bind(c);
    c.runOne = async (tenantId, contentType, deadlineMs) => {
      const key = `${tenantId}/${contentType}`;
      const n = (this.active.get(key) ?? 0) + 1;
      this.active.set(key, n);
      this.maxActive.set(key, Math.max(n, this.maxActive.get(key) ?? 0));
      this.runs.push(key);
      try {
        // Let other deliveries interleave while this one holds its claim.
        await new Promise((r) => setTimeout(r, 5));
        return await runOne(tenantId, contentType, deadlineMs);
      } finally {
        this.active.set(key, (this.active.get(key) ?? 1) - 1);
      }
    };
    return c;
  }
}

describe('fanned-out collection', () => {
  let stack: CollectorStack;
  let work: QueueClient;
  const env = (): Record<string, string> => ({
    ...stack.env,
    AUDITFEED_CONTENT_TYPES: CONTENT_TYPES.join(','),
    AUDITFEED_INITIAL_LOOKBACK_HOURS: '6',
    AUDITFEED_COLLECT_SLOTS: '2',
  });

  beforeAll(async () => {
    const start = Date.parse('2026-11-20T12:00:00Z');
    stack = await startCollectorStack({
      clock: { start: new Date(start), frozen: true },
      scenario: {
        seed: 'fanout',
        tenants: TENANTS.map((tenantId) => ({ tenantId, users: 10 })),
        contentTypes: CONTENT_TYPES,
        activity: {
          start: new Date(start - 6 * HOUR).toISOString(),
          end: new Date(start + 6 * HOUR).toISOString(),
          recordsPerHour: { 'Audit.Exchange': 60, 'Audit.SharePoint': 40, 'Audit.AzureActiveDirectory': 30 },
        },
        blobs: { aggregationMinutes: 10, latencyMinutes: [1, 5], lateFraction: 0, duplicateFraction: 0 },
        // The test moves the simulator's clock by hours; tokens are cached by wall time.
        tokenLifetimeSeconds: 86_400,
      },
    });
    work = new CollectorRuntime(stack.config, silent).storage.queues.getQueueClient('auditfeed-collect');
  });
  afterAll(async () => stack?.stop());

  it('is the default from 2 tenants on; one tenant stays inline with no new settings', () => {
    expect(stack.runtime(env()).config.collectMode).toBe('fanout');
    expect(stack.runtime({ ...env(), AUDITFEED_TENANT_IDS: TENANTS[0]! }).config.collectMode).toBe('inline');
    expect(stack.runtime({ ...env(), AUDITFEED_COLLECT_MODE: 'inline' }).config.collectMode).toBe('inline');
  });

  it('with more due units than workers, every unit progresses every run, none runs twice at once, every record once', async () => {
    const active = new Map<string, number>();
    const maxActive = new Map<string, number>();
    const runs: string[] = [];
    // Two instances, as two Functions hosts would be; each runs one task at a time.
    const instances = [0, 1].map(
      () => new CountingRuntime(stack.runtime(env()).config, active, maxActive, runs),
    );
    const planner = stack.runtime(env());
    await planner.ensureResources();
    const received = new Map<string, number>();
    const units = TENANTS.flatMap((t) => CONTENT_TYPES.map((ct) => `${t}/${ct}`));
    let previous = new Map<string, string | null>();
    const plans: PlanSummary[] = [];

    for (let run = 0; run < 4; run++) {
      const plan = await planner.planner({ now: () => stack.sim.clock.now() }).plan();
      plans.push(plan);
      // 9 units due, 2 slots: each task gets the interval × 2 / 9, at least 60 s.
      expect(plan.dispatched).toBe(units.length);
      expect(plan.taskDeadlineSeconds).toBe(
        Math.round(taskDeadlineMs({ intervalMs: 5 * MINUTE, slots: 2, runDeadlineMs: 480_000 }, 9) / 1000),
      );
      const results: TaskResult[] = [];
      await Promise.all(
        instances.map((runtime) =>
          drainQueue({
            queue: work,
            poisonQueue: work,
            batchSize: 1,
            timeoutMs: 120_000,
            handler: async (m: QueueDelivery) => {
              results.push(await collectTask(runtime, m.text, silent, () => stack.sim.clock.now()));
            },
          }),
        ),
      );
      expect(results.map((r) => r.outcome)).toEqual(units.map(() => 'ran'));
      // Every unit moved: its cursor is later than after the run before.
      const cursors = new Map<string, string | null>();
      for (const r of results)
        cursors.set(`${r.summary!.tenantId}/${r.summary!.contentType}`, r.summary!.cursor);
      expect([...cursors.keys()].sort()).toEqual([...units].sort());
      for (const u of units) {
        expect(cursors.get(u)).not.toBeNull();
        if (previous.has(u))
          expect(Date.parse(cursors.get(u)!)).toBeGreaterThan(Date.parse(previous.get(u)!));
      }
      previous = cursors;
      countIds(await stack.drain(), received);
      stack.sim.clock.advance(30 * MINUTE);
    }
    expect(Math.max(...maxActive.values())).toBe(1);
    expect(runs.length).toBe(units.length * 4);
    const expected = stack.sim.truth.recordIds({
      availableBy: new Date(stack.sim.clock.now().getTime() - 30 * MINUTE),
    });
    expect(expected.size).toBeGreaterThan(500);
    for (const id of expected) expect(received.get(id)).toBe(1);
    for (const r of instances) r.close();
    // The planner says what it did in one short line per run.
    expect(plans.every((p) => p.failed === 0 && p.conflicts === 0 && p.expired === 0)).toBe(true);
  }, 180_000);

  it('two planners at once dispatch each unit once; a unit with a live task is not dispatched again', async () => {
    const a = stack.runtime(env());
    const b = stack.runtime(env());
    const now = (): Date => stack.sim.clock.now();
    const [pa, pb] = await Promise.all([a.planner({ now }).plan(), b.planner({ now }).plan()]);
    const units = TENANTS.length * CONTENT_TYPES.length;
    expect(pa.dispatched + pb.dispatched).toBe(units);
    // The other planner found each unit claimed: before it read (queued) or between its read and write.
    expect(pa.conflicts + pb.conflicts + pa.queued + pb.queued).toBe(units);
    expect((await work.getProperties()).approximateMessagesCount).toBe(units);
    // Still queued: nothing new for any unit.
    const again = await a.planner({ now }).plan();
    expect(again).toMatchObject({ dispatched: 0, queued: units, requeued: 0 });
    expect((await work.getProperties()).approximateMessagesCount).toBe(units);
    await runAll(stack, work, a);
  }, 120_000);

  it('a task still waiting behind a backlog is left alone; a lost one is sent again after two intervals, as the same task: it runs once', async () => {
    const runtime = stack.runtime(env());
    const now = (): Date => stack.sim.clock.now();
    const first = await runtime.planner({ now }).plan();
    expect(first.dispatched).toBe(9);
    // No worker for three intervals: the messages wait; the queue says so, nothing is sent twice.
    stack.sim.clock.advance(15 * MINUTE);
    expect(await runtime.planner({ now }).plan()).toMatchObject({ dispatched: 0, queued: 9, requeued: 0 });
    expect((await work.getProperties()).approximateMessagesCount).toBe(9);
    await work.clearMessages(); // lost, e.g. a queue outage after the claim was written
    stack.sim.clock.advance(5 * MINUTE);
    expect(await runtime.planner({ now }).plan()).toMatchObject({ dispatched: 0, queued: 9, requeued: 0 });
    stack.sim.clock.advance(5 * MINUTE);
    const second = await runtime.planner({ now }).plan();
    expect(second).toMatchObject({ dispatched: 0, requeued: 9 });
    // Two deliveries of one task (a duplicate message): one runs, one is dropped.
    const { peekedMessageItems } = await work.peekMessages({ numberOfMessages: 1 });
    await work.sendMessage(peekedMessageItems[0]!.messageText);
    const outcomes = await runAll(stack, work, runtime);
    expect(outcomes.filter((o) => o === 'ran')).toHaveLength(9);
    expect(outcomes.filter((o) => o === 'duplicate')).toHaveLength(1);
  }, 120_000);

  it('a worker that dies mid-task holds its unit until the claim expires; then the unit is taken back and the old task is stale', async () => {
    const runtime = stack.runtime(env());
    const now = (): Date => stack.sim.clock.now();
    const plan = await runtime.planner({ now }).plan();
    const { receivedMessageItems } = await work.receiveMessages({
      numberOfMessages: 1,
      visibilityTimeout: 1,
    });
    const message = receivedMessageItems[0]!;
    const task = decodeCollectTask(message.messageText);
    // The worker "dies" inside its run: the claim says running, nothing marks it done.
    const dying = new (class extends CollectorRuntime {
      override collector(o: Partial<CollectorOptions> = {}): Collector {
        const c = super.collector(o);
        c.runOne = () => Promise.reject(new Error('worker process killed'));
        return c;
      }
    })(runtime.config, silent);
    await expect(collectTask(dying, message.messageText, silent, now)).rejects.toThrow(
      'worker process killed',
    );
    dying.close();
    // Redelivered while the claim is live: a duplicate, dropped.
    expect((await collectTask(runtime, message.messageText, silent, now)).outcome).toBe('duplicate');
    await runAll(stack, work, runtime); // the other units
    const busy = await runtime.planner({ now }).plan();
    expect(busy).toMatchObject({ running: 1, dispatched: plan.dispatched - 1 });
    await runAll(stack, work, runtime);
    // Past the task's deadline, hard stop and slack: taken back, with a warning naming it.
    stack.sim.clock.advance(task.deadlineMs + 2 * MINUTE + 1);
    const log = recorder();
    const back = await runtime.planner({ now, logger: log }).plan();
    expect(back).toMatchObject({ expired: 1, expiredUnits: [`${task.tenantId}/${task.contentType}`] });
    expect(log.lines).toContainEqual(
      expect.objectContaining({ level: 'warn', message: 'Collection task lost; dispatching the unit again' }),
    );
    // The old message, delivered late, is stale: the claim names the new task.
    expect((await collectTask(runtime, message.messageText, silent, now)).outcome).toBe('stale');
    const outcomes = await runAll(stack, work, runtime);
    expect(outcomes.every((o) => o === 'ran')).toBe(true);
  }, 120_000);

  it('two identical claim writes with the same ETag: exactly one wins (a lost answer is not taken for a win)', async () => {
    const runtime = stack.runtime(env());
    await runtime.ensureResources();
    const tenantId = TENANTS[2]!;
    const claim = {
      taskId: 'same',
      state: 'queued' as const,
      enqueuedAt: '2026-11-20T12:00:00.000Z',
      until: '2026-11-21T12:00:00.000Z',
    };
    const { etag } = await runtime.claims.load(tenantId, 'DLP.All');
    const first = await runtime.claims.save(tenantId, 'DLP.All', claim, etag);
    // Two workers, the same clock reading: byte-identical running claims, both If-Match the queued one.
    const running = { ...claim, state: 'running' as const, startedAt: '2026-11-20T12:01:00.000Z' };
    const results = await Promise.allSettled([
      runtime.claims.save(tenantId, 'DLP.All', running, first),
      runtime.claims.save(tenantId, 'DLP.All', running, first),
    ]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const lost = results.flatMap((r): unknown[] => (r.status === 'rejected' ? [r.reason] : []));
    expect(lost).toEqual([expect.any(ClaimConflictError)]);
  });

  it('a malformed task fails (retried, then poison) and says what is wrong', async () => {
    const runtime = stack.runtime(env());
    await expect(collectTask(runtime, 'not json', silent)).rejects.toThrow(BadMessageError);
    await expect(collectTask(runtime, JSON.stringify({ v: 2, kind: 'collect' }), silent)).rejects.toThrow(
      /version 2 .*this worker reads version 1/,
    );
    const bad = {
      v: 1,
      kind: 'collect',
      tenantId: 'x',
      contentType: 'Audit.Nope',
      taskId: '',
      deadlineMs: 0,
      enqueuedAt: 'later',
    };
    await expect(collectTask(runtime, JSON.stringify(bad), silent)).rejects.toThrow(
      'Collection task is malformed: tenantId is not a GUID; contentType is not a content type; taskId is missing; deadlineMs is not a positive number; enqueuedAt is not a time.',
    );
    const good = {
      v: 1 as const,
      kind: 'collect' as const,
      tenantId: TENANTS[0]!,
      contentType: 'Audit.Exchange' as const,
      taskId: 't',
      deadlineMs: 60_000,
      enqueuedAt: '2026-11-20T12:00:00.000Z',
    };
    expect(decodeCollectTask(encodeCollectTask(good))).toEqual(good);
  });

  it('throttling of one tenant (AF429 as HTTP 403) slows only that tenant: the others see none', async () => {
    const runtime = stack.runtime(env());
    const now = (): Date => stack.sim.clock.now();
    stack.sim.clock.advance(10 * MINUTE);
    stack.sim.faults.add({
      route: 'content',
      tenantId: TENANTS[1]!,
      times: 3,
      action: { kind: 'throttle', shape: '403-AF429', retryAfterSeconds: 1 },
    });
    expect((await runtime.planner({ now }).plan()).dispatched).toBe(9);
    const summaries: { tenantId: string; throttles: number; outcome: string }[] = [];
    await drainQueue({
      queue: work,
      poisonQueue: work,
      batchSize: 9,
      timeoutMs: 120_000,
      handler: async (m) => {
        const r = await collectTask(runtime, m.text, silent, now);
        summaries.push(r.summary!);
      },
    });
    await stack.drain();
    const throttled = (t: string): number =>
      summaries.filter((s) => s.tenantId === t).reduce((n, s) => n + s.throttles, 0);
    expect(throttled(TENANTS[1]!)).toBe(3);
    expect(throttled(TENANTS[0]!)).toBe(0);
    expect(throttled(TENANTS[2]!)).toBe(0);
    expect(summaries.every((s) => s.outcome === 'complete')).toBe(true);
  }, 120_000);

  it('paces each unit at the tenant budget over its content types, so all instances together stay under it', () => {
    const fanout = stack.runtime({ ...env(), AUDITFEED_MAX_REQUESTS_PER_MINUTE: '2000' });
    const units = CONTENT_TYPES.map((ct) => fanout.clientFor(TENANTS[0]!, ct));
    expect(new Set(units).size).toBe(3);
    expect(units.map((c) => c.requestsPerMinute)).toEqual([665, 665, 665]);
    const inline = stack.runtime({
      ...env(),
      AUDITFEED_MAX_REQUESTS_PER_MINUTE: '2000',
      AUDITFEED_COLLECT_MODE: 'inline',
    });
    const shared = CONTENT_TYPES.map((ct) => inline.clientFor(TENANTS[0]!, ct));
    expect(new Set(shared).size).toBe(1);
    expect(shared[0]!.requestsPerMinute).toBe(2000);
  });
});

/** Runs every task on the work queue with one worker; returns their outcomes. */
async function runAll(
  stack: CollectorStack,
  work: QueueClient,
  runtime: CollectorRuntime,
): Promise<string[]> {
  const outcomes: string[] = [];
  await drainQueue({
    queue: work,
    poisonQueue: work,
    batchSize: 4,
    timeoutMs: 120_000,
    handler: async (m) => {
      outcomes.push((await collectTask(runtime, m.text, silent, () => stack.sim.clock.now())).outcome);
    },
  });
  const drained: DrainedMessage[] = await stack.drain();
  void drained;
  return outcomes;
}
