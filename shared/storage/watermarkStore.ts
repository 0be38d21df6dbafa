import { RestError, type ContainerClient } from '@azure/storage-blob';
import type { ContentType } from '../contentTypes';
import { readText, uploadGuarded } from './blobText';
import { AuditfeedError } from '../errors';
import { Watermark } from '../collector/watermark';

/** Another run saved this watermark since we read it: that run owns the content type now. */
export class WatermarkConflictError extends AuditfeedError {
  constructor(readonly blobName: string) {
    super(
      `Watermark ${blobName} was changed by another run; this run leaves that content type to it.`,
      'WatermarkConflict',
    );
  }
}

export interface LoadedWatermark {
  watermark: Watermark;
  /** ETag of the blob read; undefined when there was none yet. */
  etag: string | undefined;
}

/**
 * Watermark blobs `watermarks/{tenantId}/{contentType}.json`, read with their ETag and written with
 * If-Match (or If-None-Match: * for the first write), so two runs can never both move one cursor.
 */
export class WatermarkStore {
  constructor(private readonly container: ContainerClient) {}

  async ensureContainer(): Promise<void> {
    await this.container.createIfNotExists();
  }

  blobName(tenantId: string, contentType: ContentType): string {
    return `${tenantId}/${contentType}.json`;
  }

  async load(tenantId: string, contentType: ContentType): Promise<LoadedWatermark> {
    const name = this.blobName(tenantId, contentType);
    try {
      // One request, so the ETag is the one of the bytes we parse.
      const response = await this.container.getBlockBlobClient(name).download();
      const text = await readText(response.readableStreamBody);
      const where = `${this.container.containerName}/${name}`;
      return { watermark: Watermark.parse(text, where, tenantId, contentType), etag: response.etag };
    } catch (e) {
      if (e instanceof RestError && e.statusCode === 404) {
        return { watermark: new Watermark(tenantId, contentType), etag: undefined };
      }
      throw e;
    }
  }

  /** Saves and returns the new ETag; throws WatermarkConflictError when another run got there first. */
  async save(watermark: Watermark, etag: string | undefined, now: Date): Promise<string> {
    const name = this.blobName(watermark.tenantId, watermark.contentType);
    const body = JSON.stringify(watermark.toDocument(now));
    return uploadGuarded(
      this.container.getBlockBlobClient(name),
      body,
      etag,
      () => new WatermarkConflictError(`${this.container.containerName}/${name}`),
    );
  }
}
