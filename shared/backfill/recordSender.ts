import { CONTENT_TYPES, type AuditRecord, type ContentType } from '../contentTypes';
import { Batcher, type BatchSink } from '../messages/batcher';
import type { Compression } from '../messages/envelope';

export interface RecordSenderOptions {
  tenantId: string;
  sink: BatchSink;
  /**
   * The contentId every record is sent under (e.g. `graph:<queryId>`, `import:<file>`): the writer only
   * uses it to say where a rejected record came from, so it names the backfill source.
   */
  source: string;
  maxMessageBytes?: number;
  compression?: Compression;
}

export interface RecordSenderStats {
  /** Records accepted per content type (sent once a later flush resolves). */
  records: Record<ContentType, number>;
  /** Queue messages sent, over all content types (claim checks included). */
  messages: number;
  /** Of those messages, how many point at a claim-check blob. */
  claimChecks: number;
}

/**
 * Sends backfilled records into the live feed's batch queue, so the existing writer stores each as the
 * same document the collector would (same id and partition key; upserts make a re-send harmless). One
 * Batcher per content type, because a queue message carries one content type.
 *
 * Failure contract is the Batcher's: an add that rejects did not accept its record (RecordTooLargeError and
 * RecordNotSerialisableError leave the sender unchanged, so the caller can refuse that record and go on);
 * every add that resolved is on the queue once a later flush resolves.
 */
export class RecordSender {
  private readonly batchers = new Map<ContentType, Batcher>();

  constructor(private readonly options: RecordSenderOptions) {}

  get stats(): RecordSenderStats {
    const records = Object.fromEntries(CONTENT_TYPES.map((c) => [c, 0])) as Record<ContentType, number>;
    let messages = 0;
    let claimChecks = 0;
    for (const [contentType, batcher] of this.batchers) {
      records[contentType] = batcher.stats.records;
      messages += batcher.stats.messages;
      claimChecks += batcher.stats.claimChecks;
    }
    return { records, messages, claimChecks };
  }

  /** Records accepted but not yet on the queue (memory held: at most one batch per content type). */
  get pendingRecords(): number {
    let n = 0;
    for (const batcher of this.batchers.values()) n += batcher.pendingRecords;
    return n;
  }

  add(record: AuditRecord, contentType: ContentType): Promise<void> {
    return this.batcherFor(contentType).add(record, this.options.source);
  }

  /** Sends everything pending, for every content type (before progress that depends on it is saved). */
  async flush(): Promise<void> {
    // Sequential: the first failure stops the flush, and the next flush retries what is still pending.
    for (const batcher of this.batchers.values()) await batcher.flush();
  }

  private batcherFor(contentType: ContentType): Batcher {
    let batcher = this.batchers.get(contentType);
    if (!batcher) {
      batcher = new Batcher({
        tenantId: this.options.tenantId,
        contentType,
        sink: this.options.sink,
        ...(this.options.compression ? { compression: this.options.compression } : {}),
        ...(this.options.maxMessageBytes ? { maxMessageBytes: this.options.maxMessageBytes } : {}),
      });
      this.batchers.set(contentType, batcher);
    }
    return batcher;
  }
}
