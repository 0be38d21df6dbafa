import type { BlobServiceClient, ContainerClient } from '@azure/storage-blob';
import type { AuditRecord, ContentType } from '../contentTypes';
import type { BlobPointer } from '../messages/envelope';
import { CONTAINERS } from '../storage/clients';
import { storageStatus } from './blobErrors';
import { blobNameSegment } from './blobNames';

/**
 * Records too large for a Cosmos DB item, stored whole as JSON at
 * `oversize/{tenantId}/{contentType}/{creationDay}/{id}.json`. The name is a function of the record, so a
 * repeat overwrites the same blob (or, create-only, keeps it).
 */
export class OversizeStore {
  readonly container: ContainerClient;

  constructor(blobs: BlobServiceClient, containerName: string = CONTAINERS.oversize) {
    this.container = blobs.getContainerClient(containerName);
  }

  async ensureContainer(): Promise<void> {
    await this.container.createIfNotExists();
  }

  static blobName(
    tenantId: string,
    contentType: ContentType,
    creationDay: string,
    documentId: string,
  ): string {
    return (
      [tenantId, contentType, creationDay, documentId].map((s) => blobNameSegment(s)).join('/') + '.json'
    );
  }

  /**
   * Stores the record. With `ifAbsent` (create-only batches: backfill, import) a blob already there is kept —
   * the live feed may have stored this record between the writer's check and this upload — and its pointer
   * returned.
   */
  async save(
    record: AuditRecord,
    where: { tenantId: string; contentType: ContentType; creationDay: string; documentId: string },
    options: { ifAbsent?: boolean } = {},
  ): Promise<BlobPointer> {
    const name = OversizeStore.blobName(
      where.tenantId,
      where.contentType,
      where.creationDay,
      where.documentId,
    );
    const body = Buffer.from(JSON.stringify(record), 'utf8');
    const blob = this.container.getBlockBlobClient(name);
    try {
      await blob.uploadData(body, {
        blobHTTPHeaders: { blobContentType: 'application/json' },
        ...(options.ifAbsent ? { conditions: { ifNoneMatch: '*' } } : {}),
      });
    } catch (e) {
      const status = storageStatus(e);
      if (!options.ifAbsent || (status !== 409 && status !== 412)) throw e;
      const kept = await blob.getProperties();
      return { container: this.container.containerName, name, bytes: kept.contentLength ?? body.length };
    }
    return { container: this.container.containerName, name, bytes: body.length };
  }
}
