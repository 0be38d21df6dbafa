import { brotliCompressSync, brotliDecompressSync, constants, gunzipSync, gzipSync } from 'node:zlib';
import { isContentType, type AuditRecord, type ContentType } from '../contentTypes';
import { AuditfeedError } from '../errors';

/**
 * The queue message contract between collector and writer (DESIGN §5). The message text is the JSON
 * envelope; host.json sets `messageEncoding: none`, so the queue carries it as is. The batch (source
 * contentIds and records) travels compressed, base64 inside the envelope, or in a claim-check blob when
 * it cannot fit in one message. Compressing the contentIds too keeps them from eating the 64 KiB budget.
 */
export const ENVELOPE_VERSION = 1;

/** Azure Queue Storage accepts a message of at most 64 KiB after encoding. */
export const QUEUE_MESSAGE_LIMIT_BYTES = 64 * 1024;

/**
 * Largest batch JSON (decompressed) any message or claim check may carry. The collector keeps every batch
 * under it (a single record over it is rejected there), so the writer can refuse anything bigger as a
 * decompression bomb.
 */
export const MAX_BATCH_JSON_BYTES = 16 * 1024 * 1024;

export type Compression = 'br' | 'gzip';

/**
 * How the writer stores a batch's documents. `upsert` (the live feed): the record replaces what is stored.
 * `create` (backfill and import): a document already stored — by the live feed or an earlier send — is
 * left exactly as it is, so a backfill never resets its TTL or emits a change-feed event for it.
 */
export type WriteMode = 'upsert' | 'create';

export interface BlobPointer {
  container: string;
  name: string;
  bytes: number;
}

export interface Envelope {
  v: typeof ENVELOPE_VERSION;
  batchId: string;
  tenantId: string;
  contentType: ContentType;
  /** Number of records in the batch. */
  count: number;
  enc: Compression;
  /** base64 of the compressed batch; absent when `blob` is set. */
  data?: string;
  /** Claim check: the blob holds the compressed batch. */
  blob?: BlobPointer;
  /**
   * Optional, so messages of collectors that predate it still read as upserts; a writer that predates it
   * ignores it and upserts (the old behaviour). The Batcher only ever sets `create`.
   */
  write?: WriteMode;
}

/** The envelope's write mode; absent means upsert. */
export function writeModeOf(envelope: Envelope): WriteMode {
  return envelope.write ?? 'upsert';
}

export interface Batch {
  contentIds: string[];
  records: AuditRecord[];
}

/** A batch as the writer reads it, with the size of its JSON (an upper bound on any one record's). */
export interface UnpackedBatch extends Batch {
  jsonBytes: number;
}

/** A message the writer cannot use as it is. */
export class BadMessageError extends AuditfeedError {
  constructor(message: string, code = 'BadMessage') {
    super(message, code);
  }
}

/**
 * A message whose envelope version this writer has no decoder for: written by a collector of a newer
 * version (or not by auditfeed at all). Thrown before anything is read or written, so the message fails,
 * is retried and, after maxDequeueCount attempts, is archived and moved to the poison queue, from where
 * `npm run replay-poison` brings it back once a writer that reads its version is deployed.
 */
export class EnvelopeVersionError extends BadMessageError {
  constructor(readonly version: unknown) {
    super(
      `Message has envelope version ${JSON.stringify(version)}; this writer reads ` +
        `version${READABLE_ENVELOPE_VERSIONS.length === 1 ? '' : 's'} ${READABLE_ENVELOPE_VERSIONS.join(', ')}. ` +
        'Deploy the same version of collector and writer, then replay the poison queue (npm run replay-poison).',
      'EnvelopeVersion',
    );
  }
}

export function encodeEnvelope(envelope: Envelope): string {
  return JSON.stringify(envelope);
}

/** Compresses a batch built from already-serialised records (each record is serialised once). */
export function packBatch(
  contentIds: readonly string[],
  serialisedRecords: readonly string[],
  enc: Compression,
): Buffer {
  const json = Buffer.from(
    `{"contentIds":${JSON.stringify(contentIds)},"records":[${serialisedRecords.join(',')}]}`,
  );
  return enc === 'br'
    ? brotliCompressSync(json, {
        params: {
          [constants.BROTLI_PARAM_QUALITY]: 5,
          [constants.BROTLI_PARAM_MODE]: constants.BROTLI_MODE_TEXT,
          [constants.BROTLI_PARAM_SIZE_HINT]: json.length,
        },
      })
    : gzipSync(json);
}

/**
 * Decompresses and parses a batch. Decompression stops at MAX_BATCH_JSON_BYTES, so a small message that
 * inflates to hundreds of megabytes (a decompression bomb) costs at most that much memory.
 */
