import { createHash } from 'node:crypto';
import pLimit from 'p-limit';
import type { ContentBlobRef, ContentType } from '../contentTypes';
import {
  AbortedError,
  ManagementApiError,
  SubscriptionNotEnabledError,
  ThrottledError,
  UntrustedUrlError,
} from '../errors';
import type { Logger } from '../logging';
import type { ClientStats, ManagementActivityClient } from '../managementApi/client';
import type { BlobElement } from '../managementApi/recordSplitter';
import { Batcher, RecordTooLargeError } from '../messages/batcher';
import type { WatermarkStore } from '../storage/watermarkStore';
import type { RejectedRecord } from '../writer/rejectedRecords';
import type { CollectorOptions, CollectorStep, StepInfo } from './collector';
import {
  DEFAULT_QUARANTINE,
  hasExpired,
  isDue,
  isExpiredForGood,
  QuarantineFullError,
  quarantined,
} from './quarantine';
import { SeenSet } from './seenSet';
import type { ContentTypeRunSummary } from './summary';
import type { ListingResume, Watermark } from './watermark';
import {
  DAY_MS,
  FIRST_RUN_MARGIN_MS,
  floorToSecond,
  HOUR_MS,
  oldestListable,
  planWindows,
  splitWindows,
  type Window,
} from './windows';

/** The deadlines one tenant × content type works to (collector.ts shares the run among tenants). */
export interface RunContext {
  /** When this tenant's share of the run ends, and when the run's deadline is (by the collector's clock). */
  shareEnd: number;
  deadline: number;
  /** This tenant's share of the run is used up. */
  pastShare: () => boolean;
  /** The run's own deadline has passed. */
  pastDeadline: () => boolean;
  signal: AbortSignal;
}

type ListingKind = 'regular' | 'sweep';

/** How hard to try one blob: the client's own retries, or one attempt (a blob already quarantined). */
type BlobRetry = 'normal' | 'once';

/** What became of one blob. */
type BlobOutcome = { kind: 'collected'; records: number } | { kind: 'gap' } | { kind: 'quarantined' };

/**
 * One tenant × content type within one run (DESIGN §3): retry quarantined blobs, re-list the whole
 * retention when a sweep is due, list from the cursor to now, and save progress after every page whose
 * blobs are durably enqueued.
 */
export class ContentTypeRun {
  private watermark!: Watermark;
  private etag: string | undefined;
  private seen!: SeenSet;
  private readonly client: ManagementActivityClient;
  private readonly batcher: Batcher;
  private readonly watermarks: WatermarkStore;
  private readonly quarantinePolicy;
  /** The cursor this run started from: blobs created before it were listed late. */
  private cursorAtStart = 0;
  /** The first unit of work is always done, so every tenant moves in every run. */
  private worked = false;
  /** End of the current phase's budget (a sweep takes at most half of a share). */
  private phaseEnd = Infinity;
  private running = true;

  constructor(
    private readonly options: CollectorOptions,
    private readonly tenantId: string,
    private readonly contentType: ContentType,
    private readonly ctx: RunContext,
    private readonly stats: ClientStats,
    readonly summary: ContentTypeRunSummary,
    private readonly logger: Logger,
    private readonly now: () => Date,
  ) {
    this.client = options.clientFor(tenantId, contentType);
    this.watermarks = options.watermarks;
    this.quarantinePolicy = { ...DEFAULT_QUARANTINE, ...options.quarantine };
    this.batcher = new Batcher({
      tenantId,
      contentType,
      sink: options.sink,
      ...(options.compression ? { compression: options.compression } : {}),
      ...(options.maxMessageBytes ? { maxMessageBytes: options.maxMessageBytes } : {}),
    });
  }

