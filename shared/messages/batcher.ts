import { randomUUID } from 'node:crypto';
import type { AuditRecord, ContentType } from '../contentTypes';
import { AuditfeedError } from '../errors';
import {
  ENVELOPE_VERSION,
  encodeEnvelope,
  encodedSize,
  MAX_BATCH_JSON_BYTES,
  packBatch,
  QUEUE_MESSAGE_LIMIT_BYTES,
  type BlobPointer,
  type Compression,
  type Envelope,
  type WriteMode,
} from './envelope';

/** Where finished batches go: the queue, and claim-check blobs for what cannot fit in a message. */
export interface BatchSink {
  enqueue(text: string, envelope: Envelope): Promise<void>;
  storeClaimCheck(envelope: Omit<Envelope, 'data' | 'blob'>, compressed: Buffer): Promise<BlobPointer>;
}

export interface BatcherOptions {
  tenantId: string;
  contentType: ContentType;
  sink: BatchSink;
  maxMessageBytes?: number;
  /**
   * Largest batch JSON (decompressed) one message or claim check may carry. Can only lower
   * MAX_BATCH_JSON_BYTES (the writer refuses anything bigger); a higher value is clamped to it.
   */
  maxBatchJsonBytes?: number;
  compression?: Compression;
  /**
   * How the writer stores these records: `create` leaves documents already stored untouched (backfill and
   * import); default `upsert` (the live feed), which the envelope then leaves out.
   */
  write?: WriteMode;
  newId?: () => string;
}

export interface BatcherStats {
  records: number;
  /** Serialised record characters before compression. */
  rawBytes: number;
  messages: number;
  /** Message bytes as stored in the queue. */
  encodedBytes: number;
  claimChecks: number;
}

/** JSON.stringify failed on a record (too deeply nested, a cycle, a BigInt). The batcher was not changed. */
export class RecordNotSerialisableError extends AuditfeedError {
  constructor(contentId: string, cause: unknown) {
    super(
      `A record of content ${contentId} cannot be serialised to JSON: ${cause instanceof Error ? cause.message : String(cause)}`,
      'RecordNotSerialisable',
      { cause },
    );
  }
}

/** A record's JSON cannot fit in any batch on its own (MAX_BATCH_JSON_BYTES). The batcher was not changed. */
export class RecordTooLargeError extends AuditfeedError {
  constructor(
    readonly contentId: string,
    /** UTF-8 bytes of the record's JSON. */
    readonly bytes: number,
    /** The batch JSON bound it did not fit under, with the batch's own overhead. */
    readonly limitBytes: number,
  ) {
    super(
      `A record of content ${contentId} is ${bytes} bytes of JSON; with its batch overhead it exceeds the ` +
        `${limitBytes}-byte batch limit.`,
      'RecordTooLarge',
    );
  }
}

interface Encoded {
  text: string;
  envelope: Envelope;
  compressed: Buffer;
}

interface Pending {
  json: string;
  contentId: string;
  /** UTF-8 bytes of `json`. */
  bytes: number;
  /** UTF-8 bytes of JSON.stringify(contentId). */
  idBytes: number;
}

/** Fixed envelope bytes (ids, names, field names) reserved in every estimate. */
const ENVELOPE_ALLOWANCE = 400;

/** `{"contentIds":[],"records":[]}`: the batch JSON around its contentIds and records (see packBatch). */
const BATCH_JSON_OVERHEAD = Buffer.byteLength('{"contentIds":[],"records":[]}');

/**
 * Exact UTF-8 size of the JSON packBatch builds: the fixed text, each distinct contentId's JSON and each
 * record's JSON, with a comma between the items of each array.
 */
function batchJsonBytes(records: number, recordBytes: number, ids: number, idBytes: number): number {
  return BATCH_JSON_OVERHEAD + idBytes + Math.max(0, ids - 1) + recordBytes + Math.max(0, records - 1);
}

