import { setMaxListeners } from 'node:events';
import type { ContainerClient } from '@azure/storage-blob';
import type { QueueClient } from '@azure/storage-queue';
import type { CollectorOptions, Collector } from '../../shared/collector/collector';
import type { RunSummary } from '../../shared/collector/summary';
import type { Watermark } from '../../shared/collector/watermark';
import type { AuditfeedConfig } from '../../shared/config';
import { collect, dispatch } from '../../shared/handlers/collect';
import { collectTask } from '../../shared/handlers/collectTask';
import { summarise, type ContentTypeRunSummary } from '../../shared/collector/summary';
import { write } from '../../shared/handlers/write';
import type { Logger } from '../../shared/logging';
import type { BatchSink } from '../../shared/messages/batcher';
import { CollectorRuntime } from '../../shared/runtime';
import { CONTAINERS } from '../../shared/storage/clients';
import { WatermarkStore } from '../../shared/storage/watermarkStore';
import { WriterRuntime } from '../../shared/writerRuntime';
import type { HostSettings } from '../../shared/hostSettings';
import { drainQueue, type QueueDelivery } from './queueTrigger';
import type { RunStats } from './stats';
import { NcrontabSchedule } from '../../shared/ncrontab';

/**
 * Drives the real handlers the way the Functions host does (DESIGN §7): `collect` on the timer schedule,
 * `write` per queue message with host.json's batch size, visibility timeout, dequeue count and poison
 * queue. Local time is compressed in two places, both documented in the README: the first collector
 * run starts at once, and while a run stops at its deadline with backlog left the next starts at once
 * instead of at the next occurrence.
 *
 * stop() is the host shutting down: no new collector run and no new queue message; the writer
 * invocations in flight finish, and a collector run in flight stops at its next safe point, as at its
 * deadline — all bounded by a drain timeout. Only then may the caller stop the services.
 */

export interface PipelineOptions {
  config: AuditfeedConfig;
  host: HostSettings;
  stats: RunStats;
  logger: Logger;
  /** 'once': give up on a collector that keeps failing, so the run can end. */
  mode: 'once' | 'follow';
  /** Caught up means the lag is at most this; default 10 minutes. */
  caughtUpLagSeconds?: number;
  /** How long stop() waits for work in flight; default DRAIN_TIMEOUT_MS. */
  drainTimeoutMs?: number;
  /** Fanout mode: collectorWorker instances, each taking one task at a time. Default 3. */
  collectorWorkers?: number;
}

export type PipelineEnd = 'caught-up' | 'collector-failed' | 'stopped';

export interface InFlight {
  /** Writer invocations running (one queue message = one batch of records each). */
  writerBatches: number;
  collectorRun: boolean;
}

export interface StopResult {
  /** What was running when stop() was first called. */
  inFlight: InFlight;
  /** True when all of it reached a safe point within the drain timeout. */
  drained: boolean;
  /** What was still running when the drain timeout passed (nothing when drained). */
  abandoned: InFlight;
  drainMs: number;
}

/** The host's shortest poll of an empty queue; back-off doubles up to maxPollingInterval. */
const MIN_POLL_MS = 100;
/** Pause before the next try after a failed collector run in --once mode. */
const FAILED_RUN_RETRY_MS = 5_000;
/** Failed collector runs in a row after which --once gives up. */
const MAX_FAILED_RUNS = 3;
/** Work in flight gets this long to reach a safe point after stop(). */
export const DRAIN_TIMEOUT_MS = 30_000;

/** Watermark saves as they happen, so the display can show each content type's lag mid-run. */
class ObservedWatermarkStore extends WatermarkStore {
  constructor(
    container: ContainerClient,
    private readonly onSaved: (watermark: Watermark) => void,
  ) {
    super(container);
  }

  override async save(watermark: Watermark, etag: string | undefined, now: Date): Promise<string> {
    const tag = await super.save(watermark, etag, now);
    this.onSaved(watermark);
    return tag;
  }
}

/**
 * The product's composition root with counting wrappers around the sink and the watermark store, and a
 * collector clock that jumps to the run's deadline once the runner stops: the collector then stops
 * taking new work at its next check, exactly as at a real deadline (its watermark only ever moves past
 * durably enqueued work), instead of being cut off by the services going away.
 */
class LocalCollectorRuntime extends CollectorRuntime {
  private readonly observed: ObservedWatermarkStore;
  private readonly counting: BatchSink;

  constructor(
    config: AuditfeedConfig,
    logger: Logger,
    stats: RunStats,
    private readonly stopRequested: () => boolean,
  ) {
    super(config, logger);
    this.observed = new ObservedWatermarkStore(
      this.storage.blobs.getContainerClient(CONTAINERS.watermarks),
      (w) => stats.cursorSaved(w.contentType, w.cursor),
    );
    const sink = this.sink;
    this.counting = {
      enqueue: async (text, envelope) => {
        await sink.enqueue(text);
        stats.enqueued(envelope.contentType, envelope.count);
      },
      storeClaimCheck: (envelope, compressed) => sink.storeClaimCheck(envelope, compressed),
    };
  }

