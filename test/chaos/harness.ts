import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CosmosClient } from '@azure/cosmos';
import {
  DEFAULT_RANDOM_ACTIONS,
  startSimulator,
  type FaultAction,
  type Simulator,
} from '../../scripts/simulator';
import type { TruthRecord } from '../../scripts/simulator/truth';
import { Rng } from '../../scripts/simulator/rng';
import { drainQueue, type DrainResult } from '../../scripts/local/queueTrigger';
import {
  createCosmosClient,
  startAzurite,
  startCosmos,
  type AzuriteHandle,
  type CosmosHandle,
} from '../../scripts/local/services';
import type { Collector, CollectorOptions, CollectorStep, StepInfo } from '../../shared/collector/collector';
import { summarise, type ContentTypeRunSummary, type RunSummary } from '../../shared/collector/summary';
import { loadConfig, type AuditfeedConfig } from '../../shared/config';
import { CONTENT_TYPES, type ContentType } from '../../shared/contentTypes';
import { collectTask } from '../../shared/handlers/collectTask';
import { write } from '../../shared/handlers/write';
import { silentLogger } from '../../shared/logging';
import { decodeCollectTask } from '../../shared/messages/collectTask';
import { CollectorRuntime, scheduleIntervalMs } from '../../shared/runtime';
import { FailedMessageArchive } from '../../shared/writer/failedMessages';
import { replayPoison } from '../../shared/writer/poisonReplay';
import { WriterRuntime } from '../../shared/writerRuntime';
import { CosmosFaultProxy } from '../writer/cosmosFaultProxy';

/**
 * One randomized, seeded fault schedule over the whole pipeline (issue 5): API faults, late and repeated
 * content, collector crashes at random steps, Cosmos throttling/outages/lost answers, Azurite and Cosmos
 * process restarts, and duplicate queue deliveries. The pipeline then runs to quiescence and the store is
 * compared with the simulator's ground truth.
 *
 * Half the schedules collect inline (the timer's run), half fan out (issue 13): the planner dispatches a
 * task per content type and 2–4 worker instances drain the work queue concurrently, with faults of their
 * own — duplicate and late task deliveries, workers dying mid-task (the claim stays running until it
 * expires), lost task messages (sent again as the same task two intervals later) and two planners at once.
 */

/**
 * The simulator's random API faults, every kind of them, with their waits cut short: a 429 asks for a
 * 50 ms Retry-After (the client still waits what the answer says) and a slow answer is 50 ms late, not
 * 1 s and 200 ms. The schedule is about what fails; at 25 schedules the long waits cost minutes.
 */
const API_FAULTS: FaultAction[] = DEFAULT_RANDOM_ACTIONS.map((a) =>
  a.kind === 'throttle' && a.retryAfterSeconds !== undefined
    ? { ...a, retryAfterSeconds: 0.05 }
    : a.kind === 'delay'
      ? { ...a, ms: 50 }
      : a,
);

const NOW = Date.parse('2026-11-20T12:00:00Z');
const MINUTE = 60_000;

export interface ChaosServices {
  azurite: AzuriteHandle;
  cosmos: CosmosHandle;
  proxy: CosmosFaultProxy;
  cosmosClient: CosmosClient;
  stop(): Promise<void>;
}

/** Persistent Azurite and Cosmos (so restarts keep acknowledged data) behind a fault proxy. */
export async function startChaosServices(): Promise<ChaosServices> {
  const dir = mkdtempSync(join(tmpdir(), 'auditfeed-chaos-'));
  const [azurite, cosmos] = await Promise.all([
    startAzurite({ location: join(dir, 'azurite') }),
    startCosmos({ statePath: join(dir, 'cosmos.jsonl') }),
  ]);
  const proxy = await CosmosFaultProxy.start(cosmos.endpoint);
  const cosmosClient = createCosmosClient(cosmos);
  return {
    azurite,
    cosmos,
    proxy,
    cosmosClient,
    async stop() {
      cosmosClient.dispose();
      await proxy.close();
      await Promise.all([azurite.stop(), cosmos.stop()]);
    },
  };
}

