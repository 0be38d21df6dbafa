import { Rng } from '../../scripts/simulator/rng';
import type { BecStory, TenantProfile } from '../../scripts/simulator/records';
import {
  ATTACK_PHASES,
  LOOK_ALIKE_KINDS,
  STEP_PHASE,
  becStory,
  makeTenantProfile,
} from '../../scripts/simulator/records';
import type { AuditRecord } from '../../shared/contentTypes';

/** The BEC story generator on its own: who it attacks, how, what only looks like it, and the record shapes. */

const TENANT_ID = '5b7a2f3e-9c41-4d0a-8e2b-6f1d3c8a9e07';
const START = new Date(Date.UTC(2026, 4, 4, 22, 0, 0));
const SEEDS = ['bec', 'bec-2', 'bec-3', 'bec-4', 'bec-5'];

function tenant(users = 40, seed = 'tenant'): TenantProfile {
  return makeTenantProfile(TENANT_ID, new Rng(seed), users);
}

function nameValue(list: unknown, name: string): string | undefined {
  if (!Array.isArray(list)) return undefined;
  const hit = (list as Array<{ Name?: unknown; Value?: unknown }>).find((e) => e.Name === name);
  return typeof hit?.Value === 'string' ? hit.Value : undefined;
}

/** The address inside a ClientIP (Exchange adds a port, brackets IPv6). */
function addressOf(clientIp: unknown): string {
  const s = String(clientIp);
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(s);
  if (bracketed?.[1]) return bracketed[1];
  const v4port = /^(\d{1,3}(?:\.\d{1,3}){3}):\d+$/.exec(s);
  return v4port?.[1] ?? s;
}

/** A forwarding address as Exchange parameters spell it: bare or with an `smtp:` prefix. */
function smtpAddress(value: string | undefined): string | undefined {
  return value?.replace(/^smtp:/i, '');
}

const timeOf = (r: AuditRecord): number => Date.parse(`${String(r.CreationTime)}Z`);

/**
 * Field names and JSON types per RecordType, as the real feed writes them (see the audit record samples the
 * simulator is modelled on): the fields every sample of that type carries.
 */
type JsonType = 'string' | 'number' | 'boolean' | 'array' | 'object';
const COMMON: Record<string, JsonType> = {
  CreationTime: 'string',
  Id: 'string',
  Operation: 'string',
  OrganizationId: 'string',
  RecordType: 'number',
  ResultStatus: 'string',
  UserKey: 'string',
  UserType: 'number',
  Version: 'number',
  Workload: 'string',
  UserId: 'string',
};
const AAD: Record<string, JsonType> = {
  ...COMMON,
  ClientIP: 'string',
  ObjectId: 'string',
  AzureActiveDirectoryEventType: 'number',
  ExtendedProperties: 'array',
  ModifiedProperties: 'array',
  Actor: 'array',
  ActorContextId: 'string',
  ActorIpAddress: 'string',
  InterSystemsId: 'string',
  IntraSystemId: 'string',
  SupportTicketId: 'string',
  Target: 'array',
  TargetContextId: 'string',
};
const MAILBOX: Record<string, JsonType> = {
  ...COMMON,
  ClientIPAddress: 'string',
  ClientInfoString: 'string',
  ExternalAccess: 'boolean',
  InternalLogonType: 'number',
  LogonType: 'number',
  LogonUserSid: 'string',
  MailboxGuid: 'string',
  MailboxOwnerSid: 'string',
  MailboxOwnerUPN: 'string',
  OrganizationName: 'string',
  OriginatingServer: 'string',
};
const SHAPES: Record<number, Record<string, JsonType>> = {
  15: { ...AAD, ApplicationId: 'string', ErrorNumber: 'string' },
  8: AAD,
  1: {
    ...COMMON,
    ObjectId: 'string',
    AppId: 'string',
    ClientAppId: 'string',
    ExternalAccess: 'boolean',
    OrganizationName: 'string',
    OriginatingServer: 'string',
    Parameters: 'array',
  },
  2: { ...MAILBOX, ClientIP: 'string', Item: 'object' },
  50: {
    ...MAILBOX,
    OperationProperties: 'array',
    OperationCount: 'number',
    Folders: 'array',
  },
  101: { ...MAILBOX, QueryText: 'string' },
  // SharePoint file operations carry no ResultStatus.
  6: {
    ...Object.fromEntries(Object.entries(COMMON).filter(([field]) => field !== 'ResultStatus')),
    ClientIP: 'string',
    CorrelationId: 'string',
    EventSource: 'string',
    ItemType: 'string',
    ListId: 'string',
    ListItemUniqueId: 'string',
    ObjectId: 'string',
    Site: 'string',
    SiteUrl: 'string',
    SourceFileExtension: 'string',
    SourceFileName: 'string',
    SourceRelativeUrl: 'string',
    UserAgent: 'string',
    WebId: 'string',
  },
};

