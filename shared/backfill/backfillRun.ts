import { createHash, randomUUID } from 'node:crypto';
import pLimit from 'p-limit';
import type { ContentType } from '../contentTypes';
import { AuditfeedError, redactQuery, UntrustedUrlError } from '../errors';
import {
  GraphAuditError,
  GraphAuditUnavailableError,
  GraphMalformedResponseError,
  GraphPermissionError,
} from '../graphAudit/errors';
import type { AuditLogQueryApi } from '../graphAudit/types';
import type { Logger } from '../logging';
import { RecordNotSerialisableError, RecordTooLargeError, type BatchSink } from '../messages/batcher';
import { sleep as realSleep } from '../sleep';
import { keepable, type RejectedRecord, type RejectedRecordStore } from '../writer/rejectedRecords';
import { fromAuditLogRecord } from './recordMapping';
import { RecordSender } from './recordSender';
import {
  countProgress,
  FINISHED_STATES,
  pendingWindow,
  ProgressConflictError,
  type BackfillProgress,
  type BackfillProgressStore,
  type BackfillRequest,
  type WindowProgress,
} from './progressStore';
import {
  DAY_MS,
  DEFAULT_FLOOR_MS,
  DEFAULT_WINDOW_MS,
  halve,
  HOUR_MS,
  queryDisplayName,
  queryFilter,
  runLimited,
  splitRange,
} from './windows';

/**
 * The backfill engine (docs/backfill.md): for each window of the range, create a Graph audit log query,
 * keep its id, poll it with back-off, page its `/records`, map each record to the Management API record
 * the live feed stores, keep the requested content types, send them through the live feed's queue and
 * writer, and every few pages flush and only then save the nextLink and counts. A crash between any two
 * steps therefore re-sends at most the pages since the last save — harmless, since the writer creates
 * backfilled documents only once (create-only: the live feed's document is never replaced) — and loses nothing.
 */

/** Where a run may be interrupted; tests crash at a chosen step to prove the resume. */
export type BackfillStep =
  'query-created' | 'query-saved' | 'polled' | 'page-read' | 'page-sent' | 'page-saved';

export interface BackfillStepInfo {
  window: WindowProgress;
  queryId?: string;
  page?: number;
}