/**
 * Streams records into queue messages that stay under the 64 KiB limit after compression and base64, and
 * batches whose JSON stays under maxBatchJsonBytes whatever the compression ratio (the writer's
 * decompression-bomb cap). The compressed size is only known after compressing, so the batcher estimates
 * it from the ratio seen so far, compresses when the estimate reaches the limit, and keeps filling if the
 * batch came out small. Memory is one batch's worth of records.
 *
 * Concurrency: every operation that reads or changes the pending batch (add, addSerialised, flush, and
 * the sends they make) runs one at a time, in call order, through one promise-chain mutex, so callers may
 * add and flush concurrently. A caller's own records stay in the order it added them.
 *
 * Failure contract: a send that fails rejects the operation that made it, and only that one; queued
 * operations of other callers still run. Records are removed from the pending batch only after the sink
 * confirmed their send, so a failed batch stays pending and the next send (a later add that fills the
 * batch, or flush) retries it — no record is both sent and still pending, and none leaves the pending
 * batch unsent. An add whose send failed rejects without accepting its own record: every add that resolved
 * has its record sent exactly once by the time a later flush resolves (at least once if the sink reported a
 * failure for a send that in fact went through; the writer's upserts are idempotent). A claim-check blob
 * stored before its message failed to enqueue is left behind; the retry stores a new one.
 */
export class Batcher {
  readonly stats: BatcherStats = { records: 0, rawBytes: 0, messages: 0, encodedBytes: 0, claimChecks: 0 };
  private readonly limit: number;
  private readonly maxBatchJsonBytes: number;
  private readonly compression: Compression;
  private readonly newId: () => string;
  private pending: Pending[] = [];
  /** Record bytes plus one separator each: what the compression ratio is learned against. */
  private pendingBytes = 0;
  private pendingRecordBytes = 0;
  /** Distinct contentIds of the pending records, and the JSON bytes of those contentIds. */
  private readonly pendingIds = new Set<string>();
  private pendingIdBytes = 0;
  /** Estimated raw bytes per encoded byte; starts cautious and learns from each compression. */
  private ratio = 2;
  /** Tail of the operation queue; never rejects, so one failure does not stop the operations behind it. */
  private tail: Promise<void> = Promise.resolve();

  constructor(private readonly options: BatcherOptions) {
    this.limit = options.maxMessageBytes ?? QUEUE_MESSAGE_LIMIT_BYTES;
    this.maxBatchJsonBytes = Math.min(
      options.maxBatchJsonBytes ?? MAX_BATCH_JSON_BYTES,
      MAX_BATCH_JSON_BYTES,
    );
    this.compression = options.compression ?? 'br';
    this.newId = options.newId ?? randomUUID;
  }

  get pendingRecords(): number {
    return this.pending.length;
  }

  /**
   * Adds one record (serialised here). Throws RecordNotSerialisableError or RecordTooLargeError without
   * changing the batcher, so the caller can reject that record and go on with the next.
   */
  add(record: AuditRecord, contentId: string): Promise<void> {
    let json: string | undefined;
    try {
      json = JSON.stringify(record);
    } catch (e) {
      // e.g. RangeError from a record nested thousands deep, TypeError from a cycle or a BigInt.
      return Promise.reject(new RecordNotSerialisableError(contentId, e));
    }
    if (typeof json !== 'string') {
      return Promise.reject(
        new RecordNotSerialisableError(contentId, new TypeError('JSON.stringify gave no text')),
      );
    }
    return this.addSerialised(json, contentId);
  }

  /**
   * Adds one record given as its JSON text, used as is (the caller has checked it is a JSON object). First
   * sends what is pending if this record would take the batch over the message or batch JSON limit.
   */
  addSerialised(json: string, contentId: string): Promise<void> {
    const item: Pending = {
      json,
      contentId,
      bytes: Buffer.byteLength(json, 'utf8'),
      idBytes: Buffer.byteLength(JSON.stringify(contentId), 'utf8'),
    };
    if (batchJsonBytes(1, item.bytes, 1, item.idBytes) > this.maxBatchJsonBytes) {
      return Promise.reject(new RecordTooLargeError(contentId, item.bytes, this.maxBatchJsonBytes));
    }
    return this.exclusive(() => this.addLocked(item));
  }

  /** Sends everything pending (end of a listing page: all of it must be durable before the watermark moves). */
  flush(): Promise<void> {
    return this.exclusive(async () => {
      while (this.pending.length > 0) await this.sendLongestFittingPrefix();
    });
  }

  /** Runs `op` after every operation queued before it; its result or error goes to its caller only. */
  private exclusive<T>(op: () => Promise<T>): Promise<T> {
    const result = this.tail.then(op);
    this.tail = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }

  private async addLocked(item: Pending): Promise<void> {
    // The batch JSON bound holds whatever the compression ratio: very compressible records could otherwise
    // pack hundreds of MB into one message.
    while (this.pending.length > 0 && this.jsonBytesWith(item) > this.maxBatchJsonBytes) {
      await this.sendLongestFittingPrefix();
    }
    if (this.pending.length > 0 && this.estimate(this.pendingBytes + item.bytes + 1) > this.limit) {
      await this.sendIfFull();
    }
    this.pending.push(item);
    this.pendingBytes += item.bytes + 1;
    this.track(item);
    this.stats.records++;
    this.stats.rawBytes += item.json.length;
  }

