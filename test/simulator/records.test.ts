import { Rng } from '../../scripts/simulator/rng';
import type { MakeRecordOptions, TenantProfile } from '../../scripts/simulator/records';
import {
  EDGE_CASE_RATES,
  formatCreationTime,
  makeLargeRecord,
  makeRecord,
  makeTenantProfile,
} from '../../scripts/simulator/records';
import type { AuditRecord, ContentType } from '../../shared/contentTypes';
import { CONTENT_TYPES } from '../../shared/contentTypes';
import { isGuid } from '../../shared/guid';

const TENANT_ID = '5b7a2f3e-9c41-4d0a-8e2b-6f1d3c8a9e07';
const T0 = Date.UTC(2026, 4, 4, 8, 0, 0);

const FAMILIES: Record<ContentType, number[]> = {
  'Audit.AzureActiveDirectory': [8, 15],
  'Audit.Exchange': [1, 2, 3, 50, 101],
  'Audit.SharePoint': [4, 6, 14],
  'Audit.General': [20, 22, 25, 40, 64, 261],
  'DLP.All': [11, 13],
};
const WORKLOADS: Record<ContentType, string[]> = {
  'Audit.AzureActiveDirectory': ['AzureActiveDirectory'],
  'Audit.Exchange': ['Exchange'],
  'Audit.SharePoint': ['SharePoint', 'OneDrive'],
  'Audit.General': [
    'MicrosoftTeams',
    'PowerBI',
    'Yammer',
    'SecurityComplianceCenter',
    'Copilot',
    'AirInvestigation',
  ],
  'DLP.All': ['SharePoint', 'OneDrive', 'Exchange'],
};

function tenant(seed = 'tenant'): TenantProfile {
  return makeTenantProfile(TENANT_ID, new Rng(seed), 40);
}

function generate(
  seed: string | number,
  contentType: ContentType,
  count: number,
  options?: MakeRecordOptions,
): AuditRecord[] {
  const t = tenant();
  const rng = new Rng(seed);
  return Array.from({ length: count }, (_, i) =>
    makeRecord(contentType, new Date(T0 + i * 7_000), t, rng, options),
  );
}

/** Generated once and shared: record generation dominates this file's run time. */
const cache = new Map<string, AuditRecord[]>();
function shared(kind: 'clean' | 'edgy', ct: ContentType): AuditRecord[] {
  const key = `${kind}:${ct}`;
  let records = cache.get(key);
  if (!records) {
    records =
      kind === 'clean'
        ? generate(`clean:${ct}`, ct, 600, { edgeCases: false })
        : generate(`edgy:${ct}`, ct, 800);
    cache.set(key, records);
  }
  return records;
}

interface DlpPolicy {
  PolicyId: string;
  PolicyName: string;
  Rules: Array<{
    RuleId: string;
    RuleName: string;
    Severity: string;
    Actions: string[];
    ConditionsMatched: { SensitiveInformation: Array<Record<string, unknown>> };
  }>;
}

const bytes = (r: unknown): number => Buffer.byteLength(JSON.stringify(r), 'utf8');

function nameValue(list: unknown, name: string): string | undefined {
  if (!Array.isArray(list)) return undefined;
  const hit = (list as Array<{ Name?: unknown; Value?: unknown }>).find((e) => e.Name === name);
  return typeof hit?.Value === 'string' ? hit.Value : undefined;
}

/** The address inside a ClientIP, independent of the generator's own helper. */
function addressOf(clientIp: string): string {
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(clientIp);
  if (bracketed?.[1]) return bracketed[1];
  const v4port = /^(\d{1,3}(?:\.\d{1,3}){3}):\d+$/.exec(clientIp);
  return v4port?.[1] ?? clientIp;
}

function countBy<T>(items: T[], key: (t: T) => string): Map<string, number> {
  const m = new Map<string, number>();
  for (const it of items) m.set(key(it), (m.get(key(it)) ?? 0) + 1);
  return m;
}

