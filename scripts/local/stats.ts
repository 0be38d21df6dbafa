import type { ContentTypeRunSummary, RunSummary } from '../../shared/collector/summary';
import type { ContentType } from '../../shared/contentTypes';
import type { WriteResult } from '../../shared/handlers/write';

/** What one content type has done so far in this local run. */
export interface ContentTypeProgress {
  /** Records the collector enqueued (a record the service repeats counts each time). */
  collected: number;
  /** Documents the writer upserted. */
  written: number;
  messages: number;
  /** Listing is complete before this time (the watermark's cursor), once saved. */
  cursor: Date | undefined;
  /** Outcome of the latest finished collector run, or running. */
  state: ContentTypeRunSummary['outcome'] | 'running' | 'waiting';
}

/** Counters shared by the pipeline (writes them) and the progress display and summary (read them). */
export class RunStats {
  readonly startedAt = Date.now();
  readonly types = new Map<ContentType, ContentTypeProgress>();
  collectorRuns = 0;
  collectorRunning = false;
  nextCollectorRun: Date | undefined;
  lastRun: RunSummary | undefined;
  /** The latest run in which every content type completed. */
  lastCompleteRun: RunSummary | undefined;
  /** Collector runs that have ended (finished or failed). */
  finishedRuns = 0;
  /** Gaps recorded by all collector runs. */
  gaps = 0;
  /** Blobs found late by re-listing, the latest of them (seconds), and records the collector refused. */
  lateBlobs = 0;
  maxLatenessSeconds = 0;
  collectorRejected = 0;
  /** Blobs in quarantine after the latest run. */
  quarantined = 0;
  messagesEnqueued = 0;
  messagesWritten = 0;
  /** Handler invocations that threw (each is retried or, at maxDequeueCount, poisoned). */
  failedDeliveries = 0;
  poisoned: string[] = [];
  inFlight = 0;
  /** Approximate messages waiting on the queue, as last polled. */
  queueDepth = 0;
  rejected = 0;
  oversize = 0;
  warnings = 0;
  errors = 0;
  readonly recentProblems: string[] = [];

  constructor(contentTypes: readonly ContentType[]) {
    for (const ct of contentTypes) {
      this.types.set(ct, { collected: 0, written: 0, messages: 0, cursor: undefined, state: 'waiting' });
    }
  }

  private type(ct: ContentType): ContentTypeProgress {
    let t = this.types.get(ct);
    if (!t)
      this.types.set(
        ct,
        (t = { collected: 0, written: 0, messages: 0, cursor: undefined, state: 'waiting' }),
      );
    return t;
  }

  enqueued(ct: ContentType, records: number): void {
    const t = this.type(ct);
    t.collected += records;
    t.messages += 1;
    this.messagesEnqueued += 1;
  }

  cursorSaved(ct: ContentType, cursor: Date | null): void {
    if (cursor) this.type(ct).cursor = cursor;
  }

  runStarted(contentTypes: readonly ContentType[]): void {
    this.collectorRunning = true;
    this.collectorRuns += 1;
    for (const ct of contentTypes) this.type(ct).state = 'running';
  }

  runFinished(summary: RunSummary): void {
    this.collectorRunning = false;
    this.finishedRuns += 1;
    this.lastRun = summary;
    if (summary.contentTypes.every((c) => c.outcome === 'complete')) this.lastCompleteRun = summary;
    this.gaps += summary.totals.gaps;
    this.lateBlobs += summary.totals.lateBlobs;
    this.maxLatenessSeconds = Math.max(this.maxLatenessSeconds, summary.maxLatenessSeconds ?? 0);
    this.collectorRejected += summary.totals.rejectedRecords;
    this.quarantined = summary.totals.quarantined;
    for (const s of summary.contentTypes) {
      const t = this.type(s.contentType);
      t.state = s.outcome;
      if (s.cursor) t.cursor = new Date(s.cursor);
    }
  }

  runFailed(contentTypes: readonly ContentType[]): void {
    this.collectorRunning = false;
    this.finishedRuns += 1;
    for (const ct of contentTypes) this.type(ct).state = 'failed';
  }

  written(result: WriteResult): void {
    this.type(result.contentType).written += result.written;
    this.messagesWritten += 1;
    this.rejected += result.rejected;
    this.oversize += result.oversize;
  }

  problem(level: 'warn' | 'error', message: string): void {
    if (level === 'warn') this.warnings += 1;
    else this.errors += 1;
    this.recentProblems.push(`${level === 'warn' ? 'warning' : 'error'}: ${message}`);
    if (this.recentProblems.length > 3) this.recentProblems.shift();
  }

  get collected(): number {
    return [...this.types.values()].reduce((n, t) => n + t.collected, 0);
  }

  get writtenTotal(): number {
    return [...this.types.values()].reduce((n, t) => n + t.written, 0);
  }

  elapsedMs(now = Date.now()): number {
    return now - this.startedAt;
  }

  /** now − cursor in seconds: how far behind the feed a content type is. */
  lagSeconds(ct: ContentType, now = Date.now()): number | undefined {
    const cursor = this.types.get(ct)?.cursor;
    return cursor ? Math.max(0, Math.round((now - cursor.getTime()) / 1000)) : undefined;
  }

  maxLagSeconds(now = Date.now()): number | undefined {
    const lags = [...this.types.keys()].map((ct) => this.lagSeconds(ct, now));
    if (lags.some((l) => l === undefined)) return undefined;
    return Math.max(...(lags as number[]));
  }
}
