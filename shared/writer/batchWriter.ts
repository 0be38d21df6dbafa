import type { Container } from '@azure/cosmos';
import pLimit from 'p-limit';
import type { AuditRecord, ContentType } from '../contentTypes';
import { AuditfeedError } from '../errors';
import type { Logger } from '../logging';
import {
  decodeEnvelope,
  unpackBatch,
  writeModeOf,
  type Envelope,
  type UnpackedBatch,
  type WriteMode,
} from '../messages/envelope';
import { bulkUpsert, type BulkUpsertResult, type ThrottleOptions } from './bulkUpsert';
import type { ClaimCheckStore } from './claimChecks';
import {
  documentBytesBound,
  OVERSIZE_THRESHOLD_BYTES,
  oversizeStub,
  serializedBytes,
  toDocument,
  type AuditDocument,
} from './documents';
import { ClaimCheckMissingError, CosmosWriteError } from './errors';
import type { OversizeStore } from './oversizeStore';
import { keepable, type RejectedRecordStore } from './rejectedRecords';

/** How the queue delivered the message: for logs, and so a human can find it. */
export interface Delivery {
  messageId?: string;
  /** 1 on first delivery; the trigger moves the message to poison after maxDequeueCount failures. */
  dequeueCount: number;
}

export interface WriteResult {
  batchId: string;
  tenantId: string;
  contentType: ContentType;
  /** Records in the batch. */
  records: number;
  /** Documents upserted, or created in `create` mode (full documents and oversize stubs). */
  written: number;
  /**
   * `create` mode (backfill, import): records whose document was already stored — by the live feed, an
   * earlier send, or an earlier attempt of this message — and was left untouched. Always 0 for upserts.
   */
  alreadyStored: number;
  /** Records refused (no Id / CreationTime) and kept in the rejected container. */
  rejected: number;
  /** Records stored whole in a blob, with a stub document. */
  oversize: number;
  /** Records repeated inside this batch (same id and partition key), written once. */
  duplicates: number;
  /** Operations re-sent after Cosmos DB throttling. */
  throttledRetries: number;
  requestCharge: number;
  /** `alreadyWritten`: the claim check was gone and its "written" marker says an earlier attempt stored it. */
  claimCheck: 'none' | 'deleted' | 'alreadyWritten';
}

export interface BatchWriterOptions {
  container: Container;
  claimChecks: ClaimCheckStore;
  oversize: OversizeStore;
  rejects: RejectedRecordStore;
  contentTypeRetentionDays: Partial<Record<ContentType, number>>;
  logger: Logger;
  now?: () => Date;
  oversizeThresholdBytes?: number;
  throttle?: Partial<ThrottleOptions>;
  /** Parallel blob uploads (oversize records, rejects). */
  blobConcurrency?: number;
}

interface Mapped {
  document: AuditDocument;
  record: AuditRecord;
}

/**
 * The queue trigger's work for one message (DESIGN §4): decode, follow the claim check, map records to
 * documents, keep refused and oversize records in blobs, bulk-upsert the rest, then retire the claim
 * check. Every step is idempotent, so any failure can simply fail the invocation and let the queue retry.
 */
export class BatchWriter {
  private readonly now: () => Date;
  private readonly threshold: number;
  private readonly limit: ReturnType<typeof pLimit>;

  constructor(private readonly options: BatchWriterOptions) {
    this.now = options.now ?? (() => new Date());
    this.threshold = options.oversizeThresholdBytes ?? OVERSIZE_THRESHOLD_BYTES;
    this.limit = pLimit(options.blobConcurrency ?? 8);
  }

  async write(message: unknown, delivery: Delivery): Promise<WriteResult> {
    const context: Record<string, unknown> = {
      messageId: delivery.messageId ?? '(unknown)',
      dequeueCount: delivery.dequeueCount,
    };
    const log = this.options.logger;
    try {
      const envelope = decodeEnvelope(message);
      Object.assign(context, {
        batchId: envelope.batchId,
        tenantId: envelope.tenantId,
        contentType: envelope.contentType,
        claimCheck: envelope.blob ? `${envelope.blob.container}/${envelope.blob.name}` : undefined,
        write: writeModeOf(envelope),
      });
      const batch = await this.loadBatch(envelope);
      if (batch === undefined) {
        log.info('Claim check already written by an earlier attempt; nothing to do', context);
        return { ...emptyResult(envelope), claimCheck: 'alreadyWritten' };
      }
      const result = await this.writeBatch(envelope, batch, String(context.messageId));
      log.info('Batch written', { ...context, ...result });
      return result;
    } catch (e) {
      const err = e as Error;
      log.error(`Writer failed on message ${String(context.messageId)}: ${err.message}`, {
        ...context,
        error: err instanceof AuditfeedError ? err.code : err.name,
        ...(err instanceof CosmosWriteError ? { failures: err.failures } : {}),
      });
      throw e;
    }
  }