function mostCommon(records: AuditRecord[]): string {
  return (
    [...countBy(records, (r) => String(r.Operation)).entries()].sort((a, b) => b[1] - a[1])[0]?.[0] ?? ''
  );
}

/** Observed rate within ~4.5σ of p (binomial), and seen at least once. */
function expectRate(hits: number, n: number, p: number): void {
  const tolerance = 4.5 * Math.sqrt((p * (1 - p)) / n) + 1 / n;
  expect(hits).toBeGreaterThan(0);
  expect(Math.abs(hits / n - p)).toBeLessThanOrEqual(tolerance);
}

describe('formatCreationTime', () => {
  it('writes UTC seconds without zone or fraction', () => {
    expect(formatCreationTime(new Date(Date.UTC(2026, 4, 4, 9, 12, 40, 987)))).toBe('2026-05-04T09:12:40');
    expect(formatCreationTime(new Date('2026-01-01T00:30:00+02:00'))).toBe('2025-12-31T22:30:00');
  });

  it('rejects an invalid date', () => {
    expect(() => formatCreationTime(new Date(Number.NaN))).toThrow();
  });
});

describe('makeTenantProfile', () => {
  it('is deterministic and builds a usable directory', () => {
    const a = tenant('x');
    expect(JSON.stringify(tenant('x'))).toBe(JSON.stringify(a));
    expect(JSON.stringify(tenant('y'))).not.toBe(JSON.stringify(a));

    expect(a.tenantId).toBe(TENANT_ID);
    expect(a.users).toHaveLength(40);
    expect(new Set(a.users.map((u) => u.upn)).size).toBe(40);
    for (const u of a.users) {
      expect(u.upn.endsWith(`@${a.domain}`)).toBe(true);
      expect(u.upn).toMatch(/^[a-z0-9.-]+@[a-z0-9.-]+$/);
      expect(isGuid(u.objectId)).toBe(true);
      expect(u.puid).toMatch(/^1003[0-9A-F]{12}$/);
      // Reserved documentation/benchmark ranges only.
      expect(u.homeIp).toMatch(/^(198\.18\.\d+\.\d+|2001:db8:[0-9a-f:]+)$/);
      expect(u.homeCountry).toMatch(/^[A-Z]{2}$/);
    }
    expect(a.admins.length).toBeGreaterThan(0);
    for (const admin of a.admins) expect(a.users).toContain(admin);
    expect(a.sites.length).toBeGreaterThan(0);
    expect(a.dlpPolicies.length).toBeGreaterThan(0);
  });
});