  override collector(overrides: Partial<CollectorOptions> = {}): Collector {
    const base = overrides.now ?? (() => new Date());
    const deadlineMs = overrides.deadlineMs ?? this.config.runDeadlineMs;
    // The collector's first reading is its run's start, so start + deadlineMs is its deadline. Held
    // there (not beyond) once stopping: what the run still saves is stamped as at a real deadline.
    let startedAt: number | undefined;
    const now = (): Date => {
      const t = base().getTime();
      startedAt ??= t;
      return new Date(this.stopRequested() ? Math.max(t, startedAt + deadlineMs) : t);
    };
    return super.collector({ sink: this.counting, watermarks: this.observed, ...overrides, now });
  }
}

export class Pipeline {
  readonly collectorRuntime: CollectorRuntime;
  readonly writerRuntime: WriterRuntime;
  readonly queue: QueueClient;
  readonly poisonQueue: QueueClient;
  private readonly schedule: NcrontabSchedule;
  private stopping = false;
  private stopped: Promise<StopResult> | undefined;
  private readonly sleepers = new Set<() => void>();
  private writerLoops: Promise<void>[] = [];
  private workerLoops: Promise<void>[] = [];
  /** Fanout mode: tasks running now, and the summaries of tasks run since the last dispatch. */
  private tasksRunning = 0;
  private taskSummaries: ContentTypeRunSummary[] = [];
  readonly workQueue: QueueClient;
  readonly workPoisonQueue: QueueClient;
  private depthLoop: Promise<void> | undefined;
  private timerLoop: Promise<void> | undefined;
  /** Per writer loop: start time of its latest receive pass that found the queue empty. */
  private readonly lastDrainedAt: number[] = [];
  private lastRunFinishedAt = 0;
  private collectorGaveUp = false;

  constructor(private readonly options: PipelineOptions) {
    const { config, logger, stats } = options;
    this.schedule = NcrontabSchedule.parse(config.collectSchedule);
    this.collectorRuntime = new LocalCollectorRuntime(config, logger, stats, () => this.stopping);
    this.writerRuntime = new WriterRuntime(config, logger);
    this.queue = this.writerRuntime.storage.queues.getQueueClient(config.queueName);
    this.poisonQueue = this.writerRuntime.storage.queues.getQueueClient(`${config.queueName}-poison`);
    this.workQueue = this.collectorRuntime.workQueue;
    this.workPoisonQueue = this.collectorRuntime.storage.queues.getQueueClient(
      `${config.workQueueName}-poison`,
    );
  }

  /** True when the timer dispatches tasks to collectorWorker loops (AUDITFEED_COLLECT_MODE). */
  get fanout(): boolean {
    return this.options.config.collectMode === 'fanout';
  }

  /** Creates what the host would find in Azure (queue, containers), then starts the triggers. */
  async start(): Promise<void> {
    // A collector run shares one abort signal among all its concurrent requests: that many listeners
    // are expected, not a leak, and Node's warning about them would only tear the display.
    const c = this.options.config.concurrency;
    setMaxListeners(Math.max(10, c.tenants * c.contentTypes * (c.fetches + 2)));
    await Promise.all([this.collectorRuntime.ensureResources(), this.writerRuntime.ensureResources()]);
    this.timerLoop = this.runTimer();
    const { batchSize, newBatchThreshold } = this.options.host.queues;
    // The host fetches another batch once in-flight messages drop to newBatchThreshold, so up to
    // batchSize + newBatchThreshold run at once; a second, smaller receive loop gives the same ceiling.
    const loops = newBatchThreshold > 0 ? [batchSize, newBatchThreshold] : [batchSize];
    this.writerLoops = loops.map((size, i) => this.runWriter(size, i));
    if (this.fanout) {
      this.workerLoops = Array.from({ length: this.options.collectorWorkers ?? 3 }, () =>
        this.runCollectorWorker(),
      );
    }
    this.depthLoop = this.pollDepth();
  }

