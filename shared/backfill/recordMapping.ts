import type { AuditRecord, ContentType } from '../contentTypes';
import { creationDayOf, recordIdOf } from '../writer/recordIdentity';
import { recordTypeByName } from './recordTypeNames';

/**
 * One audit record from a backfill source (a Graph auditLogRecord, or an export's AuditData column) as the
 * Management API record the live feed stores, with the content type the live feed files it under
 * (docs/backfill-reference.md §2.3, §3.2). Refused records carry the reason; nothing is silently dropped.
 */
export type MappedBackfillRecord =
  | { ok: true; record: AuditRecord; contentType: ContentType; warnings?: string[] }
  | { ok: false; reason: string; code?: MappingRefusal };

/** Why a record was refused, for callers that count or act on kinds (the reason says the rest). */
export type MappingRefusal =
  | 'NotJson'
  | 'NotObject'
  | 'NoAuditData'
  | 'NoId'
  | 'NoCreationTime'
  /** AuditData's RecordType is a name: `Search-UnifiedAuditLog -Formatted` output, not the raw record. */
  | 'FormattedRecordType';

/**
 * Kinds of warning: each warning string starts with its kind and a colon. Cross-check mismatches are
 * counted, never used to change the record (§2.3 step 3). Graph warnings and refusal reasons name no record
 * (no ids or values), so a run can count them by text in a bounded map.
 */
export const MAPPING_WARNING_KINDS = [
  /** auditLogRecord.id ≠ auditData.Id. */
  'IdMismatch',
  /** createdDateTime and CreationTime are not the same second. */
  'CreationTimeMismatch',
  /** operation ≠ Operation. */
  'OperationMismatch',
  /** auditLogRecordType names another number than auditData.RecordType. */
  'RecordTypeMismatch',
  /** auditData had no RecordType; it was taken from auditLogRecordType's name. */
  'RecordTypeFromName',
  /** Neither auditData.RecordType nor a known auditLogRecordType name: stored without RecordType. */
  'RecordTypeUnknown',
  /** auditData.RecordType is neither a number nor a numeric string; stored as it is. */
  'RecordTypeNotNumeric',
  /** auditData came as JSON text, not an object. */
  'AuditDataText',
  /** The record was auditData.dynamicProperties (auditData itself had no Id). */
  'DynamicProperties',
] as const;

export type MappingWarningKind = (typeof MAPPING_WARNING_KINDS)[number];

export function warningKind(warning: string): MappingWarningKind | undefined {
  const kind = warning.slice(0, warning.indexOf(':'));
  return (MAPPING_WARNING_KINDS as readonly string[]).includes(kind)
    ? (kind as MappingWarningKind)
    : undefined;
}

const DLP_RECORD_TYPES = new Set([11, 13]);
const DLP_OPERATIONS = new Set(['dlprulematch', 'dlpruleundo', 'dlpinfo']);

/**
 * RecordType as a number: a number, or a string of digits (some feeds stringify it); otherwise undefined.
 */
export function recordTypeNumber(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isInteger(value) ? value : undefined;
  if (typeof value === 'string' && /^\s*\d+\s*$/.test(value)) return Number(value);
  return undefined;
}

function lower(value: unknown): string | undefined {
  return typeof value === 'string' ? value.trim().toLowerCase() : undefined;
}

/**
 * The live feed's content type for a Management API record (§3.2): DLP events first, whatever their
 * workload (their Workload is SharePoint, OneDrive or Exchange); then by Workload; everything else is
 * Audit.General, the "all other workloads" content type. Names compare case-insensitively.
 */
