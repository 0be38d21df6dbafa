import type { AuditRecord, ContentType } from '../contentTypes';

/**
 * One audit record from a backfill source (a Graph auditLogRecord, or an export's AuditData column) as the
 * Management API record the live feed stores, with the content type the live feed files it under
 * (docs/backfill-reference.md §2.3, §3.2). Refused records carry the reason; nothing is silently dropped.
 */
export type MappedBackfillRecord =
  | { ok: true; record: AuditRecord; contentType: ContentType; warnings?: string[] }
  | { ok: false; reason: string };

/** The live feed's content type for a Management API record (§3.2). */
export function contentTypeOf(record: AuditRecord): ContentType {
  void record;
  throw new Error('contentTypeOf: not written yet (issue 14, mapping helper)');
}

/** A Graph auditLogRecord (the `/records` element) → record + content type (§2.3). */
export function fromAuditLogRecord(graphRecord: unknown): MappedBackfillRecord {
  void graphRecord;
  throw new Error('fromAuditLogRecord: not written yet (issue 14, mapping helper)');
}

/** An export's AuditData cell (Management API JSON text) → record + content type (§4.4). */
export function fromAuditDataJson(text: string): MappedBackfillRecord {
  void text;
  throw new Error('fromAuditDataJson: not written yet (issue 14, mapping helper)');
}