  /**
   * Resolves once the backlog is caught up: every content type complete, queue empty, lag small — after
   * more than `afterRuns` collector runs have ended.
   */
  async untilCaughtUp(afterRuns = 0): Promise<PipelineEnd> {
    const maxLag = this.options.caughtUpLagSeconds ?? 600;
    while (!this.stopping) {
      await this.sleep(250);
      const { stats } = this.options;
      const run = stats.lastRun;
      if (stats.finishedRuns <= afterRuns && !this.collectorGaveUp) continue;
      if (stats.collectorRunning || (!run && !this.collectorGaveUp)) continue;
      const complete = run?.contentTypes.every((c) => c.outcome === 'complete') ?? false;
      if (!complete && !this.collectorGaveUp) continue;
      // Every receive loop must have found the queue empty since the collector last enqueued.
      const drained = this.writerLoops.every((_, i) => (this.lastDrainedAt[i] ?? 0) > this.lastRunFinishedAt);
      if (stats.inFlight > 0 || !drained) continue;
      const depth = (await this.queue.getProperties()).approximateMessagesCount ?? 0;
      stats.queueDepth = depth;
      if (depth > 0) continue;
      if (this.collectorGaveUp) return 'collector-failed';
      const lag = stats.maxLagSeconds();
      if (lag !== undefined && lag <= maxLag) return 'caught-up';
    }
    return 'stopped';
  }

  /** What is running now. */
  inFlight(): InFlight {
    const { stats } = this.options;
    return { writerBatches: stats.inFlight, collectorRun: stats.collectorRunning };
  }

  /** True once stop() was called. */
  get stopRequested(): boolean {
    return this.stopping;
  }

  /**
   * Stops the triggers and drains: no new collector run or message; writer invocations in flight finish
   * and a collector run in flight stops at its next safe point, within the drain timeout. Idempotent.
   */
  stop(): Promise<StopResult> {
    this.stopped ??= this.stopTriggers();
    return this.stopped;
  }

  private async stopTriggers(): Promise<StopResult> {
    const inFlight = this.inFlight();
    const started = Date.now();
    this.stopping = true;
    for (const wake of this.sleepers) wake();
    this.sleepers.clear();
    // Past the timeout, what is left is abandoned: a writer's message is delivered again after its lease,
    // and the next collector run redoes at most the unfinished part of this one.
    let timer: NodeJS.Timeout | undefined;
    const drained = await Promise.race([
      Promise.allSettled([...this.writerLoops, ...this.workerLoops, this.depthLoop, this.timerLoop]).then(
        () => true,
      ),
      new Promise<false>(
        (resolve) =>
          (timer = setTimeout(() => resolve(false), this.options.drainTimeoutMs ?? DRAIN_TIMEOUT_MS)),
      ),
    ]);
    clearTimeout(timer);
    const left = this.inFlight();
    return {
      inFlight,
      drained,
      abandoned: drained ? { writerBatches: 0, collectorRun: false } : left,
      drainMs: Date.now() - started,
    };
  }

  close(): void {
    this.collectorRuntime.close();
    this.writerRuntime.close();
  }

  private async runTimer(): Promise<void> {
    const { stats, logger, config, mode } = this.options;
    let next = Date.now(); // first run at once (compressed time)
    let failures = 0;
    while (!this.stopping) {
      stats.nextCollectorRun = new Date(next);
      await this.sleep(next - Date.now());
      if (this.stopping) return;
      stats.nextCollectorRun = undefined;
      // Late by more than a few seconds: the host would set isPastDue.
      const isPastDue = Date.now() - next > 5_000;
      stats.runStarted(config.contentTypes);
      let summary: RunSummary | undefined;
      try {
        summary = this.fanout
          ? await this.dispatchAndWait(isPastDue)
          : await collect(this.collectorRuntime, logger, isPastDue);
        stats.runFinished(summary);
      } catch (e) {
        logger.error(`Collector run failed: ${(e as Error).message}`, { error: (e as Error).name });
        stats.runFailed(config.contentTypes);
      }
      this.lastRunFinishedAt = Date.now();
      if (this.stopping) return;
      const outcomes = summary?.contentTypes.map((c) => c.outcome) ?? ['failed'];
      if (outcomes.every((o) => o === 'complete')) {
        failures = 0;
        next = this.schedule.next(new Date()).getTime();
      } else if (outcomes.every((o) => o === 'complete' || o === 'deadline')) {
        failures = 0;
        next = Date.now(); // backlog left: go on at once (compressed time)
      } else if (mode === 'once') {
        failures += 1;
        if (failures >= MAX_FAILED_RUNS) {
          this.collectorGaveUp = true;
          return;
        }
        next = Date.now() + FAILED_RUN_RETRY_MS;
      } else {
        // As in Azure: a timer function is not retried; the next occurrence tries again.
        next = this.schedule.next(new Date()).getTime();
      }
    }
  }

