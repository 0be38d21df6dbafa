import type { QueueServiceClient } from '@azure/storage-queue';
import type { ContentType } from './contentTypes';
import type { QuarantinedBlob } from './collector/watermark';
import type { Gap } from './collector/windows';
import type { ContentTypeRunSummary } from './collector/summary';
import pLimit from 'p-limit';
import type { TaskClaim, TaskClaimStore } from './storage/taskClaimStore';
import type { WatermarkStore } from './storage/watermarkStore';
import { poisonQueueName } from './writer/poisonReplay';
import { filledGaps, gapKey, type FilledGap } from './backfill/gaps';
import { countProgress, type BackfillError, type BackfillProgressStore } from './backfill/progressStore';

/** Where one tenant × content type stands, from its watermark (DESIGN §5). */
export interface ContentTypeStatus {
  tenantId: string;
  contentType: ContentType;
  /** False when no collector run has saved a watermark yet. */
  started: boolean;
  /** Listing is complete before this time. */
  cursor: string | null;
  /** now − cursor. */
  lagSeconds: number | null;
  subscriptionEnabled: boolean;
  lastRun: ContentTypeRunSummary | null;
  gapCount: number;
  /**
   * The most recent gaps (the watermark keeps a bounded number); `filledAt` once a backfill filled one,
   * and `notFilledBefore` when it could fill only the part of the gap the audit retention still held.
   */
  gaps: Array<Gap & { filledAt?: string; notFilledBefore?: string }>;
  /** Of `gaps`, how many a finished backfill filled in full (auditfeed backfill --gaps). */
  gapsFilled: number;
  /** Of `gaps`, how many a backfill filled only from `notFilledBefore` on (the rest was too old). */
  gapsPartlyFilled: number;
  /** Blobs that failed and are retried until collected or expired. */
  quarantine: QuarantinedBlob[];
  /** When the last full-retention re-listing finished, and whether one is under way. */
  lastSweepCompletedAt: string | null;
  sweepInProgress: boolean;
  /** Fanout mode: the unit's collection task (none: inline mode, or never dispatched). */
  task?: TaskClaim;
}

/** One backfill (auditfeed backfill) as status shows it. */
export interface BackfillStatus {
  tenantId: string;
  from: string;
  to: string;
  contentTypes: ContentType[];
  state: 'running' | 'stopped' | 'complete' | 'finished-with-problems';
  windows: { total: number; done: number; partial: number; failed: number; open: number };
  records: number;
  /** Records the backfill refused (kept with their reason in the rejected container). */
  refused: number;
  gapsFilled: number;
  updatedAt: string;
  finishedAt?: string;
  /** The error that ended its last run (a submitted backfill has no terminal to show it). */
  lastError?: BackfillError;
}

export interface PipelineStatus {
  at: string;
  contentTypes: ContentTypeStatus[];
  /** Backfills of the tenants (when the options give their store). */
  backfills: BackfillStatus[];
  /** Batches waiting in the poison queue; undefined when it could not be read. */
  poisonMessages: number | undefined;
  /** What an operator should look at, in plain words; empty when all is well. */
  problems: string[];
}

export interface StatusOptions {
  tenants: string[];
  contentTypes: readonly ContentType[];
  watermarks: WatermarkStore;
  /** The task claims beside the watermarks (fanout mode); read when given. */
  claims?: TaskClaimStore;
  /** The backfills' progress beside the watermarks; read when given. */
  backfills?: BackfillProgressStore;
  queues: QueueServiceClient;
  queueName: string;
  /** Lag above which a content type is reported as behind. */
  lagWarningSeconds: number;
  /** AUDITFEED_SWEEP_INTERVAL_MINUTES in ms: a full re-listing older than 3 of these (at least a day) is reported. */
  sweepIntervalMs?: number;
  now?: Date;
}

/** Batches in the writer's poison queue (0 when the host has not created it yet). */
export async function poisonQueueLength(queues: QueueServiceClient, queueName: string): Promise<number> {
  try {
    const { approximateMessagesCount = 0 } = await queues
      .getQueueClient(poisonQueueName(queueName))
      .getProperties();
    return approximateMessagesCount;
  } catch (e) {
    if ((e as { statusCode?: number }).statusCode === 404) return 0;
    throw e;
  }
}

