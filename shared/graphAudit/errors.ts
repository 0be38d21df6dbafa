import { ApiRequestError, AuditfeedError, type ApiRequestErrorDetails } from '../errors';
import type { AuditLogQuery } from './types';

/** The application permission a backfill of every content type needs (docs/backfill-reference.md §1.4). */
export const AUDIT_QUERY_PERMISSION = 'AuditLogsQuery.Read.All';

/** A call to Microsoft Graph's audit log query API failed. `request` leaves the query string out. */
export class GraphAuditError extends ApiRequestError {
  constructor(message: string, details: ApiRequestErrorDetails, code = 'GraphAuditError') {
    super(message, details, code);
  }
}

/**
 * 429 (or 503 with Retry-After) beyond what the client waits for itself. `retryAfterMs` is the service's
 * Retry-After when it sent one: wait that long before the next submission (a daily limit can mean hours).
 */
export class GraphThrottledError extends GraphAuditError {
  constructor(message: string, details: ApiRequestErrorDetails, retryAfterMs: number | undefined) {
    super(message, { ...details, throttled: true, retryAfterMs }, 'GraphThrottled');
  }
}

/** 403: the app's token lacks AuditLogsQuery.Read.All (or consent was never granted in this tenant). */
export class GraphPermissionError extends GraphAuditError {
  constructor(
    tenantId: string,
    serviceMessage: string,
    details: ApiRequestErrorDetails,
    consent: { loginHost: string; clientId?: string | undefined } = {
      loginHost: 'https://login.microsoftonline.com',
    },
  ) {
    super(
      `Microsoft Graph refused the audit log query for tenant ${tenantId} (${details.request}: HTTP ${String(
        details.status,
      )}${details.serviceCode ? ` ${details.serviceCode}` : ''}: ${serviceMessage}). The app registration needs ` +
        `the Microsoft Graph application permission ${AUDIT_QUERY_PERMISSION} with admin consent in that tenant: ` +
        `Entra admin center > App registrations > the auditfeed app > API permissions > Add a permission > ` +
        `Microsoft Graph > Application permissions > ${AUDIT_QUERY_PERMISSION}, then "Grant admin consent" ` +
        `(or open ${consent.loginHost}/${tenantId}/adminconsent?client_id=${consent.clientId ?? '<app id>'} as an admin of ` +
        `that tenant). New permissions reach tokens issued after the consent, within minutes.`,
      details,
      'GraphPermissionMissing',
    );
  }
}

/** A success status whose body is not the documented JSON (cut off, wrong shape). */
export class GraphMalformedResponseError extends GraphAuditError {
  constructor(message: string, details: ApiRequestErrorDetails) {
    super(message, details, 'GraphMalformedResponse');
  }
}

/** An audit log query ended `failed` or `cancelled`: its records cannot be read; submit it again. */
export class AuditQueryFailedError extends AuditfeedError {
  constructor(
    readonly tenantId: string,
    readonly query: AuditLogQuery,
  ) {
    super(
      `The audit log query ${query.id} for tenant ${tenantId} (${query.filterStartDateTime ?? '?'} to ${
        query.filterEndDateTime ?? '?'
      }) ended with status ${query.status}; Microsoft Graph gives no reason. Submitting the same range again ` +
        `usually works; if it keeps failing, split the range.`,
      'AuditQueryFailed',
    );
  }
}

/**
 * The audit log query API is not offered in this cloud: Microsoft documents it for the global service only
 * (docs/backfill-reference.md §1.6). The offline path works everywhere.
 */
export class GraphAuditUnavailableError extends AuditfeedError {
  constructor(
    readonly cloud: string,
    detail?: string,
  ) {
    super(
      `Microsoft Graph's audit log query API is not available for cloud ${cloud}${detail ? ` (${detail})` : ''}: ` +
        `Microsoft documents it for the global service only, so auditfeed cannot backfill from it here. ` +
        `Export the history instead — an audit search export from the Microsoft Purview portal or ` +
        `Search-UnifiedAuditLog output as CSV with its AuditData column — and load it with ` +
        `\`auditfeed import <file>\` (docs/backfill-mapping.md).`,
      'GraphAuditUnavailable',
    );
  }
}