export interface BackfillRunOptions {
  api: AuditLogQueryApi;
  store: BackfillProgressStore;
  sink: BatchSink;
  /** Where refused records are kept with their reason (the live feed's `rejected` container). */
  rejects: Pick<RejectedRecordStore, 'save'>;
  /** What to backfill; an existing progress blob for the same tenant, range and content types is resumed. */
  request: Omit<BackfillRequest, 'createdAt' | 'windowMs' | 'floorMs'> & {
    windowMs?: number;
    floorMs?: number;
  };
  logger: Logger;
  now?: () => Date;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Epoch ms: no step starts after it (a function's timeout); the run stops at a safe point. */
  deadline?: number;
  /** Queries of this tenant in flight at once (the service allows at least 50 queued or running). */
  maxQueriesInFlight?: number;
  /** Queries created per window before it is reported failed. */
  maxQueryAttempts?: number;
  /** A query not finished this long after its creation is given up and created again (default 24 h). */
  maxQueryAgeMs?: number;
  /** Queries this backfill creates in any 24 hours (the tenant's allocation is at least 200, shared). */
  maxQueriesPerDay?: number;
  /** Poll back-off: first wait, growth factor, longest wait. */
  poll?: { initialMs?: number; factor?: number; maxMs?: number };
  /** Wait after a 429 without Retry-After. */
  throttleWaitMs?: number;
  /** Messages may be this large (tests make batches small). */
  maxMessageBytes?: number;
  /**
   * Pages read between progress saves: the records go out in full queue messages as they come, and the
   * partial ones are flushed only at a save (a crash re-sends at most this much). Default 20 pages or
   * 2,000 records, whichever comes first; a window's last page and a stop always save.
   */
  commitEvery?: { pages?: number; records?: number };
  /** Ctrl-C, or the function's hard stop (aborted with a RunHardStopError: reported as the deadline). */
  abortSignal?: AbortSignal;
  /** Called at each step; a throw is handled as the process dying there (tests crash at every step). */
  onStep?: (step: BackfillStep, info: BackfillStepInfo) => void | Promise<void>;
  /** Called after every save (the CLI's progress bar). */
  onProgress?: (progress: BackfillProgress) => void;
}

export type BackfillOutcome =
  /** Every window done. */
  | 'complete'
  /** Every window finished, some partial or failed: see the summary's windows. */
  | 'finished-with-problems'
  /** Stopped at a safe point before the end (deadline, query budget, abort); run again to continue. */
  | 'stopped'
  /** Another run owns this backfill. */
  | 'busy'
  /** An error stopped the run (saved progress is kept); run again once the cause is fixed. */
  | 'failed';

export interface BackfillSummary {
  tenantId: string;
  from: string;
  to: string;
  contentTypes: ContentType[];
  progressBlob: string;
  outcome: BackfillOutcome;
  /** Why the run stopped early (outcome stopped / busy / failed). */
  stoppedBecause?: 'deadline' | 'query-budget' | 'aborted' | 'conflict' | 'busy' | 'error';
  error?: string;
  /** When the query budget lets the next query be created (outcome stopped by query-budget). */
  resumeAfter?: string;
  /** Windows now (a split window counts as its halves; `split` says how many were split). */
  windows: { total: number; done: number; partial: number; failed: number; open: number; split: number };
  partialWindows: Array<{ start: string; end: string; reason: string }>;
  failedWindows: Array<{ start: string; end: string; reason: string }>;
  /** This run: records read, sent per content type, left out (other content types), refused per reason. */
  run: {
    records: number;
    sent: Partial<Record<ContentType, number>>;
    skipped: number;
    refused: Record<string, number>;
    /** Mapping cross-check warnings (e.g. wrapper id ≠ auditData.Id), per text. */
    warnings: Record<string, number>;
    queriesCreated: number;
    requests: number;
    throttled: number;
    /** Requests per 1,000 records read (the cost of a backfill). */
    requestsPer1000Records: number | null;
    /** Seconds this run took by its clock, and records read per second (backfill throughput). */
    seconds: number;
    recordsPerSecond: number | null;
  };
  /** The whole backfill so far (all runs). */
  total: { records: number; sent: Partial<Record<ContentType, number>>; refused: Record<string, number> };
}

/** A backfill whose progress says another run holds it (and its claim has not expired). */
export class BackfillBusyError extends AuditfeedError {
  constructor(
    readonly blobName: string,
    readonly until: string,
  ) {
    super(
      `Backfill ${blobName} is being run by another process until ${until}; wait for it to stop, or run ` +
        'again after that time to take it over.',
      'BackfillBusy',
    );
  }
}

const DEFAULTS = {
  maxQueriesInFlight: 4,
  maxQueryAttempts: 3,
  maxQueriesPerDay: 150,
  pollInitialMs: 15_000,
  pollFactor: 1.5,
  pollMaxMs: 120_000,
  throttleWaitMs: 60_000,
  commitPages: 20,
  commitRecords: 2_000,
} as const;

/** A query still notStarted/running this long is given up (Graph documents no run time; hours is usual). */
export const MAX_QUERY_AGE_MS = 24 * HOUR_MS;

/** A claim outlives the deadline by this much (the host's hard stop comes later still). */
const CLAIM_GRACE_MS = 2 * 60_000;
/** Without a deadline (the CLI), the claim is renewed with every save and holds this long (polls are shorter). */
const OPEN_CLAIM_MS = 5 * 60_000;
/** Distinct refusal/warning texts kept per window; the rest are counted under "other". */
const MAX_REASONS = 20;

/** Pages of one window read and sent since its last save. */
interface UnsavedPages {
  queryId: string;
  sender: RecordSender;
  pages: number;
  records: number;
  skipped: number;
  sent: Partial<Record<ContentType, number>>;
  refused: Record<string, number>;
  /** Where the next page starts (the saved nextLink until a page is read). */
  nextLink: string | undefined;
  /** The last page read had no nextLink. */
  last: boolean;
}

/** A failure thrown by `onStep`: handled as a crash of the process at that step, so nothing more is saved. */
class CrashedAtStep extends Error {
  constructor(readonly error: unknown) {
    super(error instanceof Error ? error.message : String(error));
  }
}

/** The reason a function's hard stop aborts its run with: the run stops as at its deadline. */
export class RunHardStopError extends AuditfeedError {
  constructor(deadline: string) {
    super(
      `The run passed its deadline ${deadline} and the hard-stop grace; it stops at a safe point.`,
      'RunHardStop',
    );
  }
}

/** `@odata.nextLink` pointing at a page already read: following it would never end. */
export class RepeatedNextLinkError extends AuditfeedError {
  constructor(queryId: string, link: string) {
    super(
      `The records of audit log query ${queryId} link to a page already read (${redactQuery(link)}); ` +
        'the query is created again.',
      'RepeatedNextLink',
    );
  }
}

class StopRun extends Error {
  constructor(readonly why: NonNullable<BackfillSummary['stoppedBecause']>) {
    super(why);
  }
}

function statusOf(e: unknown): number | undefined {
  const s =
    (e as { status?: unknown; statusCode?: unknown } | null)?.status ??
    (e as { statusCode?: unknown })?.statusCode;
  return typeof s === 'number' ? s : undefined;
}

/** 429 (GraphThrottledError, also 503 with Retry-After) that the client's own retries did not absorb. */
function isThrottled(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  return statusOf(e) === 429 || code === 'GraphThrottled' || code === 'Throttled';
}

function retryAfterOf(e: unknown): number | undefined {
  const ms = (e as { retryAfterMs?: unknown } | null)?.retryAfterMs;
  return typeof ms === 'number' && ms >= 0 ? ms : undefined;
}

/** No window can succeed: permission missing, API not offered, credentials refused. The run ends. */
function endsRun(e: unknown): boolean {
  if (e instanceof GraphPermissionError || e instanceof GraphAuditUnavailableError) return true;
  const s = statusOf(e);
  return s === 401 || s === 403;
}

/**
 * Why one window's query or page is broken (a 400/404/410 on its link, a malformed page, an untrusted or
 * repeating nextLink), or undefined when the error is not the window's: the window's query is created again.
 */
function brokenWindowReason(e: unknown, queryId: string | undefined): string | undefined {
  if (endsRun(e) || isThrottled(e)) return undefined;
  if (statusOf(e) === 404 && queryId !== undefined) return `query ${queryId} no longer exists (404)`;
  if (
    e instanceof UntrustedUrlError ||
    e instanceof RepeatedNextLinkError ||
    e instanceof GraphMalformedResponseError ||
    (e instanceof GraphAuditError && !e.retryable && e.status !== undefined)
  ) {
    const text = `${e.code}: ${e.message}`;
    return text.length > 300 ? `${text.slice(0, 299)}…` : text;
  }
  return undefined;
}

/** 90 min, 25.0 h: how long a query has been waited for. */
function duration(ms: number): string {
  return ms < 2 * HOUR_MS ? `${Math.round(ms / 60_000)} min` : `${(ms / HOUR_MS).toFixed(1)} h`;
}

function bump(into: Record<string, number>, key: string, n = 1): void {
  const k = key.length > 200 ? `${key.slice(0, 199)}…` : key;
  if (into[k] === undefined && Object.keys(into).length >= MAX_REASONS) into.other = (into.other ?? 0) + n;
  else into[k] = (into[k] ?? 0) + n;
}

export class BackfillRun {
  private readonly now: () => Date;
  private readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  private readonly runId = randomUUID();
  private startedAt = 0;
  private progress!: BackfillProgress;
  private etag: string | undefined;
  private name!: string;
  private saving: Promise<void> = Promise.resolve();
  private stopped: StopRun | undefined;
  private failing = false;
  private resumeAfter: string | undefined;
  private readonly queue: WindowProgress[] = [];
  /** Per query: nextLinks followed in this run (a link that repeats is refused). */
  private readonly seenLinks = new Map<string, Set<string>>();
  /** Per window: pages read and sent since its last save (counted into the window at the next save). */
  private readonly unsaved = new Map<WindowProgress, UnsavedPages>();
  /** Creates refused in a row (any window): when all are, the cause is not one window's. */
  private createRefusals = 0;
  private readonly keepLimit = pLimit(8);
  private readonly stats = {
    records: 0,
    sent: {} as Partial<Record<ContentType, number>>,
    skipped: 0,
    refused: {} as Record<string, number>,
    warnings: {} as Record<string, number>,
    queriesCreated: 0,
    requests: 0,
    throttled: 0,
  };

