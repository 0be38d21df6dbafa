import { setMaxListeners } from 'node:events';
import pLimit from 'p-limit';
import { HARD_STOP_GRACE_SECONDS, type TenantConfig } from '../config';
import type { ContentType } from '../contentTypes';
import { AbortedError } from '../errors';
import { silentLogger, type Logger } from '../logging';
import { Rng } from '../rng';
import type { ClientStats, ManagementActivityClient } from '../managementApi/client';
import type { BatchSink } from '../messages/batcher';
import type { Compression } from '../messages/envelope';
import { WatermarkConflictError, type WatermarkStore } from '../storage/watermarkStore';
import type { RejectedRecord } from '../writer/rejectedRecords';
import { ContentTypeRun, type RunContext } from './contentTypeRun';
import type { QuarantinePolicy } from './quarantine';
import type { SeenSegmentStore } from './seenSet';
import { emptyContentTypeSummary, summarise, type ContentTypeRunSummary, type RunSummary } from './summary';
import type { Window } from './windows';

/** Points where tests inject crashes; production passes nothing. */
export type CollectorStep =
  'listed-page' | 'fetched-blob' | 'enqueued-page' | 'saving-watermark' | 'saved-watermark';

export interface StepInfo {
  tenantId: string;
  contentType: ContentType;
  window: Window;
  page?: number;
  contentId?: string;
}

/** Where records the collector cannot use are kept, with the reason. */
export interface RejectedRecordSink {
  save(rejected: RejectedRecord): Promise<string>;
}

export interface CollectorOptions {
  tenants: TenantConfig[];
  contentTypes: ContentType[];
  clientFor: (tenantId: string, contentType: ContentType) => ManagementActivityClient;
  watermarks: WatermarkStore;
  /** The set of blobs already collected, over the API's whole retention. */
  seen: SeenSegmentStore;
  rejects: RejectedRecordSink;
  sink: BatchSink;
  overlapMs: number;
  initialLookbackHours: number;
  /** A full-retention re-listing runs this often (0: every run). */
  sweepIntervalMs: number;
  /** Stop taking new work this long after the run starts (by `now`). */
  deadlineMs: number;
  /** In-flight requests are cancelled this long (wall clock) after the deadline. Default 60 s. */
  hardStopGraceMs?: number;
  concurrency: { tenants: number; contentTypes: number; fetches: number };
  quarantine?: Partial<QuarantinePolicy>;
  compression?: Compression;
  maxMessageBytes?: number;
  logger?: Logger;
  /** The clock of planning and deadlines; tests drive it with counted work. */
  now?: () => Date;
  onStep?: (step: CollectorStep, info: StepInfo) => void | Promise<void>;
}

/**
 * The timer-triggered half of the pipeline (DESIGN §3): for every tenant × content type, list content
 * since the watermark (and the whole retention on a cadence), fetch new blobs, enqueue their records in
 * size-bounded batches, and move the watermark only past work that is durably enqueued.
 *
 * Tenants share the run fairly: they start in a different order every run, and each gets a share of
 * what is left of the run when it starts, so no tenant is starved by the ones before it.
 */
export class Collector {
  private readonly logger: Logger;
  private readonly now: () => Date;

  constructor(private readonly options: CollectorOptions) {
    this.logger = options.logger ?? silentLogger;
    this.now = options.now ?? (() => new Date());
  }

  async run(): Promise<RunSummary> {
    const startedAt = this.now();
    const { tenants, contentTypes, fetches } = this.options.concurrency;
    return this.withDeadline(
      startedAt,
      this.options.deadlineMs,
      tenants * contentTypes * (fetches + 2),
      async (deadline, signal, pastDeadline) => {
        const order = rotate(this.options.tenants, startedAt.getTime());
        const slots = pLimit(tenants);
        let waiting = order.length;
        const parts = await Promise.all(
          order.map((tenant) =>
            slots(async () => {
              // This tenant's share: what is left of the run, split among it and the tenants still
              // waiting, as many at a time as run concurrently.
              const start = this.now().getTime();
              const share = start + (Math.max(0, deadline - start) * tenants) / Math.max(1, waiting);
              waiting--;
              const ctx: RunContext = {
                shareEnd: share,
                deadline,
                pastShare: () => this.now().getTime() >= share,
                pastDeadline,
                signal,
              };
              const limit = pLimit(contentTypes);
              return Promise.all(
                this.options.contentTypes.map((ct) => limit(() => this.collect(tenant, ct, ctx))),
              );
            }),
          ),
        );
        const all = parts.flat();
        const summary = summarise(startedAt, this.now(), all);
        // The order tenants were served in is not the configured one; summaries follow the configuration.
        const position = new Map(this.options.tenants.map((t, i) => [t.tenantId, i]));
        summary.contentTypes.sort(
          (a, b) => (position.get(a.tenantId) ?? 0) - (position.get(b.tenantId) ?? 0),
        );
        this.logger.info('Collector run finished', { summary: { ...summary, contentTypes: undefined } });
        return summary;
      },
    );
  }

