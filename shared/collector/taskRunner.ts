import type { Logger } from '../logging';
import type { CollectTask } from '../messages/collectTask';
import { ClaimConflictError, type TaskClaimStore } from '../storage/taskClaimStore';
import type { Collector } from './collector';
import { runningClaimMs } from './planner';
import type { ContentTypeRunSummary } from './summary';

/** What became of one delivered task. */
export type TaskOutcome =
  /** It ran (whatever the content type's own outcome, in the summary). */
  | 'ran'
  /** Superseded: the planner gave the unit a newer task (this one was lost and taken back). */
  | 'stale'
  /** Another worker runs or ran this task (a duplicate delivery). */
  | 'duplicate';

export interface TaskResult {
  outcome: TaskOutcome;
  summary?: ContentTypeRunSummary;
}

export interface TaskRunnerDeps {
  claims: TaskClaimStore;
  /** The collector for this task (its clock is the task's clock). */
  collector: Collector;
  hardStopGraceMs: number;
  now: () => Date;
  logger: Logger;
}

/**
 * collectorWorker's work (docs/scale.md): take the task's claim from queued to running with If-Match — of
 * two deliveries of one task exactly one gets there — run the tenant × content type to the task's
 * deadline with every guarantee of a timer run (the watermark's own ETag included), then mark the claim
 * done so the next timer run dispatches the unit again. A stale or duplicate task is dropped (the
 * message completes): the claim says who owns the unit.
 */
export async function runCollectTask(task: CollectTask, deps: TaskRunnerDeps): Promise<TaskResult> {
  const { claims, logger } = deps;
  const unit = { tenantId: task.tenantId, contentType: task.contentType, taskId: task.taskId };
  const { claim, etag } = await claims.load(task.tenantId, task.contentType);
  if (!claim || claim.taskId !== task.taskId || !etag) {
    logger.info('Collection task superseded; dropping it', { ...unit, currentTaskId: claim?.taskId });
    return { outcome: 'stale' };
  }
  if (claim.state !== 'queued') {
    logger.info('Collection task already taken by another worker; dropping this delivery', {
      ...unit,
      state: claim.state,
    });
    return { outcome: 'duplicate' };
  }
  const started = deps.now();
  let runningEtag: string;
  try {
    runningEtag = await claims.save(
      task.tenantId,
      task.contentType,
      {
        ...claim,
        state: 'running',
        startedAt: started.toISOString(),
        until: new Date(
          started.getTime() + runningClaimMs(task.deadlineMs, deps.hardStopGraceMs),
        ).toISOString(),
      },
      etag,
    );
  } catch (e) {
    if (e instanceof ClaimConflictError) {
      logger.info('Collection task taken by another worker first; dropping this delivery', unit);
      return { outcome: 'duplicate' };
    }
    throw e;
  }

  const summary = await deps.collector.runOne(task.tenantId, task.contentType, task.deadlineMs);
  const finished = deps.now();
  try {
    await claims.save(
      task.tenantId,
      task.contentType,
      {
        ...claim,
        state: 'done',
        startedAt: started.toISOString(),
        finishedAt: finished.toISOString(),
        outcome: summary.outcome,
        until: finished.toISOString(),
      },
      runningEtag,
    );
  } catch (e) {
    // The unit's progress is in its watermark; an unreleased claim only delays its next task until it
    // expires. A conflict means the planner already took the unit back.
    logger.warn('Could not mark the collection task done; the unit waits for its claim to expire', {
      ...unit,
      error: (e as Error).message,
    });
  }
  return { outcome: 'ran', summary };
}
