import type { BlobServiceClient, ContainerClient } from '@azure/storage-blob';
import type { ContentType } from '../contentTypes';
import { blobNameSegment } from './blobNames';

/** Container for records the writer cannot store in Cosmos DB (no Id, no usable CreationTime). */
export const REJECTED_CONTAINER = 'rejected';

export interface RejectedRecord {
  tenantId: string;
  /** `unknown` when the record could not be read far enough to tell (a backfill record without auditData). */
  contentType: ContentType | 'unknown';
  batchId: string;
  /** Position of the record in its batch. */
  index: number;
  reason: string;
  /** The record as received; the raw text when the collector could not parse or keep it as JSON. */
  record: unknown;
  /** The content blob it came in, for records the collector refused. */
  contentId?: string;
}

/**
 * Keeps refused records, so nothing is silently lost: one JSON blob per record at
 * `rejected/{tenantId}/{contentType}/{batchId}-{index}.json`, holding the reason and the record as
 * received. A retry of the same message overwrites the same blob.
 */
export class RejectedRecordStore {
  readonly container: ContainerClient;

  constructor(blobs: BlobServiceClient, containerName: string = REJECTED_CONTAINER) {
    this.container = blobs.getContainerClient(containerName);
  }

  async ensureContainer(): Promise<void> {
    await this.container.createIfNotExists();
  }

  static blobName(
    tenantId: string,
    contentType: ContentType | 'unknown',
    batchId: string,
    index: number,
  ): string {
    return `${blobNameSegment(tenantId)}/${blobNameSegment(contentType)}/${blobNameSegment(batchId)}-${index}.json`;
  }

  async save(rejected: RejectedRecord): Promise<string> {
    const name = RejectedRecordStore.blobName(
      rejected.tenantId,
      rejected.contentType,
      rejected.batchId,
      rejected.index,
    );
    const body = JSON.stringify({ ...rejected, rejectedAt: new Date().toISOString() });
    await this.container.getBlockBlobClient(name).upload(body, Buffer.byteLength(body), {
      blobHTTPHeaders: { blobContentType: 'application/json' },
    });
    return `${this.container.containerName}/${name}`;
  }
}