  async run(): Promise<void> {
    ({ watermark: this.watermark, etag: this.etag } = await this.watermarks.load(
      this.tenantId,
      this.contentType,
    ));
    this.seen = new SeenSet(this.options.seen, this.tenantId, this.contentType);
    // A version 1 watermark kept its recently-seen blobs inline; they move to the seen set.
    for (const [hash, created] of this.watermark.legacySeen) this.seen.addLegacy(hash, created);
    this.watermark.legacySeen = [];
    if (this.watermark.fromVersion1 && this.watermark.cursor && !this.watermark.origin) {
      // Version 1 remembered blobs only within the overlap: sweeping below it would fetch (and write)
      // up to 7 days again. The sweeps start where that memory does.
      this.watermark.origin = floorToSecond(this.watermark.cursor.getTime() - this.options.overlapMs);
    }
    await this.ensureSubscription();

    const now = this.now();
    if (!this.watermark.cursor) {
      // First run: back as far as configured and the API allows; nothing before it was ever ours to
      // lose. Saved at once, so a failing first window cannot let the start point slide unrecorded.
      const lookback = now.getTime() - this.options.initialLookbackHours * HOUR_MS;
      const start = floorToSecond(Math.max(lookback, oldestListable(now, FIRST_RUN_MARGIN_MS).getTime()));
      this.watermark.cursor = start;
      this.watermark.origin = start;
      await this.save();
    }
    this.cursorAtStart = this.watermark.cursor.getTime();

    await this.retryQuarantined();
    const plan = planWindows(this.watermark.cursor, {
      now,
      overlapMs: this.options.overlapMs,
    });
    if (plan.gap) this.recordCursorGap(plan.gap);
    const notBefore = this.watermark.origin?.getTime() ?? 0;
    const regular = withResume(plan.windows, this.watermark.resume, plan.gap?.end.getTime() ?? 0);
    // The overlap goes after the new content; nothing before the first run's start is ours to list.
    const overlap = plan.overlap && plan.overlap.end.getTime() > notBefore ? plan.overlap : undefined;
    if (overlap) {
      regular.push({ start: new Date(Math.max(overlap.start.getTime(), notBefore)), end: overlap.end });
    }

    if (this.sweepDue(now)) {
      // The sweep reaches back the furthest (what expires first); it takes at most half of what is left
      // of this share, so the recent listing still moves in the same run.
      const start = this.now().getTime();
      this.phaseEnd = start + (Math.min(this.ctx.shareEnd, this.ctx.deadline) - start) / 2;
      const done = await this.sweep(now, plan.listFrom);
      this.summary.sweep = done ? 'complete' : 'partial';
      this.phaseEnd = Infinity;
      // The recent listing gets its own first unit of work, whatever the sweep used.
      this.worked = false;
    }

    for (const window of regular) {
      if (this.stop()) {
        this.summary.outcome = 'deadline';
        break;
      }
      if (!(await this.collectWindow(window, 'regular'))) {
        this.summary.outcome = 'deadline';
        break;
      }
    }
    this.running = false;
    await this.save(); // the last save may be due to a gap or a cursor move without pages
  }

  /**
   * Stop taking new work: past this tenant's share, the run's deadline or the phase's budget — but only
   * after the first unit of work, so every tenant moves in every run however many there are (the hard
   * stop still bounds it).
   */
  private stop(): boolean {
    if (!this.worked) return false;
    return this.ctx.pastShare() || this.ctx.pastDeadline() || this.now().getTime() >= this.phaseEnd;
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
    if (this.watermark.resume && Date.parse(this.watermark.resume.start) < gap.end.getTime()) {
      this.watermark.resume = null;
    }
    this.logger.error('Content older than the API keeps was never collected: recorded as a gap', {
      tenantId: this.tenantId,
      contentType: this.contentType,
      gapStart: gap.start.toISOString(),
      gapEnd: gap.end.toISOString(),
    });
  }

  private sweepDue(now: Date): boolean {
    const s = this.watermark.sweep;
    if (s.next !== null) return true;
    if (s.startedAt === null) return true;
    return now.getTime() - Date.parse(s.startedAt) >= this.options.sweepIntervalMs;
  }

