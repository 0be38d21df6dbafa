import { randomUUID } from 'node:crypto';
import pLimit from 'p-limit';
import type { TenantConfig } from '../config';
import type { ContentType } from '../contentTypes';
import { silentLogger, type Logger } from '../logging';
import { encodeCollectTask, type CollectTask } from '../messages/collectTask';
import { ClaimConflictError, type TaskClaim, type TaskClaimStore } from '../storage/taskClaimStore';

/** A sent message, as the queue service names it. */
export interface SentMessage {
  messageId: string;
  popReceipt: string;
}

/** Where tasks go: the work queue (collectorWorker's trigger). */
export interface TaskQueue {
  send(text: string): Promise<SentMessage>;
  /**
   * Whether a sent message still waits on the queue: its new pop receipt if so; undefined once a worker took
   * it (a dequeue changes the receipt), it was deleted, or it is gone. Says nothing about others' messages.
   */
  stillWaiting(message: SentMessage): Promise<SentMessage | undefined>;
}

export interface PlannerOptions {
  tenants: TenantConfig[];
  contentTypes: ContentType[];
  claims: TaskClaimStore;
  queue: TaskQueue;
  /** Time between two timer runs (from the schedule). */
  intervalMs: number;
  /** The longest a task may take new work (AUDITFEED_RUN_DEADLINE_SECONDS). */
  runDeadlineMs: number;
  /** After its deadline a task is cut off this long later (hard stop). */
  hardStopGraceMs: number;
  /** Tasks the deployment runs at once (AUDITFEED_COLLECT_SLOTS). */
  slots: number;
  /** Claim reads and writes at once. Default 32. */
  concurrency?: number;
  logger?: Logger;
  now?: () => Date;
}

/** The shortest share a task gets, however many are due: enough to list and fetch a few pages. */
export const MIN_TASK_DEADLINE_MS = 60_000;
/** A claim still queued after this long is given up and the unit dispatched afresh. */
export const QUEUED_CLAIM_MS = 24 * 3_600_000;
/** Slack on a running claim beyond the task's deadline and hard stop. */
const RUNNING_CLAIM_SLACK_MS = 60_000;
/** Units named in a plan line's lists, at most (the counts are complete). */
const MAX_NAMED = 20;

export interface PlanSummary {
  startedAt: string;
  finishedAt: string;
  units: number;
  /** New tasks put on the queue. */
  dispatched: number;
  /** Tasks still queued after two intervals, put on the queue again (same task: at most one runs). */
  requeued: number;
  /** Units whose task is still queued or running. */
  queued: number;
  running: number;
  /** Units whose task was lost (claim expired while queued or running), dispatched again. */
  expired: number;
  /** Units another planner claimed first. */
  conflicts: number;
  /** Units whose claim or message could not be written: dispatched again by a later run. */
  failed: number;
  /** The share each task of this run was given. */
  taskDeadlineSeconds: number;
  /** Units behind the counts above (each list at most MAX_NAMED). */
  expiredUnits: string[];
  failedUnits: { unit: string; error: string }[];
}

type Decision =
  | { kind: 'busy'; state: 'queued' | 'running' }
  | { kind: 'requeue'; claim: TaskClaim; etag: string }
  /** Still waiting on the queue after two intervals: remember the message's new receipt, send nothing. */
  | { kind: 'waiting'; claim: TaskClaim; etag: string; message: SentMessage }
  | { kind: 'dispatch'; etag: string | undefined; expired?: TaskClaim }
  | { kind: 'failed'; error: string };

interface Unit {
  tenantId: string;
  contentType: ContentType;
  decision: Decision;
  /** When its last task finished (never: first). */
  lastFinished: string;
}

/**
 * The timer's half of fanned-out collection (docs/scale.md). It decides what is due from the task claims
 * beside the watermarks: a unit with no live claim gets a new task (claim written with If-Match, then the
 * message sent), a unit whose task waits too long gets the same task sent again (a lost message), and a
 * unit whose claim expired (worker died, message poisoned) is taken back. It never runs collection and
 * never touches a watermark, so it cannot race a worker over a cursor.
 *
 * Each task is given an equal share of the interval across the deployment's slots, so every due unit
 * gets its turn within about one interval; the least recently served go first.
 */
export class Planner {
  private readonly logger: Logger;
  private readonly now: () => Date;

