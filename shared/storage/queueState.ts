import type { QueueServiceClient } from '@azure/storage-queue';
import { poisonQueueName } from '../writer/poisonReplay';

/** What the batch queue and its poison queue hold: one short "Queue state" line per collector run. */
export interface QueueState {
  queue: string;
  /** The service's approximate count: visible and invisible (being written) messages. */
  approximateMessages: number;
  /** now − insertedOn of the message at the head of the queue, seconds; null when none is visible. */
  oldestMessageAgeSeconds: number | null;
  poisonQueue: string;
  poisonMessages: number;
}

/** Messages in a queue; a queue that does not exist yet holds none. */
export async function approximateLength(queues: QueueServiceClient, name: string): Promise<number> {
  try {
    const { approximateMessagesCount = 0 } = await queues.getQueueClient(name).getProperties();
    return approximateMessagesCount;
  } catch (e) {
    if ((e as { statusCode?: number }).statusCode === 404) return 0;
    throw e;
  }
}

/**
 * Age of the head of the queue: a peek shows the oldest visible message (the queue is roughly FIFO).
 * Messages the writer holds invisible are not seen; a retried one comes back visible with its first
 * insertion time, so a batch that keeps failing keeps the age growing, which is what the alert wants.
 */
async function oldestAgeSeconds(queues: QueueServiceClient, name: string, now: Date): Promise<number | null> {
  try {
    const { peekedMessageItems } = await queues.getQueueClient(name).peekMessages({ numberOfMessages: 1 });
    const insertedOn = peekedMessageItems[0]?.insertedOn;
    if (!insertedOn) return null;
    return Math.max(0, Math.round((now.getTime() - insertedOn.getTime()) / 1000));
  } catch (e) {
    if ((e as { statusCode?: number }).statusCode === 404) return null;
    throw e;
  }
}

export async function readQueueState(
  queues: QueueServiceClient,
  queueName: string,
  now: Date,
): Promise<QueueState> {
  const poisonQueue = poisonQueueName(queueName);
  const [approximateMessages, oldestMessageAgeSeconds, poisonMessages] = await Promise.all([
    approximateLength(queues, queueName),
    oldestAgeSeconds(queues, queueName, now),
    approximateLength(queues, poisonQueue),
  ]);
  return { queue: queueName, approximateMessages, oldestMessageAgeSeconds, poisonQueue, poisonMessages };
}
