import { setMaxListeners } from 'node:events';
import pLimit from 'p-limit';
import { HARD_STOP_GRACE_SECONDS, type TenantConfig } from '../config';
import type { ContentBlobRef, ContentType } from '../contentTypes';
import { AbortedError, ContentUnavailableError, SubscriptionNotEnabledError } from '../errors';
import { silentLogger, type Logger } from '../logging';
import type { ClientStats, ManagementActivityClient } from '../managementApi/client';
import { Batcher, type BatchSink } from '../messages/batcher';
import type { Compression } from '../messages/envelope';
import { WatermarkConflictError, type WatermarkStore } from '../storage/watermarkStore';
import { summarise, type ContentTypeRunSummary, type RunSummary } from './summary';
import type { Watermark } from './watermark';
import { API_RETENTION_MS, floorToSecond, HOUR_MS, planWindows, type Window } from './windows';

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

export interface CollectorOptions {
  tenants: TenantConfig[];
  contentTypes: ContentType[];
  clientFor: (tenantId: string) => ManagementActivityClient;
  watermarks: WatermarkStore;
  sink: BatchSink;
  overlapMs: number;
  initialLookbackHours: number;
  /** Stop taking new work this long after the run starts. */
  deadlineMs: number;
  /** In-flight requests are cancelled this long after the deadline. Default 60 s. */
  hardStopGraceMs?: number;
  /** Stay this far inside the API's 7 days. Default 15 minutes. */
  retentionMarginMs?: number;
  concurrency: { tenants: number; contentTypes: number; fetches: number };
  compression?: Compression;
  maxMessageBytes?: number;
  logger?: Logger;
  now?: () => Date;
  onStep?: (step: CollectorStep, info: StepInfo) => void | Promise<void>;
}

/**
 * The timer-triggered half of the pipeline (DESIGN §3): for every tenant × content type, list content
 * since the watermark, fetch new blobs, enqueue their records in size-bounded batches, and move the
 * watermark only past work that is durably enqueued.
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
    const deadline = Date.now() + this.options.deadlineMs;
    const hardStop = new AbortController();
    // Every request and backoff in flight listens on this one signal (and stops listening when done):
    // that is tenants × content types × fetches at once, more than Node's default of 10 before it warns.
    const { tenants, contentTypes, fetches } = this.options.concurrency;
    setMaxListeners(tenants * contentTypes * (fetches + 2) + 10, hardStop.signal);
    const timer = setTimeout(
      () => hardStop.abort(),
      this.options.deadlineMs + (this.options.hardStopGraceMs ?? HARD_STOP_GRACE_SECONDS * 1000),
    );
    const run: RunContext = { pastDeadline: () => Date.now() >= deadline, signal: hardStop.signal };
    try {
      const tenants = pLimit(this.options.concurrency.tenants);
      const parts = await Promise.all(
        this.options.tenants.map((tenant) =>
          tenants(async () => {
            const contentTypes = pLimit(this.options.concurrency.contentTypes);
            return Promise.all(
              this.options.contentTypes.map((ct) => contentTypes(() => this.collect(tenant, ct, run))),
            );
          }),
        ),
      );
      const summary = summarise(startedAt, this.now(), parts.flat());
      this.logger.info('Collector run finished', { summary });
      return summary;
    } finally {
      clearTimeout(timer);
    }
  }

  private async collect(
    tenant: TenantConfig,
    contentType: ContentType,
    run: RunContext,
  ): Promise<ContentTypeRunSummary> {
    const startedAt = this.now();
    const stats: ClientStats = { requests: 0, retries: 0, throttled: 0 };
    const s: ContentTypeRunSummary = {
      tenantId: tenant.tenantId,
      contentType,
      startedAt: startedAt.toISOString(),
      finishedAt: '',
      outcome: 'complete',
      windows: 0,
      pages: 0,
      blobs: 0,
      blobsSkipped: 0,
      records: 0,
      bytes: 0,
      messages: 0,
      claimChecks: 0,
      throttles: 0,
      retries: 0,
      gaps: 0,
      cursor: null,
      lagSeconds: null,
    };
    const work = new ContentTypeWork(
      this.options,
      tenant.tenantId,
      contentType,
      run,
      stats,
      s,
      this.logger,
      this.now,
    );
    try {
      await work.run();
    } catch (e) {
      if (e instanceof WatermarkConflictError) {
        s.outcome = 'conflict';
        this.logger.warn('Another collector run owns this content type; leaving it', {
          tenantId: tenant.tenantId,
          contentType,
        });
      } else if (e instanceof AbortedError) {
        s.outcome = 'deadline';
      } else {
        s.outcome = 'failed';
        s.error = e instanceof Error ? e.message : String(e);
        this.logger.error('Collecting a content type failed; progress up to the last saved page is kept', {
          tenantId: tenant.tenantId,
          contentType,
          error: s.error,
        });
      }
    }
    const finishedAt = this.now();
    s.finishedAt = finishedAt.toISOString();
    s.throttles = stats.throttled;
    s.retries = stats.retries;
    s.cursor = work.cursor?.toISOString() ?? null;
    s.lagSeconds = work.cursor ? Math.round((finishedAt.getTime() - work.cursor.getTime()) / 1000) : null;
    this.logger.info('Content type collected', { ...s });
    return s;
  }
}

interface RunContext {
  pastDeadline: () => boolean;
  signal: AbortSignal;
}

/** One tenant × content type within one run. */
class ContentTypeWork {
  private watermark!: Watermark;
  private etag: string | undefined;
  private readonly client: ManagementActivityClient;
  private readonly batcher: Batcher;
  private readonly tenantId: string;