  constructor(private readonly o: BackfillRunOptions) {
    this.now = o.now ?? (() => new Date());
    this.sleep = o.sleep ?? realSleep;
  }

  async run(): Promise<BackfillSummary> {
    const r = this.o.request;
    this.startedAt = this.now().getTime();
    this.name = this.o.store.blobName(r);
    try {
      await this.open();
    } catch (e) {
      if (e instanceof BackfillBusyError) return this.summary('busy', 'busy', e.message);
      if (e instanceof ProgressConflictError) return this.summary('busy', 'conflict', e.message);
      throw e;
    }
    // Windows holding a query first (their query is running or done), then the rest in time order.
    const open = this.progress.windows.filter((w) => !FINISHED_STATES.has(w.state));
    this.queue.push(...open.filter((w) => w.queryId), ...open.filter((w) => !w.queryId));

    let error: unknown;
    try {
      await runLimited(
        () => this.queue.shift(),
        this.o.maxQueriesInFlight ?? DEFAULTS.maxQueriesInFlight,
        (w) =>
          this.window(w).catch((e: unknown) => {
            // The other windows stop at their next step: one error (or crash) ends the run.
            if (!(e instanceof StopRun)) this.failing = true;
            throw e;
          }),
        () => this.shouldStop(),
      );
    } catch (e) {
      if (e instanceof StopRun) this.stopped ??= e;
      else if (e instanceof ProgressConflictError) this.stopped ??= new StopRun('conflict');
      else error = e;
    }
    if (error instanceof CrashedAtStep) {
      // Like a process that died here: no closing save, the claim stays until it expires.
      await this.saving;
      return this.summary('failed', 'error', error.message);
    }
    await this.close(error);
    if (error !== undefined) {
      const message = error instanceof Error ? error.message : JSON.stringify(error);
      this.o.logger.error('Backfill stopped by an error; run it again to continue', {
        progress: this.name,
        error: message,
      });
      return this.summary('failed', 'error', message);
    }
    if (this.stopped) {
      const outcome = this.stopped.why === 'conflict' ? 'busy' : 'stopped';
      return this.summary(outcome, this.stopped.why);
    }
    const c = countProgress(this.progress);
    return this.summary(c.partial + c.failed > 0 ? 'finished-with-problems' : 'complete');
  }