  constructor(private readonly options: PlannerOptions) {
    this.logger = options.logger ?? silentLogger;
    this.now = options.now ?? (() => new Date());
  }

  async plan(): Promise<PlanSummary> {
    const o = this.options;
    const startedAt = this.now();
    const limit = pLimit(o.concurrency ?? 32);
    const units: Unit[] = await Promise.all(
      o.tenants.flatMap((t) =>
        o.contentTypes.map((ct) => limit(() => this.decide(t.tenantId, ct, startedAt.getTime()))),
      ),
    );
    const toSend = units.filter((u) => u.decision.kind === 'dispatch' || u.decision.kind === 'requeue');
    const deadlineMs = taskDeadlineMs(o, toSend.length);
    const summary: PlanSummary = {
      startedAt: startedAt.toISOString(),
      finishedAt: '',
      units: units.length,
      dispatched: 0,
      requeued: 0,
      queued: 0,
      running: 0,
      expired: 0,
      conflicts: 0,
      failed: 0,
      taskDeadlineSeconds: Math.round(deadlineMs / 1000),
      expiredUnits: [],
      failedUnits: [],
    };
    const fail = (u: Unit, error: string): void => {
      summary.failed++;
      if (summary.failedUnits.length < MAX_NAMED) summary.failedUnits.push({ unit: unitName(u), error });
    };
    for (const u of units) {
      if (u.decision.kind === 'busy') summary[u.decision.state]++;
      if (u.decision.kind === 'waiting') summary.queued++;
      if (u.decision.kind === 'failed') fail(u, u.decision.error);
    }
    // Checked messages keep their new receipts (best effort: a lost write only means another check).
    await Promise.all(
      units.flatMap((u) => {
        const d = u.decision;
        if (d.kind !== 'waiting') return [];
        const claim = { ...d.claim, requeuedAt: this.now().toISOString(), ...d.message };
        return [
          limit(() => this.options.claims.save(u.tenantId, u.contentType, claim, d.etag).catch(() => '')),
        ];
      }),
    );
    // Least recently served first: with more due units than slots, the queue serves them in this order.
    toSend.sort((a, b) => a.lastFinished.localeCompare(b.lastFinished));
    await Promise.all(
      toSend.map((u) =>
        limit(async () => {
          try {
            const outcome = await this.send(u, deadlineMs);
            if (outcome === 'conflict') summary.conflicts++;
            else if (outcome === 'requeued') summary.requeued++;
            else {
              summary.dispatched++;
              if (u.decision.kind === 'dispatch' && u.decision.expired) {
                summary.expired++;
                if (summary.expiredUnits.length < MAX_NAMED) summary.expiredUnits.push(unitName(u));
              }
            }
          } catch (e) {
            fail(u, (e as Error).message);
          }
        }),
      ),
    );
    summary.finishedAt = this.now().toISOString();
    for (const u of toSend) {
      if (u.decision.kind === 'dispatch' && u.decision.expired) {
        const c = u.decision.expired;
        this.logger.warn('Collection task lost; dispatching the unit again', {
          tenantId: u.tenantId,
          contentType: u.contentType,
          taskId: c.taskId,
          state: c.state,
          since: c.startedAt ?? c.enqueuedAt,
        });
      }
    }
    if (summary.failed > 0) {
      this.logger.error('Collection tasks could not be dispatched; a later timer run tries again', {
        failed: summary.failed,
        failedUnits: summary.failedUnits,
      });
    }
    // One short line per run: what the dashboard and the backlog alert read.
    this.logger.info('Collection tasks dispatched', { ...summary });
    return summary;
  }