function jsonType(v: unknown): string {
  return Array.isArray(v) ? 'array' : v === null ? 'null' : typeof v;
}

describe('becStory', () => {
  const t = tenant();

  it('is deterministic from its seed, and another seed tells another story', () => {
    const a = JSON.stringify(becStory(t, START, new Rng('bec')));
    expect(JSON.stringify(becStory(t, START, new Rng('bec')))).toBe(a);
    expect(JSON.stringify(becStory(t, START, new Rng('bec-2')))).not.toBe(a);
  });

  it('needs enough users for its cast', () => {
    expect(() => becStory(tenant(5), START, new Rng('bec'))).toThrow(/at least 8 users/);
    expect(() => becStory(tenant(8), START, new Rng('bec'))).not.toThrow();
  });

  describe.each(SEEDS)('seed %s', (seed) => {
    const story: BecStory = becStory(t, START, new Rng(seed));
    const { victim, attackerIp, records, steps, attack, consent, lookAlikes } = story;
    const byId = new Map(records.map(({ record }) => [String(record.Id), record]));
    const ctOf = new Map(records.map(({ contentType, record }) => [String(record.Id), contentType]));
    const get = (name: string): AuditRecord[] => (steps[name] ?? []).map((id) => byId.get(id) as AuditRecord);
    const attackerIds = new Set(ATTACK_PHASES.flatMap((p) => attack[p]));

    it('gives every record exactly one step, attacker or look-alike, in CreationTime order', () => {
      const stepIds = Object.values(steps).flat();
      expect(stepIds).toHaveLength(records.length);
      expect(new Set(stepIds)).toEqual(new Set(byId.keys()));
      // Phases are the attacker steps, nothing else.
      for (const phase of ATTACK_PHASES) {
        const fromSteps = Object.entries(steps)
          .filter(([step]) => STEP_PHASE[step] === phase)
          .flatMap(([, ids]) => ids);
        expect(new Set(attack[phase])).toEqual(new Set(fromSteps));
        expect(attack[phase].length).toBeGreaterThan(0);
      }
      const lookAlikeIds = lookAlikes.flatMap((l) => l.recordIds);
      expect(new Set(lookAlikeIds)).toEqual(new Set(LOOK_ALIKE_KINDS.flatMap((k) => steps[k] ?? [])));
      expect(attackerIds.size + lookAlikeIds.length).toBe(records.length);
      for (const id of lookAlikeIds) expect(attackerIds.has(id)).toBe(false);

      const times = records.map(({ record }) => timeOf(record));
      expect(times[0]).toBe(START.getTime());
      for (let i = 1; i < times.length; i++) expect(times[i]).toBeGreaterThanOrEqual(times[i - 1] ?? 0);
      const hours = ((times[times.length - 1] ?? 0) - START.getTime()) / 3_600_000;
      expect(hours).toBeGreaterThan(2);
      expect(hours).toBeLessThan(7);
      for (const { record } of records) expect(record.OrganizationId).toBe(TENANT_ID);
    });

    it('has the field names and types of real records of each RecordType', () => {
      const seen = new Set<number>();
      for (const { record } of records) {
        // Mailbox searches are written as RecordType 101 or 2 (see searchQueryRecord); same fields either way.
        const shape =
          record.Operation === 'SearchQueryInitiatedExchange'
            ? SHAPES[101]
            : SHAPES[Number(record.RecordType)];
        expect(shape).toBeDefined();
        seen.add(Number(record.RecordType));
        for (const [field, type] of Object.entries(shape ?? {})) {
          if (jsonType(record[field]) !== type) {
            throw new Error(
              `${String(record.Operation)} (RecordType ${String(record.RecordType)}): ${field} is ${jsonType(record[field])}, not ${type}`,
            );
          }
        }
        expect(Number.isNaN(timeOf(record))).toBe(false);
        expect(String(record.CreationTime)).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$/);
      }
      expect([...seen].sort((a, b) => a - b)).toEqual(expect.arrayContaining([1, 2, 6, 8, 15, 50]));
      // Content types follow the workloads.
      for (const { contentType, record } of records) {
        const expected =
          record.Workload === 'AzureActiveDirectory'
            ? 'Audit.AzureActiveDirectory'
            : record.Workload === 'Exchange'
              ? 'Audit.Exchange'
              : 'Audit.SharePoint';
        expect(contentType).toBe(expected);
      }
    });

    it('sprays one address across many users, then gets in as the victim', () => {
      const spraying = get('spraying');
      const users = new Set(spraying.map((r) => String(r.UserId)));
      expect(users.size).toBeGreaterThanOrEqual(15);
      expect(new Set(story.sprayedUsers)).toEqual(users);
      expect(story.sprayedUsers).toHaveLength(users.size);
      expect(users.has(victim.upn)).toBe(true);
      for (const r of spraying) {
        expect(r).toMatchObject({
          Operation: 'UserLoginFailed',
          RecordType: 15,
          ResultStatus: 'Failed',
          ErrorNumber: '50126',
          LogonError: 'InvalidUserNameOrPassword',
          ClientIP: attackerIp,
          ActorIpAddress: attackerIp,
        });
        expect(nameValue(r.ExtendedProperties, 'UserAgent')).toBeTruthy();
      }
      const agents = spraying.map((r) => nameValue(r.ExtendedProperties, 'UserAgent'));
      expect(agents).toContain('BAV2ROPC');
      expect(agents.some((a) => a !== 'BAV2ROPC')).toBe(true);
      const times = spraying.map(timeOf);
      expect(Math.max(...times) - Math.min(...times)).toBeLessThan(3_600_000);

      const signIns = get('successfulSignIn');
      expect(signIns.length).toBeGreaterThanOrEqual(1);
      for (const r of signIns) {
        expect(r).toMatchObject({ Operation: 'UserLoggedIn', UserId: victim.upn, ClientIP: attackerIp });
        expect(timeOf(r)).toBeGreaterThanOrEqual(Math.max(...times));
      }
      expect(nameValue(signIns[0]?.ExtendedProperties, 'UserAgent')).toBe('BAV2ROPC');
      // No other user gets in from the attacker's address.
      for (const { record } of records) {
        if (record.Operation === 'UserLoggedIn' && record.ClientIP === attackerIp)
          expect(record.UserId).toBe(victim.upn);
      }
      expect(story.attackerCountry).not.toBe(victim.homeCountry);
      expect(attackerIp).toMatch(/^198\.19\./);
    });

    it("compromises the victim's mailbox and files from the attacker's address", () => {
      for (const id of attack.compromise) {
        const r = byId.get(id) as AuditRecord;
        expect(r.UserId).toBe(victim.upn);
        expect(addressOf(r.ClientIP)).toBe(attackerIp);
      }
      expect(story.forwardTo.endsWith(t.domain)).toBe(false);
      const rules = get('inboxRules');
      expect(rules.every((r) => r.Operation === 'New-InboxRule')).toBe(true);
      const forward = rules.map((r) => nameValue(r.Parameters, 'ForwardTo')).find((v) => v !== undefined);
      const redirect = rules.map((r) => nameValue(r.Parameters, 'RedirectTo')).find((v) => v !== undefined);
      expect(smtpAddress(forward)).toBe(story.forwardTo);
      expect(smtpAddress(redirect)).toBe(story.forwardTo);
      // Both spellings: one with the smtp: prefix, one without.
      expect([forward, redirect].filter((v) => v?.startsWith('smtp:'))).toHaveLength(1);
      for (const r of rules) expect(nameValue(r.Parameters, 'StopProcessingRules')).toBe('True');
      const [setMailbox, ...moreSets] = get('forwarding');
      expect(moreSets).toHaveLength(0);
      expect(setMailbox?.Operation).toBe('Set-Mailbox');
      expect(nameValue(setMailbox?.Parameters, 'ForwardingSmtpAddress')).toBe(`smtp:${story.forwardTo}`);

      const queries = get('searches').map((r) => String(r.QueryText));
      for (const q of ['invoice', 'wire transfer', 'payment']) expect(queries).toContain(q);
      expect(get('searches').every((r) => r.Operation === 'SearchQueryInitiatedExchange')).toBe(true);
      expect(get('mailAccessBurst').length).toBeGreaterThanOrEqual(10);
      for (const r of get('mailAccessBurst')) {
        expect(r).toMatchObject({ Operation: 'MailItemsAccessed', MailboxOwnerUPN: victim.upn });
        expect(nameValue(r.OperationProperties, 'MailAccessType')).toBe('Bind');
      }
      expect(get('fileDownloads').length).toBeGreaterThanOrEqual(10);
      for (const r of get('fileDownloads')) {
        expect(r.Operation).toBe('FileDownloaded');
        expect(['SharePoint', 'OneDrive']).toContain(r.Workload);
        expect(ctOf.get(String(r.Id))).toBe('Audit.SharePoint');
      }
      expect(get('phishingMail').map((r) => r.Operation)).toEqual(['Send']);
    });

    it("has a second victim consent to the attacker's app, which then reads their mail", () => {
      expect(consent.victim).not.toBe(victim);
      const grants = get('consentGrant');
      expect(new Set(grants.map((r) => r.Operation))).toEqual(
        new Set([
          'Add service principal.',
          'Add delegated permission grant.',
          'Add app role assignment grant to user.',
          'Consent to application.',
        ]),
      );
      for (const r of grants) {
        expect(r).toMatchObject({
          RecordType: 8,
          Workload: 'AzureActiveDirectory',
          UserId: consent.victim.upn,
          ClientIP: consent.consentIp,
        });
        expect(ctOf.get(String(r.Id))).toBe('Audit.AzureActiveDirectory');
        // Every grant names the app, so an investigation can go from the app to the grant.
        expect(JSON.stringify(r)).toContain(consent.app.appId);
      }
      expect(consent.consentIp).toBe(consent.victim.homeIp);
      const granted = grants.find((r) => r.Operation === 'Consent to application.');
      expect(
        (granted?.ModifiedProperties as Array<{ Name: string; NewValue: string }>).find(
          (p) => p.Name === 'ConsentContext.IsAdminConsent',
        )?.NewValue,
      ).toBe('False');
      const access = get('appMailAccess');
      expect(access.length).toBeGreaterThanOrEqual(5);
      for (const r of access) {
        expect(r).toMatchObject({
          Operation: 'MailItemsAccessed',
          UserId: consent.victim.upn,
          MailboxOwnerUPN: consent.victim.upn,
          AppId: consent.app.appId,
          ClientAppId: consent.app.appId,
          ClientIPAddress: attackerIp,
        });
        expect(timeOf(r)).toBeGreaterThan(Math.max(...grants.map(timeOf)));
      }
    });

    it('scripts look-alikes that are not the attack', () => {
      expect(lookAlikes.map((l) => l.kind)).toEqual([...LOOK_ALIKE_KINDS]);
      const lookAlikeUsers = new Set(lookAlikes.map((l) => l.user.upn));
      expect(lookAlikeUsers.size).toBe(LOOK_ALIKE_KINDS.length);
      const compromised = [victim.upn, consent.victim.upn];
      // Nobody attacked is a look-alike, and no attacker record is about a look-alike.
      for (const u of [...compromised, ...story.sprayedUsers]) expect(lookAlikeUsers.has(u)).toBe(false);
      for (const id of attackerIds) {
        const r = byId.get(id) as AuditRecord;
        expect(lookAlikeUsers.has(String(r.UserId))).toBe(false);
        if (typeof r.MailboxOwnerUPN === 'string') expect(lookAlikeUsers.has(r.MailboxOwnerUPN)).toBe(false);
      }
      for (const l of lookAlikes) {
        expect(l.recordIds.length).toBeGreaterThan(0);
        for (const id of l.recordIds) {
          const r = byId.get(id) as AuditRecord;
          expect(r.UserId).toBe(l.user.upn);
          expect(addressOf(r.ClientIP)).not.toBe(attackerIp);
        }
      }
      const [traveller, adminRule, helpdesk] = lookAlikes;

      // The traveller: home first, then a foreign address (not the attacker's) on the same managed device.
      const trips = (traveller?.recordIds ?? []).map((id) => byId.get(id) as AuditRecord);
      expect(trips.every((r) => r.Operation === 'UserLoggedIn')).toBe(true);
      expect(trips[0]?.ClientIP).toBe(traveller?.user.homeIp);
      const abroad = trips.slice(1);
      expect(abroad.length).toBeGreaterThanOrEqual(2);
      for (const r of abroad) expect(r.ClientIP).toBe(traveller?.ip);
      expect(traveller?.ip).toMatch(/^198\.19\./);
      expect(traveller?.ip).not.toBe(attackerIp);
      const deviceIds = new Set(trips.map((r) => nameValue(r.DeviceProperties, 'Id')));
      expect(deviceIds.size).toBe(1);
      for (const r of trips) expect(nameValue(r.DeviceProperties, 'IsCompliantAndManaged')).toBe('True');
      expect(new Set(trips.map((r) => nameValue(r.ExtendedProperties, 'UserAgent'))).size).toBe(1);

      // The admin's rule forwards to a mailbox of the tenant's own domain.
      expect(t.admins).toContain(adminRule?.user);
      const [rule] = (adminRule?.recordIds ?? []).map((id) => byId.get(id) as AuditRecord);
      expect(rule?.Operation).toBe('New-InboxRule');
      expect(smtpAddress(nameValue(rule?.Parameters, 'ForwardTo'))?.endsWith(`@${t.domain}`)).toBe(true);

      // The helpdesk user fails their own password from home a few times, then signs in.
      const tries = (helpdesk?.recordIds ?? []).map((id) => byId.get(id) as AuditRecord);
      expect(tries.length).toBeGreaterThanOrEqual(4);
      expect(tries.slice(0, -1).every((r) => r.Operation === 'UserLoginFailed')).toBe(true);
      expect(tries[tries.length - 1]?.Operation).toBe('UserLoggedIn');
      for (const r of tries) expect(r.ClientIP).toBe(helpdesk?.user.homeIp);
    });
  });
});
