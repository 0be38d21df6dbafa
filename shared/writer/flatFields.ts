import type { AuditRecord } from '../contentTypes';
import { normalizeClientIp } from './clientIp';
import { nameValues, scalarText } from './nameValues';
import { userKeyOf } from './recordIdentity';

/**
 * Flat, scalar copies of values investigators need that the service nests or spells inconsistently.
 * Reporting tools (Fabric mirroring turns nested values into JSON strings) and SQL filters want top-level
 * scalars of one type, so every value here has one type whatever the record's spelling (numbers as strings,
 * lists given as one string, missing fields). The originals stay in the document untouched.
 */
export interface FlatFields {
  /** Client IP without port or brackets, from ClientIP, ClientIPAddress or ActorIpAddress. */
  clientIp?: string;
  /** Lower-cased UserId (else UserKey): the user the partition key is derived from. */
  user?: string;
  /** RecordType as a number (31 of 104 sample records spell it as a string). */
  recordType?: number;
  userAgent?: string;
  /** Azure AD sign-ins: Success / Redirect / UserError. */
  resultStatusDetail?: string;
  logonError?: string;
  /** AADSTS error number as text (`"50126"`; `"0"` is success). */
  errorNumber?: string;
  /** Name of the inbox rule created or changed (New-/Set-/Enable-InboxRule, UpdateInboxRules). */
  inboxRuleName?: string;
  forwardTo?: string;
  redirectTo?: string;
  forwardAsAttachmentTo?: string;
  forwardingSmtpAddress?: string;
  forwardingAddress?: string;
  deliverToMailboxAndForward?: boolean;
  /** MailItemsAccessed: Bind or Sync. */
  mailAccessType?: string;
  fileName?: string;
  siteUrl?: string;
  /** DLP: names of the matched policies / rules, `; `-separated when more than one. */
  dlpPolicyName?: string;
  dlpRuleName?: string;
  /** DLP: highest severity of the matched rules. */
  dlpSeverity?: string;
  /** DLP: sensitive information types matched (names when the service gives them, else their GUIDs). */
  dlpSensitiveTypes?: string;
}

/** Every name FlatFields can set: reserved in documents whether or not a given record has a value. */
export const FLAT_FIELD_NAMES = [
  'clientIp',
  'user',
  'recordType',
  'userAgent',
  'resultStatusDetail',
  'logonError',
  'errorNumber',
  'inboxRuleName',
  'forwardTo',
  'redirectTo',
  'forwardAsAttachmentTo',
  'forwardingSmtpAddress',
  'forwardingAddress',
  'deliverToMailboxAndForward',
  'mailAccessType',
  'fileName',
  'siteUrl',
  'dlpPolicyName',
  'dlpRuleName',
  'dlpSeverity',
  'dlpSensitiveTypes',
] as const satisfies readonly (keyof FlatFields)[];

const CLIENT_IP_FIELDS = ['ClientIP', 'ClientIp', 'ClientIPAddress', 'ActorIpAddress'];
const SEVERITY_ORDER = ['informational', 'low', 'medium', 'high'];

export function flatFields(record: AuditRecord): FlatFields {
  const out: FlatFields = {};
  const set = <K extends keyof FlatFields>(key: K, value: FlatFields[K] | undefined): void => {
    if (value !== undefined && value !== '') out[key] = value;
  };

  set('clientIp', firstDefined(CLIENT_IP_FIELDS.map((f) => normalizeClientIp(record[f]))));
  set('user', userKeyOf(record));
  set('recordType', integerOf(record.RecordType));

  const extended = nameValues(record.ExtendedProperties);
  set(
    'userAgent',
    extended.get('useragent') ?? nonEmptyText(record.UserAgent) ?? userAgentFromDetails(extended),
  );
  set('resultStatusDetail', extended.get('resultstatusdetail') ?? nonEmptyText(record.ResultStatusDetail));
  set('logonError', nonEmptyText(record.LogonError));
  set('errorNumber', nonEmptyText(record.ErrorNumber) ?? nonEmptyText(record.ErrorCode));

  const operation = typeof record.Operation === 'string' ? record.Operation : '';
  const parameters = nameValues(record.Parameters);
  const operationProperties = nameValues(record.OperationProperties);
  if (/InboxRule$/i.test(operation)) set('inboxRuleName', parameters.get('name'));
  else if (/^UpdateInboxRules$/i.test(operation)) set('inboxRuleName', operationProperties.get('rulename'));
  set('forwardTo', parameters.get('forwardto'));
  set('redirectTo', parameters.get('redirectto'));
  set('forwardAsAttachmentTo', parameters.get('forwardasattachmentto'));
  set('forwardingSmtpAddress', parameters.get('forwardingsmtpaddress'));
  set('forwardingAddress', parameters.get('forwardingaddress'));
  set('deliverToMailboxAndForward', booleanOf(parameters.get('delivertomailboxandforward')));
  set('mailAccessType', operationProperties.get('mailaccesstype'));

  const spMeta = objectOf(record.SharePointMetaData);
  set('fileName', nonEmptyText(record.SourceFileName) ?? nonEmptyText(spMeta?.FileName));
  set('siteUrl', nonEmptyText(record.SiteUrl) ?? nonEmptyText(spMeta?.SiteCollectionUrl));

  Object.assign(out, dlpFields(record.PolicyDetails));
  return out;
}