  constructor(
    private readonly options: CollectorOptions,
    tenantId: string,
    private readonly contentType: ContentType,
    private readonly ctx: RunContext,
    private readonly stats: ClientStats,
    private readonly summary: ContentTypeRunSummary,
    private readonly logger: Logger,
    private readonly now: () => Date,
  ) {
    this.tenantId = tenantId;
    this.client = options.clientFor(tenantId);
    this.batcher = new Batcher({
      tenantId,
      contentType,
      sink: options.sink,
      ...(options.compression ? { compression: options.compression } : {}),
      ...(options.maxMessageBytes ? { maxMessageBytes: options.maxMessageBytes } : {}),
    });
  }

  get cursor(): Date | null {
    return this.watermark?.cursor ?? null;
  }

  async run(): Promise<void> {
    ({ watermark: this.watermark, etag: this.etag } = await this.options.watermarks.load(
      this.tenantId,
      this.contentType,
    ));
    await this.ensureSubscription();

    const now = this.now();
    const retentionMarginMs = this.options.retentionMarginMs ?? 15 * 60_000;
    const oldest = floorToSecond(now.getTime() - API_RETENTION_MS + retentionMarginMs);
    const cursor =
      this.watermark.cursor ??
      // First run: back as far as configured and the API allows; nothing before it was ever ours to lose.
      floorToSecond(Math.max(now.getTime() - this.options.initialLookbackHours * HOUR_MS, oldest.getTime()));
    const plan = planWindows(cursor, { now, overlapMs: this.options.overlapMs, retentionMarginMs });
    this.watermark.cursor = cursor;
    if (plan.gap) this.recordCursorGap(plan.gap);

    for (const window of plan.windows) {
      if (this.ctx.pastDeadline()) {
        this.summary.outcome = 'deadline';
        break;
      }
      const done = await this.collectWindow(window);
      if (!done) {
        this.summary.outcome = 'deadline';
        break;
      }
    }
    await this.save(); // the last save may be due to a gap or a cursor move without pages
    this.summary.bytes = this.batcher.stats.rawBytes;
  }

  private async ensureSubscription(): Promise<void> {
    if (this.watermark.subscription.enabled) return;
    const result = await this.client.startSubscription(this.contentType, {
      signal: this.ctx.signal,
      stats: this.stats,
    });
    this.logger.info(result.alreadyEnabled ? 'Subscription already enabled' : 'Subscription started', {
      tenantId: this.tenantId,
      contentType: this.contentType,
    });
    this.watermark.subscription = { enabled: true, confirmedAt: this.now().toISOString() };
    await this.save();
  }

  private recordCursorGap(gap: { start: Date; end: Date }): void {
    this.watermark.addGap({
      start: gap.start.toISOString(),
      end: gap.end.toISOString(),
      reason: 'cursor-older-than-api-retention',
    });
    this.summary.gaps++;
    this.watermark.cursor = gap.end;
    this.logger.error('Content older than the API keeps was never collected: recorded as a gap', {
      tenantId: this.tenantId,
      contentType: this.contentType,
      gapStart: gap.start.toISOString(),
      gapEnd: gap.end.toISOString(),
    });
  }