export interface ScheduleResult {
  seed: number;
  mode: CollectMode;
  /** Fanout: worker instances draining the work queue at once (0 inline). */
  workers: number;
  /** Fanout: two tasks of one content type running at once, or one dispatched twice (both must be empty). */
  overlappingTasks: string[];
  doubleDispatch: string[];
  /** Record ids the store must hold: every record of every blob listable when a complete run started. */
  expected: number;
  stored: number;
  missing: string[];
  duplicates: number;
  /** Stored ids no listable blob carries. */
  unexpected: string[];
  /** contentIds the schedule made expire (AF20051), and the ones recorded as gaps. */
  expiredBlobs: string[];
  gapBlobs: string[];
  /** Gaps and quarantined blobs the schedule gave no reason for; range gaps (no contentId). */
  unexplainedGaps: string[];
  unexplainedQuarantine: string[];
  /** Records the collector had to refuse (not objects, too deep) without a copy in rejected/. */
  rejectsNotKept: string[];
  counts: {
    lateFound: number;
    maxLatenessHours: number;
    quarantined: number;
    quarantineGaps: number;
    rejected: number;
    unreadableBlobs: number;
    hostileRecords: number;
  };
  faults: Record<string, number>;
  passes: number;
}

class Crash extends Error {}
/** A worker process died mid-task: the task ends without marking its claim done. */
class WorkerDied extends Error {}

/** The schedule starts here; its content reaches back over the API's whole retention. */
const DAY = 24 * 60 * MINUTE;

export type CollectMode = 'inline' | 'fanout';

/**
 * How a schedule collects: inline (the timer's run collects every content type) or fanout (the planner
 * dispatches one task per content type to the work queue and 2–4 worker instances run them). Odd seeds
 * fan out, even seeds run inline, so both paths keep their coverage; CHAOS_MODE=inline|fanout runs every
 * schedule one way.
 */
export function scheduleMode(seed: number): CollectMode {
  const forced = process.env.CHAOS_MODE;
  if (forced === 'inline' || forced === 'fanout') return forced;
  if (forced) throw new Error(`CHAOS_MODE is ${forced}; use inline or fanout`);
  return seed % 2 === 1 ? 'fanout' : 'inline';
}

interface WorkerHooks {
  onStep(worker: WorkerInstance, step: CollectorStep, info: StepInfo): void;
  started(contentType: ContentType): void;
  ended(contentType: ContentType): void;
}

/**
 * One collectorWorker instance: its own runtime (clients, pacers, token cache), as a separate Functions
 * host has. A crash step kills it like a killed process: every task it runs stops at its next step and
 * ends without marking its claim done (the claim stays running until it expires), and it takes no new
 * message; the host then starts a fresh instance in its place.
 */
class WorkerInstance extends CollectorRuntime {
  dead = false;

  constructor(
    config: AuditfeedConfig,
    readonly name: string,
    private readonly hooks: WorkerHooks,
  ) {
    super(config, silentLogger, { baseDelayMs: 20, maxDelayMs: 200 });
  }

  override collector(overrides: Partial<CollectorOptions> = {}): Collector {
    const c = super.collector({
      ...overrides,
      onStep: (step, info) => {
        if (this.dead) throw new Crash(`${this.name} is dead`);
        this.hooks.onStep(this, step, info);
      },
    });
    const runOne = c.runOne.bind(c);
    c.runOne = async (tenantId, contentType, deadlineMs) => {
      this.hooks.started(contentType);
      try {
        const summary = await runOne(tenantId, contentType, deadlineMs);
        // The collector catches the crash as a failed content type; a dead process reports nothing.
        if (this.dead) throw new WorkerDied(`${this.name} died running ${contentType}`);
        return summary;
      } finally {
        this.hooks.ended(contentType);
      }
    };
    return c;
  }
}

