/**
 * Microsoft Graph audit log query API (v1.0 `/security/auditLog/queries`), the shapes auditfeed reads
 * (docs/backfill-reference.md §1). The backfill engine works against `AuditLogQueryApi`; the HTTP client
 * (client.ts) is its one implementation.
 */

/** Documented statuses; an unknown future value is kept as a string and treated as "still running". */
export type AuditLogQueryStatus =
  'notStarted' | 'running' | 'succeeded' | 'failed' | 'cancelled' | 'unknownFutureValue' | (string & {});

export interface AuditLogQueryRequest {
  displayName: string;
  /** ISO 8601 UTC. */
  filterStartDateTime: string;
  /** ISO 8601 UTC. */
  filterEndDateTime: string;
  /** Graph enum names; omitted = all record types (the backfill classifies client-side, §3.3). */
  recordTypeFilters?: string[];
  serviceFilters?: string[];
}

export interface AuditLogQuery {
  id: string;
  displayName?: string;
  filterStartDateTime?: string;
  filterEndDateTime?: string;
  status: AuditLogQueryStatus;
  /** true: the query stopped at recordCountLimit; its records are incomplete (split the window). */
  isRecordCountLimitExceeded?: boolean;
  approximateReturnedRecordCount?: number;
  recordCountLimit?: number;
}

export interface AuditLogRecordPage {
  /** auditLogRecord objects as Graph returns them (mapped by shared/backfill/recordMapping.ts). */
  records: unknown[];
  /** `@odata.nextLink`, already checked to point at the configured Graph host; absent on the last page. */
  nextLink?: string;
}

export interface AuditLogCallOptions {
  abortSignal?: AbortSignal;
}

export interface AuditLogQueryApi {
  createQuery(
    tenantId: string,
    request: AuditLogQueryRequest,
    options?: AuditLogCallOptions,
  ): Promise<AuditLogQuery>;
  getQuery(tenantId: string, queryId: string, options?: AuditLogCallOptions): Promise<AuditLogQuery>;
  /** The first page of a succeeded query's records, or the page `nextLink` names. */
  listRecords(
    tenantId: string,
    queryId: string,
    nextLink?: string,
    options?: AuditLogCallOptions,
  ): Promise<AuditLogRecordPage>;
}
