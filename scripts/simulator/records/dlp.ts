import type { AuditRecord } from '../../../shared/contentTypes';
import type { Rng } from '../rng';
import type { Ctx, SimDlpPolicy, SimSensitiveType, SimUser } from './common';
import {
  addSeconds,
  baseRecord,
  fileName,
  formatCreationTime,
  internetMessageId,
  personalSite,
  subject,
  weighted,
  guid,
} from './common';

export interface DetectedValue {
  Name: string;
  Value: string;
}

function digits(rng: Rng, n: number): string {
  let s = '';
  while (s.length < n) s += String(rng.int(0, 999_999_999)).padStart(9, '0');
  return s.slice(0, n);
}

/** Values shaped like the type but outside valid issuing ranges (900-series SSNs, 4000-prefixed cards). */
export function detectedValue(rng: Rng, type: SimSensitiveType): DetectedValue {
  let value: string;
  if (/Social Security/.test(type.name)) value = `9${digits(rng, 2)}-${digits(rng, 2)}-${digits(rng, 4)}`;
  else if (/Taxpayer/.test(type.name)) value = `9${digits(rng, 2)}-7${digits(rng, 1)}-${digits(rng, 4)}`;
  else if (/IBAN/.test(type.name))
    value = `DE00 ${digits(rng, 4)} ${digits(rng, 4)} ${digits(rng, 4)} ${digits(rng, 4)} ${digits(rng, 2)}`;
  else if (/Passport/.test(type.name)) value = `X${digits(rng, 8)}`;
  else if (/Routing|Bank Account/.test(type.name)) value = digits(rng, 9);
  else value = `4000 ${digits(rng, 4)} ${digits(rng, 4)} ${digits(rng, 4)}`;
  return { Name: type.name, Value: value };
}

interface SensitiveMatch {
  type: SimSensitiveType;
  count: number;
  /** Only when the tenant exports detections (SensitiveInfoDetectionIsIncluded). */
  detected?: DetectedValue[];
}

function policyDetails(
  rng: Rng,
  policy: SimDlpPolicy,
  matches: SensitiveMatch[],
  location: string | undefined,
  reportTo: string,
): unknown[] {
  const total = matches.reduce((s, m) => s + m.count, 0);
  const rule = total >= 10 ? (policy.rules[1] ?? policy.rules[0]) : policy.rules[0];
  if (!rule) throw new Error(`DLP policy ${policy.policyName} has no rules`);
  return [
    {
      PolicyId: policy.policyId,
      PolicyName: policy.policyName,
      Rules: [
        {
          ActionParameters: rule.actions.includes('GenerateIncidentReport')
            ? [`GenerateIncidentReport:${reportTo}`]
            : [],
          Actions: [...rule.actions],
          ConditionsMatched: {
            SensitiveInformation: matches.map((m) => {
              const entry: Record<string, unknown> = {
                Confidence: rng.pick([75, 85, 95]),
                Count: m.count,
              };
              if (location) entry.Location = location;
              entry.SensitiveType = m.type.id;
              entry.SensitiveInformationTypeName = m.type.name;
              entry.UniqueCount = Math.max(1, m.count - rng.int(0, Math.floor(m.count / 3)));
              if (m.detected) {
                entry.SensitiveInformationDetections = {
                  DetectedValues: m.detected,
                  ResultsTruncated: false,
                };
              }
              return entry;
            }),
          },
          OverriddenActions: [],
          RuleId: rule.ruleId,
          RuleMode: 'Enable',
          RuleName: rule.ruleName,
          Severity: rule.severity,
        },
      ],
    },
  ];
}

export interface DlpOptions {
  workload?: 'SharePoint' | 'OneDrive' | 'Exchange';
  /** Force SensitiveInfoDetectionIsIncluded with this many detected values (the large-record case). */
  detectedValues?: number;
  /** Which user's content matched; random when absent. */
  user?: SimUser;
}

function matchesFor(
  rng: Rng,
  policy: SimDlpPolicy,
  detectedValues: number | undefined,
  included: boolean,
): SensitiveMatch[] {
  const types = policy.sensitiveTypes.slice(
    0,
    weighted(rng, [
      [1, 7],
      [2, 3],
    ] as const),
  );
  return types.map((type, i) => {
    const count =
      detectedValues !== undefined
        ? Math.ceil(detectedValues / types.length)
        : weighted(rng, [
            [rng.int(1, 3), 6],
            [rng.int(4, 9), 3],
            [rng.int(10, 60), 2],
          ] as const);
    const m: SensitiveMatch = { type, count };
    if (included) {
      const n =
        detectedValues !== undefined
          ? Math.max(0, Math.min(count, detectedValues - i * count))
          : Math.min(count, 10);
      m.detected = Array.from({ length: n }, () => detectedValue(rng, type));
    }
    return m;
  });
}