  /** Lists and enqueues one window; false when the deadline stopped it part-way. */
  private async collectWindow(window: Window): Promise<boolean> {
    this.summary.windows++;
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.collectPages(window);
      } catch (e) {
        // Disabled since we last looked (e.g. by an admin): start it again, once.
        if (!(e instanceof SubscriptionNotEnabledError) || attempt > 0) throw e;
        this.logger.warn('Subscription is not enabled; starting it again', {
          tenantId: this.tenantId,
          contentType: this.contentType,
          serviceCode: e.serviceCode,
        });
        this.watermark.subscription = { enabled: false, confirmedAt: null };
        await this.ensureSubscription();
      }
    }
  }

  private async collectPages(window: Window): Promise<boolean> {
    const listing = this.client.listContent(this.contentType, window.start, window.end, {
      signal: this.ctx.signal,
      stats: this.stats,
    });
    for await (const page of listing) {
      this.summary.pages++;
      await this.step('listed-page', { window, page: page.page });
      const fresh = page.items.filter((item) => !this.watermark.hasSeen(item.contentId));
      this.summary.blobsSkipped += page.items.length - fresh.length;

      await this.enqueueBlobs(fresh, window, page.page);
      await this.batcher.flush();
      this.summary.messages = this.batcher.stats.messages;
      this.summary.claimChecks = this.batcher.stats.claimChecks;
      await this.step('enqueued-page', { window, page: page.page });

      for (const item of fresh) this.watermark.markSeen(item.contentId, item.contentCreated);
      const lastPage = page.nextPageUri === undefined;
      if (lastPage) this.advanceCursor(window.end);
      if (fresh.length > 0 || lastPage) await this.save(window, page.page);
      if (!lastPage && this.ctx.pastDeadline()) return false;
    }
    return true;
  }

  private async enqueueBlobs(items: ContentBlobRef[], window: Window, page: number): Promise<void> {
    // A fetch slot is held until its records are in the batcher, so at most `fetches` blobs are in memory.
    const fetches = pLimit(this.options.concurrency.fetches);
    let batcherTurn = Promise.resolve();
    await Promise.all(
      items.map((item) =>
        fetches(async () => {
          const records = await this.fetch(item);
          await this.step('fetched-blob', { window, page, contentId: item.contentId });
          const turn = batcherTurn.then(async () => {
            for (const record of records ?? []) await this.batcher.add(record, item.contentId);
          });
          batcherTurn = turn.catch(() => undefined);
          await turn;
          if (records) {
            this.summary.blobs++;
            this.summary.records += records.length;
          }
        }),
      ),
    );
  }

  /** Fetches a blob; content the service no longer has becomes a recorded gap instead of a failure. */
  private async fetch(item: ContentBlobRef) {
    try {
      return await this.client.fetchContent(item.contentUri, { signal: this.ctx.signal, stats: this.stats });
    } catch (e) {
      if (!(e instanceof ContentUnavailableError)) throw e;
      this.watermark.addGap({
        start: item.contentCreated,
        end: item.contentExpiration,
        reason: 'content-expired',
        contentId: item.contentId,
      });
      this.summary.gaps++;
      this.logger.error('Content blob is gone from the service: recorded as a gap', {
        tenantId: this.tenantId,
        contentType: this.contentType,
        contentId: item.contentId,
        contentCreated: item.contentCreated,
        serviceCode: e.serviceCode,
      });
      return undefined;
    }
  }

  private advanceCursor(to: Date): void {
    if (!this.watermark.cursor || to > this.watermark.cursor) this.watermark.cursor = to;
    // Nothing before cursor − overlap is listed again, so those entries can go.
    this.watermark.pruneSeen(new Date(this.watermark.cursor.getTime() - this.options.overlapMs));
  }

  private async save(window?: Window, page?: number): Promise<void> {
    if (window) await this.step('saving-watermark', { window, ...(page !== undefined ? { page } : {}) });
    const now = this.now();
    const cursor = this.watermark.cursor;
    this.summary.bytes = this.batcher.stats.rawBytes;
    this.summary.throttles = this.stats.throttled;
    this.summary.retries = this.stats.retries;
    this.summary.cursor = cursor?.toISOString() ?? null;
    this.summary.lagSeconds = cursor ? Math.round((now.getTime() - cursor.getTime()) / 1000) : null;
    this.watermark.lastRun = { ...this.summary, finishedAt: now.toISOString() };
    this.etag = await this.options.watermarks.save(this.watermark, this.etag, now);
    if (window) await this.step('saved-watermark', { window, ...(page !== undefined ? { page } : {}) });
  }

  private async step(step: CollectorStep, info: Omit<StepInfo, 'tenantId' | 'contentType'>): Promise<void> {
    await this.options.onStep?.(step, { tenantId: this.tenantId, contentType: this.contentType, ...info });
  }
}