export function unpackBatch(compressed: Buffer, enc: Compression, where: string): UnpackedBatch {
  const json = decompress(compressed, enc, where);
  let parsed: unknown;
  try {
    parsed = JSON.parse(json.toString('utf8'));
  } catch (e) {
    throw new BadMessageError(`${where}: the batch is not ${enc}-compressed JSON (${(e as Error).message}).`);
  }
  const batch = parsed as Partial<Batch> | null;
  if (
    typeof batch !== 'object' ||
    batch === null ||
    !Array.isArray(batch.records) ||
    !Array.isArray(batch.contentIds)
  ) {
    throw new BadMessageError(`${where}: the batch has no records and contentIds arrays.`);
  }
  return Object.assign(batch as Batch, { jsonBytes: json.length });
}

function decompress(compressed: Buffer, enc: Compression, where: string): Buffer {
  const options = { maxOutputLength: MAX_BATCH_JSON_BYTES };
  try {
    return enc === 'br' ? brotliDecompressSync(compressed, options) : gunzipSync(compressed, options);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
      // Not transient: every retry inflates the same bytes. Thrown like any bad message, so the queue
      // retries it maxDequeueCount times and the last attempt archives it before it goes to poison.
      throw new BadMessageError(
        `${where}: the ${enc}-compressed batch (${compressed.length} bytes) inflates beyond ` +
          `MAX_BATCH_JSON_BYTES (${MAX_BATCH_JSON_BYTES} bytes of JSON), the most a collector of this ` +
          'version ever writes: a decompression bomb, or a message from a collector of another version. ' +
          'It was not written; deploy the same version of collector and writer, or inspect the archived message.',
      );
    }
    throw new BadMessageError(`${where}: the batch is not ${enc}-compressed JSON (${(e as Error).message}).`);
  }
}

/**
 * Reads a queue message as the trigger delivers it (text, bytes, or already-parsed JSON) and checks the
 * envelope. The version is checked first, so a message from a newer collector fails clearly.
 */
export function decodeEnvelope(message: unknown): Envelope {
  const e = jsonObjectMessage(message, 'Message');
  const decoder = typeof e.v === 'number' ? DECODERS.get(e.v) : undefined;
  if (decoder === undefined) throw new EnvelopeVersionError(e.v);
  return decoder(e);
}

/**
 * A queue message as a JSON object (the worker may hand over text, a Buffer, or already parsed JSON);
 * throws BadMessageError naming `what` otherwise.
 */
export function jsonObjectMessage(message: unknown, what: string): Record<string, unknown> {
  let value: unknown = Buffer.isBuffer(message) ? message.toString('utf8') : message;
  if (typeof value === 'string') {
    const text = value;
    try {
      value = JSON.parse(text);
    } catch {
      throw new BadMessageError(`${what} is not JSON (starts with ${JSON.stringify(text.slice(0, 40))}).`);
    }
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new BadMessageError(`${what} is not a JSON object.`);
  }
  return value as Record<string, unknown>;
}

/**
 * One decoder per envelope version this writer reads, each giving the current Envelope. The collector
 * writes ENVELOPE_VERSION only; a writer of version N+1 keeps version N's decoder, so messages still in
 * the queue (or in the poison queue) when the app is upgraded are written. test/messages/compatibility
 * writes frozen messages of every version under test/fixtures/envelopes/ through the real writer.
 */
const DECODERS: ReadonlyMap<number, (e: Record<string, unknown>) => Envelope> = new Map([[1, decodeV1]]);

/** Envelope versions decodeEnvelope accepts, oldest first. */
export const READABLE_ENVELOPE_VERSIONS: readonly number[] = [...DECODERS.keys()].sort((a, b) => a - b);

/** Version 1: the current shape. */
function decodeV1(e: Record<string, unknown>): Envelope {
  const problems: string[] = [];
  if (typeof e.batchId !== 'string' || e.batchId === '') problems.push('batchId');
  if (typeof e.tenantId !== 'string' || e.tenantId === '') problems.push('tenantId');
  if (typeof e.contentType !== 'string' || !isContentType(e.contentType)) problems.push('contentType');
  if (typeof e.count !== 'number' || !Number.isInteger(e.count) || e.count < 0) problems.push('count');
  if (e.enc !== 'br' && e.enc !== 'gzip') problems.push('enc');
  const blob = e.blob as Record<string, unknown> | undefined;
  const hasBlob =
    typeof blob === 'object' &&
    blob !== null &&
    typeof blob.container === 'string' &&
    typeof blob.name === 'string' &&
    typeof blob.bytes === 'number';
  if ((typeof e.data === 'string') === hasBlob) problems.push('exactly one of data or blob');
  // An unknown mode fails rather than upserts: it may come from a newer collector asking for less.
  if (e.write !== undefined && e.write !== 'upsert' && e.write !== 'create') problems.push('write');
  if (problems.length > 0) {
    throw new BadMessageError(`Message envelope is missing or has invalid: ${problems.join(', ')}.`);
  }
  return e as unknown as Envelope;
}

/** Bytes a message text occupies in the queue (messageEncoding none: the UTF-8 text itself). */
export function encodedSize(text: string): number {
  return Buffer.byteLength(text, 'utf8');
}