  /** The batch, or undefined when a claim check was already written and retired by an earlier attempt. */
  private async loadBatch(envelope: Envelope): Promise<UnpackedBatch | undefined> {
    let compressed: Buffer;
    if (envelope.blob) {
      const blob = await this.options.claimChecks.read(envelope.blob);
      if (blob === undefined) {
        // Order of retirement: all documents stored → marker → delete. No marker: not ours to skip.
        if (await this.options.claimChecks.isWritten(envelope.blob)) return undefined;
        throw new ClaimCheckMissingError(envelope.blob.container, envelope.blob.name, envelope.batchId);
      }
      compressed = blob;
    } else {
      compressed = Buffer.from(envelope.data ?? '', 'base64');
    }
    const batch = unpackBatch(compressed, envelope.enc, `Batch ${envelope.batchId}`);
    if (batch.records.length !== envelope.count) {
      this.options.logger.warn('Batch holds a different number of records than its envelope says', {
        batchId: envelope.batchId,
        envelopeCount: envelope.count,
        records: batch.records.length,
      });
    }
    return batch;
  }

  private async writeBatch(
    envelope: Envelope,
    batch: UnpackedBatch,
    messageId: string,
  ): Promise<WriteResult> {
    const { tenantId, contentType, batchId } = envelope;
    const retentionDays = this.options.contentTypeRetentionDays[contentType];
    const context = {
      tenantId,
      contentType,
      ingestedAt: this.now().toISOString(),
      ...(retentionDays !== undefined ? { ttlSeconds: retentionDays * 86_400 } : {}),
    };
    const result: WriteResult = { ...emptyResult(envelope), records: batch.records.length };

    // Same record twice in one batch: one upsert (the last one, as Cosmos would keep).
    const byKey = new Map<string, Mapped>();
    const rejected: Promise<void>[] = [];
    batch.records.forEach((record, index) => {
      const mapped = toDocument(record, context);
      if (!mapped.ok) {
        result.rejected++;
        rejected.push(this.limit(() => this.reject(envelope, messageId, index, record, mapped.reason)));
        return;
      }
      const key = `${mapped.document.pk}\u0000${mapped.document.id}`;
      if (byKey.has(key)) result.duplicates++;
      byKey.set(key, { document: mapped.document, record });
    });
    await Promise.all(rejected);

    const entries = [...byKey.values()];
    // Measuring every document costs a second serialisation; only a batch this large can hold one too big.
    const oversize =
      documentBytesBound(batch.jsonBytes) > this.threshold
        ? entries.filter((m) => serializedBytes(m.document) > this.threshold)
        : [];
    const write = writeModeOf(envelope);
    const documents = await this.withOversizeStubs(entries, oversize, result, write);

    const bulk = (docs: AuditDocument[]) =>
      bulkUpsert(this.options.container, docs, {
        batchId,
        write,
        logger: this.options.logger,
        ...(this.options.throttle ? { throttle: this.options.throttle } : {}),
      });
    const first = await bulk(documents);
    addCounts(result, first);

    if (first.tooLarge.length > 0) {
      // Cosmos measured a document as too large that our estimate let through: same path, second pass.
      const tooLarge = new Set(first.tooLarge.map((d) => `${d.pk}\u0000${d.id}`));
      const again = entries.filter((m) => tooLarge.has(`${m.document.pk}\u0000${m.document.id}`));
      const second = await bulk(await this.withOversizeStubs(again, again, result, write));
      if (second.tooLarge.length > 0) {
        throw new AuditfeedError(
          `Batch ${batchId}: Cosmos DB refused ${second.tooLarge.length} oversize stub documents as too large.`,
          'OversizeStubTooLarge',
        );
      }
      addCounts(result, second);
    }

    if (envelope.blob) {
      await this.options.claimChecks.markWritten(envelope.blob, { batchId, documents: result.written });
      await this.options.claimChecks.delete(envelope.blob);
      result.claimCheck = 'deleted';
    }
    return result;
  }