  /** Loads or creates the progress and claims it for this run. */
  private async open(): Promise<void> {
    await this.o.store.ensureContainer();
    for (let attempt = 0; ; attempt++) {
      const loaded = await this.o.store.load(this.name);
      const now = this.now();
      let progress = loaded.progress;
      if (
        progress?.owner &&
        progress.owner.runId !== this.runId &&
        Date.parse(progress.owner.until) > now.getTime()
      )
        throw new BackfillBusyError(this.name, progress.owner.until);
      if (!progress) {
        const r = this.o.request;
        const windowMs = r.windowMs ?? DEFAULT_WINDOW_MS;
        const request: BackfillRequest = {
          tenantId: r.tenantId,
          from: r.from,
          to: r.to,
          contentTypes: [...r.contentTypes],
          createdAt: now.toISOString(),
          createdBy: r.createdBy,
          windowMs,
          floorMs: r.floorMs ?? DEFAULT_FLOOR_MS,
          ...(r.fills ? { fills: r.fills } : {}),
        };
        progress = {
          version: 1,
          request,
          windows: splitRange(new Date(r.from), new Date(r.to), windowMs).map(pendingWindow),
          recentQueries: [],
          requests: 0,
          updatedAt: now.toISOString(),
        };
      } else {
        // A new run retries the windows an earlier run gave up on (partial ones cannot do better).
        for (const w of progress.windows) {
          if (w.state === 'failed') {
            w.state = 'pending';
            w.queries = 0;
            delete w.queryId;
            delete w.queryCreatedAt;
            delete w.nextLink;
            delete w.finishedAt;
          }
        }
        delete progress.finishedAt;
        if (this.o.request.fills)
          progress.request.fills = mergeFills(progress.request.fills, this.o.request.fills);
      }
      progress.owner = { runId: this.runId, until: this.claimUntil(now) };
      try {
        this.etag = await this.o.store.save(this.name, progress, loaded.etag, now);
        this.progress = progress;
        return;
      } catch (e) {
        // Two runs starting together: re-read, and the loser finds the winner's claim.
        if (e instanceof ProgressConflictError && attempt < 2) continue;
        throw e;
      }
    }
  }

  private claimUntil(now: Date): string {
    const until =
      this.o.deadline !== undefined ? this.o.deadline + CLAIM_GRACE_MS : now.getTime() + OPEN_CLAIM_MS;
    return new Date(until).toISOString();
  }

  private async close(error: unknown): Promise<void> {
    if (!this.progress) return;
    if (this.stopped?.why === 'conflict') return;
    try {
      await this.saving.catch(() => undefined);
      delete this.progress.owner;
      // A submitted backfill has no terminal: its failure is kept where `auditfeed status` reads it.
      if (error !== undefined) this.progress.lastError = errorRecord(error, this.now());
      else delete this.progress.lastError;
      if (this.progress.windows.every((w) => FINISHED_STATES.has(w.state)))
        this.progress.finishedAt ??= this.now().toISOString();
      await this.save();
    } catch (e) {
      if (e instanceof ProgressConflictError) this.stopped ??= new StopRun('conflict');
      else if (error === undefined) throw e;
    }
  }

  /** Saves the whole progress, one save at a time; a lost ETag race stops the run. */
  private save(): Promise<void> {
    const next = this.saving.then(async () => {
      if (this.stopped?.why === 'conflict') throw new StopRun('conflict');
      const now = this.now();
      if (this.progress.owner) this.progress.owner.until = this.claimUntil(now);
      const day = now.getTime() - DAY_MS;
      this.progress.recentQueries = this.progress.recentQueries.filter((t) => Date.parse(t) > day);
      try {
        this.etag = await this.o.store.save(this.name, this.progress, this.etag, now);
      } catch (e) {
        if (e instanceof ProgressConflictError) {
          this.stopped = new StopRun('conflict');
          this.o.logger.warn(e.message, { progress: this.name });
        }
        throw e;
      }
      this.o.onProgress?.(this.progress);
    });
    this.saving = next.catch(() => undefined);
    return next;
  }

  private shouldStop(): boolean {
    if (this.stopped) return true;
    if (this.o.abortSignal?.aborted) this.stopped = this.abortedStop();
    else if (this.o.deadline !== undefined && this.now().getTime() >= this.o.deadline)
      this.stopped = new StopRun('deadline');
    return this.stopped !== undefined;
  }

  /** Aborted: by the function's hard stop (its deadline) or by Ctrl-C. */
  private abortedStop(): StopRun {
    this.stopped ??= new StopRun(
      this.o.abortSignal?.reason instanceof RunHardStopError ? 'deadline' : 'aborted',
    );
    return this.stopped;
  }

  private checkStop(): void {
    if (this.failing) throw new StopRun('error');
    if (this.shouldStop()) throw this.stopped!;
  }

