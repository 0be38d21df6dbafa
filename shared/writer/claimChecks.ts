import type { BlobServiceClient, ContainerClient } from '@azure/storage-blob';
import { BadMessageError, type BlobPointer } from '../messages/envelope';
import { CONTAINERS } from '../storage/clients';
import { storageStatus } from './blobErrors';

/** Prefix of the markers that say "every record of this claim check is in Cosmos DB". */
export const WRITTEN_MARKER_PREFIX = 'written/';

/**
 * The writer's side of claim-check messages: read the batch blob, and once every document is stored,
 * leave a small "written" marker and delete the batch. The marker is what lets a later delivery of the
 * same message (the queue delete failed, or it was replayed from poison) tell "already written" from
 * "blob lost" — see BatchWriter. Only blobs in the claim-check container are followed: a message must not
 * make the writer read or delete anything else.
 */
export class ClaimCheckStore {
  private readonly container: ContainerClient;

  constructor(blobs: BlobServiceClient, containerName: string = CONTAINERS.batches) {
    this.container = blobs.getContainerClient(containerName);
  }

  get containerName(): string {
    return this.container.containerName;
  }

  /** The compressed batch, or undefined when the blob does not exist. */
  async read(pointer: BlobPointer): Promise<Buffer | undefined> {
    this.check(pointer);
    try {
      return await this.container.getBlobClient(pointer.name).downloadToBuffer();
    } catch (e) {
      if (storageStatus(e) === 404) return undefined;
      throw e;
    }
  }

  async markWritten(pointer: BlobPointer, info: { batchId: string; documents: number }): Promise<void> {
    this.check(pointer);
    const body = JSON.stringify({ ...info, writtenAt: new Date().toISOString() });
    await this.container.getBlockBlobClient(markerName(pointer)).upload(body, Buffer.byteLength(body), {
      blobHTTPHeaders: { blobContentType: 'application/json' },
    });
  }

  async isWritten(pointer: BlobPointer): Promise<boolean> {
    this.check(pointer);
    return this.container.getBlobClient(markerName(pointer)).exists();
  }

  async delete(pointer: BlobPointer): Promise<void> {
    this.check(pointer);
    await this.container.getBlobClient(pointer.name).deleteIfExists();
  }

  private check(pointer: BlobPointer): void {
    if (pointer.container !== this.container.containerName) {
      throw new BadMessageError(
        `Claim-check pointer names container "${pointer.container}"; the writer only reads claim checks from "${this.container.containerName}".`,
      );
    }
    if (
      pointer.name === '' ||
      pointer.name.startsWith(WRITTEN_MARKER_PREFIX) ||
      pointer.name.includes('..')
    ) {
      throw new BadMessageError(
        `Claim-check pointer has an unusable blob name ${JSON.stringify(pointer.name)}.`,
      );
    }
  }
}

function markerName(pointer: BlobPointer): string {
  return `${WRITTEN_MARKER_PREFIX}${pointer.name}`;
}
