import type { Logger } from '../logging';
import type { Delivery, WriteResult } from '../writer/batchWriter';
import type { WriterRuntime } from '../writerRuntime';

export type { Delivery, WriteResult };

/**
 * The queue trigger's work: write one message's batch into Cosmos DB. Pure of Functions types, so the
 * local runner calls it too. Throws when the message must be retried (and, after maxDequeueCount
 * failures, poisoned); errors are already logged with the message id and dequeue count.
 */
export async function write(
  runtime: WriterRuntime,
  message: unknown,
  delivery: Delivery,
  logger: Logger,
): Promise<WriteResult> {
  let writer;
  try {
    writer = await runtime.writer(logger);
  } catch (e) {
    logger.error(`Writer cannot start: ${(e as Error).message}`, {
      messageId: delivery.messageId ?? '(unknown)',
      dequeueCount: delivery.dequeueCount,
      error: (e as { code?: unknown }).code ?? (e as Error).name,
    });
    throw e;
  }
  try {
    return await writer.write(message, delivery);
  } catch (e) {
    if (delivery.dequeueCount >= runtime.maxDequeueCount)
      await archiveLastAttempt(runtime, message, delivery, e, logger);
    throw e;
  }
}

/** The host poisons the message after this attempt, and poison messages expire in 7 days: keep a copy. */
async function archiveLastAttempt(
  runtime: WriterRuntime,
  message: unknown,
  delivery: Delivery,
  error: unknown,
  logger: Logger,
): Promise<void> {
  const text =
    typeof message === 'string'
      ? message
      : Buffer.isBuffer(message)
        ? message.toString('utf8')
        : JSON.stringify(message);
  try {
    const blob = await runtime.failedMessages.archive({
      text,
      ...(delivery.messageId !== undefined ? { messageId: delivery.messageId } : {}),
      dequeueCount: delivery.dequeueCount,
      error: error instanceof Error ? error.message : String(error),
    });
    logger.error('Message failed its last attempt and goes to the poison queue; a copy is kept', {
      messageId: delivery.messageId ?? '(unknown)',
      archive: `${runtime.failedMessages.container.containerName}/${blob}`,
    });
  } catch (archiveError) {
    logger.error('Could not archive a message on its last attempt', {
      messageId: delivery.messageId ?? '(unknown)',
      error: (archiveError as Error).message,
    });
  }
}
