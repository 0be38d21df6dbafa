import type { BlobServiceClient, ContainerClient } from '@azure/storage-blob';
import type { ContentType } from '../contentTypes';
import { blobNameSegment } from './blobNames';
import { NATIVE_STRINGIFY_MAX_NESTING, nestingDepth, stringifyDeep } from './nesting';

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
 * A refused record in the form the store can keep, and its JSON text. JSON.stringify overflows the stack on
 * a record nested a few thousand levels deep (JSON.parse accepts it), which would fail the whole message or
 * page: such a record is kept as its JSON text, and the reason says so.
 */
export function keepable(record: unknown, reason: string): { record: unknown; reason: string; json: string } {
  if (nestingDepth(record, NATIVE_STRINGIFY_MAX_NESTING) > NATIVE_STRINGIFY_MAX_NESTING) {
    const json = stringifyDeep(record);
    return {
      record: json,
      reason: `${reason}; it nests over ${NATIVE_STRINGIFY_MAX_NESTING} levels, so "record" holds its JSON text`,
      json,
    };
  }
  return { record, reason, json: JSON.stringify(record) ?? String(record) };
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