  private async step(step: BackfillStep, info: BackfillStepInfo): Promise<void> {
    try {
      await this.o.onStep?.(step, info);
    } catch (e) {
      throw new CrashedAtStep(e);
    }
  }

  /** One API call; waits out throttling (Retry-After when given) and counts requests. */
  private async call<T>(fn: () => Promise<T>): Promise<T> {
    for (let waits = 0; ; waits++) {
      this.checkStop();
      // The client may wait out Retry-After itself: start each call with at least half a claim left.
      await this.renewClaim();
      this.stats.requests++;
      this.progress.requests++;
      try {
        return await fn();
      } catch (e) {
        // Ctrl-C (or the host) aborted the request: a safe point, nothing of it was saved.
        if (this.o.abortSignal?.aborted) throw this.abortedStop();
        if (!isThrottled(e)) throw e;
        this.stats.throttled++;
        const wait = retryAfterOf(e) ?? Math.min(DEFAULTS.throttleWaitMs * 2 ** Math.min(waits, 4), 600_000);
        await this.wait(wait);
      }
    }
  }

  /**
   * Sleeps unless the wait would pass the deadline: then the run stops here, at a safe point. Without a
   * deadline (the CLI) the claim holds OPEN_CLAIM_MS from its last renewal: a long wait is cut into pieces
   * and the claim renewed before half of it is gone, so no other run takes over a backfill that is waiting.
   */
  private async wait(ms: number): Promise<void> {
    if (this.o.deadline !== undefined && this.now().getTime() + ms >= this.o.deadline) {
      this.stopped ??= new StopRun('deadline');
      throw this.stopped;
    }
    for (let left = ms; ;) {
      await this.renewClaim();
      const piece = this.o.deadline === undefined ? Math.min(left, OPEN_CLAIM_MS / 2) : left;
      try {
        await this.sleep(piece, this.o.abortSignal);
      } catch (e) {
        if (this.o.abortSignal?.aborted) throw this.abortedStop();
        throw e;
      }
      left -= piece;
      if (left <= 0) return;
      this.checkStop();
    }
  }

  /** Saves (which renews the claim) when less than half of an open claim is left. */
  private async renewClaim(): Promise<void> {
    const owner = this.progress.owner;
    if (this.o.deadline !== undefined || !owner) return;
    if (Date.parse(owner.until) - this.now().getTime() < OPEN_CLAIM_MS / 2) await this.save();
  }

  private async window(w: WindowProgress): Promise<void> {
    const api = this.o.api;
    const tenantId = this.progress.request.tenantId;
    const maxAttempts = this.o.maxQueryAttempts ?? DEFAULTS.maxQueryAttempts;
    let pollDelay = this.o.poll?.initialMs ?? DEFAULTS.pollInitialMs;
    for (;;) {
      this.checkStop();
      switch (w.state) {
        case 'pending': {
          if (w.queries >= maxAttempts) {
            await this.finish(w, 'failed', w.reason ?? `${w.queries} queries did not succeed`);
            return;
          }
          this.checkBudget();
          let query: Awaited<ReturnType<AuditLogQueryApi['createQuery']>>;
          try {
            query = await this.call(() =>
              api.createQuery(
                tenantId,
                { displayName: queryDisplayName(w), ...queryFilter(w) },
                this.callOptions(),
              ),
            );
          } catch (e) {
            await this.createRefused(w, e);
            break;
          }
          this.createRefusals = 0;
          this.stats.queriesCreated++;
          await this.step('query-created', { window: w, queryId: query.id });
          // A new query starts the window over: its earlier pages may be read again (create-only).
          Object.assign(w, {
            state: 'created',
            queryId: query.id,
            queryCreatedAt: this.now().toISOString(),
            queries: w.queries + 1,
            pages: 0,
            records: 0,
          });
          Object.assign(w, { sent: {}, skipped: 0, refused: {} });
          delete w.nextLink;
          delete w.limitExceeded;
          await this.save();
          await this.step('query-saved', { window: w, queryId: query.id });
          pollDelay = this.o.poll?.initialMs ?? DEFAULTS.pollInitialMs;
          break;
        }
        case 'created': {
          const query = await this.perWindow(w, () =>
            this.call(() => api.getQuery(tenantId, w.queryId!, this.callOptions())),
          );
          if (!query) break;
          await this.step('polled', { window: w, queryId: w.queryId! });
          if (query.status === 'succeeded') {
            if (query.isRecordCountLimitExceeded === true) {
              const halves = halve(w, this.progress.request.floorMs);
              if (halves) {
                this.o.logger.info('Backfill window over the record limit: split in two', {
                  window: `${w.start}/${w.end}`,
                  approximateRecords: query.approximateReturnedRecordCount,
                });
                const children = halves.map(pendingWindow);
                w.state = 'split';
                w.finishedAt = this.now().toISOString();
                this.progress.windows.push(...children);
                await this.save();
                this.queue.unshift(...children);
                return;
              }
              w.limitExceeded = true;
              w.reason =
                `the query stopped at its record limit (${query.recordCountLimit ?? 'unknown'} records) in a window ` +
                'at the shortest length; records after the limit are missing';
            }
            w.state = 'paging';
            await this.save();
          } else if (query.status === 'failed' || query.status === 'cancelled') {
            await this.retryOrFail(w, `query ${w.queryId} ${query.status}`);
          } else {
            // notStarted, running, or a status added later: still running — but not for ever.
            const now = this.now().getTime();
            const age = w.queryCreatedAt ? now - Date.parse(w.queryCreatedAt) : 0;
            // Progress saved before queryCreatedAt was kept: count from the first poll seen.
            w.queryCreatedAt ??= new Date(now).toISOString();
            const maxAge = this.o.maxQueryAgeMs ?? MAX_QUERY_AGE_MS;
            if (age >= maxAge) {
              await this.retryOrFail(
                w,
                `query ${w.queryId} still ${query.status} after ${duration(age)} (limit ${duration(maxAge)})`,
              );
              break;
            }
            await this.wait(pollDelay);
            pollDelay = Math.min(
              pollDelay * (this.o.poll?.factor ?? DEFAULTS.pollFactor),
              this.o.poll?.maxMs ?? DEFAULTS.pollMaxMs,
            );
          }
          break;
        }
        case 'paging': {
          const done = await this.page(w);
          if (done) return;
          break;
        }
        default:
          return;
      }
    }
  }