  /** Batch JSON bytes of the pending records plus `item`. */
  private jsonBytesWith(item: Pending): number {
    const newId = !this.pendingIds.has(item.contentId);
    return batchJsonBytes(
      this.pending.length + 1,
      this.pendingRecordBytes + item.bytes,
      this.pendingIds.size + (newId ? 1 : 0),
      this.pendingIdBytes + (newId ? item.idBytes : 0),
    );
  }

  private estimate(rawBytes: number): number {
    return ENVELOPE_ALLOWANCE + Math.ceil(rawBytes / this.ratio);
  }

  /** Compresses the pending batch: sends it when near the limit, otherwise learns the ratio and keeps filling. */
  private async sendIfFull(): Promise<void> {
    const encoded = this.encode(this.pending);
    const size = encodedSize(encoded.text);
    this.learn(this.pendingBytes, size);
    if (size < this.limit * 0.9) return;
    await this.sendLongestFittingPrefix(size <= this.limit ? encoded : undefined);
  }

  /**
   * Sends the longest prefix of the pending records that fits (`whole`: the pending batch, already
   * encoded and known to fit). One record that cannot fit on its own goes by claim check. The sent
   * records leave the pending batch only once the sink has taken them.
   */
  private async sendLongestFittingPrefix(whole?: Encoded): Promise<void> {
    let count = this.pending.length;
    for (;;) {
      const slice = this.pending.slice(0, count);
      const { text, envelope, compressed } =
        whole && count === this.pending.length ? whole : this.encode(slice);
      const size = encodedSize(text);
      if (size <= this.limit) {
        this.learn(rawSize(slice), size);
        await this.options.sink.enqueue(text, envelope);
        this.account(size);
        this.drop(count);
        return;
      }
      if (count === 1) {
        await this.claimCheck(envelope, compressed);
        this.drop(1);
        return;
      }
      // Shrink in proportion to the overshoot, by at least one record.
      count = Math.max(1, Math.min(count - 1, Math.floor((count * this.limit * 0.95) / size)));
    }
  }

  private async claimCheck(envelope: Envelope, compressed: Buffer): Promise<void> {
    const { data: _data, ...header } = envelope;
    const blob = await this.options.sink.storeClaimCheck(header, compressed);
    const withPointer: Envelope = { ...header, blob };
    const text = encodeEnvelope(withPointer);
    await this.options.sink.enqueue(text, withPointer);
    this.stats.claimChecks++;
    this.account(encodedSize(text));
  }

  private encode(slice: Pending[]): Encoded {
    const contentIds = [...new Set(slice.map((p) => p.contentId))];
    const compressed = packBatch(
      contentIds,
      slice.map((p) => p.json),
      this.compression,
    );
    const envelope: Envelope = {
      v: ENVELOPE_VERSION,
      batchId: this.newId(),
      tenantId: this.options.tenantId,
      contentType: this.options.contentType,
      count: slice.length,
      enc: this.compression,
      data: compressed.toString('base64'),
      ...(this.options.write === 'create' ? { write: 'create' as const } : {}),
    };
    return { text: encodeEnvelope(envelope), envelope, compressed };
  }

  private learn(rawBytes: number, encodedBytes: number): void {
    // Slightly pessimistic, so the estimate crosses the limit just before the real size does.
    this.ratio = Math.max(1, (rawBytes / Math.max(1, encodedBytes - ENVELOPE_ALLOWANCE)) * 0.97);
  }

  private account(encodedBytes: number): void {
    this.stats.messages++;
    this.stats.encodedBytes += encodedBytes;
  }

  private drop(count: number): void {
    this.pending = this.pending.slice(count);
    this.pendingBytes = rawSize(this.pending);
    this.pendingRecordBytes = 0;
    this.pendingIds.clear();
    this.pendingIdBytes = 0;
    for (const p of this.pending) this.track(p);
  }

  /** Counts a record now in `pending` into the batch JSON size. */
  private track(item: Pending): void {
    this.pendingRecordBytes += item.bytes;
    if (this.pendingIds.has(item.contentId)) return;
    this.pendingIds.add(item.contentId);
    this.pendingIdBytes += item.idBytes;
  }
}

function rawSize(slice: Pending[]): number {
  return slice.reduce((sum, p) => sum + p.bytes + 1, 0);
}
