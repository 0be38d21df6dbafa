import type { PlanSummary } from '../collector/planner';
import type { RunSummary } from '../collector/summary';
import type { Logger } from '../logging';
import type { CollectorRuntime } from '../runtime';
import { readQueueState, type QueueState } from '../storage/queueState';

/** Below this many days left the certificate line is a warning (the credential-expiry alert's default). */
export const CERTIFICATE_WARNING_DAYS = 30;

/**
 * The timer trigger's work: one collector run. Pure of Functions types, so the local runner calls it too.
 * `now` is the clock of the run and of the reports after it (tests pass the simulator's).
 */
export async function collect(
  runtime: CollectorRuntime,
  logger: Logger,
  isPastDue = false,
  now: () => Date = () => new Date(),
): Promise<RunSummary> {
  if (isPastDue) logger.warn('Collector timer is running late (past due)');
  await runtime.ensureResources();
  const summary = await runtime.collector({ logger, now }).run();
  await reportPoisonQueue(runtime, logger, now());
  await reportCertificateExpiry(runtime, logger, now());
  return summary;
}

/**
 * The timer trigger's work in fanout mode (docs/scale.md): dispatch a task per due tenant × content type to
 * the work queue; collectorWorker runs them. Reports like an inline run.
 */
export async function dispatch(
  runtime: CollectorRuntime,
  logger: Logger,
  isPastDue = false,
  now: () => Date = () => new Date(),
): Promise<PlanSummary> {
  if (isPastDue) logger.warn('Collector timer is running late (past due)');
  await runtime.ensureResources();
  const summary = await runtime.planner({ logger, now }).plan();
  await reportPoisonQueue(runtime, logger, now());
  await reportWorkQueue(runtime, logger, now());
  await reportCertificateExpiry(runtime, logger, now());
  return summary;
}

/**
 * Fanout mode: what waits in the work queue ("Queue state" too: tasks waiting long mean too few workers),
 * and an error while its poison queue holds tasks. A poisoned task's unit is dispatched again after two
 * intervals; one that keeps failing keeps this error (and the collection-task-lost alert) firing.
 */
async function reportWorkQueue(runtime: CollectorRuntime, logger: Logger, now: Date): Promise<void> {
  const queueName = runtime.config.workQueueName;
  let state: QueueState;
  try {
    state = await readQueueState(runtime.storage.queues, queueName, now);
  } catch (e) {
    logger.warn('Could not read the queue state', { queue: queueName, error: (e as Error).message });
    return;
  }
  logger.info('Queue state', { ...state });
  if (state.poisonMessages > 0) {
    logger.error(
      `Work poison queue holds ${state.poisonMessages} collection task(s) that failed ${runtime.config.maxDequeueCount} times ` +
        '(see the collectorWorker errors). Their units are dispatched again; clear the poison queue once the cause is fixed.',
      { poisonQueue: state.poisonQueue, poisonMessages: state.poisonMessages },
    );
  }
}

/**
 * Says on every run what waits in the batch queue and the poison queue ("Queue state", for the backlog
 * alert and the dashboard), and an error while the poison queue holds batches, so that alert keeps
 * firing until someone replays them. Never fails the run: this is reporting.
 */
export async function reportPoisonQueue(
  runtime: CollectorRuntime,
  logger: Logger,
  now: Date = new Date(),
): Promise<QueueState | undefined> {
  const queueName = runtime.config.queueName;
  let state: QueueState;
  try {
    state = await readQueueState(runtime.storage.queues, queueName, now);
  } catch (e) {
    logger.warn('Could not read the queue state', { queue: queueName, error: (e as Error).message });
    return undefined;
  }
  logger.info('Queue state', { ...state });
  if (state.poisonMessages > 0) {
    logger.error(
      `Poison queue holds ${state.poisonMessages} message(s): batches not written to Cosmos DB. ` +
        'Fix the cause (see the writer errors), then run `npm run replay-poison`.',
      { poisonQueue: state.poisonQueue, poisonMessages: state.poisonMessages },
    );
  }
  return state;
}

/**
 * Says on every run when the client certificate expires (auth mode certificate), for the
 * credential-expiry alert: an expired certificate stops every tenant at once. Never fails the run.
 */
export async function reportCertificateExpiry(
  runtime: CollectorRuntime,
  logger: Logger,
  now: Date = new Date(),
): Promise<void> {
  try {
    const expiry = await runtime.certificateExpiry(now);
    if (!expiry) return;
    if (expiry.daysLeft < CERTIFICATE_WARNING_DAYS) logger.warn('Client certificate expiry', { ...expiry });
    else logger.info('Client certificate expiry', { ...expiry });
  } catch (e) {
    logger.warn('Could not read the client certificate expiry', { error: (e as Error).message });
  }
}