  private async decide(tenantId: string, contentType: ContentType, now: number): Promise<Unit> {
    const unit = { tenantId, contentType, lastFinished: '' };
    let loaded;
    try {
      loaded = await this.options.claims.load(tenantId, contentType);
    } catch (e) {
      return { ...unit, decision: { kind: 'failed', error: (e as Error).message } };
    }
    const { claim, etag } = loaded;
    const lastFinished = claim?.finishedAt ?? '';
    if (!claim) return { ...unit, lastFinished, decision: { kind: 'dispatch', etag } };
    const live = claim.state !== 'done' && now < Date.parse(claim.until);
    if (!live) {
      const expired = claim.state === 'done' ? undefined : claim;
      return { ...unit, lastFinished, decision: { kind: 'dispatch', etag, ...(expired ? { expired } : {}) } };
    }
    if (claim.state === 'queued' && etag) {
      const sent = Date.parse(claim.requeuedAt ?? claim.enqueuedAt);
      // Two intervals without a worker starting it: ask the queue whether its message still waits (behind a
      // backlog: leave it, or every interval would add a copy of every waiting task). Gone while the claim
      // still says queued: it was lost; the same task again is safe.
      if (now - sent >= 2 * this.options.intervalMs) {
        const sentMessage =
          claim.messageId && claim.popReceipt
            ? { messageId: claim.messageId, popReceipt: claim.popReceipt }
            : undefined;
        let waiting: SentMessage | undefined;
        try {
          waiting = sentMessage ? await this.options.queue.stillWaiting(sentMessage) : undefined;
        } catch (e) {
          return { ...unit, decision: { kind: 'failed', error: (e as Error).message } };
        }
        if (waiting)
          return { ...unit, lastFinished, decision: { kind: 'waiting', claim, etag, message: waiting } };
        return { ...unit, lastFinished, decision: { kind: 'requeue', claim, etag } };
      }
    }
    return {
      ...unit,
      lastFinished,
      decision: { kind: 'busy', state: claim.state === 'queued' ? 'queued' : 'running' },
    };
  }

  /** Claims the unit, then sends its task: a message without a claim could run twice. */
  private async send(u: Unit, deadlineMs: number): Promise<'dispatched' | 'requeued' | 'conflict'> {
    const now = this.now();
    const d = u.decision;
    let claim: TaskClaim;
    let etag: string | undefined;
    if (d.kind === 'requeue') {
      claim = { ...d.claim, requeuedAt: now.toISOString() };
      etag = d.etag;
    } else if (d.kind === 'dispatch') {
      claim = {
        taskId: randomUUID(),
        state: 'queued',
        enqueuedAt: now.toISOString(),
        until: new Date(now.getTime() + QUEUED_CLAIM_MS).toISOString(),
        // When the unit's last task finished: the order of service of later runs.
        ...(u.lastFinished ? { finishedAt: u.lastFinished } : {}),
      };
      etag = d.etag;
    } else {
      throw new Error(`unit ${unitName(u)} is not to be sent`);
    }
    let etag2: string;
    try {
      etag2 = await this.options.claims.save(u.tenantId, u.contentType, claim, etag);
    } catch (e) {
      if (e instanceof ClaimConflictError) return 'conflict';
      throw e;
    }
    const task: CollectTask = {
      v: 1,
      kind: 'collect',
      tenantId: u.tenantId,
      contentType: u.contentType,
      taskId: claim.taskId,
      deadlineMs,
      enqueuedAt: now.toISOString(),
    };
    const sent = await this.options.queue.send(encodeCollectTask(task));
    // Remember which message carries the task, so a later run can ask the queue whether it still waits.
    // Best effort: without it a later run re-sends the same task, which is safe.
    await this.options.claims
      .save(u.tenantId, u.contentType, { ...claim, ...sent }, etag2)
      .catch(() => undefined);
    return d.kind === 'requeue' ? 'requeued' : 'dispatched';
  }
}

/**
 * Each task's share: the interval across the slots, split among the tasks sent now — at least
 * MIN_TASK_DEADLINE_MS, at most the run deadline. A task that has little to do ends long before it.
 */
export function taskDeadlineMs(
  o: Pick<PlannerOptions, 'intervalMs' | 'slots' | 'runDeadlineMs'>,
  tasks: number,
): number {
  const share = (o.intervalMs * o.slots) / Math.max(1, tasks);
  return Math.round(
    Math.min(o.runDeadlineMs, Math.max(Math.min(MIN_TASK_DEADLINE_MS, o.runDeadlineMs), share)),
  );
}

/** How long a running claim holds: the task's deadline, its hard stop and some slack. */
export function runningClaimMs(deadlineMs: number, hardStopGraceMs: number): number {
  return deadlineMs + hardStopGraceMs + RUNNING_CLAIM_SLACK_MS;
}

function unitName(u: { tenantId: string; contentType: string }): string {
  return `${u.tenantId}/${u.contentType}`;
}