function dlpFields(
  value: unknown,
): Pick<FlatFields, 'dlpPolicyName' | 'dlpRuleName' | 'dlpSeverity' | 'dlpSensitiveTypes'> {
  const policies = listOf(value);
  if (policies.length === 0) return {};
  const policyNames = new Set<string>();
  const ruleNames = new Set<string>();
  const types = new Set<string>();
  let severity: string | undefined;
  for (const policy of policies.map(objectOf)) {
    addText(policyNames, policy?.PolicyName);
    for (const rule of listOf(policy?.Rules).map(objectOf)) {
      addText(ruleNames, rule?.RuleName);
      const s = nonEmptyText(rule?.Severity);
      if (s !== undefined && (severity === undefined || rank(s) > rank(severity))) severity = s;
      const matched = objectOf(rule?.ConditionsMatched);
      for (const info of listOf(matched?.SensitiveInformation).map(objectOf)) {
        addText(types, info?.SensitiveInformationTypeName ?? info?.SensitiveType);
      }
    }
  }
  const joined = (set: Set<string>): string | undefined => (set.size > 0 ? [...set].join('; ') : undefined);
  const out: Pick<FlatFields, 'dlpPolicyName' | 'dlpRuleName' | 'dlpSeverity' | 'dlpSensitiveTypes'> = {};
  const policyName = joined(policyNames);
  const ruleName = joined(ruleNames);
  const sensitiveTypes = joined(types);
  if (policyName !== undefined) out.dlpPolicyName = policyName;
  if (ruleName !== undefined) out.dlpRuleName = ruleName;
  if (severity !== undefined) out.dlpSeverity = severity;
  if (sensitiveTypes !== undefined) out.dlpSensitiveTypes = sensitiveTypes;
  return out;
}

function rank(severity: string): number {
  return SEVERITY_ORDER.indexOf(severity.toLowerCase());
}

/** Azure AD directory events carry the user agent inside `additionalDetails` JSON. */
function userAgentFromDetails(extended: Map<string, string>): string | undefined {
  const details = extended.get('additionaldetails');
  if (details === undefined) return undefined;
  try {
    const parsed = objectOf(JSON.parse(details));
    return nonEmptyText(parsed?.['User-Agent'] ?? parsed?.UserAgent);
  } catch {
    return undefined;
  }
}

function firstDefined<T>(values: (T | undefined)[]): T | undefined {
  return values.find((v) => v !== undefined);
}

function nonEmptyText(value: unknown): string | undefined {
  const text = scalarText(value);
  return text === undefined || text.trim() === '' ? undefined : text;
}

function addText(set: Set<string>, value: unknown): void {
  const text = nonEmptyText(value);
  if (text !== undefined) set.add(text);
}

/** Whole numbers, also when spelled as strings ("14", "1.0"). */
function integerOf(value: unknown): number | undefined {
  const n =
    typeof value === 'number'
      ? value
      : typeof value === 'string' && value.trim() !== ''
        ? Number(value)
        : NaN;
  return Number.isInteger(n) ? n : undefined;
}

function booleanOf(value: string | undefined): boolean | undefined {
  if (value === undefined) return undefined;
  const v = value.trim().toLowerCase();
  return v === 'true' ? true : v === 'false' ? false : undefined;
}

/** Objects, also when the service sent them as JSON text. */
function objectOf(value: unknown): Record<string, unknown> | undefined {
  const parsed = typeof value === 'string' ? parseJson(value) : value;
  return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)
    ? (parsed as Record<string, unknown>)
    : undefined;
}

/** Lists, also when sent as JSON text; a single object counts as a list of one. */
function listOf(value: unknown): unknown[] {
  const parsed = typeof value === 'string' ? parseJson(value) : value;
  if (Array.isArray(parsed)) return parsed;
  return typeof parsed === 'object' && parsed !== null ? [parsed] : [];
}

function parseJson(text: string): unknown {
  const t = text.trimStart();
  if (!t.startsWith('{') && !t.startsWith('[')) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
