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
  return writer.write(message, delivery);
}
