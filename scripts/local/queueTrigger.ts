import type { DequeuedMessageItem, QueueClient } from '@azure/storage-queue';

/**
 * The Azure Functions queue trigger's delivery semantics, for tests and the local runner (DESIGN §7),
 * after the host's QueueProcessor: messages are received in batches and held invisible while the
 * handler runs; success deletes the message; failure makes it visible again after
 * `visibilityTimeoutSeconds`, or — at `maxDequeueCount` — moves it to the poison queue. A message that
 * arrives with a dequeue count above the limit (its handler crashed) goes straight to poison.
 */

export interface QueueDelivery {
  id: string;
  /** The message text as stored (messageEncoding none). */
  text: string;
  dequeueCount: number;
  insertedOn: Date;
}

export interface DrainOptions {
  queue: QueueClient;
  /** `<queue>-poison`, created on first use like the host does. */
  poisonQueue: QueueClient;
  handler: (message: QueueDelivery) => Promise<unknown>;
  /** Messages received at once (host.json batchSize). Default 16, max 32. */
  batchSize?: number;
  /**
   * Fetch the next batch once this few are still running (host.json newBatchThreshold), so at most
   * batchSize + newBatchThreshold run at once and one slow message does not idle the rest. Default 0:
   * the next batch waits for the whole batch in hand.
   */
  newBatchThreshold?: number;
  /** Delay before a failed message is visible again (host.json visibilityTimeout). Default 0. */
  visibilityTimeoutSeconds?: number;
  /** Failed deliveries after which a message is poisoned (host.json maxDequeueCount). Default 5. */
  maxDequeueCount?: number;
  /** How long a received message stays invisible while its handler runs. Default 600 (the host's 10 min). */
  leaseSeconds?: number;
  /** Pause between polls while failed messages wait to become visible. Default 200 ms. */
  pollIntervalMs?: number;
  /** Give up after this long, returning `drained: false`. Default 60 s. */
  timeoutMs?: number;
  /** Called for every handler failure (the host logs them). */
  onError?: (message: QueueDelivery, error: unknown) => void;
  /**
   * Checked before every receive: once true, no new batch is taken (the host stopping its listener);
   * the batch in hand still finishes. Returns with `drained: false`.
   */
  stopped?: () => boolean;
}

export interface DrainResult {
  /** True when the queue was empty (nothing visible or waiting) at the end. */
  drained: boolean;
  invocations: number;
  succeeded: number;
  failed: number;
  /** Ids of messages moved to the poison queue. */
  poisoned: string[];
}

/** Processes the queue until it is empty (including failed messages waiting to reappear) or the timeout. */
export async function drainQueue(options: DrainOptions): Promise<DrainResult> {
  const batchSize = Math.min(32, Math.max(1, options.batchSize ?? 16));
  const retryDelay = options.visibilityTimeoutSeconds ?? 0;
  const maxDequeueCount = options.maxDequeueCount ?? 5;
  const lease = options.leaseSeconds ?? 600;
  const pollMs = options.pollIntervalMs ?? 200;
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  const result: DrainResult = { drained: false, invocations: 0, succeeded: 0, failed: 0, poisoned: [] };

  const poison = async (m: DequeuedMessageItem): Promise<void> => {
    await options.poisonQueue.createIfNotExists();
    // The host copies the body with the queue's default time-to-live (7 days).
    await options.poisonQueue.sendMessage(m.messageText);
    await options.queue.deleteMessage(m.messageId, m.popReceipt);
    result.poisoned.push(m.messageId);
  };

  const handle = async (m: DequeuedMessageItem): Promise<void> => {
    if (m.dequeueCount > maxDequeueCount) {
      await poison(m);
      return;
    }
    const delivery: QueueDelivery = {
      id: m.messageId,
      text: m.messageText,
      dequeueCount: m.dequeueCount,
      insertedOn: m.insertedOn,
    };
    result.invocations++;
    try {
      await options.handler(delivery);
    } catch (e) {
      result.failed++;
      options.onError?.(delivery, e);
      if (m.dequeueCount >= maxDequeueCount) await poison(m);
      else await options.queue.updateMessage(m.messageId, m.popReceipt, undefined, retryDelay);
      return;
    }
    result.succeeded++;
    await options.queue.deleteMessage(m.messageId, m.popReceipt);
  };

  const threshold = Math.max(0, options.newBatchThreshold ?? 0);
  const inFlight = new Set<Promise<void>>();
  let failure: { error: unknown } | undefined;
  const start = (m: DequeuedMessageItem): void => {
    const p: Promise<void> = handle(m)
      .catch((error: unknown) => {
        failure ??= { error };
      })
      .finally(() => inFlight.delete(p));
    inFlight.add(p);
  };
  const settle = async (): Promise<void> => {
    await Promise.all(inFlight);
    if (failure) throw failure.error;
  };

  while (Date.now() < deadline && !options.stopped?.() && !failure) {
    if (inFlight.size > threshold) {
      await Promise.race(inFlight);
      continue;
    }
    const { receivedMessageItems } = await options.queue.receiveMessages({
      numberOfMessages: batchSize,
      visibilityTimeout: lease,
    });
    if (receivedMessageItems.length > 0) {
      receivedMessageItems.forEach(start);
      continue;
    }
    if (inFlight.size > 0) {
      // Nothing new yet: poll again when one finishes or after the poll pause.
      await Promise.race([...inFlight, new Promise((resolve) => setTimeout(resolve, pollMs))]);
      continue;
    }
    // Nothing visible: done unless failed messages are waiting out their retry delay.
    const { approximateMessagesCount } = await options.queue.getProperties();
    if ((approximateMessagesCount ?? 0) === 0) {
      result.drained = true;
      return result;
    }
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
  await settle();
  return result;
}