export function contentTypeOf(record: AuditRecord): ContentType {
  const recordType = recordTypeNumber(record.RecordType);
  if (recordType !== undefined && DLP_RECORD_TYPES.has(recordType)) return 'DLP.All';
  const operation = lower(record.Operation);
  if (operation !== undefined && DLP_OPERATIONS.has(operation)) return 'DLP.All';
  switch (lower(record.Workload)) {
    case 'azureactivedirectory':
      return 'Audit.AzureActiveDirectory';
    case 'exchange':
      return 'Audit.Exchange';
    case 'sharepoint':
    case 'onedrive':
      return 'Audit.SharePoint';
    default:
      return 'Audit.General';
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function preview(value: unknown): string {
  if (value === undefined) return 'absent';
  let text: string;
  try {
    text = JSON.stringify(value) ?? typeof value;
  } catch {
    text = typeof value; // nested too deep to print
  }
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/** A copy without `@odata.*` annotations. `__proto__` (an own field after JSON.parse) is kept as a field. */
function withoutAnnotations(source: Record<string, unknown>): AuditRecord {
  const record: AuditRecord = {};
  for (const [name, value] of Object.entries(source)) {
    if (name.startsWith('@odata.')) continue;
    if (name === '__proto__') {
      Object.defineProperty(record, name, { value, enumerable: true, writable: true, configurable: true });
    } else record[name] = value;
  }
  return record;
}

/**
 * The writer's own requirements (shared/writer/documents.ts): a usable Id and a parseable CreationTime,
 * so the backfilled document has the live-feed document's id and partition key.
 */
function missingIdentity(
  record: AuditRecord,
  where: string,
  showValues: boolean,
): MappedBackfillRecord | undefined {
  const shown = (value: unknown): string => (showValues ? ` (${preview(value)})` : '');
  if (recordIdOf(record.Id) === undefined) {
    return { ok: false, code: 'NoId', reason: `${where} has no usable Id${shown(record.Id)}` };
  }
  if (creationDayOf(record.CreationTime) === undefined) {
    return {
      ok: false,
      code: 'NoCreationTime',
      reason: `${where} has no parseable CreationTime${shown(record.CreationTime)}; expected YYYY-MM-DDTHH:MM:SS`,
    };
  }
  return undefined;
}

/** Epoch second of a timestamp; one without a zone is UTC (the Management API writes CreationTime so). */
function epochSecond(value: unknown): number | undefined {
  if (typeof value !== 'string') return undefined;
  const text = value.trim();
  const zoned = /(Z|[+-]\d{2}:?\d{2})$/i.test(text) ? text : `${text}Z`;
  const ms = Date.parse(zoned);
  return Number.isNaN(ms) ? undefined : Math.floor(ms / 1000);
}

/** A Graph auditLogRecord (the `/records` element) → record + content type (§2.3). */
export function fromAuditLogRecord(graphRecord: unknown): MappedBackfillRecord {
  if (!isObject(graphRecord)) {
    return {
      ok: false,
      code: 'NotObject',
      reason: 'auditLogRecord is not a JSON object',
    };
  }
  const warnings: string[] = [];
  let auditData = graphRecord.auditData;
  if (typeof auditData === 'string') {
    // Open question 2: Graph may re-serialise; JSON text of an object is still the record.
    try {
      auditData = JSON.parse(auditData) as unknown;
      warnings.push('AuditDataText: auditData was JSON text');
    } catch {
      return { ok: false, code: 'NoAuditData', reason: 'auditLogRecord: auditData is text that is not JSON' };
    }
  }
  if (!isObject(auditData)) {
    return {
      ok: false,
      code: 'NoAuditData',
      reason: 'auditLogRecord has no auditData object',
    };
  }
  let record = withoutAnnotations(auditData);
  if (recordIdOf(record.Id) === undefined && isObject(auditData.dynamicProperties)) {
    const dynamic = withoutAnnotations(auditData.dynamicProperties);
    if (recordIdOf(dynamic.Id) !== undefined) {
      record = dynamic;
      warnings.push('DynamicProperties: the record was auditData.dynamicProperties');
    }
  }
  const refused = missingIdentity(record, 'auditLogRecord: auditData', false);
  if (refused) return refused;

  crossCheck(graphRecord, record, warnings);
  return {
    ok: true,
    record,
    contentType: contentTypeOf(record),
    ...(warnings.length > 0 ? { warnings } : {}),
  };
}

/** §2.3 steps 3–4: compare wrapper and record (warnings only); fill an absent RecordType from the name. */
function crossCheck(graph: Record<string, unknown>, record: AuditRecord, warnings: string[]): void {
  const id = recordIdOf(record.Id)!;
  if (typeof graph.id === 'string' && graph.id.trim().toLowerCase() !== id.trim().toLowerCase()) {
    warnings.push('IdMismatch: auditLogRecord id is not auditData.Id');
  }
  if (graph.createdDateTime !== undefined && graph.createdDateTime !== null) {
    const graphSecond = epochSecond(graph.createdDateTime);
    if (graphSecond === undefined || graphSecond !== epochSecond(record.CreationTime)) {
      warnings.push('CreationTimeMismatch: createdDateTime is not auditData.CreationTime (to the second)');
    }
  }
  if (typeof graph.operation === 'string' && lower(graph.operation) !== lower(record.Operation)) {
    warnings.push('OperationMismatch: operation is not auditData.Operation');
  }
  const named =
    typeof graph.auditLogRecordType === 'string' ? recordTypeByName(graph.auditLogRecordType) : undefined;
  if (record.RecordType === undefined || record.RecordType === null) {
    if (named !== undefined) {
      record.RecordType = named;
      warnings.push(`RecordTypeFromName: ${preview(graph.auditLogRecordType)} → ${named}`);
    } else {
      warnings.push(
        `RecordTypeUnknown: auditData has no RecordType and auditLogRecordType ${preview(graph.auditLogRecordType)} ` +
          'is not in the name table',
      );
    }
    return;
  }
  const number = recordTypeNumber(record.RecordType);
  if (number === undefined) {
    warnings.push('RecordTypeNotNumeric: auditData.RecordType is neither a number nor a numeric string');
  } else if (named !== undefined && named !== number) {
    warnings.push(
      `RecordTypeMismatch: auditLogRecordType ${preview(graph.auditLogRecordType)} vs RecordType ${number}`,
    );
  }
}

/** An export's AuditData cell (Management API JSON text) → record + content type (§4.4). */
export function fromAuditDataJson(text: string): MappedBackfillRecord {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    return {
      ok: false,
      code: 'NotJson',
      reason: `AuditData is not JSON (${(e as Error).message}; starts with ${preview(text.slice(0, 40))})`,
    };
  }
  if (!isObject(parsed)) {
    return { ok: false, code: 'NotObject', reason: `AuditData is not a JSON object (${preview(parsed)})` };
  }
  const refused = missingIdentity(parsed, 'AuditData', true);
  if (refused) return refused;
  const recordType = parsed.RecordType;
  if (typeof recordType === 'string' && recordTypeNumber(recordType) === undefined) {
    return {
      ok: false,
      code: 'FormattedRecordType',
      reason:
        `AuditData has RecordType ${preview(recordType)}, a name instead of the number: output of ` +
        'Search-UnifiedAuditLog -Formatted, whose AuditData is not the raw record; export again without -Formatted',
    };
  }
  return { ok: true, record: parsed, contentType: contentTypeOf(parsed) };
}
