import type { QueueClient } from '@azure/storage-queue';
import {
  runBackfill,
  RunHardStopError,
  type BackfillRunOptions,
  type BackfillSummary,
} from '../backfill/backfillRun';
import {
  decodeBackfillMessage,
  encodeBackfillMessage,
  type BackfillMessage,
} from '../backfill/backfillMessage';
import type { BackfillProgressStore } from '../backfill/progressStore';
import { HARD_STOP_GRACE_SECONDS, type BackfillConfig } from '../config';
import type { AuditLogQueryApi } from '../graphAudit/types';
import type { Logger } from '../logging';
import type { BatchSink } from '../messages/batcher';
import type { RejectedRecordStore } from '../writer/rejectedRecords';

/** What the backfill function works with (BackfillRuntime builds it from the settings). */
export interface BackfillDeps {
  api: AuditLogQueryApi;
  store: BackfillProgressStore;
  sink: BatchSink;
  /** Where refused records are kept. */
  rejects: Pick<RejectedRecordStore, 'save'>;
  /** The backfill queue: continuations go back onto it. */
  queue: Pick<QueueClient, 'sendMessage'>;
  settings: BackfillConfig;
  /** How long one invocation takes new work (AUDITFEED_RUN_DEADLINE_SECONDS, below functionTimeout). */
  runDeadlineMs: number;
  /** How long a continuation stays hidden; default CONTINUE_DELAY_SECONDS (tests: 0). */
  continueDelaySeconds?: number;
  /** Schedules the hard stop `ms` from now, returns its cancel; default a wall-clock timer (tests: their clock). */
  hardStopTimer?: (ms: number, fire: () => void) => () => void;
}

function wallClockTimer(ms: number, fire: () => void): () => void {
  const t = setTimeout(fire, Math.max(0, ms));
  t.unref?.();
  return () => clearTimeout(t);
}

export interface BackfillTaskResult {
  summary: BackfillSummary;
  /** Seconds until the continuation becomes visible; undefined when the backfill needs no more runs. */
  continuedInSeconds?: number;
}

/** A continuation waits this long while queries run (they take minutes) or after a deadline. */
export const CONTINUE_DELAY_SECONDS = 60;
/** Queue messages can be hidden for at most 7 days. */
const MAX_VISIBILITY_SECONDS = 7 * 24 * 3600 - 60;

/**
 * The backfill function's work: one request (or continuation) from the backfill queue. Runs the engine until
 * its deadline, then enqueues a continuation (hidden a while, so running queries can progress) — so a
 * backfill of months carries on across invocations without a laptop staying online. A malformed message
 * throws (retried, then poison); an error of the run throws too, after its progress is saved, so the
 * host's retries resume it.
 */
export async function backfillTask(
  deps: BackfillDeps,
  message: unknown,
  logger: Logger,
  now: () => Date = () => new Date(),
  extra: Pick<BackfillRunOptions, 'sleep' | 'onStep' | 'poll'> = {},
): Promise<BackfillTaskResult> {
  const m = decodeBackfillMessage(message);
  const started = now().getTime();
  const deadline = started + deps.runDeadlineMs;
  // The engine starts nothing after the deadline, but a call in flight (the Graph client waits out up to
  // its retries' Retry-After) could outlast functionTimeout: like the collector, every request and wait
  // listens on a signal that aborts the grace after the deadline, and the run stops at a safe point.
  const hardStop = new AbortController();
  const cancel = (deps.hardStopTimer ?? wallClockTimer)(
    deadline + HARD_STOP_GRACE_SECONDS * 1000 - now().getTime(),
    () => hardStop.abort(new RunHardStopError(new Date(deadline).toISOString())),
  );
  let summary: BackfillSummary;
  try {
    summary = await runBackfill({
      api: deps.api,
      store: deps.store,
      sink: deps.sink,
      rejects: deps.rejects,
      request: {
        tenantId: m.tenantId,
        from: m.from,
        to: m.to,
        contentTypes: m.contentTypes,
        windowMs: m.windowMs,
        createdBy: m.createdBy,
        ...(m.fills ? { fills: m.fills } : {}),
      },
      logger,
      now,
      deadline,
      abortSignal: hardStop.signal,
      maxQueriesInFlight: deps.settings.queriesInFlight,
      maxQueriesPerDay: deps.settings.queriesPerDay,
      ...extra,
    });
  } finally {
    cancel();
  }
  const log = {
    progress: summary.progressBlob,
    outcome: summary.outcome,
    run: m.run,
    windows: summary.windows,
    sent: summary.run.sent,
    refused: summary.run.refused,
    requests: summary.run.requests,
    requestsPer1000Records: summary.run.requestsPer1000Records,
  };
  if (summary.outcome === 'failed') {
    logger.error(`Backfill run failed: ${summary.error ?? 'unknown error'}`, log);
    // The host retries the message; the saved progress makes the retry continue where this run stopped.
    throw new Error(`Backfill ${summary.progressBlob} failed: ${summary.error ?? 'unknown error'}`);
  }
  if (summary.outcome === 'complete' || summary.outcome === 'finished-with-problems') {
    const level = summary.outcome === 'complete' ? 'info' : 'warn';
    logger[level](`Backfill finished (${summary.outcome})`, {
      ...log,
      partialWindows: summary.partialWindows,
      failedWindows: summary.failedWindows,
    });
    return { summary };
  }
  // stopped (deadline, query budget) or busy (another run holds it): carry on later.
  const delay = continueDelaySeconds(summary, now(), deps.continueDelaySeconds ?? CONTINUE_DELAY_SECONDS);
  const next: BackfillMessage = { ...m, run: m.run + 1, enqueuedAt: now().toISOString() };
  await deps.queue.sendMessage(encodeBackfillMessage(next), {
    visibilityTimeout: delay,
    // Never expires: a long backfill must not vanish from the queue.
    messageTimeToLive: -1,
  });
  logger.info('Backfill continues in a later run', { ...log, stoppedBecause: summary.stoppedBecause, delay });
  return { summary, continuedInSeconds: delay };
}

function continueDelaySeconds(summary: BackfillSummary, now: Date, base: number): number {
  if (summary.stoppedBecause === 'query-budget' && summary.resumeAfter) {
    const s = Math.ceil((Date.parse(summary.resumeAfter) - now.getTime()) / 1000);
    return Math.min(MAX_VISIBILITY_SECONDS, Math.max(base, s));
  }
  return base;
}