export async function runSchedule(services: ChaosServices, seed: number): Promise<ScheduleResult> {
  const rng = new Rng(`chaos:${seed}`);
  const tenantId = rng.uuid();
  const mode = scheduleMode(seed);
  const faults: Record<string, number> = {};
  const count = (what: string, n = 1): void => {
    if (n > 0) faults[what] = (faults[what] ?? 0) + n;
  };

  // Two or three content types, a trickle each, from six and a half days back: late blobs (log-uniform,
  // hours to days late) land anywhere in the retention, and the oldest content expires mid-schedule.
  const busy = new Set(
    CONTENT_TYPES.map((ct) => [rng.next(), ct] as const)
      .sort((a, b) => a[0] - b[0])
      .slice(0, rng.int(2, 3))
      .map(([, ct]) => ct),
  );
  const sim: Simulator = await startSimulator({
    tls: true,
    clock: { start: new Date(NOW), frozen: true },
    scenario: {
      seed: `chaos-${seed}`,
      tenants: [{ tenantId, users: 12 }],
      activity: {
        start: new Date(NOW - 6.5 * DAY).toISOString(),
        end: new Date(NOW + 60 * MINUTE).toISOString(),
        recordsPerHour: Object.fromEntries(CONTENT_TYPES.map((ct) => [ct, busy.has(ct) ? rng.int(1, 3) : 0])),
      },
      blobs: {
        recordsPerBlob: [1, rng.int(3, 8)],
        aggregationMinutes: rng.pick([30, 60, 120]),
        latencyMinutes: [1, 15],
        lateFraction: rng.pick([0.05, 0.15, 0.3]),
        lateDistribution: 'logUniform',
        lateHours: [1, 160],
        duplicateFraction: rng.pick([0, 0.1, 0.3]),
        largeRecordEvery: rng.pick([0, 0, 25]),
        largeRecordBytes: 120_000,
        unreadable: {
          fraction: rng.pick([0, 0.02, 0.05]),
          recoverAfterHours: [1, 30],
          permanentFraction: 0.3,
        },
        hostileRecords: { fraction: rng.pick([0, 0.03, 0.06]) },
      },
      listing: { pageSize: rng.int(5, 40), nextPageHeader: 'alternate' },
      tokenLifetimeSeconds: 30 * 24 * 3600,
    },
  });

  const dir = mkdtempSync(join(tmpdir(), 'auditfeed-chaos-ca-'));
  writeFileSync(join(dir, 'ca.pem'), sim.caPem!);
  const queueName = `chaos-${seed}`;
  const env = {
    AUDITFEED_TENANT_IDS: tenantId,
    AUDITFEED_AUTH_MODE: 'secret',
    AUDITFEED_CLIENT_ID: sim.apps[0]!.clientId,
    AUDITFEED_CLIENT_SECRET: sim.apps[0]!.clientSecret!,
    AUDITFEED_API_ENDPOINT: sim.baseUrl,
    AUDITFEED_LOGIN_ENDPOINT: sim.baseUrl,
    AUDITFEED_TLS_CA_FILE: join(dir, 'ca.pem'),
    AUDITFEED_STORAGE: services.azurite.connectionString,
    AUDITFEED_COSMOS__accountEndpoint: services.proxy.endpoint,
    AUDITFEED_COSMOS__accountKey: services.cosmos.key,
    AUDITFEED_COSMOS_CONTAINER: `chaos-${seed}`,
    AUDITFEED_QUEUE_NAME: queueName,
    AUDITFEED_WORK_QUEUE_NAME: `${queueName}-collect`,
    AUDITFEED_COLLECT_MODE: mode,
    AUDITFEED_MAX_REQUESTS_PER_MINUTE: '60000',
    AUDITFEED_HTTP_TIMEOUT_SECONDS: '2',
    AUDITFEED_MAX_RETRIES: '3',
    // Every run re-lists the whole retention, so every pass sees every listable blob.
    AUDITFEED_SWEEP_INTERVAL_MINUTES: '0',
  };
  const config = loadConfig(env);
  // Short backoff steps: the schedule is about what fails, not how long the client waits between tries.
  // Inline, this is the collector; fanout, the timer's instance (the planner).
  const collector = new CollectorRuntime(config, silentLogger, { baseDelayMs: 20, maxDelayMs: 200 });
  const writer = new WriterRuntime(config, silentLogger, {
    throttle: { maxRounds: 3, maxWaitMs: 50, defaultWaitMs: 20 },
  });
  const queue = writer.storage.queues.getQueueClient(queueName);
  const poison = writer.storage.queues.getQueueClient(`${queueName}-poison`);

  // API faults, from the simulator's seeded randomizer; some blobs expire before they are fetched.
  sim.faults.randomize({ seed: `api-${seed}`, rate: rng.pick([0.01, 0.03, 0.06]), actions: API_FAULTS });
  const expiredBlobs: string[] = [];
  if (rng.chance(0.3)) {
    const victim = rng.pick(sim.truth.blobs({ listableBy: new Date(NOW), notExpiredAt: new Date(NOW) }));
    expiredBlobs.push(victim.contentId);
    sim.faults.add({
      route: 'blob',
      contentId: victim.contentId,
      times: Infinity,
      action: { kind: 'error', status: 400, code: 'AF20051' },
    });
  }

  // Writer-side faults: Cosmos throttling, outages and answers lost after the writes were applied.
  const cosmosRate = rng.pick([0, 0.1, 0.25]);
  services.proxy.plan = (r) => {
    if (!r.isBulk || !rng.chance(cosmosRate)) return undefined;
    const kind = rng.pick(['throttle', 'unavailable', 'reset', 'lostAnswer'] as const);
    count(`cosmos-${kind}`);
    if (kind === 'throttle') return { kind: 'throttleOps', pick: () => rng.chance(0.5), retryAfterMs: 10 };
    if (kind === 'unavailable') return { kind: 'status', status: 503 };
    if (kind === 'reset') return { kind: 'reset' };
    return { kind: 'forwardThenReset' };
  };

  // Per collector pass: the chance that the process "dies" at some step, and how far into the pass.
  const crashChance = rng.pick([0, 0.3, 0.6]);
  const duplicateRate = rng.pick([0, 0.05, 0.2]);
  const restartAt = rng.chance(0.3) ? rng.int(1, 4) : -1;
  const restartWhat = rng.pick(['azurite', 'cosmos'] as const);
  // The clock moves 4 hours a pass for a day, then 5 minutes a pass until everything is quiet.
  const end = NOW + DAY;
  /** Per content type, the start times of its runs that completed: what they listed is owed. */
  const completeRuns = new Map<ContentType, number[]>(config.contentTypes.map((ct) => [ct, []]));
  let lateFound = 0;
  let maxLateness = 0;

  // Fan-out: the timer's instance plans; worker instances (each its own runtime) drain the work queue
  // with the queue trigger's semantics. Its faults come from a random stream of their own, so an inline
  // schedule draws the same faults as before fan-out existed.
  const frng = new Rng(`chaos-fanout:${seed}`);
  const workQueue = collector.workQueue;
  const workPoison = collector.storage.queues.getQueueClient(`${config.workQueueName}-poison`);
  const intervalMs = scheduleIntervalMs(config.collectSchedule, new Date(NOW));
  const workerCount = mode === 'fanout' ? frng.int(2, 4) : 0;
  // Messages a worker takes at once (host.json batchSize): together about as many tasks at once as an inline
  // run collects content types, spread over the instances.
  const workerBatch = Math.ceil(config.contentTypes.length / Math.max(1, workerCount)) + frng.int(0, 1);
  const taskDuplicateRate = frng.pick([0, 0.1, 0.3]);
  const lostRate = frng.pick([0, 0.15, 0.3]);
  const plannerRaceRate = frng.pick([0, 0.25, 0.5]);
  /** The task that dies this pass: its content type, and at which of its steps. */
  let crashPlan: { contentType: ContentType; atStep: number; steps: number } | undefined;
  const active = new Map<ContentType, number>();
  const overlappingTasks: string[] = [];
  const doubleDispatch: string[] = [];
  /** Clock jumps a held claim forced while a content type was at the retention edge (fanout). */
  const edgeJumps: Array<{ from: number; to: number }> = [];
  /** Duplicate task messages delivered a pass late, when their unit has moved on. */
  let lateDuplicates: string[] = [];
  let passes = 0;
  const hooks: WorkerHooks = {
    onStep(worker, step, info) {
      if (!crashPlan || info.contentType !== crashPlan.contentType) return;
      if (++crashPlan.steps === crashPlan.atStep) {
        crashPlan = undefined;
        worker.dead = true;
        count(`worker-crash-${step}`);
        throw new Crash(`${worker.name} crashed at ${step}`);
      }
    },
    started(contentType) {
      const n = (active.get(contentType) ?? 0) + 1;
      active.set(contentType, n);
      if (n > 1) overlappingTasks.push(`pass ${passes}: ${n} tasks of ${contentType} ran at once`);
    },
    ended(contentType) {
      active.set(contentType, (active.get(contentType) ?? 1) - 1);
    },
  };
  let instances = 0;
  const newWorker = (): WorkerInstance => new WorkerInstance(config, `worker-${++instances}`, hooks);
  const workers = Array.from({ length: workerCount }, newWorker);
  const now = (): Date => sim.clock.now();

  /** The timer collects every content type itself, crashing at the pass's step. */
  const inlinePass = async (crashAtStep: number): Promise<{ run: RunSummary; workDrained: boolean }> => {
    let steps = 0;
    const run = await collector
      .collector({
        now,
        onStep: (step: CollectorStep) => {
          if (++steps === crashAtStep) {
            count(`crash-${step}`);
            throw new Crash(`crash at ${step}`);
          }
        },
      })
      .run();
    return { run, workDrained: true };
  };

  /** One worker slot: drains the work queue; when its instance dies, a fresh one takes over. */
  const runWorker = async (slot: number, summaries: ContentTypeRunSummary[]): Promise<DrainResult> => {
    const poisoned: string[] = [];
    for (;;) {
      const worker = workers[slot]!;
      const drained = await drainQueue({
        queue: workQueue,
        poisonQueue: workPoison,
        batchSize: workerBatch,
        visibilityTimeoutSeconds: 0,
        maxDequeueCount: 5,
        // While other workers hold the last tasks, an idle worker polls: at 20 ms the polls cost Azurite
        // about as much as the tasks did.
        pollIntervalMs: 100,
        timeoutMs: 120_000,
        stopped: () => worker.dead,
        handler: async (m) => {
          if (worker.dead) throw new WorkerDied(`${worker.name} is dead`);
          const result = await collectTask(worker, m.text, silentLogger, now);
          if (result.summary) summaries.push(result.summary);
          else count(`dropped-${result.outcome}`);
        },
      });
      poisoned.push(...drained.poisoned);
      if (!worker.dead) return { ...drained, poisoned };
      worker.close();
      workers[slot] = newWorker();
    }
  };

  /** The planner dispatches (now and then two planners at once); the workers run the tasks. */
  const fanoutPass = async (crashAtStep: number): Promise<{ run: RunSummary; workDrained: boolean }> => {
    const startedAt = now();
    const planners = frng.chance(plannerRaceRate) ? [collector, workers[0]!] : [collector];
    if (planners.length > 1) count('planner-race');
    const plans = await Promise.all(
      planners.map(async (r) => {
        await r.ensureResources();
        return r.planner({ now }).plan();
      }),
    );
    for (const p of plans) {
      count('taken-back', p.expired);
      count('requeued', p.requeued);
      count('planner-conflict', p.conflicts);
      count('plan-failed', p.failed);
    }
    // No unit has two tasks: of two planners, one claims it.
    const { peekedMessageItems } = await workQueue.peekMessages({ numberOfMessages: 32 });
    const sent = new Map<string, Set<string>>();
    for (const m of peekedMessageItems) {
      const task = decodeCollectTask(m.messageText);
      if (task.enqueuedAt !== startedAt.toISOString()) continue;
      sent.set(task.contentType, (sent.get(task.contentType) ?? new Set()).add(task.taskId));
    }
    for (const [ct, ids] of sent) {
      if (ids.size > 1) doubleDispatch.push(`pass ${passes}: ${ct} dispatched as ${[...ids].join(', ')}`);
    }
    // A lost message (a queue outage after the claim was written): the planner sends the same task
    // again two intervals later.
    let lost: string | undefined;
    // Rarer once the day is over: there each costs the schedule a pass (five minutes apart, not four hours).
    const lostChance = startedAt.getTime() < end ? lostRate : lostRate / 3;
    if (peekedMessageItems.length > 0 && frng.chance(lostChance)) {
      const { receivedMessageItems } = await workQueue.receiveMessages({
        numberOfMessages: 1,
        visibilityTimeout: 60,
      });
      const m = receivedMessageItems[0];
      if (m) {
        await workQueue.deleteMessage(m.messageId, m.popReceipt);
        lost = m.messageId;
        count('task-lost');
      }
    }
    // Duplicate deliveries: now (two workers race for the claim) or a pass late (the unit moved on).
    const late = lateDuplicates;
    lateDuplicates = [];
    for (const text of late) await workQueue.sendMessage(text);
    for (const m of peekedMessageItems) {
      if (m.messageId === lost || !frng.chance(taskDuplicateRate)) continue;
      if (frng.chance(0.5)) {
        count('task-duplicate');
        await workQueue.sendMessage(m.messageText);
      } else {
        count('task-duplicate-late');
        lateDuplicates.push(m.messageText);
      }
    }
    crashPlan =
      crashAtStep > 0
        ? { contentType: frng.pick(config.contentTypes), atStep: frng.int(1, 30), steps: 0 }
        : undefined;
    const summaries: ContentTypeRunSummary[] = [];
    const drains = await Promise.all(workers.map((_, slot) => runWorker(slot, summaries)));
    crashPlan = undefined;
    // A poisoned task's unit is taken back by the planner once its claim expires.
    count(
      'task-poisoned',
      drains.reduce((n, d) => n + d.poisoned.length, 0),
    );
    const run = summarise(startedAt, now(), summaries);
    return { run, workDrained: drains.every((d) => d.drained) };
  };

  /**
   * How long until the planner can act on every unit still held: a running claim whose worker died
   * expires; a queued claim whose message was lost is sent again two intervals after it was sent.
   */
  const heldClaimsWait = async (at: number): Promise<number> => {
    let wait = 0;
    for (const ct of config.contentTypes) {
      const { claim } = await collector.claims.load(tenantId, ct);
      if (!claim || claim.state === 'done') continue;
      let next = Date.parse(claim.until);
      if (claim.state === 'queued') {
        next = Math.min(next, Date.parse(claim.requeuedAt ?? claim.enqueuedAt) + 2 * intervalMs);
      }
      wait = Math.max(wait, next - at + 1);
    }
    return wait;
  };

  try {
    for (;;) {
      passes++;
      if (passes > 40) throw new Error(`schedule ${seed} (${mode}) did not quiesce in 40 passes`);
      const t0 = Date.now();
      const requestsBefore = sim.truth.requests.length;
      await collector.ensureResources();
      const crashAtStep = rng.chance(crashChance) ? rng.int(1, 60) : 0;
      const startedAt = now().getTime();
      const { run, workDrained } = await (mode === 'inline'
        ? inlinePass(crashAtStep)
        : fanoutPass(crashAtStep));
      const outcome = new Map(run.contentTypes.map((c) => [c.contentType, c]));
      for (const c of run.contentTypes)
        if (c.outcome === 'complete') completeRuns.get(c.contentType)?.push(startedAt);
      const allComplete = config.contentTypes.every((ct) => outcome.get(ct)?.outcome === 'complete');
      lateFound += run.totals.lateBlobs;
      maxLateness = Math.max(maxLateness, run.maxLatenessSeconds ?? 0);

      if (passes === restartAt) {
        count(`restart-${restartWhat}`);
        await (restartWhat === 'azurite' ? services.azurite.restart() : services.cosmos.restart());
      }

      const t1 = Date.now();
      const drained = await drainQueue({
        queue,
        poisonQueue: poison,
        // More than host.json's 8 at once, and the next batch fetched while the last ones run (the host's
        // newBatchThreshold): a batch re-sent after a Cosmos fault waits the SDK's fixed 1 s, and a round
        // waiting for its slowest message adds up.
        batchSize: 32,
        newBatchThreshold: 32,
        visibilityTimeoutSeconds: 0,
        maxDequeueCount: 5,
        timeoutMs: 120_000,
        handler: async (m) => {
          const result = await write(
            writer,
            m.text,
            { messageId: m.id, dequeueCount: m.dequeueCount },
            silentLogger,
          );
          // At-least-once delivery: the same message now and then arrives again.
          if (rng.chance(duplicateRate)) {
            count('duplicate-delivery');
            await queue.sendMessage(m.text, { messageTimeToLive: -1 });
          }
          return result;
        },
      });
      if (process.env.CHAOS_DEBUG) {
        process.stderr.write(
          `pass ${passes} (${mode}): collect ${t1 - t0} ms, drain ${Date.now() - t1} ms, ${drained.invocations} invocations, outcomes ${config.contentTypes.map((ct) => outcome.get(ct)?.outcome ?? 'none').join(',')}, API requests ${sim.truth.requests.length - requestsBefore} (faulted ${sim.truth.requests
            .slice(requestsBefore)
            .filter((r) => r.fault)
            .map((r) => r.fault)
            .join(',')})\n`,
        );
      }
      if (drained.poisoned.length > 0) {
        // The operator's recovery: replay poison once the faults are over.
        count('poisoned');
        services.proxy.plan = () => undefined;
        await replayPoison({
          queue,
          poisonQueue: poison,
          archive: new FailedMessageArchive(writer.storage.blobs),
        });
      }

      const at = now().getTime();
      const quiet =
        at >= end && allComplete && workDrained && drained.drained && drained.poisoned.length === 0;
      if (quiet) break;
      // Passes jump hours to cover the retention in a few runs; but a content type that did not finish
      // near the retention edge gets its next run five minutes later, as the timer would give it (a jump
      // there would expire content no real deployment would lose).
      let nearEdge = false;
      for (const ct of config.contentTypes) {
        const c = outcome.get(ct);
        if (c?.outcome === 'complete') continue;
        // A task that died or never ran left no summary: its watermark says where it stands.
        const cursor =
          c !== undefined
            ? c.cursor
            : ((await collector.watermarks.load(tenantId, ct)).watermark.cursor?.toISOString() ?? null);
        if (cursor !== null && Date.parse(cursor) < at - 7 * DAY + 6 * 60 * MINUTE) nearEdge = true;
      }
      let advance = at < end && !nearEdge ? 4 * 60 * MINUTE : 5 * MINUTE;
      // Fanout: the clock is frozen, so a dead worker's claim or a lost message would hold its unit
      // forever; move on to when the planner takes it back (or sends it again), as time would.
      if (mode === 'fanout' && !allComplete) {
        const held = await heldClaimsWait(at);
        // A unit at the edge held by a dead worker's claim (or a lost task) waits as long in a real
        // deployment, and its oldest content leaves the API's retention meanwhile: a true gap.
        if (nearEdge && held > advance) edgeJumps.push({ from: at, to: at + held });
        advance = Math.max(advance, held);
      }
      sim.clock.advance(advance);
    }

    return await compare(sim, services, collector, config, {
      seed,
      mode,
      workers: workerCount,
      tenantId,
      completeRuns,
      expiredBlobs,
      faults,
      passes,
      lateFound,
      maxLateness,
      overlappingTasks,
      doubleDispatch,
      edgeJumps,
    });
  } finally {
    services.proxy.plan = () => undefined;
    collector.close();
    for (const w of workers) w.close();
    writer.close();
    await sim.stop();
  }
}