describe('makeRecord', () => {
  it('is a pure function of the seed (byte-identical JSON)', () => {
    for (const ct of CONTENT_TYPES) {
      const a = JSON.stringify(generate(11, ct, 80));
      expect(JSON.stringify(generate(11, ct, 80))).toBe(a);
      expect(JSON.stringify(generate(12, ct, 80))).not.toBe(a);
    }
  });

  it.each(CONTENT_TYPES.map((ct) => [ct]))('%s: common fields and RecordType family', (ct) => {
    const records = shared('clean', ct);
    const seenTypes = new Set<number>();
    // Collected rather than one expect per field: 600 records × 14 expects costs seconds in Jest.
    const problems = records.flatMap((r, i) => {
      const p: string[] = [];
      if (!isGuid(String(r.Id))) p.push('Id');
      if (r.CreationTime !== formatCreationTime(new Date(T0 + i * 7_000))) p.push('CreationTime');
      if (typeof r.RecordType !== 'number' || !FAMILIES[ct].includes(r.RecordType)) p.push('RecordType');
      else seenTypes.add(r.RecordType);
      if (typeof r.Operation !== 'string' || r.Operation === '') p.push('Operation');
      if (r.OrganizationId !== TENANT_ID) p.push('OrganizationId');
      if (typeof r.UserType !== 'number') p.push('UserType');
      if (typeof r.UserKey !== 'string') p.push('UserKey');
      if (typeof r.UserId !== 'string' || r.UserId === '') p.push('UserId');
      if (!WORKLOADS[ct].includes(String(r.Workload))) p.push('Workload');
      if (r.Version !== 1) p.push('Version');
      return p.map((field) => `${String(r.Operation)} #${i}: ${field}`);
    });
    expect(problems).toEqual([]);
    // A mix, not one shape: every family member except the rare ones shows up.
    const rare = new Set([64]);
    for (const t of FAMILIES[ct]) if (!rare.has(t)) expect(seenTypes).toContain(t);
    expect(new Set(records.map((r) => r.Operation)).size).toBeGreaterThanOrEqual(ct === 'DLP.All' ? 2 : 6);
  });

  it('weights operations like a real tenant', () => {
    expect(mostCommon(shared('clean', 'Audit.AzureActiveDirectory'))).toBe('UserLoggedIn');
    expect(mostCommon(shared('clean', 'Audit.Exchange'))).toBe('MailItemsAccessed');
    expect(mostCommon(shared('clean', 'Audit.SharePoint'))).toBe('FileAccessed');
    const aad = shared('clean', 'Audit.AzureActiveDirectory');
    const failed = aad.filter((r) => r.Operation === 'UserLoginFailed').length;
    expect(failed / aad.length).toBeGreaterThan(0.06);
    expect(failed / aad.length).toBeLessThan(0.25);
  });

  it('Azure AD sign-ins carry the STS logon fields', () => {
    const records = shared('clean', 'Audit.AzureActiveDirectory');
    const logons = records.filter((r) => r.RecordType === 15);
    expect(logons.some((r) => r.Operation === 'UserLoginFailed')).toBe(true);
    for (const r of logons) {
      expect(r.AzureActiveDirectoryEventType).toBe(1);
      for (const n of ['ResultStatusDetail', 'UserAgent', 'UserAuthenticationMethod', 'RequestType']) {
        expect(nameValue(r.ExtendedProperties, n)).toBeDefined();
      }
      expect(Array.isArray(r.Actor) && Array.isArray(r.Target) && Array.isArray(r.DeviceProperties)).toBe(
        true,
      );
      expect(r.ActorIpAddress).toBe(r.ClientIP);
      expect(isGuid(String(r.ApplicationId))).toBe(true);
      if (r.Operation === 'UserLoginFailed') {
        expect(r.ResultStatus).toBe('Failed');
        expect(r.ErrorNumber).toMatch(/^\d{5}$/);
        expect(typeof r.LogonError).toBe('string');
      } else {
        expect(r.ResultStatus).toBe('Succeeded');
        expect(nameValue(r.ExtendedProperties, 'ResultStatusDetail')).toBe('Success');
      }
    }
    const updates = records.filter((r) => r.Operation === 'Update application.');
    expect(updates.length).toBeGreaterThan(0);
    for (const r of updates) {
      expect(r.RecordType).toBe(8);
      const props = r.ModifiedProperties as Array<{ Name: string; NewValue: string; OldValue: string }>;
      const access = props.find((p) => p.Name === 'RequiredResourceAccess');
      expect(access).toBeDefined();
      // JSON inside a string, CRLF-indented like the service writes it.
      expect(access?.NewValue).toContain('\r\n');
      expect(Array.isArray(JSON.parse(access?.NewValue ?? ''))).toBe(true);
    }
  });

  it('Exchange records carry mailbox, item and cmdlet shapes', () => {
    const records = shared('clean', 'Audit.Exchange');
    const mia = records.filter((r) => r.Operation === 'MailItemsAccessed');
    expect(mia.length).toBeGreaterThan(0);
    for (const r of mia) {
      expect(r.RecordType).toBe(50);
      const access = nameValue(r.OperationProperties, 'MailAccessType');
      expect(['Bind', 'Sync']).toContain(access);
      expect(nameValue(r.OperationProperties, 'IsThrottled')).toBe('False');
      expect(isGuid(String(r.MailboxGuid))).toBe(true);
      expect(r.MailboxOwnerUPN).toBe(r.UserId);
      expect(r.OriginatingServer).toMatch(/^[A-Z0-9]+ \(15\.20\.\d+\.\d{3}\)\n?$/);
      expect(r.ClientIPAddress).toBe(addressOf(String(r.ClientIP)));
      const folders = r.Folders as Array<{
        Path: string;
        FolderItems?: Array<{ InternetMessageId: string }>;
      }>;
      if (access === 'Bind') {
        const items = folders.flatMap((f) => f.FolderItems ?? []);
        expect(r.OperationCount).toBe(items.length);
        for (const it of items) expect(it.InternetMessageId).toMatch(/^<[A-Z0-9]+@[A-Za-z0-9.]+>$/);
      } else {
        expect(folders).toHaveLength(1);
      }
    }
    // Exchange puts the client's port on ClientIP.
    expect(records.some((r) => /^\d+\.\d+\.\d+\.\d+:\d+$/.test(String(r.ClientIP)))).toBe(true);
    expect(records.some((r) => /^\[[0-9a-f:]+\]:\d+$/.test(String(r.ClientIP)))).toBe(true);

    const send = records.filter((r) => r.Operation === 'Send');
    expect(send.length).toBeGreaterThan(0);
    for (const r of send) {
      const item = r.Item as { Subject: string; ParentFolder: { Path: string } };
      expect(typeof item.Subject).toBe('string');
      expect(item.ParentFolder.Path).toBe('\\Sent Items');
    }
    const deletes = records.filter(
      (r) => r.Operation === 'MoveToDeletedItems' || r.Operation === 'SoftDelete',
    );
    expect(deletes.length).toBeGreaterThan(0);
    for (const r of deletes) {
      const items = r.AffectedItems as Array<{ Subject: string; ParentFolder: { Path: string } }>;
      expect(items.length).toBeGreaterThan(0);
      expect(typeof items[0]?.ParentFolder.Path).toBe('string');
    }

    const cmdlets = records.filter((r) => r.RecordType === 1);
    expect(new Set(cmdlets.map((r) => r.Operation))).toEqual(
      new Set(['New-InboxRule', 'Set-InboxRule', 'Set-Mailbox']),
    );
    for (const r of cmdlets) {
      expect(r.ResultStatus).toBe('True');
      expect(typeof r.ExternalAccess).toBe('boolean');
      expect(Array.isArray(r.Parameters)).toBe(true);
    }
    const searches = records.filter((r) => r.Operation === 'SearchQueryInitiatedExchange');
    expect(searches.length).toBeGreaterThan(0);
    for (const r of searches) {
      expect([2, 101]).toContain(r.RecordType);
      expect(typeof r.QueryText).toBe('string');
    }
  });

  it('SharePoint file operations name the file consistently', () => {
    const records = shared('clean', 'Audit.SharePoint');
    const fileOps = records.filter((r) => r.RecordType === 6 && r.UserId !== 'app@sharepoint');
    expect(fileOps.some((r) => r.Workload === 'OneDrive')).toBe(true);
    expect(fileOps.some((r) => r.Workload === 'SharePoint')).toBe(true);
    for (const r of fileOps) {
      const siteUrl = String(r.SiteUrl);
      expect(r.ItemType).toBe('File');
      expect(r.ObjectId).toBe(`${siteUrl}${String(r.SourceRelativeUrl)}/${String(r.SourceFileName)}`);
      expect(String(r.SourceFileName).endsWith(`.${String(r.SourceFileExtension)}`)).toBe(true);
      expect(r.Workload === 'OneDrive').toBe(siteUrl.includes('-my.sharepoint.com/personal/'));
      for (const k of ['ListId', 'ListItemUniqueId', 'Site', 'WebId', 'CorrelationId'])
        expect(isGuid(String(r[k]))).toBe(true);
      expect(r.EventSource).toBe('SharePoint');
      expect(typeof r.UserAgent).toBe('string');
      expect(String(r.UserKey)).toMatch(/^i:0h\.f\|membership\|[0-9a-f]{16}@live\.com$/);
    }
    const sharing = records.filter((r) => r.RecordType === 14).map((r) => r.Operation);
    for (const op of ['SharingSet', 'AnonymousLinkCreated', 'AddedToSecureLink'])
      expect(sharing).toContain(op);
  });

  it('Audit.General covers Teams, Power BI, Yammer, alerts and Copilot', () => {
    const records = shared('clean', 'Audit.General');
    const workloads = new Set(records.map((r) => r.Workload));
    for (const w of ['MicrosoftTeams', 'PowerBI', 'Yammer', 'SecurityComplianceCenter', 'Copilot'])
      expect(workloads).toContain(w);
    for (const r of records.filter((x) => x.RecordType === 40)) {
      expect(r.UserType).toBe(4);
      expect(typeof JSON.parse(String(r.Data))).toBe('object');
    }
    for (const r of records.filter((x) => x.RecordType === 261)) {
      const data = r.CopilotEventData as { AppHost: string; AccessedResources: unknown[]; ThreadId: string };
      expect(typeof data.AppHost).toBe('string');
      expect(Array.isArray(data.AccessedResources)).toBe(true);
      expect(data.ThreadId).toMatch(/^19:.*@thread\.v2$/);
    }
    for (const r of records.filter((x) => x.Operation === 'MemberAdded')) {
      expect((r.Members as unknown[]).length).toBeGreaterThan(0);
    }
  });

  it('DLP records carry PolicyDetails with matched sensitive information', () => {
    const records = shared('clean', 'DLP.All');
    expect(records.some((r) => r.RecordType === 11)).toBe(true);
    expect(records.some((r) => r.RecordType === 13)).toBe(true);
    const problems = records.flatMap((r, i) => {
      const p: string[] = [];
      if (r.UserType !== 4) p.push('UserType');
      if (String(r.Operation).toLowerCase() !== 'dlprulematch') p.push('Operation');
      if (!isGuid(String(r.IncidentId))) p.push('IncidentId');
      if (typeof r.SensitiveInfoDetectionIsIncluded !== 'boolean') p.push('SensitiveInfoDetectionIsIncluded');
      const policies = r.PolicyDetails as DlpPolicy[] | undefined;
      if (!Array.isArray(policies) || policies.length === 0) p.push('PolicyDetails');
      for (const policy of policies ?? []) {
        if (!isGuid(policy.PolicyId) || typeof policy.PolicyName !== 'string') p.push('PolicyId/Name');
        if (policy.Rules.length === 0) p.push('Rules');
        for (const rule of policy.Rules) {
          if (!isGuid(rule.RuleId) || typeof rule.RuleName !== 'string') p.push('RuleId/Name');
          if (!['Low', 'Medium', 'High'].includes(rule.Severity)) p.push('Severity');
          if (rule.Actions.length === 0) p.push('Actions');
          const infos = rule.ConditionsMatched.SensitiveInformation;
          if (infos.length === 0) p.push('SensitiveInformation');
          for (const info of infos) {
            if (!isGuid(String(info.SensitiveType))) p.push('SensitiveType');
            if (typeof info.Count !== 'number' || typeof info.Confidence !== 'number')
              p.push('Count/Confidence');
            if (typeof info.SensitiveInformationTypeName !== 'string') p.push('SensitiveInformationTypeName');
          }
        }
      }
      if (r.RecordType === 11) {
        if (r.UserId !== r.UserKey) p.push('UserKey');
        if (
          typeof (r.SharePointMetaData as { FilePathUrl?: unknown } | undefined)?.FilePathUrl !== 'string'
        ) {
          p.push('SharePointMetaData');
        }
      } else {
        if (r.UserId !== 'DlpAgent') p.push('UserId');
        if (!Array.isArray((r.ExchangeMetaData as { To?: unknown } | undefined)?.To))
          p.push('ExchangeMetaData');
      }
      return p.map((field) => `#${i}: ${field}`);
    });
    expect(problems).toEqual([]);
  });

  it('has a realistic size distribution', () => {
    const sizes = CONTENT_TYPES.flatMap((ct) => shared('edgy', ct).map(bytes)).sort((a, b) => a - b);
    const median = sizes[Math.floor(sizes.length / 2)] ?? 0;
    expect(median).toBeGreaterThanOrEqual(600);
    expect(median).toBeLessThanOrEqual(2500);
    expect(sizes[sizes.length - 1]).toBeLessThanOrEqual(20_000);
    // A long tail exists but stays a tail.
    const over4k = sizes.filter((s) => s > 4_000).length / sizes.length;
    expect(over4k).toBeGreaterThan(0.005);
    expect(over4k).toBeLessThan(0.03);
    expect(sizes[Math.floor(sizes.length * 0.9)]).toBeLessThan(3_000);
    expect(sizes[Math.floor(sizes.length * 0.99)]).toBeLessThan(7_000);
    expect(sizes.filter((s) => s < 800).length).toBeGreaterThan(0);
  });
});