  private callOptions(): { abortSignal?: AbortSignal } {
    return this.o.abortSignal ? { abortSignal: this.o.abortSignal } : {};
  }

  /**
   * A call about one window's query: when the query or its page is broken (gone, a bad or repeating link,
   * a malformed page) the query is created again, a bounded number of times, then the window is reported
   * failed — one broken window never ends the backfill. Errors that no window can get past (permission,
   * API unavailable) and transient ones the client gave up on still end the run.
   */
  private async perWindow<T>(w: WindowProgress, fn: () => Promise<T>): Promise<T | undefined> {
    try {
      return await fn();
    } catch (e) {
      const reason = e instanceof StopRun ? undefined : brokenWindowReason(e, w.queryId);
      if (reason === undefined) throw e;
      await this.retryOrFail(w, reason);
      return undefined;
    }
  }

  /** Refuses a nextLink this query already led to (the Management client does the same for NextPageUri). */
  private checkNextLink(queryId: string, current: string | undefined, next: string | undefined): void {
    let seen = this.seenLinks.get(queryId);
    if (!seen) this.seenLinks.set(queryId, (seen = new Set()));
    if (current !== undefined) seen.add(current);
    if (next !== undefined && seen.has(next)) throw new RepeatedNextLinkError(queryId, next);
  }

  /**
   * A create that did not give a query. Stopping, throttling and errors no window gets past are not the
   * window's: rethrown, and not counted as its attempt. A refusal of this window's query (a 400) is: the
   * window is tried again a bounded number of times, then fails and the others go on — unless every create
   * of the run is refused, which is no window's fault, and ends the run with the service's answer.
   */
  private async createRefused(w: WindowProgress, e: unknown): Promise<void> {
    const reason = e instanceof StopRun ? undefined : brokenWindowReason(e, undefined);
    if (reason === undefined) throw e;
    // Refused, so no submission: it does not count against the daily budget.
    this.progress.recentQueries.pop();
    this.createRefusals++;
    if (this.createRefusals >= 2 * (this.o.maxQueryAttempts ?? DEFAULTS.maxQueryAttempts)) throw e;
    w.queries++;
    await this.retryOrFail(w, `query create refused: ${reason}`);
  }

  private async retryOrFail(w: WindowProgress, reason: string): Promise<void> {
    const maxAttempts = this.o.maxQueryAttempts ?? DEFAULTS.maxQueryAttempts;
    this.o.logger.warn('Backfill query did not succeed', {
      window: `${w.start}/${w.end}`,
      reason,
      queries: w.queries,
    });
    w.reason = reason;
    if (w.queries >= maxAttempts) {
      await this.finish(w, 'failed', `${reason}; ${w.queries} queries tried`);
      return;
    }
    w.state = 'pending';
    delete w.queryId;
    delete w.queryCreatedAt;
    delete w.nextLink;
    await this.save();
  }

  private async finish(
    w: WindowProgress,
    state: 'done' | 'partial' | 'failed',
    reason?: string,
  ): Promise<void> {
    w.state = state;
    if (reason !== undefined) w.reason = reason;
    else delete w.reason;
    w.finishedAt = this.now().toISOString();
    await this.save();
  }

  /** The submission budget: stop (resumable) rather than spend the tenant's whole daily allocation. */
  private checkBudget(): void {
    const max = this.o.maxQueriesPerDay ?? DEFAULTS.maxQueriesPerDay;
    const day = this.now().getTime() - DAY_MS;
    const recent = this.progress.recentQueries.filter((t) => Date.parse(t) > day).sort();
    if (recent.length < max) {
      // Counted before the request goes out: windows in flight together must not all pass the check.
      this.progress.recentQueries.push(this.now().toISOString());
      return;
    }
    this.resumeAfter = new Date(Date.parse(recent[recent.length - max]!) + DAY_MS).toISOString();
    this.stopped ??= new StopRun('query-budget');
    throw this.stopped;
  }

