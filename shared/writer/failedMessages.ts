import { createHash } from 'node:crypto';
import type { BlobServiceClient, ContainerClient } from '@azure/storage-blob';
import type { QueueClient } from '@azure/storage-queue';
import { storageStatus } from './blobErrors';

export const FAILED_MESSAGES_CONTAINER = 'poison-archive';

export interface ArchivedMessage {
  text: string;
  messageId?: string;
  dequeueCount: number;
  error: string;
  archivedAt: string;
}

/**
 * Keeps the text of every message on its last failed attempt. The Functions host moves such a message to
 * the poison queue with the queue's default time-to-live of 7 days; this archive has none, so a batch
 * nobody replayed in time is still there. Blobs are named by a hash of the text, so replaying the poison
 * copy can remove the archived one.
 */
export class FailedMessageArchive {
  readonly container: ContainerClient;

  constructor(blobs: BlobServiceClient, containerName: string = FAILED_MESSAGES_CONTAINER) {
    this.container = blobs.getContainerClient(containerName);
  }

  async ensureContainer(): Promise<void> {
    await this.container.createIfNotExists();
  }

  static blobName(text: string): string {
    return `${createHash('sha256').update(text).digest('hex')}.json`;
  }

  async archive(message: Omit<ArchivedMessage, 'archivedAt'>, now = new Date()): Promise<string> {
    const name = FailedMessageArchive.blobName(message.text);
    const body = JSON.stringify({ ...message, archivedAt: now.toISOString() } satisfies ArchivedMessage);
    await this.container.getBlockBlobClient(name).upload(body, Buffer.byteLength(body), {
      blobHTTPHeaders: { blobContentType: 'application/json' },
    });
    return name;
  }

  /** Forgets a message that is being retried from the poison queue. */
  async forget(text: string): Promise<void> {
    try {
      await this.container.getBlockBlobClient(FailedMessageArchive.blobName(text)).delete();
    } catch (e) {
      if (storageStatus(e) !== 404) throw e;
    }
  }

  async count(): Promise<number> {
    if (!(await this.container.exists())) return 0;
    let n = 0;
    for await (const _ of this.container.listBlobsFlat()) n++;
    return n;
  }

  /**
   * Re-enqueues archived messages (those whose poison copy expired, or all of them): send first, then
   * delete the blob, so a crash in between leaves a duplicate the idempotent writer absorbs.
   */
  async replay(queue: QueueClient, max = Number.POSITIVE_INFINITY): Promise<number> {
    if (!(await this.container.exists())) return 0;
    let moved = 0;
    for await (const blob of this.container.listBlobsFlat()) {
      if (moved >= max) break;
      const client = this.container.getBlockBlobClient(blob.name);
      const archived = JSON.parse((await client.downloadToBuffer()).toString('utf8')) as ArchivedMessage;
      await queue.sendMessage(archived.text, { messageTimeToLive: -1 });
      await client.delete();
      moved++;
    }
    return moved;
  }
}