  /**
   * One tenant × content type on its own (a fanned-out task, docs/scale.md): the whole of `deadlineMs` is
   * its share, with the same guarantees as inside a run.
   */
  async runOne(
    tenantId: string,
    contentType: ContentType,
    deadlineMs: number,
  ): Promise<ContentTypeRunSummary> {
    const tenant = this.options.tenants.find((t) => t.tenantId === tenantId) ?? {
      tenantId,
      publisherId: tenantId,
    };
    return this.withDeadline(
      this.now(),
      deadlineMs,
      this.options.concurrency.fetches + 2,
      (deadline, signal, pastDeadline) =>
        this.collect(tenant, contentType, {
          shareEnd: deadline,
          deadline,
          pastShare: pastDeadline,
          pastDeadline,
          signal,
        }),
    );
  }

  /**
   * Runs work to a deadline (by the collector's clock) with a hard stop: every request and backoff in
   * flight listens on one signal that aborts `hardStopGraceMs` (wall clock) after the deadline.
   */
  private async withDeadline<T>(
    startedAt: Date,
    deadlineMs: number,
    listeners: number,
    work: (deadline: number, signal: AbortSignal, pastDeadline: () => boolean) => Promise<T>,
  ): Promise<T> {
    const deadline = startedAt.getTime() + deadlineMs;
    const hardStop = new AbortController();
    // Every request in flight listens on this one signal: more than Node's default of 10 before it warns.
    setMaxListeners(listeners + 10, hardStop.signal);
    const timer = setTimeout(
      () => hardStop.abort(),
      deadlineMs + (this.options.hardStopGraceMs ?? HARD_STOP_GRACE_SECONDS * 1000),
    );
    try {
      return await work(deadline, hardStop.signal, () => this.now().getTime() >= deadline);
    } finally {
      clearTimeout(timer);
    }
  }

  private async collect(
    tenant: TenantConfig,
    contentType: ContentType,
    ctx: RunContext,
  ): Promise<ContentTypeRunSummary> {
    const stats: ClientStats = { requests: 0, retries: 0, throttled: 0 };
    const summary = emptyContentTypeSummary(tenant.tenantId, contentType, this.now());
    const work = new ContentTypeRun(
      this.options,
      tenant.tenantId,
      contentType,
      ctx,
      stats,
      summary,
      this.logger,
      this.now,
    );
    try {
      await work.run();
    } catch (e) {
      if (e instanceof WatermarkConflictError) {
        summary.outcome = 'conflict';
        this.logger.warn('Another collector run owns this content type; leaving it', {
          tenantId: tenant.tenantId,
          contentType,
        });
      } else if (e instanceof AbortedError) {
        summary.outcome = 'deadline';
      } else {
        summary.outcome = 'failed';
        summary.error = e instanceof Error ? e.message : String(e);
        this.logger.error('Collecting a content type failed; progress up to the last saved page is kept', {
          tenantId: tenant.tenantId,
          contentType,
          error: summary.error,
        });
      }
    }
    const finishedAt = this.now();
    work.fillSummary(finishedAt);
    summary.finishedAt = finishedAt.toISOString();
    // One short line per tenant × content type: what the alerts and dashboards read.
    this.logger.info('Content type collected', { ...summary });
    return summary;
  }
}

/** The tenants in an order that changes every run (a shuffle seeded by the run's start time). */
export function rotate<T>(items: readonly T[], seed: number): T[] {
  const rng = new Rng(Math.floor(seed));
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = rng.int(0, i);
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}
