import type { BlobServiceClient, ContainerClient } from '@azure/storage-blob';
import type { AuditRecord, ContentType } from '../contentTypes';
import type { BlobPointer } from '../messages/envelope';
import { CONTAINERS } from '../storage/clients';
import { blobNameSegment } from './blobNames';

/**
 * Records too large for a Cosmos DB item, stored whole as JSON at
 * `oversize/{tenantId}/{contentType}/{creationDay}/{id}.json`. The name is a function of the record, so a
 * repeat overwrites the same blob.
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

  async save(
    record: AuditRecord,
    where: { tenantId: string; contentType: ContentType; creationDay: string; documentId: string },
  ): Promise<BlobPointer> {
    const name = OversizeStore.blobName(
      where.tenantId,
      where.contentType,
      where.creationDay,
      where.documentId,
    );
    const body = Buffer.from(JSON.stringify(record), 'utf8');
    await this.container.getBlockBlobClient(name).uploadData(body, {
      blobHTTPHeaders: { blobContentType: 'application/json' },
    });
    return { container: this.container.containerName, name, bytes: body.length };
  }
}
