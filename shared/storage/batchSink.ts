import type { ContainerClient } from '@azure/storage-blob';
import type { QueueClient } from '@azure/storage-queue';
import type { BatchSink } from '../messages/batcher';
import type { BlobPointer, Envelope } from '../messages/envelope';

/**
 * The collector's batches into the queue; what cannot fit in a message goes to a claim-check blob first,
 * so the message that points at it is only sent once the blob is durable.
 */
export class QueueBatchSink implements BatchSink {
  constructor(
    private readonly queue: QueueClient,
    private readonly claimChecks: ContainerClient,
  ) {}

  async ensureResources(): Promise<void> {
    await Promise.all([this.queue.createIfNotExists(), this.claimChecks.createIfNotExists()]);
  }

  async enqueue(text: string): Promise<void> {
    // Messages never expire: a writer outage must not lose batches (the default TTL is 7 days).
    await this.queue.sendMessage(text, { messageTimeToLive: -1 });
  }

  async storeClaimCheck(envelope: Omit<Envelope, 'data' | 'blob'>, compressed: Buffer): Promise<BlobPointer> {
    const name = `${envelope.tenantId}/${envelope.contentType}/${new Date().toISOString().slice(0, 10)}/${envelope.batchId}.${envelope.enc}`;
    await this.claimChecks.getBlockBlobClient(name).uploadData(compressed, {
      blobHTTPHeaders: { blobContentType: 'application/octet-stream' },
    });
    return { container: this.claimChecks.containerName, name, bytes: compressed.length };
  }
}