/** DLP.All record: RecordType 11 (SharePoint/OneDrive) or 13 (Exchange), UserType 4 (System). */
export function dlpRecord(ctx: Ctx, o: DlpOptions = {}): AuditRecord {
  const { rng, tenant } = ctx;
  const workload =
    o.workload ??
    weighted(rng, [
      ['OneDrive', 35],
      ['SharePoint', 30],
      ['Exchange', 35],
    ] as const);
  const user = o.user ?? rng.pick(tenant.users);
  const policy = rng.pick(tenant.dlpPolicies);
  const included = o.detectedValues !== undefined || rng.chance(0.2);
  const matches = matchesFor(rng, policy, o.detectedValues, included);
  const reportTo = rng.pick(tenant.admins).upn;
  const incidentId = guid(rng);

  if (workload === 'Exchange') {
    const messageId = internetMessageId(rng, tenant);
    const recipients = Array.from({ length: rng.int(1, 4) }, () =>
      rng.chance(0.6)
        ? rng.pick(tenant.users).upn
        : `${rng.pick(['ap', 'sales', 'info', 'jo'])}@${rng.pick(['partner.example.com', 'example.org'])}`,
    );
    const r = baseRecord(ctx, {
      recordType: 13,
      // Exchange DLP payloads spell it this way; SharePoint's say DLPRuleMatch.
      operation: 'DlpRuleMatch',
      userKey: digits(rng, 19).replace(/^0/, '1'),
      userType: 4,
      workload: 'Exchange',
      objectId: messageId,
      userId: 'DlpAgent',
    });
    r.ExchangeMetaData = {
      BCC: [],
      CC: rng.chance(0.3) ? [rng.pick(tenant.users).upn] : [],
      FileSize: rng.int(5_000, 900_000),
      From: user.upn,
      MessageID: messageId,
      RecipientCount: recipients.length,
      Sent: formatCreationTime(addSeconds(ctx.time, -rng.int(5, 120))),
      Subject: subject(rng),
      To: recipients,
      UniqueID: guid(rng),
    };
    r.IncidentId = incidentId;
    r.PolicyDetails = policyDetails(rng, policy, matches, rng.pick(['Message Body', 'Attachment']), reportTo);
    r.SensitiveInfoDetectionIsIncluded = included;
    return r;
  }

  const site = workload === 'OneDrive' ? personalSite(tenant, user) : rng.pick(tenant.sites);
  const f = fileName(rng);
  const uniqueId = guid(rng);
  const assistant =
    workload === 'OneDrive'
      ? 'DlpPolicyEventBasedAssistantOneDriveForBusiness'
      : rng.pick(['DLPAgent', 'DlpAgent']);
  const r = baseRecord(ctx, {
    recordType: 11,
    operation: 'DLPRuleMatch',
    userKey: assistant,
    userType: 4,
    workload,
    objectId: uniqueId,
    userId: assistant,
  });
  const created = addSeconds(ctx.time, -rng.int(60, 86_400 * 30));
  r.IncidentId = incidentId;
  r.PolicyDetails = policyDetails(rng, policy, matches, undefined, reportTo);
  r.SensitiveInfoDetectionIsIncluded = included;
  r.SharePointMetaData = {
    From: user.upn,
    ItemCreationTime: formatCreationTime(created),
    ItemLastModifiedTime: formatCreationTime(addSeconds(ctx.time, -rng.int(5, 600))),
    SiteCollectionGuid: site.siteId,
    SiteCollectionUrl: site.url.replace(/\/$/, ''),
    FileName: f.name,
    FileOwner: rng.chance(0.5) ? user.displayName : user.upn,
    FilePathUrl: `${site.url}${encodeURI(`${site.library}/${f.name}`)}`,
    FileSize: rng.int(8_000, 4_000_000),
    IsViewableByExternalUsers: rng.chance(0.1),
    UniqueID: uniqueId,
  };
  return r;
}

export function makeDlpRecord(ctx: Ctx): AuditRecord {
  return dlpRecord(ctx);
}
