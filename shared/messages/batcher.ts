import { randomUUID } from 'node:crypto';
import type { AuditRecord, ContentType } from '../contentTypes';
import {
  ENVELOPE_VERSION,
  encodeEnvelope,
  encodedSize,
  packBatch,
  QUEUE_MESSAGE_LIMIT_BYTES,
  type BlobPointer,
  type Compression,
  type Envelope,
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
  compression?: Compression;
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

interface Encoded {
  text: string;
  envelope: Envelope;
  compressed: Buffer;
}

interface Pending {
  json: string;
  contentId: string;
}

/** Fixed envelope bytes (ids, names, field names) reserved in every estimate. */
const ENVELOPE_ALLOWANCE = 400;

/**
 * Streams records into queue messages that stay under the 64 KiB limit after compression and base64.
 * The compressed size is only known after compressing, so the batcher estimates it from the ratio seen
 * so far, compresses when the estimate reaches the limit, and keeps filling if the batch came out small.
 * Memory is one message's worth of records.
 */
export class Batcher {
  readonly stats: BatcherStats = { records: 0, rawBytes: 0, messages: 0, encodedBytes: 0, claimChecks: 0 };
  private readonly limit: number;
  private readonly compression: Compression;
  private readonly newId: () => string;
  private pending: Pending[] = [];
  private pendingBytes = 0;
  /** Estimated raw bytes per encoded byte; starts cautious and learns from each compression. */
  private ratio = 2;

  constructor(private readonly options: BatcherOptions) {
    this.limit = options.maxMessageBytes ?? QUEUE_MESSAGE_LIMIT_BYTES;
    this.compression = options.compression ?? 'br';
    this.newId = options.newId ?? randomUUID;
  }

  get pendingRecords(): number {
    return this.pending.length;
  }

  /** Adds one record; first sends the pending batch if this record would take it over the limit. */
  async add(record: AuditRecord, contentId: string): Promise<void> {
    const json = JSON.stringify(record);
    this.stats.records++;
    this.stats.rawBytes += json.length;
    if (this.pending.length > 0 && this.estimate(this.pendingBytes + json.length + 1) > this.limit) {
      await this.sendIfFull();
    }
    this.pending.push({ json, contentId });
    this.pendingBytes += json.length + 1;
  }

  /** Sends everything pending (end of a listing page: all of it must be durable before the watermark moves). */
  async flush(): Promise<void> {
    while (this.pending.length > 0) await this.sendLongestFittingPrefix();
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
   * encoded and known to fit). One record that cannot fit on its own goes by claim check.
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
  }
}

function rawSize(slice: Pending[]): number {
  return slice.reduce((sum, p) => sum + p.json.length + 1, 0);
}
