import type { AuditRecord, ContentType } from '../contentTypes';
import type { BlobPointer } from '../messages/envelope';
import { FLAT_FIELD_NAMES, flatFields } from './flatFields';
import { MAX_DOCUMENT_NESTING, nestingDepth } from './nesting';
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

/**
 * Maps one record; a record without a usable Id or CreationTime, or nested deeper than Cosmos DB stores,
 * is refused with the reason.
 */
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
    if (isReservedFieldName(name)) setField((moved ??= {}), name, value);
    else setField(document, name, value);
  }
  if (moved) document[RESERVED_NAME_FIELDS] = moved;

  // Cosmos DB refuses the whole item (and the bulk operation with it) past its nesting limit; measured on
  // the document, since reservedNameFields adds a level.
  if (nestingDepth(document, MAX_DOCUMENT_NESTING) > MAX_DOCUMENT_NESTING) {
    return {
      ok: false,
      reason:
        `record nests objects/arrays over ${MAX_DOCUMENT_NESTING} levels deep (its document counted as ` +
        `one), beyond Cosmos DB's per-item nesting limit of ${MAX_DOCUMENT_NESTING}`,
    };
  }
  return { ok: true, document };
}

/**
 * Sets an own, enumerable field whatever its name. Plain assignment of `__proto__` (which JSON.parse
 * makes an ordinary own field of a record) would set the prototype instead and drop the field.
 */
function setField(target: Record<string, unknown>, name: string, value: unknown): void {
  // defineProperty only where it is needed: it is several times slower than assignment on the hot path.
  if (name === '__proto__') {
    Object.defineProperty(target, name, { value, enumerable: true, writable: true, configurable: true });
  } else target[name] = value;
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

/** Record fields an oversize stub keeps first (when scalars): what investigations filter on. */
const SEARCHABLE_RECORD_FIELDS = [
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
];
const SEARCHABLE = new Set(SEARCHABLE_RECORD_FIELDS);
/** Longest string value a stub copies. */
export const STUB_FIELD_MAX_CHARS = 2048;
/** A stub's serialised size stays below this whatever the record (its id is at most 1,023 bytes). */
export const STUB_MAX_BYTES = 64 * 1024;

/**
 * The document that stands in Cosmos DB for a record stored whole in a blob: our fields, the pointer, then
 * as many scalars as fit in STUB_MAX_BYTES — the searchable record fields, the flat fields, then the
 * record's other scalars. Same id and pk as the full document, so repeats still upsert one item.
 *
 * A string longer than STUB_FIELD_MAX_CHARS is left out rather than truncated: a stub value is always the
 * record's exact value, so an equality filter never matches a cut-off value and nothing looks complete
 * that is not; `oversizeBlob` says the whole record (every long value included) is in the blob.
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

  const candidates: [string, unknown][] = [];
  for (const name of SEARCHABLE_RECORD_FIELDS) {
    if (Object.hasOwn(document, name)) candidates.push([name, document[name]]);
  }
  for (const name of FLAT_FIELD_NAMES) {
    if (document[name] !== undefined) candidates.push([name, document[name]]);
  }
  for (const [name, value] of Object.entries(document)) {
    if (!ADDED.has(name) && !SEARCHABLE.has(name)) candidates.push([name, value]);
  }

  let bytes = serializedBytes(stub);
  for (const [name, value] of candidates) {
    if (!isScalar(value) || (typeof value === 'string' && value.length > STUB_FIELD_MAX_CHARS)) continue;
    // `,"name":value` — exact, so the total never passes the bound; later, smaller fields may still fit.
    const cost = Buffer.byteLength(JSON.stringify(name) + JSON.stringify(value), 'utf8') + 2;
    if (bytes + cost >= STUB_MAX_BYTES) continue;
    setField(stub, name, value);
    bytes += cost;
  }
  return stub;
}

function isScalar(value: unknown): boolean {
  return (
    typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean' || value === null
  );
}

/** A short view of a bad value for the reason; never serialises a whole object (it may be huge or deep). */
function preview(value: unknown): string {
  if (value === undefined) return 'missing';
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (typeof value === 'object' && value !== null) return 'an object';
  const json =
    typeof value === 'string' ? JSON.stringify(value.slice(0, 60)) : (JSON.stringify(value) ?? typeof value);
  return json.length > 60 ? `${json.slice(0, 57)}...` : json;
}
