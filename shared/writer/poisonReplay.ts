import type { QueueClient } from '@azure/storage-queue';
import type { FailedMessageArchive } from './failedMessages';

/** The Functions host's poison queue for a queue: `<queue>-poison`. */
export function poisonQueueName(queueName: string): string {
  return `${queueName}-poison`;
}

export interface ReplayOptions {
  queue: QueueClient;
  poisonQueue: QueueClient;
  /** Move at most this many; default: as many as the poison queue held when the replay started. */
  max?: number;
  /** Count and sample, move nothing. */
  dryRun?: boolean;
  /** Message ids to show in the result. Default 5. */
  sampleSize?: number;
  /** Invisibility of a message between being received and deleted from the poison queue. Default 60 s. */
  leaseSeconds?: number;
  /** Archived copies of poisoned messages: a replayed message's copy is removed. */
  archive?: FailedMessageArchive;
}

export interface ReplayResult {
  dryRun: boolean;
  /** Approximate number of messages in the poison queue at the start. */
  available: number;
  moved: number;
  /** A few message ids (poison-queue ids), for the operator. */
  sample: string[];
}

/**
 * Moves messages from the poison queue back to the main queue, text unchanged. Each message is sent to
 * the main queue first and deleted from the poison queue after: a crash in between leaves it in both,
 * and the duplicate is harmless because the writer's upserts are idempotent. The default limit (what the
 * poison queue held at the start) stops a message that fails again during the replay from looping.
 */
export async function replayPoison(options: ReplayOptions): Promise<ReplayResult> {
  const sampleSize = options.sampleSize ?? 5;
  const dryRun = options.dryRun ?? false;
  if (!(await options.poisonQueue.exists())) return { dryRun, available: 0, moved: 0, sample: [] };
  const { approximateMessagesCount } = await options.poisonQueue.getProperties();
  const available = approximateMessagesCount ?? 0;
  if (dryRun) {
    const { peekedMessageItems } = await options.poisonQueue.peekMessages({
      numberOfMessages: Math.min(32, Math.max(1, sampleSize)),
    });
    return {
      dryRun,
      available,
      moved: 0,
      sample: peekedMessageItems.slice(0, sampleSize).map((m) => m.messageId),
    };
  }

  const max = options.max ?? available;
  const sample: string[] = [];
  let moved = 0;
  await options.queue.createIfNotExists();
  while (moved < max) {
    const { receivedMessageItems } = await options.poisonQueue.receiveMessages({
      numberOfMessages: Math.min(32, max - moved),
      visibilityTimeout: options.leaseSeconds ?? 60,
    });
    if (receivedMessageItems.length === 0) break;
    for (const m of receivedMessageItems) {
      // Never expires, like the collector's messages: a writer outage must not lose batches.
      await options.queue.sendMessage(m.messageText, { messageTimeToLive: -1 });
      await options.poisonQueue.deleteMessage(m.messageId, m.popReceipt);
      await options.archive?.forget(m.messageText);
      moved++;
      if (sample.length < sampleSize) sample.push(m.messageId);
    }
  }
  return { dryRun, available, moved, sample };
}
