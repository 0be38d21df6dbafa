import { runCollectTask, type TaskResult } from '../collector/taskRunner';
import { HARD_STOP_GRACE_SECONDS } from '../config';
import type { Logger } from '../logging';
import { decodeCollectTask } from '../messages/collectTask';
import type { CollectorRuntime } from '../runtime';

/**
 * collectorWorker's work: one task from the work queue (fanout mode). Pure of Functions types, so the
 * local runner and the bench call it too. A malformed message throws (retried, then poison, like the
 * writer's); a stale or duplicate task completes without running.
 */
export async function collectTask(
  runtime: CollectorRuntime,
  message: unknown,
  logger: Logger,
  now: () => Date = () => new Date(),
): Promise<TaskResult> {
  const task = decodeCollectTask(message);
  await runtime.ensureResources();
  return runCollectTask(task, {
    claims: runtime.claims,
    collector: runtime.collector({ logger, now }),
    hardStopGraceMs: HARD_STOP_GRACE_SECONDS * 1000,
    now,
    logger,
  });
}