  /**
   * Re-lists from the oldest listable time (or the first run's start) up to where this run's recent
   * listing begins, and collects every blob not collected before. Continues across runs.
   */
  private async sweep(now: Date, until: Date): Promise<boolean> {
    const s = this.watermark.sweep;
    const oldest = oldestListable(now).getTime();
    const floor = Math.max(oldest, this.watermark.origin?.getTime() ?? 0);
    if (s.next === null) {
      s.startedAt = now.toISOString();
      s.next = new Date(floor).toISOString();
      s.resume = null;
    }
    const from = Math.max(floor, Date.parse(s.next));
    // Hours at the edge, as for the cursor: a window cut off there would start again from a floor that
    // has moved, and a day-long one might never finish.
    const windows = withResume(splitWindows(from, until.getTime(), oldest), s.resume, from);
    for (const window of windows) {
      if (this.stop()) {
        await this.save();
        return false;
      }
      if (!(await this.collectWindow(window, 'sweep'))) return false;
      s.next = window.end.toISOString();
    }
    s.next = null;
    s.resume = null;
    s.completedAt = this.now().toISOString();
    await this.save();
    // Segments of days no listing can reach any more.
    await this.seen.prune(oldest - DAY_MS);
    return true;
  }

  /** Lists and enqueues one window; false when the deadline stopped it part-way (resumable). */
  private async collectWindow(window: Window, kind: ListingKind): Promise<boolean> {
    this.summary.windows++;
    // Only loaded days the listing is in stay in memory.
    this.seen.retainOnly(window.start.getTime(), window.end.getTime());
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.collectPages(window, kind);
      } catch (e) {
        if (e instanceof ManagementApiError && e.serviceCode === 'AF20031' && this.resumeOf(kind)) {
          // The saved next-page link is no longer accepted: list the window from its start.
          this.setResume(kind, null);
          continue;
        }
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

  private resumeOf(kind: ListingKind): ListingResume | null {
    return kind === 'regular' ? this.watermark.resume : this.watermark.sweep.resume;
  }

  private setResume(kind: ListingKind, resume: ListingResume | null): void {
    if (kind === 'regular') this.watermark.resume = resume;
    else this.watermark.sweep.resume = resume;
  }

  private async collectPages(window: Window, kind: ListingKind): Promise<boolean> {
    const saved = this.resumeOf(kind);
    const resumes =
      saved !== null &&
      Date.parse(saved.start) === window.start.getTime() &&
      Date.parse(saved.end) === window.end.getTime();
    const listing = this.client.listContent(this.contentType, window.start, window.end, {
      signal: this.ctx.signal,
      stats: this.stats,
      ...(resumes ? { fromPage: saved.nextPageUri } : {}),
    });
    const resumeAt = (uri: string): ListingResume => ({
      start: window.start.toISOString(),
      end: window.end.toISOString(),
      nextPageUri: uri,
    });
    for await (const page of listing) {
      this.summary.pages++;
      await this.step('listed-page', { window, page: page.page });
      await this.seen.prepare(page.items.map((i) => i.contentCreated));
      const fresh = page.items.filter(
        (i) => !this.seen.has(i.contentId, i.contentCreated) && !this.watermark.quarantine.has(i.contentId),
      );
      this.summary.blobsSkipped += page.items.length - fresh.length;

      const { collected, complete } = await this.collectBlobs(fresh, window, page.page);
      await this.batcher.flush();
      this.summary.messages = this.batcher.stats.messages;
      this.summary.claimChecks = this.batcher.stats.claimChecks;
      await this.step('enqueued-page', { window, page: page.page });

      const found = this.now().getTime();
      for (const { blob, records } of collected) {
        this.seen.add(blob.contentId, blob.contentCreated);
        const created = Date.parse(blob.contentCreated);
        if (created < this.cursorAtStart) this.noteLate(found, created, records);
      }
      this.worked = true;
      if (!complete) {
        // Stopped part-way through the page: the next run lists this page again and fetches the rest.
        this.setResume(kind, resumeAt(page.uri));
        await this.save(window, page.page);
        return false;
      }
      const lastPage = page.nextPageUri === undefined;
      this.setResume(kind, lastPage ? null : resumeAt(page.nextPageUri!));
      if (lastPage && kind === 'regular') this.advanceCursor(window.end);
      const stopping = !lastPage && this.stop();
      if (fresh.length > 0 || lastPage || stopping) await this.save(window, page.page);
      if (stopping) return false;
    }
    return true;
  }

  private noteLate(foundAt: number, created: number, records: number): void {
    this.summary.lateBlobs++;
    this.summary.lateRecords += records;
    const lateness = Math.round((foundAt - created) / 1000);
    if (this.summary.maxLatenessSeconds === null || lateness > this.summary.maxLatenessSeconds) {
      this.summary.maxLatenessSeconds = lateness;
    }
  }

  /**
   * Collects blobs with bounded concurrency, each started only while the budget lasts (after the first
   * unit of work). The first failure that is not the blob's own stops the others before it is thrown, so
   * nothing keeps running behind a failed page. Returns the blobs whose records are now in the batcher,
   * and whether every blob was tried.
   */
  private async collectBlobs(
    items: ContentBlobRef[],
    window: Window | undefined,
    page: number | undefined,
    retry: BlobRetry = 'normal',
  ): Promise<{ collected: { blob: ContentBlobRef; records: number }[]; complete: boolean }> {
    const fetches = pLimit(this.options.concurrency.fetches);
    const failed = new AbortController();
    const signal = AbortSignal.any([this.ctx.signal, failed.signal]);
    const collected: { blob: ContentBlobRef; records: number }[] = [];
    let first: Error | undefined;
    let complete = true;
    const results = await Promise.allSettled(
      items.map((blob) =>
        fetches(async () => {
          if (failed.signal.aborted) return;
          if (this.stop()) {
            complete = false;
            return;
          }
          try {
            const outcome = await this.collectBlob(blob, signal, retry);
            this.worked = true;
            if (window) await this.step('fetched-blob', { window, page, contentId: blob.contentId });
            if (outcome.kind === 'collected') collected.push({ blob, records: outcome.records });
            else if (outcome.kind === 'gap') this.watermark.quarantine.delete(blob.contentId);
          } catch (e) {
            if (!failed.signal.aborted) {
              first = e instanceof Error ? e : new Error(String(e));
              failed.abort();
            }
            throw e;
          }
        }),
      ),
    );
    if (first !== undefined) throw first;
    // Only the hard stop can reject a task without a first failure: rethrow what it said.
    const rejected = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (rejected) throw rejected.reason instanceof Error ? rejected.reason : new AbortedError();
    return { collected, complete };
  }

  /**
   * Streams one blob's records into the batcher. Records it cannot use go to the rejected store and the
   * rest flows; a blob that cannot be read is quarantined, one the service has let expire is a gap.
   * Throttling, the deadline and storage failures stop the content type instead: they are not the blob's.
   */
  private async collectBlob(
    blob: ContentBlobRef,
    signal: AbortSignal,
    retry: BlobRetry,
  ): Promise<BlobOutcome> {
    let records = 0;
    try {
      const result = await this.client.readContent(
        blob.contentUri,
        async (element) => {
          if (element.kind === 'record') {
            try {
              await this.batcher.addSerialised(element.json, blob.contentId);
              return;
            } catch (e) {
              if (!(e instanceof RecordTooLargeError)) throw e;
              await this.reject(blob, {
                kind: 'rejected',
                index: element.index,
                reason: e.message,
                raw: element.json,
                bytes: Buffer.byteLength(element.json),
              });
              return;
            }
          }
          await this.reject(blob, element);
        },
        // A quarantined blob gets one attempt a run: it failed before, and the next run tries again.
        { signal, stats: this.stats, ...(retry === 'once' ? { maxRetries: 0 } : {}) },
      );
      records = result.records;
    } catch (e) {
      if (e instanceof AbortedError || e instanceof ThrottledError) throw e;
      // A contentUri on another host is never fetched (the token would go with it): set the blob aside.
      if (!(e instanceof ManagementApiError) && !(e instanceof UntrustedUrlError)) throw e;
      const now = this.now();
      if (isExpiredForGood(e, blob, now)) {
        this.blobGap(blob, 'content-expired', e);
        return { kind: 'gap' };
      }
      this.quarantine(blob, e, now);
      return { kind: 'quarantined' };
    }
    this.summary.blobs++;
    this.summary.records += records;
    return { kind: 'collected', records };
  }

  private async reject(
    blob: ContentBlobRef,
    element: Extract<BlobElement, { kind: 'rejected' }>,
  ): Promise<void> {
    const rejected: RejectedRecord = {
      tenantId: this.tenantId,
      contentType: this.contentType,
      batchId: `blob-${createHash('sha256').update(blob.contentId).digest('hex').slice(0, 16)}`,
      index: element.index,
      reason: element.reason,
      record: element.raw,
      contentId: blob.contentId,
    };
    const where = await this.options.rejects.save(rejected);
    this.summary.rejectedRecords++;
    this.logger.error('Record refused by the collector: kept with the reason, the rest of its blob flows', {
      tenantId: this.tenantId,
      contentType: this.contentType,
      contentId: blob.contentId,
      index: element.index,
      reason: element.reason,
      keptIn: where,
    });
  }

  private quarantine(blob: ContentBlobRef, error: unknown, now: Date): void {
    const previous = this.watermark.quarantine.get(blob.contentId);
    if (!previous && this.watermark.quarantine.size >= this.quarantinePolicy.maxEntries) {
      throw new QuarantineFullError(this.watermark.quarantine.size);
    }
    const entry = quarantined(blob, previous, error, now, this.quarantinePolicy);
    this.watermark.quarantine.set(blob.contentId, entry);
    if (!previous) this.summary.quarantinedNew++;
    this.logger.error('Content blob quarantined: the cursor moves on, the blob is retried on later runs', {
      tenantId: this.tenantId,
      contentType: this.contentType,
      contentId: blob.contentId,
      contentCreated: blob.contentCreated,
      contentExpiration: blob.contentExpiration,
      attempts: entry.attempts,
      nextAttemptAt: entry.nextAttemptAt,
      error: entry.error,
    });
  }

  private blobGap(
    blob: { contentId: string; contentCreated: string; contentExpiration: string },
    reason: 'content-expired' | 'quarantined-until-expired',
    error: unknown,
  ): void {
    const message = error instanceof Error ? error.message : String(error);
    this.watermark.addGap({
      start: blob.contentCreated,
      end: blob.contentExpiration,
      reason,
      contentId: blob.contentId,
      ...(reason === 'quarantined-until-expired' ? { error: message } : {}),
    });
    this.summary.gaps++;
    this.logger.error(
      reason === 'content-expired'
        ? 'Content blob is gone from the service: recorded as a gap'
        : 'Quarantined content blob expired before it could be read: recorded as a gap',
      {
        tenantId: this.tenantId,
        contentType: this.contentType,
        contentId: blob.contentId,
        contentCreated: blob.contentCreated,
        error: message,
        ...(error instanceof ManagementApiError && error.serviceCode
          ? { serviceCode: error.serviceCode }
          : {}),
      },
    );
  }

  /** Tries the quarantined blobs that are due; expired ones become gaps. */
  private async retryQuarantined(): Promise<void> {
    const q = this.watermark.quarantine;
    if (q.size === 0) return;
    const now = this.now();
    let changed = false;
    for (const entry of [...q.values()]) {
      if (hasExpired(entry, now)) {
        q.delete(entry.contentId);
        this.blobGap(entry, 'quarantined-until-expired', entry.error);
        changed = true;
      }
    }
    const due = [...q.values()]
      .filter((e) => isDue(e, now))
      .sort((a, b) => Date.parse(a.contentExpiration) - Date.parse(b.contentExpiration))
      .slice(0, this.quarantinePolicy.retriesPerRun);
    let recovered: { blob: ContentBlobRef; records: number }[] = [];
    if (due.length > 0) {
      changed = true;
      try {
        ({ collected: recovered } = await this.collectBlobs(
          due.map((entry) => ({ contentType: this.contentType, ...entry })),
          undefined,
          undefined,
          'once',
        ));
      } catch (e) {
        // Throttled: the quota is the tenant's, not these blobs'. Leave them for the next run and list.
        if (!(e instanceof ThrottledError)) throw e;
        this.logger.warn('Throttled while retrying quarantined blobs; they wait for the next run', {
          tenantId: this.tenantId,
          contentType: this.contentType,
        });
      }
    }
    // Records first, then the bookkeeping that says they are in.
    await this.batcher.flush();
    for (const { blob, records } of recovered) {
      q.delete(blob.contentId);
      this.seen.add(blob.contentId, blob.contentCreated);
      // Not counted as late: its lateness would be our quarantine's, not the service's.
      this.summary.recovered++;
      this.logger.info('Quarantined content blob collected', {
        tenantId: this.tenantId,
        contentType: this.contentType,
        contentId: blob.contentId,
        records,
      });
    }
    if (changed) await this.save();
  }

  private advanceCursor(to: Date): void {
    if (!this.watermark.cursor || to > this.watermark.cursor) this.watermark.cursor = to;
  }

  async save(window?: Window, page?: number): Promise<void> {
    if (window) await this.step('saving-watermark', { window, ...(page !== undefined ? { page } : {}) });
    await this.seen.flush();
    const now = this.now();
    this.fillSummary(now);
    // Until the run ends, what the watermark keeps says so (a run that dies leaves 'running' behind).
    this.watermark.lastRun = {
      ...this.summary,
      outcome: this.running ? 'running' : this.summary.outcome,
      finishedAt: now.toISOString(),
    };
    this.etag = await this.watermarks.save(this.watermark, this.etag, now);
    if (window) await this.step('saved-watermark', { window, ...(page !== undefined ? { page } : {}) });
  }

  /** Brings the summary's derived fields up to date. */
  fillSummary(now: Date): void {
    const cursor = this.watermark?.cursor ?? null;
    const swept = this.watermark?.sweep.completedAt;
    this.summary.sweepAgeSeconds = swept ? Math.round((now.getTime() - Date.parse(swept)) / 1000) : null;
    this.summary.bytes = this.batcher.stats.rawBytes;
    this.summary.throttles = this.stats.throttled;
    this.summary.retries = this.stats.retries;
    this.summary.quarantined = this.watermark?.quarantine.size ?? 0;
    this.summary.cursor = cursor?.toISOString() ?? null;
    this.summary.lagSeconds = cursor ? Math.round((now.getTime() - cursor.getTime()) / 1000) : null;
  }

  private async step(step: CollectorStep, info: Omit<StepInfo, 'tenantId' | 'contentType'>): Promise<void> {
    await this.options.onStep?.(step, { tenantId: this.tenantId, contentType: this.contentType, ...info });
  }
}

/**
 * Puts a listing cut off in an earlier run first, on its own window (its end was `now` then, and its
 * next-page link carries that window), and plans the rest from where it ends. Windows before it were
 * listed by that earlier run. A resume older than `notBefore` is dropped.
 */
export function withResume(windows: Window[], resume: ListingResume | null, notBefore: number): Window[] {
  if (!resume || windows.length === 0) return windows;
  const start = Date.parse(resume.start);
  const end = Date.parse(resume.end);
  const last = (windows[windows.length - 1] as Window).end.getTime();
  if (start < notBefore || start < (windows[0] as Window).start.getTime() || start >= last) return windows;
  const rest = windows
    .filter((w) => w.end.getTime() > end)
    .map((w) => (w.start.getTime() < end ? { start: new Date(end), end: w.end } : w));
  return [{ start: new Date(start), end: new Date(end) }, ...rest];
}
