import { createHash } from 'node:crypto';

/**
 * Identity of a record in Cosmos DB: `id` and partition key, both pure functions of the record (and its
 * tenant), so a record seen twice is an upsert of the same item (DESIGN §2 invariant 2).
 */

/** Cosmos DB's limit on `id` (UTF-8 bytes). */
export const MAX_ID_BYTES = 1023;
/** Hashed ids start with this, so they are told apart from record ids at a glance. */
export const HASHED_ID_PREFIX = 'h-';

// The SDK forbids / \ ? # in ids; control characters break the REST paths of point reads.
// eslint-disable-next-line no-control-regex
const UNSAFE_ID_CHARS = /[/\\?#\u0000-\u001f\u007f]/;

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

export function isValidCosmosId(value: string): boolean {
  return value !== '' && Buffer.byteLength(value, 'utf8') <= MAX_ID_BYTES && !UNSAFE_ID_CHARS.test(value);
}

/** The record's `Id` as a string: strings as they are, numbers spelled out; anything else has no Id. */
export function recordIdOf(value: unknown): string | undefined {
  if (typeof value === 'string') return value.trim() === '' ? undefined : value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return undefined;
}

/** The Cosmos `id`: the record's Id when Cosmos accepts it, else a stable hash of it. */
export function documentId(recordId: string): string {
  return isValidCosmosId(recordId) ? recordId : `${HASHED_ID_PREFIX}${sha256Hex(recordId).slice(0, 32)}`;
}

/**
 * The user a record is about, lower-cased: UserId, else UserKey, else undefined. Lower case because the
 * service spells the same UPN in different cases across workloads.
 */
export function userKeyOf(record: Record<string, unknown>): string | undefined {
  for (const field of ['UserId', 'UserKey']) {
    const value = record[field];
    if (typeof value === 'string' && value.trim() !== '') return value.trim().toLowerCase();
  }
  return undefined;
}

export const UNKNOWN_USER = 'unknown';

/**
 * `<creationDay>_<8 hex>`: one logical partition per tenant, user and day — small and evenly spread, and a
 * query for one user's day hits one partition. 19 bytes, far below the 100-byte limit of partition keys
 * without the large-key feature.
 */
export function partitionKey(tenantId: string, creationDay: string, userKey: string | undefined): string {
  const hash = sha256Hex(`${tenantId.toLowerCase()}|${userKey ?? UNKNOWN_USER}`).slice(0, 8);
  return `${creationDay}_${hash}`;
}

const ISO_TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?$/;

/**
 * UTC day (`YYYY-MM-DD`) of a CreationTime. The service writes UTC without a zone
 * (`2026-05-04T09:12:40`); a value with `Z` or an offset is converted. Anything else is undefined.
 */
export function creationDayOf(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const m = ISO_TIME.exec(value.trim());
  if (!m) return undefined;
  const [year, month, day, hour, minute, second] = [m[1], m[2], m[3], m[4], m[5], m[6] ?? '0'].map(
    Number,
  ) as [number, number, number, number, number, number];
  const local = Date.UTC(year, month - 1, day, hour, minute, second);
  const check = new Date(local);
  // Date.UTC rolls 2026-02-30 over to March; a real timestamp survives the round trip.
  if (
    check.getUTCFullYear() !== year ||
    check.getUTCMonth() !== month - 1 ||
    check.getUTCDate() !== day ||
    hour > 23 ||
    minute > 59 ||
    second > 59
  ) {
    return undefined;
  }
  const zone = m[8];
  let offsetMinutes = 0;
  if (zone !== undefined && zone !== 'Z') {
    const digits = zone.replace(':', '');
    const sign = digits.startsWith('-') ? -1 : 1;
    offsetMinutes = sign * (Number(digits.slice(1, 3)) * 60 + Number(digits.slice(3, 5)));
  }
  return new Date(local - offsetMinutes * 60_000).toISOString().slice(0, 10);
}