  /**
   * Fanout mode: the timer's dispatch, then — so the display and the caught-up check see runs as in
   * inline mode — waits until the worker loops have run every task (the work queue counts a message
   * until its task completes) and sums up their summaries as one run.
   */
  private async dispatchAndWait(isPastDue: boolean): Promise<RunSummary> {
    const startedAt = new Date();
    this.taskSummaries = [];
    await dispatch(this.collectorRuntime, this.options.logger, isPastDue);
    while (!this.stopping) {
      await this.sleep(200);
      if (this.tasksRunning > 0) continue;
      const depth = (await this.workQueue.getProperties()).approximateMessagesCount ?? 0;
      if (depth === 0 && this.tasksRunning === 0) break;
    }
    return summarise(startedAt, new Date(), this.taskSummaries.splice(0));
  }

  /** One collectorWorker instance: one task at a time, with the queue trigger's delivery semantics. */
  private async runCollectorWorker(): Promise<void> {
    const { host, logger } = this.options;
    const q = host.queues;
    await this.listen(async () => {
      try {
        const r = await drainQueue({
          queue: this.workQueue,
          poisonQueue: this.workPoisonQueue,
          handler: async (m) => {
            this.tasksRunning += 1;
            try {
              const result = await collectTask(this.collectorRuntime, m.text, logger);
              if (result.summary) this.taskSummaries.push(result.summary);
            } finally {
              this.tasksRunning -= 1;
            }
          },
          batchSize: 1,
          visibilityTimeoutSeconds: q.visibilityTimeoutSeconds,
          maxDequeueCount: q.maxDequeueCount,
          leaseSeconds: host.functionTimeoutSeconds,
          timeoutMs: 1_000,
          stopped: () => this.stopping,
          onError: (m, e) =>
            logger.error(`Collection task failed: ${(e as Error).message}`, { messageId: m.id }),
        });
        for (const id of r.poisoned) {
          logger.error(
            `Collection task ${id} reached maxDequeueCount; moved to ${this.workPoisonQueue.name}`,
          );
        }
        return r.invocations;
      } catch (e) {
        logger.error(`Work queue trigger could not receive messages: ${(e as Error).message}`);
        return 0;
      }
    });
  }

  /**
   * A queue trigger's listener: runs `pass` (one short drain, returning its invocations) again at once
   * while it finds messages, and with a randomised exponential back-off while the queue is empty, as
   * the host's listener does (up to host.json maxPollingInterval).
   */
  private async listen(pass: () => Promise<number>): Promise<void> {
    let idleMs = MIN_POLL_MS;
    while (!this.stopping) {
      if ((await pass()) > 0) {
        idleMs = MIN_POLL_MS;
        continue;
      }
      await this.sleep(idleMs * (0.8 + 0.4 * Math.random()));
      idleMs = Math.min(this.options.host.queues.maxPollingIntervalMs, idleMs * 2);
    }
  }

  private async runWriter(batchSize: number, index: number): Promise<void> {
    const { host, stats, logger } = this.options;
    const q = host.queues;
    const handler = async (m: QueueDelivery): Promise<void> => {
      stats.inFlight += 1;
      try {
        const text = q.messageEncoding === 'base64' ? Buffer.from(m.text, 'base64').toString('utf8') : m.text;
        const result = await write(
          this.writerRuntime,
          text,
          { messageId: m.id, dequeueCount: m.dequeueCount },
          logger,
        );
        stats.written(result);
      } finally {
        stats.inFlight -= 1;
      }
    };
    await this.listen(async () => {
      const startedAt = Date.now();
      try {
        const r = await drainQueue({
          queue: this.queue,
          poisonQueue: this.poisonQueue,
          handler,
          batchSize,
          visibilityTimeoutSeconds: q.visibilityTimeoutSeconds,
          maxDequeueCount: q.maxDequeueCount,
          leaseSeconds: host.functionTimeoutSeconds,
          // Short passes; stop() is also seen before every receive.
          timeoutMs: 1_000,
          stopped: () => this.stopping,
          onError: () => {
            stats.failedDeliveries += 1;
          },
        });
        if (r.poisoned.length > 0) {
          stats.poisoned.push(...r.poisoned);
          for (const id of r.poisoned) {
            logger.error(
              `Message ${id} reached maxDequeueCount of ${q.maxDequeueCount}; moved to ${this.poisonQueue.name}`,
            );
          }
        }
        if (r.drained) this.lastDrainedAt[index] = startedAt;
        return r.invocations;
      } catch (e) {
        logger.error(`Queue trigger could not receive messages: ${(e as Error).message}`);
        return 0;
      }
    });
  }

  private async pollDepth(): Promise<void> {
    while (!this.stopping) {
      try {
        this.options.stats.queueDepth = (await this.queue.getProperties()).approximateMessagesCount ?? 0;
      } catch {
        // The display keeps the last value; a real problem shows up in the writer's own errors.
      }
      await this.sleep(1_000);
    }
  }

  /** A sleep that stop() cuts short. */
  private sleep(ms: number): Promise<void> {
    if (this.stopping) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.sleepers.delete(done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, ms));
      this.sleepers.add(done);
    });
  }
}