/** The store, the watermarks and the rejected container against the simulator's ground truth. */
/**
 * A range gap of content that left the API's 7 days while the clock jumped over a held claim at the edge:
 * its range lies between the retention edge before the jump (less the 6-minute nearness) and after it.
 */
function slidOutDuringHold(
  g: { start: string; end: string; reason: string },
  jumps: Array<{ from: number; to: number }>,
): boolean {
  if (g.reason !== 'cursor-older-than-api-retention') return false;
  const start = Date.parse(g.start);
  const end = Date.parse(g.end);
  return jumps.some((j) => start >= j.from - 7 * DAY - 6 * MINUTE && end <= j.to - 7 * DAY + MINUTE);
}

async function compare(
  sim: Simulator,
  services: ChaosServices,
  collector: CollectorRuntime,
  config: ReturnType<typeof loadConfig>,
  run: {
    seed: number;
    mode: CollectMode;
    workers: number;
    tenantId: string;
    completeRuns: Map<ContentType, number[]>;
    expiredBlobs: string[];
    faults: Record<string, number>;
    passes: number;
    lateFound: number;
    maxLateness: number;
    overlappingTasks: string[];
    doubleDispatch: string[];
    edgeJumps: Array<{ from: number; to: number }>;
  },
): Promise<ScheduleResult> {
  const { tenantId } = run;
  const blobs = sim.truth.blobs();
  // A blob is owed when a run that completed its content type started while the service listed it.
  const owed = blobs.filter((b) => {
    const from = Date.parse(b.availableAt);
    const to = Date.parse(b.contentExpiration);
    return (run.completeRuns.get(b.contentType) ?? []).some((t) => from <= t && t < to);
  });

  const gapBlobs: string[] = [];
  const rangeGaps: string[] = [];
  const quarantined: string[] = [];
  let quarantineGaps = 0;
  for (const ct of CONTENT_TYPES) {
    const { watermark } = await collector.watermarks.load(tenantId, ct);
    for (const g of watermark.gaps) {
      if (g.contentId) gapBlobs.push(g.contentId);
      else if (!slidOutDuringHold(g, run.edgeJumps)) rangeGaps.push(`${ct} ${g.start}..${g.end} ${g.reason}`);
      if (g.reason === 'quarantined-until-expired') quarantineGaps++;
    }
    quarantined.push(...watermark.quarantine.keys());
  }

  // Why a blob may be a gap or in quarantine: the scenario made it unreadable or expire, or the
  // randomized faults answered the last read the collector tried.
  const lastRead = new Map<string, boolean>();
  for (const r of sim.truth.requests) {
    if (r.route === 'blob' && r.contentId) lastRead.set(r.contentId, r.status === 200 && !r.fault);
  }
  const unreadable = new Set(blobs.filter((b) => b.unreadableKind).map((b) => b.contentId));
  const explained = (id: string): boolean =>
    unreadable.has(id) || run.expiredBlobs.includes(id) || lastRead.get(id) === false;
  const excused = new Set([...gapBlobs, ...quarantined]);

  const expectedIds = new Set<string>();
  const possibleIds = new Set<string>();
  let hostileRecords = 0;
  const rejectsNotKept: string[] = [];
  const rejected = collector.storage.blobs.getContainerClient('rejected');
  const keptRejects = new Set<string>();
  for await (const b of rejected.listBlobsFlat({ prefix: `${tenantId}/` })) keptRejects.add(b.name);
  const byBlob = new Map<string, TruthRecord[]>();
  for (const r of sim.truth.records({ tenantId })) {
    let list = byBlob.get(r.contentId);
    if (!list) byBlob.set(r.contentId, (list = []));
    list.push(r);
    if (r.outcome === 'store' && r.id !== undefined) possibleIds.add(r.id);
  }
  for (const blob of owed) {
    if (excused.has(blob.contentId)) continue;
    for (const r of byBlob.get(blob.contentId) ?? []) {
      if (r.hostile) hostileRecords++;
      if (r.outcome === 'store' && r.id !== undefined && r.creationTime !== undefined) expectedIds.add(r.id);
      // Refused by the collector (the writer refuses records without an Id under its own names).
      if (r.outcome === 'reject' && (r.hostile === 'deep' || r.hostile === 'not-object')) {
        const hash = createHash('sha256').update(blob.contentId).digest('hex').slice(0, 16);
        const name = `${tenantId}/${blob.contentType}/blob-${hash}-${r.position}.json`;
        if (!keptRejects.has(name)) rejectsNotKept.push(name);
      }
    }
  }

  const { resources } = await services.cosmosClient
    .database(config.cosmos.database)
    .container(config.cosmos.container)
    .items.query<{ Id: string }>('SELECT c.Id FROM c')
    .fetchAll();
  const storedIds = resources.map((d) => d.Id);
  const distinct = new Set(storedIds);
  return {
    seed: run.seed,
    mode: run.mode,
    workers: run.workers,
    overlappingTasks: run.overlappingTasks,
    doubleDispatch: run.doubleDispatch,
    expected: expectedIds.size,
    stored: storedIds.length,
    missing: [...expectedIds].filter((id) => !distinct.has(id)),
    duplicates: storedIds.length - distinct.size,
    unexpected: [...distinct].filter((id) => !possibleIds.has(id)),
    expiredBlobs: run.expiredBlobs,
    gapBlobs,
    unexplainedGaps: [...gapBlobs.filter((id) => !explained(id)), ...rangeGaps],
    unexplainedQuarantine: quarantined.filter((id) => !explained(id)),
    rejectsNotKept,
    counts: {
      lateFound: run.lateFound,
      maxLatenessHours: Math.round(run.maxLateness / 3600),
      quarantined: quarantined.length,
      quarantineGaps,
      rejected: keptRejects.size,
      unreadableBlobs: unreadable.size,
      hostileRecords,
    },
    faults: run.faults,
    passes: run.passes,
  };
}