/** Reads every watermark and the poison queue: what `npm run status` prints. */
export async function readStatus(o: StatusOptions): Promise<PipelineStatus> {
  const now = o.now ?? new Date();
  const contentTypes: ContentTypeStatus[] = [];
  const problems: string[] = [];
  // Hundreds of tenants: read the blobs a few at a time, report in configuration order.
  const limit = pLimit(16);
  const loaded = await Promise.all(
    o.tenants.flatMap((tenantId) =>
      o.contentTypes.map((contentType) =>
        limit(async () => ({
          tenantId,
          contentType,
          ...(await o.watermarks.load(tenantId, contentType)),
          task: o.claims ? (await o.claims.load(tenantId, contentType)).claim : undefined,
        })),
      ),
    ),
  );
  const backfills: BackfillStatus[] = [];
  const filled = new Map<string, FilledGap>();
  if (o.backfills) {
    const store = o.backfills;
    // One listing per tenant, a few at a time like the watermarks; reported in configuration order.
    const lists = await Promise.all(
      o.tenants.map((tenantId) => limit(async () => await store.list(tenantId))),
    );
    for (const [i, tenantId] of o.tenants.entries()) {
      const list = lists[i]!.map((b) => b.progress);
      for (const [k, v] of filledGaps(list)) filled.set(k, v);
      for (const b of list) {
        const c = countProgress(b);
        const refused = Object.values(c.refused).reduce((a, n) => a + n, 0);
        const state: BackfillStatus['state'] = !b.finishedAt
          ? b.owner && Date.parse(b.owner.until) > now.getTime()
            ? 'running'
            : 'stopped'
          : c.partial + c.failed > 0
            ? 'finished-with-problems'
            : 'complete';
        backfills.push({
          tenantId,
          from: b.request.from,
          to: b.request.to,
          contentTypes: b.request.contentTypes,
          state,
          windows: { total: c.windows, done: c.done, partial: c.partial, failed: c.failed, open: c.open },
          records: c.records,
          refused,
          gapsFilled: state === 'complete' ? (b.request.fills?.length ?? 0) : 0,
          updatedAt: b.updatedAt,
          ...(b.finishedAt ? { finishedAt: b.finishedAt } : {}),
          ...(b.lastError ? { lastError: b.lastError } : {}),
        });
        if (state === 'stopped')
          problems.push(
            `${tenantId}: the backfill ${b.request.from} to ${b.request.to} stopped with ${c.open} window(s) open` +
              (b.lastError
                ? ` after an error at ${b.lastError.at} (${b.lastError.code}: ${b.lastError.message}); fix its cause, then `
                : '; ') +
              'run the same `auditfeed backfill` again to continue it',
          );
        if (refused > 0)
          problems.push(
            `${tenantId}: the backfill ${b.request.from} to ${b.request.to} refused ${refused} record(s) ` +
              `(${Object.keys(c.refused).slice(0, 3).join('; ')}); each is kept with its reason in the ` +
              `rejected container under ${tenantId}/ (see docs/backfill.md)`,
          );
        if (state === 'finished-with-problems')
          problems.push(
            `${tenantId}: the backfill ${b.request.from} to ${b.request.to} has ${c.partial} partial and ${c.failed} ` +
              'failed window(s) (see docs/backfill.md)',
          );
      }
    }
  }
  for (const { tenantId, contentType, watermark, etag, task } of loaded) {
    {
      const gaps = watermark.gaps.map((g): ContentTypeStatus['gaps'][number] => {
        const f = filled.get(gapKey(tenantId, { contentType, start: g.start, end: g.end }));
        if (!f) return g;
        return { ...g, filledAt: f.at, ...(f.tooOldBefore ? { notFilledBefore: f.tooOldBefore } : {}) };
      });
      const partly = gaps.filter((g) => g.notFilledBefore !== undefined);
      const gapsPartlyFilled = partly.length;
      const gapsFilled = gaps.filter((g) => g.filledAt !== undefined).length - gapsPartlyFilled;
      const cursor = watermark.cursor;
      const lagSeconds = cursor ? Math.round((now.getTime() - cursor.getTime()) / 1000) : null;
      const status: ContentTypeStatus = {
        tenantId,
        contentType,
        started: etag !== undefined,
        cursor: cursor?.toISOString() ?? null,
        lagSeconds,
        subscriptionEnabled: watermark.subscription.enabled,
        lastRun: watermark.lastRun,
        gapCount: watermark.gapCount,
        gaps,
        gapsFilled,
        gapsPartlyFilled,
        quarantine: [...watermark.quarantine.values()],
        lastSweepCompletedAt: watermark.sweep.completedAt,
        sweepInProgress: watermark.sweep.next !== null,
        ...(task ? { task } : {}),
      };
      contentTypes.push(status);
      const where = `${tenantId} ${contentType}`;
      if (!status.started) problems.push(`${where}: no collector run has saved progress yet`);
      if (lagSeconds !== null && lagSeconds > o.lagWarningSeconds)
        problems.push(
          `${where}: ${formatSeconds(lagSeconds)} behind the feed (content older than 7 days is lost)`,
        );
      if (status.lastRun && status.lastRun.outcome === 'failed')
        problems.push(`${where}: the last run failed: ${status.lastRun.error ?? 'no error recorded'}`);
      if (status.gapCount > gapsFilled + gapsPartlyFilled)
        problems.push(
          `${where}: ${status.gapCount - gapsFilled - gapsPartlyFilled} gap(s) recorded: content the service ` +
            'no longer had (`auditfeed backfill --gaps` fills them from the audit log)',
        );
      if (gapsPartlyFilled > 0)
        problems.push(
          `${where}: ${gapsPartlyFilled} gap(s) only partly filled: their records before ` +
            `${partly.map((g) => g.notFilledBefore).join(', ')} were older than the audit retention ` +
            'when the backfill ran and are lost (see the gaps below)',
        );
      const sweepLimit = Math.max(86_400_000, 3 * (o.sweepIntervalMs ?? 0));
      const swept = status.lastSweepCompletedAt ?? watermark.sweep.startedAt;
      if (status.started && swept && now.getTime() - Date.parse(swept) > sweepLimit) {
        problems.push(
          `${where}: the full re-listing of the 7 days has not finished since ${swept}: content listed late may ` +
            "expire before it is found (see the runs' errors, or raise the run deadline)",
        );
      }
      if (task && task.state !== 'done' && now.getTime() > Date.parse(task.until)) {
        problems.push(
          `${where}: its collection task ${task.taskId} was lost (${task.state} since ${task.startedAt ?? task.enqueuedAt}); ` +
            'the next timer run dispatches the unit again (see the collectorWorker errors)',
        );
      }
      if (status.quarantine.length > 0) {
        const soonest = status.quarantine.map((q) => q.contentExpiration).sort()[0];
        problems.push(
          `${where}: ${status.quarantine.length} content blob(s) quarantined (unreadable; retried until they ` +
            `expire, the first at ${soonest}): ${status.quarantine[0]!.error}`,
        );
      }
    }
  }
  let poisonMessages: number | undefined;
  try {
    poisonMessages = await poisonQueueLength(o.queues, o.queueName);
    if (poisonMessages > 0)
      problems.push(
        `${poisonMessages} batch(es) in the poison queue: fix the cause, then npm run replay-poison`,
      );
  } catch (e) {
    problems.push(`the poison queue could not be read: ${(e as Error).message}`);
  }
  return { at: now.toISOString(), contentTypes, backfills, poisonMessages, problems };
}

/** 3725 → "1h 2m"; 90000 → "1d 1h". */
export function formatSeconds(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const d = Math.floor(s / 86_400);
  const h = Math.floor((s % 86_400) / 3_600);
  const m = Math.floor((s % 3_600) / 60);
  if (d > 0) return `${d}d ${h}h`;
  if (h > 0) return `${h}h ${m}m`;
  if (m > 0) return `${m}m ${s % 60}s`;
  return `${s}s`;
}
