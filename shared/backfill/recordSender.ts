import { CONTENT_TYPES, type AuditRecord, type ContentType } from '../contentTypes';
import { AuditfeedError } from '../errors';
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
 * Flushing failed for more than one content type; each one's error is in `failures` (the first is the
 * cause). The message names each error once, with the content types it stopped.
 */
export class RecordSenderFlushError extends AuditfeedError {
  constructor(readonly failures: ReadonlyArray<{ contentType: ContentType; error: unknown }>) {
    const byError = new Map<string, ContentType[]>();
    for (const f of failures) {
      const text = describe(f.error);
      byError.set(text, [...(byError.get(text) ?? []), f.contentType]);
    }
    super(
      `Sending pending records failed for ${failures.length} content types: ` +
        [...byError].map(([text, types]) => `${text} (${types.join(', ')})`).join('; ') +
        '. Their records stay pending; the next flush sends them again.',
      'RecordSenderFlushFailed',
      { cause: failures[0]?.error },
    );
  }
}

/**
 * Sends backfilled records into the live feed's batch queue, so the existing writer stores each as the
 * same document the collector would (same id and partition key). Its messages ask the writer to create
 * documents only (`write: 'create'`): a record the live feed already stored is left as it is (the live
 * record is authoritative, and rewriting it would reset its TTL and replicate it again), and a re-send is
 * harmless. One Batcher per content type, because a queue message carries one content type.
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

  /**
   * Sends everything pending, for every content type (before progress that depends on it is saved). One
   * content type failing does not hold back the others: all are flushed, then the one error is thrown, or
   * RecordSenderFlushError when several failed. What failed stays pending for the next flush.
   */
  async flush(): Promise<void> {
    const failures: Array<{ contentType: ContentType; error: unknown }> = [];
    // Sequential: one content type's messages at a time keep the queue load as before.
    for (const [contentType, batcher] of this.batchers) {
      try {
        await batcher.flush();
      } catch (error) {
        failures.push({ contentType, error });
      }
    }
    if (failures.length === 1) throw failures[0]!.error;
    if (failures.length > 1) throw new RecordSenderFlushError(failures);
  }

  private batcherFor(contentType: ContentType): Batcher {
    let batcher = this.batchers.get(contentType);
    if (!batcher) {
      batcher = new Batcher({
        tenantId: this.options.tenantId,
        contentType,
        sink: this.options.sink,
        write: 'create',
        ...(this.options.compression ? { compression: this.options.compression } : {}),
        ...(this.options.maxMessageBytes ? { maxMessageBytes: this.options.maxMessageBytes } : {}),
      });
      this.batchers.set(contentType, batcher);
    }
    return batcher;
  }
}

/** An error's first line (storage errors append RequestId and Time lines) and its code, if it has one. */
function describe(error: unknown): string {
  const line = (error instanceof Error ? error.message : String(error)).split('\n')[0]!.trim();
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code !== '' ? `${code}: ${line}` : line;
}