describe('edge cases', () => {
  let all: AuditRecord[] = [];
  let json: string[] = [];
  beforeAll(() => {
    all = CONTENT_TYPES.flatMap((ct) => shared('edgy', ct));
    json = all.map((r) => JSON.stringify(r));
  });

  it('are rare but present', () => {
    for (const rate of Object.values(EDGE_CASE_RATES)) {
      expect(rate).toBeGreaterThan(0);
      expect(rate).toBeLessThanOrEqual(0.05);
    }
  });

  it('numbers as strings', () => {
    const stringy = all.filter((r) => typeof r.RecordType === 'string');
    expectRate(stringy.length, all.length, EDGE_CASE_RATES.stringNumbers);
    for (const r of stringy) {
      expect(String(r.RecordType)).toMatch(/^\d+$/);
      expect(typeof r.UserType).toBe('string');
      expect(r.Version).toBe('1');
    }
  });

  it('Ids that are not GUIDs but stay unique', () => {
    const odd = all.filter((r) => !isGuid(String(r.Id)));
    expectRate(odd.length, all.length, EDGE_CASE_RATES.nonGuidId);
    expect(odd.some((r) => /[/\\?#]/.test(String(r.Id)))).toBe(true);
    expect(new Set(all.map((r) => r.Id)).size).toBe(all.length);
  });

  it('control characters inside strings', () => {
    const hits = json.filter((s) => /\\u00[01][0-9a-f]/.test(s)).length;
    expectRate(hits, all.length, EDGE_CASE_RATES.controlChar);
  });

  it('Parameters / ExtendedProperties as one long string', () => {
    const eligible = all.filter((r) => r.Parameters !== undefined || r.ExtendedProperties !== undefined);
    const flat = eligible.filter(
      (r) => typeof r.Parameters === 'string' || typeof r.ExtendedProperties === 'string',
    );
    expectRate(flat.length, eligible.length, EDGE_CASE_RATES.stringLists);
    for (const r of flat) expect(String(r.Parameters ?? r.ExtendedProperties)).toMatch(/^-\w+ "/);
  });

  it('unusual ClientIP formats', () => {
    const usual = (ip: string): boolean =>
      ip === '' ||
      /^\d{1,3}(\.\d{1,3}){3}(:\d+)?$/.test(ip) ||
      /^[0-9a-f]*:[0-9a-f:]+$/i.test(ip) ||
      /^\[[0-9a-f:]+\]:\d+$/i.test(ip);
    const withIp = all.filter((r) => typeof r.ClientIP === 'string');
    const unusual = withIp.filter((r) => !usual(String(r.ClientIP)));
    expectRate(unusual.length, withIp.length, EDGE_CASE_RATES.unusualClientIp);
    // Plain IPv4, IPv4:port, bare IPv6 and [IPv6]:port all occur in normal traffic.
    const ips = withIp.map((r) => String(r.ClientIP));
    expect(ips.some((ip) => /^\d+\.\d+\.\d+\.\d+$/.test(ip))).toBe(true);
    expect(ips.some((ip) => /^\d+\.\d+\.\d+\.\d+:\d+$/.test(ip))).toBe(true);
    expect(ips.some((ip) => /^[0-9a-f]+:[0-9a-f:]+$/.test(ip))).toBe(true);
    expect(ips.some((ip) => /^\[[0-9a-f:]+\]:\d+$/.test(ip))).toBe(true);
  });

  it('unicode names and JSON inside strings', () => {
    const nonAscii = json.filter((s) => /[^\u0020-\u007e]/.test(s)).length / json.length;
    expect(nonAscii).toBeGreaterThan(0.01);
    expect(nonAscii).toBeLessThan(0.6);
    expect(all.some((r) => typeof r.Data === 'string' && typeof JSON.parse(r.Data) === 'object')).toBe(true);
    expect(all.some((r) => typeof r.OperationProperties === 'string')).toBe(true);
    // ModifiedProperties as a plain list of strings (Exchange Update) next to {Name,…} objects.
    expect(
      all.some((r) => Array.isArray(r.ModifiedProperties) && typeof r.ModifiedProperties[0] === 'string'),
    ).toBe(true);
  });

  it('can be switched off', () => {
    const clean = CONTENT_TYPES.flatMap((ct) => shared('clean', ct));
    expect(clean.every((r) => typeof r.RecordType === 'number' && isGuid(String(r.Id)))).toBe(true);
    expect(clean.some((r) => /\\u00[01][0-9a-f]/.test(JSON.stringify(r)))).toBe(false);
    expect(
      clean.some((r) => typeof r.Parameters === 'string' || typeof r.ExtendedProperties === 'string'),
    ).toBe(false);
  });
});

describe('makeLargeRecord', () => {
  const t = tenant();
  it.each(CONTENT_TYPES.map((ct) => [ct]))('%s hits 100 KB and 3 MB within 10%%', (ct) => {
    for (const target of [100_000, 3_000_000]) {
      const rng = new Rng(`large:${ct}:${target}`);
      const r = makeLargeRecord(ct, new Date(T0), t, rng, target);
      const size = bytes(r);
      expect(size).toBeGreaterThanOrEqual(target * 0.9);
      expect(size).toBeLessThanOrEqual(target * 1.1);
      expect(r.OrganizationId).toBe(TENANT_ID);
      expect(r.CreationTime).toBe(formatCreationTime(new Date(T0)));
      expect(isGuid(String(r.Id))).toBe(true);
    }
  });

  it('grows the realistic field, deterministically', () => {
    const a = makeLargeRecord('Audit.Exchange', new Date(T0), t, new Rng('big'), 200_000);
    expect(JSON.stringify(makeLargeRecord('Audit.Exchange', new Date(T0), t, new Rng('big'), 200_000))).toBe(
      JSON.stringify(a),
    );
    expect(a.Operation).toBe('MailItemsAccessed');
    const items = (a.Folders as Array<{ FolderItems: unknown[] }>).flatMap((f) => f.FolderItems);
    expect(items.length).toBeGreaterThan(500);
    expect(a.OperationCount).toBe(items.length);

    const app = makeLargeRecord('Audit.AzureActiveDirectory', new Date(T0), t, new Rng('big'), 200_000);
    expect(app.Operation).toBe('Update application.');
    const dlp = makeLargeRecord('DLP.All', new Date(T0), t, new Rng('big'), 200_000);
    expect(dlp.SensitiveInfoDetectionIsIncluded).toBe(true);
    expect(dlp.PolicyDetails).toBeDefined();
  });
});