  /**
   * Reads one page, maps it and hands its records to the window's sender (full queue messages go out as
   * they fill). Every few pages — and at the window's last page, or when the run is stopping — the rest is
   * flushed and only then the nextLink and counts saved. True when the window is finished.
   */
  private async page(w: WindowProgress): Promise<boolean> {
    const tenantId = this.progress.request.tenantId;
    const queryId = w.queryId!;
    let u = this.unsaved.get(w);
    if (u?.queryId !== queryId) {
      u = {
        queryId,
        sender: new RecordSender({
          tenantId,
          sink: this.o.sink,
          source: `graph:${queryId}`,
          ...(this.o.maxMessageBytes ? { maxMessageBytes: this.o.maxMessageBytes } : {}),
        }),
        pages: 0,
        records: 0,
        skipped: 0,
        sent: {},
        refused: {},
        nextLink: w.nextLink,
        last: false,
      };
      this.unsaved.set(w, u);
    }
    const link = u.nextLink;
    let page: Awaited<ReturnType<AuditLogQueryApi['listRecords']>> | undefined;
    try {
      page = await this.perWindow(w, async () => {
        const read = await this.call(() =>
          this.o.api.listRecords(tenantId, queryId, link, this.callOptions()),
        );
        this.checkNextLink(queryId, link, read.nextLink);
        return read;
      });
    } catch (e) {
      // Stopping (deadline, budget, Ctrl-C, another window's error): keep what was already sent.
      if (e instanceof StopRun && u.pages > 0 && this.stopped?.why !== 'conflict') await this.commit(w, u);
      throw e;
    }
    if (!page) {
      // The window's query is created again: what was read of this one is read again from the start.
      this.unsaved.delete(w);
      return false;
    }
    await this.step('page-read', { window: w, queryId, page: w.pages + u.pages + 1 });
    await this.sendPage(w, u, page.records, queryId);
    u.pages++;
    u.records += page.records.length;
    u.nextLink = page.nextLink;
    u.last = !page.nextLink;
    const every = this.o.commitEvery ?? {};
    if (
      u.last ||
      u.pages >= (every.pages ?? DEFAULTS.commitPages) ||
      u.records >= (every.records ?? DEFAULTS.commitRecords) ||
      this.failing ||
      this.shouldStop()
    )
      await this.commit(w, u);
    return w.state !== 'paging';
  }

  /** Maps a page and adds its records to the sender; refused records are kept with their reason. */
  private async sendPage(
    w: WindowProgress,
    u: UnsavedPages,
    records: readonly unknown[],
    queryId: string,
  ): Promise<void> {
    const wanted = new Set(this.progress.request.contentTypes);
    // Kept a few at a time: a page of records Graph changed the shape of must not take minutes.
    const keeping: Array<Promise<string>> = [];
    const refuse = (raw: unknown, reason: string, contentType?: ContentType): void => {
      bump(u.refused, reason);
      keeping.push(this.keepLimit(() => this.keepRefused(raw, reason, queryId, contentType)));
    };
    for (const raw of records) {
      const mapped = fromAuditLogRecord(raw);
      if (!mapped.ok) {
        refuse(raw, mapped.reason);
        continue;
      }
      for (const warning of mapped.warnings ?? []) bump(this.stats.warnings, warning);
      if (!wanted.has(mapped.contentType)) {
        u.skipped++;
        continue;
      }
      try {
        await u.sender.add(mapped.record, mapped.contentType);
        u.sent[mapped.contentType] = (u.sent[mapped.contentType] ?? 0) + 1;
      } catch (e) {
        // Refused by the batcher (too large, not serialisable): the sender is unchanged, go on.
        // One reason per kind (the messages carry per-record sizes), so the counts add up.
        if (e instanceof RecordTooLargeError)
          refuse(
            raw,
            `record too large for a queue batch (over ${e.limitBytes} bytes of JSON)`,
            mapped.contentType,
          );
        else if (e instanceof RecordNotSerialisableError)
          refuse(raw, 'record cannot be serialised to JSON', mapped.contentType);
        else throw e;
      }
    }
    // Before the page can be saved: a refused record is kept, or the page is read again.
    const kept = await Promise.all(keeping);
    if (kept.length > 0)
      this.o.logger.error('Backfill records refused: kept with the reason in the rejected container', {
        tenantId: this.progress.request.tenantId,
        window: `${w.start}/${w.end}`,
        queryId,
        refused: kept.length,
        firstKeptIn: kept[0],
      });
  }