  /**
   * Stores each oversize record whole and returns the documents to write, stubs in place of those records.
   * In `create` mode an oversize record whose document is already stored is dropped first (counted as
   * already stored): its blob belongs to whoever stored that document and must not be overwritten.
   */
  private async withOversizeStubs(
    entries: Mapped[],
    oversize: Mapped[],
    result: WriteResult,
    write: WriteMode,
  ): Promise<AuditDocument[]> {
    if (oversize.length === 0) return entries.map((m) => m.document);
    if (write === 'create') {
      const stored = await this.alreadyStored(oversize, result);
      if (stored.size > 0) {
        result.alreadyStored += stored.size;
        entries = entries.filter((m) => !stored.has(m));
        oversize = oversize.filter((m) => !stored.has(m));
      }
    }
    const stubs = new Map<Mapped, AuditDocument>();
    await Promise.all(
      oversize.map((m) =>
        this.limit(async () => {
          const d = m.document;
          const pointer = await this.options.oversize.save(
            m.record,
            {
              tenantId: d.tenantId,
              contentType: d.contentType,
              creationDay: d.creationDay,
              documentId: d.id,
            },
            { ifAbsent: write === 'create' },
          );
          stubs.set(m, oversizeStub(d, pointer));
          this.options.logger.warn('Record too large for a Cosmos DB item; stored whole in a blob', {
            id: d.id,
            pk: d.pk,
            bytes: pointer.bytes,
            blob: `${pointer.container}/${pointer.name}`,
          });
        }),
      ),
    );
    result.oversize += oversize.length;
    return entries.map((m) => stubs.get(m) ?? m.document);
  }

  /** Which of these records already have a document (point reads: oversize records are few). */
  private async alreadyStored(records: Mapped[], result: WriteResult): Promise<Set<Mapped>> {
    const stored = new Set<Mapped>();
    await Promise.all(
      records.map((m) =>
        this.limit(async () => {
          const { id, pk } = m.document;
          let response;
          try {
            response = await this.options.container.item(id, pk).read();
          } catch (e) {
            throw new CosmosWriteError(
              `Batch ${result.batchId}: could not read document ${id} (partition ${pk}) to check whether it is ` +
                `already stored before saving its oversize record: ${(e as Error).message}; the message will be retried.`,
              [{ id, pk, status: (e as { code?: number }).code }],
              'CosmosWriteFailed',
              e,
            );
          }
          result.requestCharge += response.requestCharge ?? 0;
          if (response.resource !== undefined) stored.add(m);
        }),
      ),
    );
    return stored;
  }

  private async reject(
    envelope: Envelope,
    messageId: string,
    index: number,
    record: unknown,
    reason: string,
  ): Promise<void> {
    const kept = keepable(record, reason);
    const why = kept.reason;
    const blob = await this.options.rejects.save({
      tenantId: envelope.tenantId,
      contentType: envelope.contentType,
      batchId: envelope.batchId,
      index,
      reason: why,
      record: kept.record,
    });
    const id = (record as { Id?: unknown } | null)?.Id;
    this.options.logger.error(`Record ${index} of batch ${envelope.batchId} rejected: ${why}`, {
      messageId,
      batchId: envelope.batchId,
      index,
      ...(typeof id === 'string' || typeof id === 'number' ? { recordId: String(id) } : {}),
      tenantId: envelope.tenantId,
      contentType: envelope.contentType,
      reason: why,
      savedTo: blob,
    });
  }
}

function emptyResult(envelope: Envelope): WriteResult {
  return {
    batchId: envelope.batchId,
    tenantId: envelope.tenantId,
    contentType: envelope.contentType,
    records: envelope.count,
    written: 0,
    alreadyStored: 0,
    rejected: 0,
    oversize: 0,
    duplicates: 0,
    throttledRetries: 0,
    requestCharge: 0,
    claimCheck: 'none',
  };
}

function addCounts(result: WriteResult, bulk: BulkUpsertResult): void {
  result.written += bulk.written;
  result.alreadyStored += bulk.alreadyStored;
  result.throttledRetries += bulk.throttledRetries;
  result.requestCharge += bulk.requestCharge;
}
