import type { RunSummary } from '../collector/summary';
import type { Logger } from '../logging';
import type { CollectorRuntime } from '../runtime';
import { poisonQueueLength } from '../status';
import { poisonQueueName } from '../writer/poisonReplay';

/** The timer trigger's work: one collector run. Pure of Functions types, so the local runner calls it too. */
export async function collect(
  runtime: CollectorRuntime,
  logger: Logger,
  isPastDue = false,
): Promise<RunSummary> {
  if (isPastDue) logger.warn('Collector timer is running late (past due)');
  await runtime.ensureResources();
  const summary = await runtime.collector({ logger }).run();
  await reportPoisonQueue(runtime, logger);
  return summary;
}

/**
 * Says on every run how many batches wait in the poison queue, so the alert keeps firing until someone
 * replays them, not only when one arrives. Never fails the run: this is reporting.
 */
export async function reportPoisonQueue(
  runtime: CollectorRuntime,
  logger: Logger,
): Promise<number | undefined> {
  const name = poisonQueueName(runtime.config.queueName);
  try {
    const count = await poisonQueueLength(runtime.storage.queues, runtime.config.queueName);
    if (count > 0) {
      logger.error(
        `Poison queue holds ${count} message(s): batches not written to Cosmos DB. ` +
          'Fix the cause (see the writer errors), then run `npm run replay-poison`.',
        { poisonQueue: name, poisonMessages: count },
      );
    }
    return count;
  } catch (e) {
    logger.warn('Could not read the poison queue length', { poisonQueue: name, error: (e as Error).message });
    return undefined;
  }
}