  /**
   * Keeps one refused record as received (the Graph auditLogRecord), named by its content so a page read
   * again — or by a later query of the same window — overwrites the same blob.
   */
  private async keepRefused(
    raw: unknown,
    reason: string,
    queryId: string,
    contentType: ContentType | undefined,
  ): Promise<string> {
    const kept = keepable(raw, reason);
    const rejected: RejectedRecord = {
      tenantId: this.progress.request.tenantId,
      contentType: contentType ?? 'unknown',
      batchId: `graph-${createHash('sha256').update(kept.json).digest('hex').slice(0, 32)}`,
      index: 0,
      reason: kept.reason,
      record: kept.record,
      contentId: `graph:${queryId}`,
    };
    return this.o.rejects.save(rejected);
  }

  /** Flushes the window's sender, then saves the pages read since the last save (counts and nextLink). */
  private async commit(w: WindowProgress, u: UnsavedPages): Promise<void> {
    const queryId = u.queryId;
    await u.sender.flush();
    await this.step('page-sent', { window: w, queryId, page: w.pages + u.pages });

    // Sent and flushed: now the pages count, and paging moves on.
    this.unsaved.delete(w);
    w.pages += u.pages;
    w.records += u.records;
    w.skipped += u.skipped;
    for (const [ct, n] of Object.entries(u.sent))
      w.sent[ct as ContentType] = (w.sent[ct as ContentType] ?? 0) + n;
    for (const [reason, n] of Object.entries(u.refused)) bump(w.refused, reason, n);
    this.stats.records += u.records;
    this.stats.skipped += u.skipped;
    for (const [ct, n] of Object.entries(u.sent))
      this.stats.sent[ct as ContentType] = (this.stats.sent[ct as ContentType] ?? 0) + n;
    for (const [reason, n] of Object.entries(u.refused)) bump(this.stats.refused, reason, n);
    if (!u.last) {
      w.nextLink = u.nextLink;
      await this.save();
    } else {
      delete w.nextLink;
      if (w.limitExceeded) await this.finish(w, 'partial', w.reason);
      else await this.finish(w, 'done');
    }
    await this.step('page-saved', { window: w, queryId, page: w.pages });
  }

  private summary(
    outcome: BackfillOutcome,
    why?: BackfillSummary['stoppedBecause'],
    error?: string,
  ): BackfillSummary {
    const r = this.o.request;
    const p = this.progress;
    const c = p ? countProgress(p) : undefined;
    const listed = (state: 'partial' | 'failed'): Array<{ start: string; end: string; reason: string }> =>
      (p?.windows ?? [])
        .filter((w) => w.state === state)
        .sort((a, b) => a.start.localeCompare(b.start))
        .map((w) => ({ start: w.start, end: w.end, reason: w.reason ?? state }));
    const s = this.stats;
    const seconds = Math.max(0, (this.now().getTime() - this.startedAt) / 1000);
    return {
      tenantId: r.tenantId,
      from: r.from,
      to: r.to,
      contentTypes: [...r.contentTypes],
      progressBlob: `${this.o.store.container.containerName}/${this.name}`,
      outcome,
      ...(why ? { stoppedBecause: why } : {}),
      ...(error !== undefined ? { error } : {}),
      ...(why === 'query-budget' && this.resumeAfter ? { resumeAfter: this.resumeAfter } : {}),
      windows: {
        total: c?.windows ?? 0,
        done: c?.done ?? 0,
        partial: c?.partial ?? 0,
        failed: c?.failed ?? 0,
        open: c?.open ?? 0,
        split: c?.split ?? 0,
      },
      partialWindows: listed('partial'),
      failedWindows: listed('failed'),
      run: {
        records: s.records,
        sent: s.sent,
        skipped: s.skipped,
        refused: s.refused,
        warnings: s.warnings,
        queriesCreated: s.queriesCreated,
        requests: s.requests,
        throttled: s.throttled,
        requestsPer1000Records: s.records > 0 ? Math.round((s.requests / s.records) * 1000 * 10) / 10 : null,
        seconds,
        recordsPerSecond: seconds > 0 && s.records > 0 ? Math.round((s.records / seconds) * 10) / 10 : null,
      },
      total: { records: c?.records ?? 0, sent: c?.sent ?? {}, refused: c?.refused ?? {} },
    };
  }
}

function errorRecord(error: unknown, now: Date): { at: string; code: string; message: string } {
  const code = error instanceof AuditfeedError ? error.code : error instanceof Error ? error.name : 'Error';
  const text = error instanceof Error ? error.message : JSON.stringify(error);
  return { at: now.toISOString(), code, message: text.length > 1000 ? `${text.slice(0, 999)}…` : text };
}

function mergeFills(
  a: BackfillRequest['fills'],
  b: NonNullable<BackfillRequest['fills']>,
): NonNullable<BackfillRequest['fills']> {
  const all = [...(a ?? []), ...b];
  const key = (g: { contentType: string; start: string; end: string }): string =>
    `${g.contentType}|${g.start}|${g.end}`;
  return [...new Map(all.map((g) => [key(g), g])).values()];
}

/** Runs a backfill (see BackfillRun). */
export function runBackfill(options: BackfillRunOptions): Promise<BackfillSummary> {
  return new BackfillRun(options).run();
}
