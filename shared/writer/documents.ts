import type { AuditRecord, ContentType } from '../contentTypes';
import type { BlobPointer } from '../messages/envelope';
import { FLAT_FIELD_NAMES, flatFields } from './flatFields';
import { creationDayOf, documentId, partitionKey, recordIdOf, userKeyOf } from './recordIdentity';

/**
 * Record → Cosmos DB document (DESIGN §4.2). The record's own fields stay as they are (PascalCase); the
 * writer adds camelCase fields. A record field that Cosmos reserves (leading `_`) or that would collide
 * with one of ours is moved, unchanged, under `reservedNameFields`.
 */

/** Where the serialised document is too big for a Cosmos item (2 MB limit, system fields included). */
export const OVERSIZE_THRESHOLD_BYTES = 1_900_000;

/** Record fields moved here keep their names and values; nothing is dropped. */
export const RESERVED_NAME_FIELDS = 'reservedNameFields';

export const ADDED_FIELD_NAMES = [
  'id',
  'pk',
  'tenantId',
  'contentType',
  'creationDay',
  'ingestedAt',
  'ttl',
  'oversizeBlob',
  RESERVED_NAME_FIELDS,
  ...FLAT_FIELD_NAMES,
] as const;

const ADDED = new Set<string>(ADDED_FIELD_NAMES);

export interface AuditDocument {
  id: string;
  pk: string;
  tenantId: string;
  contentType: ContentType;
  creationDay: string;
  ingestedAt: string;
  ttl?: number;
  oversizeBlob?: BlobPointer;
  [field: string]: unknown;
}

export interface DocumentContext {
  tenantId: string;
  contentType: ContentType;
  /** ISO time of this write. */
  ingestedAt: string;
  /** Per-content-type retention in seconds; absent = the container's default TTL applies. */
  ttlSeconds?: number;
}

export type MappedRecord = { ok: true; document: AuditDocument } | { ok: false; reason: string };

export function isReservedFieldName(name: string): boolean {
  return name.startsWith('_') || ADDED.has(name);
}

/** Maps one record; a record without a usable Id or CreationTime is refused with the reason. */
export function toDocument(record: unknown, context: DocumentContext): MappedRecord {
  if (typeof record !== 'object' || record === null || Array.isArray(record)) {
    return { ok: false, reason: `record is not a JSON object (${preview(record)})` };
  }
  const r = record as AuditRecord;
  const recordId = recordIdOf(r.Id);
  if (recordId === undefined) {
    return { ok: false, reason: `record has no usable Id (${preview(r.Id)})` };
  }
  const creationDay = creationDayOf(r.CreationTime);
  if (creationDay === undefined) {
    return {
      ok: false,
      reason: `record has no parseable CreationTime (${preview(r.CreationTime)}); expected YYYY-MM-DDTHH:MM:SS`,
    };
  }

  const document: AuditDocument = {
    id: documentId(recordId),
    pk: partitionKey(context.tenantId, creationDay, userKeyOf(r)),
    tenantId: context.tenantId,
    contentType: context.contentType,
    creationDay,
    ingestedAt: context.ingestedAt,
  };
  if (context.ttlSeconds !== undefined) document.ttl = context.ttlSeconds;
  Object.assign(document, flatFields(r));

  let moved: Record<string, unknown> | undefined;
  for (const [name, value] of Object.entries(r)) {
    if (isReservedFieldName(name)) (moved ??= {})[name] = value;
    else document[name] = value;
  }
  if (moved) document[RESERVED_NAME_FIELDS] = moved;
  return { ok: true, document };
}

export function serializedBytes(document: AuditDocument): number {
  return Buffer.byteLength(JSON.stringify(document), 'utf8');
}

/** Our fields (id, pk, names of the flat fields, …) add at most this much to a document. */
const ADDED_FIELDS_MAX_BYTES = 16 * 1024;

/**
 * Largest serialised document a record of `recordJsonBytes` can map to: the record's fields once, flat
 * copies of some of its values at most once more (lower-casing can lengthen UTF-8, hence 3×, not 2×),
 * and our own fields.
 */
export function documentBytesBound(recordJsonBytes: number): number {
  return 3 * recordJsonBytes + ADDED_FIELDS_MAX_BYTES;
}

/** Record fields an oversize stub always keeps when they are scalars: what investigations filter on. */
const SEARCHABLE_RECORD_FIELDS = new Set([
  'Id',
  'CreationTime',
  'Operation',
  'UserId',
  'UserKey',
  'ClientIP',
  'RecordType',
  'Workload',
  'ObjectId',
  'ResultStatus',
  'OrganizationId',
]);
/** Other scalar fields are kept while they are short and the stub stays small. */
const STUB_FIELD_MAX_CHARS = 2048;
const STUB_MAX_BYTES = 64 * 1024;

/**
 * The document that stands in Cosmos DB for a record stored whole in a blob: our fields, the flat
 * fields, the record's searchable scalars and the pointer. Same id and pk as the full document, so
 * repeats still upsert one item.
 */
export function oversizeStub(document: AuditDocument, pointer: BlobPointer): AuditDocument {
  const stub: AuditDocument = {
    id: document.id,
    pk: document.pk,
    tenantId: document.tenantId,
    contentType: document.contentType,
    creationDay: document.creationDay,
    ingestedAt: document.ingestedAt,
    oversizeBlob: { ...pointer },
  };
  if (document.ttl !== undefined) stub.ttl = document.ttl;
  for (const name of FLAT_FIELD_NAMES) {
    if (document[name] !== undefined) stub[name] = document[name];
  }
  const optional: [string, unknown][] = [];
  for (const [name, value] of Object.entries(document)) {
    if (ADDED.has(name) || !isScalar(value)) continue;
    if (SEARCHABLE_RECORD_FIELDS.has(name)) stub[name] = value;
    else optional.push([name, value]);
  }
  let bytes = serializedBytes(stub);
  for (const [name, value] of optional) {
    if (typeof value === 'string' && value.length > STUB_FIELD_MAX_CHARS) continue;
    const cost = Buffer.byteLength(JSON.stringify(name) + JSON.stringify(value), 'utf8') + 2;
    if (bytes + cost > STUB_MAX_BYTES) break;
    stub[name] = value;
    bytes += cost;
  }
  return stub;
}

function isScalar(value: unknown): boolean {
  return (
    typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean' || value === null
  );
}

function preview(value: unknown): string {
  if (value === undefined) return 'missing';
  const json = JSON.stringify(value) ?? typeof value;
  return json.length > 60 ? `${json.slice(0, 57)}...` : json;
}
