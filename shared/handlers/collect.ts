import type { RunSummary } from '../collector/summary';
import type { Logger } from '../logging';
import type { CollectorRuntime } from '../runtime';

/** The timer trigger's work: one collector run. Pure of Functions types, so the local runner calls it too. */
export async function collect(
  runtime: CollectorRuntime,
  logger: Logger,
  isPastDue = false,
): Promise<RunSummary> {
  if (isPastDue) logger.warn('Collector timer is running late (past due)');
  await runtime.ensureResources();
  return runtime.collector({ logger }).run();
}
