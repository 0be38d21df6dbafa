import type { AuditRecord, ContentType } from '../../../shared/contentTypes';
import type { Rng } from '../rng';
import { stsLogonRecord } from './azureAd';
import type { Ctx, SimUser, TenantProfile } from './common';
import {
  BROWSER_AGENTS,
  EXCHANGE_APP_ID,
  FIRST_PARTY_APPS,
  FOREIGN_COUNTRIES,
  addSeconds,
  derivedGuid,
  derivedHex,
  foreignIpv4,
  nameValues,
  personalSite,
  shuffle,
} from './common';
import {
  CONSENT_APP_NAMES,
  CONSENT_SCOPES,
  addServicePrincipalRecord,
  appRoleAssignmentRecord,
  consentToApplicationRecord,
  delegatedGrantRecord,
} from './consent';
import type { ConsentApp } from './consent';
import {
  inboxRuleRecord,
  mailItemsAccessedRecord,
  searchQueryRecord,
  sendMailRecord,
  setMailboxRecord,
} from './exchange';
import { fileOperationRecord } from './sharePoint';

/** The attacker's records fall into three phases; `BecStory.attack` lists their ids per phase. */
export const ATTACK_PHASES = ['spraying', 'compromise', 'consent'] as const;
export type AttackPhase = (typeof ATTACK_PHASES)[number];

/** Benign users whose activity a naive query mistakes for the attack (`BecStory.lookAlikes`). */
export const LOOK_ALIKE_KINDS = ['traveller', 'adminRule', 'helpdeskFailures'] as const;
export type LookAlikeKind = (typeof LOOK_ALIKE_KINDS)[number];

/** Which phase each attacker step belongs to; the other steps are look-alikes' (named after their kind). */
export const STEP_PHASE: Readonly<Record<string, AttackPhase>> = {
  spraying: 'spraying',
  successfulSignIn: 'compromise',
  inboxRules: 'compromise',
  forwarding: 'compromise',
  searches: 'compromise',
  mailAccessBurst: 'compromise',
  fileDownloads: 'compromise',
  phishingMail: 'compromise',
  consentGrant: 'consent',
  appMailAccess: 'consent',
};

export interface BecLookAlike {
  kind: LookAlikeKind;
  user: SimUser;
  /** Where its records come from (the traveller's foreign address, the others' home address). */
  ip: string;
  /** Its scripted records; none is the attacker's. */
  recordIds: string[];
}

export interface BecConsent {
  /** The second victim: a user who granted the attacker's app access to their mail. */
  victim: SimUser;
  app: ConsentApp;
  /** The victim's own address, where the consent came from. */
  consentIp: string;
}

export interface BecStory {
  /** The user the spraying broke into. */
  victim: SimUser;
  /** One address for everything the attacker does: spraying, the victim's session, the app's mail access. */
  attackerIp: string;
  attackerCountry: string;
  forwardTo: string;
  /** Every scripted record (the attacker's and the look-alikes'), in CreationTime order. */
  records: Array<{ contentType: ContentType; record: AuditRecord }>;
  /**
   * Record Ids per step. Attacker steps (phase in STEP_PHASE): spraying (failed sign-ins of many users from
   * attackerIp), successfulSignIn, inboxRules, forwarding (Set-Mailbox), searches, mailAccessBurst,
   * fileDownloads, phishingMail, consentGrant, appMailAccess. Look-alike steps: traveller, adminRule,
   * helpdeskFailures.
   */
  steps: Record<string, string[]>;
  /** The attacker's record ids per phase; together, every attacker record of the story. */
  attack: Record<AttackPhase, string[]>;
  /** UPNs the spraying tried, victim included, in first-attempt order. */
  sprayedUsers: string[];
  consent: BecConsent;
  lookAlikes: BecLookAlike[];
}

const PAYMENT_QUERIES = ['invoice', 'wire transfer', 'payment', 'bank details', 'remittance', 'IBAN'];
const PHISH_SUBJECTS = [
  'Updated remittance details - action required',
  'Shared document: Q3 payment schedule',
  'Invoice approval needed today',
];
const OFFICE_APP_ID = 'd3590ed6-52b3-4102-aeff-aad2292ab01c';

/** How many distinct users a story needs: victim, consent victim, traveller, helpdesk user, an admin, spray targets. */
export const BEC_MIN_USERS = 8;

/**
 * A business-email-compromise campaign in one tenant, from one foreign address, with benign look-alikes:
 *
 * - spraying: one address fails sign-in (50126, partly over legacy ROPC) for many users in under an hour,
 *   then gets in as the victim;
 * - compromise: the attacker's browser session as the victim — hidden inbox rules forwarding and
 *   redirecting mail out (one ForwardTo/RedirectTo value with `smtp:`, one without), Set-Mailbox
 *   forwarding, searches for payment terms, a MailItemsAccessed burst, SharePoint/OneDrive downloads, and
 *   a phishing mail to colleagues;
 * - consent: a second user consents (from their own browser) to the attacker's app, which then reads
 *   their mail from the attacker's address (MailItemsAccessed with the app's AppId/ClientAppId);
 * - look-alikes, none compromised: a traveller signing in abroad from their usual device, an admin
 *   creating an internal forwarding rule, a user failing their own password a few times.
 *
 * Records are clean (no edge cases) so a test can find every step by user, address and app.
 */
export function becStory(tenant: TenantProfile, start: Date, rng: Rng): BecStory {
  if (tenant.users.length < BEC_MIN_USERS) {
    throw new Error(`scenario: a BEC story needs a tenant of at least ${BEC_MIN_USERS} users`);
  }
  const members = shuffle(
    rng,
    tenant.users.filter((u) => !tenant.admins.includes(u)),
  );
  const [victim, consentVictim, traveller, helpdesk] = members as [SimUser, SimUser, SimUser, SimUser];
  const admin = rng.pick(tenant.admins);
  const country = rng.pick(FOREIGN_COUNTRIES.filter((c) => c.code !== victim.homeCountry));
  const attackerIp = foreignIpv4(rng, country);
  const forwardTo = `${rng.pick(['accounts', 'ap.team', 'invoices', 'finance.dept'])}${rng.int(10, 99)}@${rng.pick(
    ['mailbox.example.net', 'securemail.example.org', 'inbox-relay.example.com'],
  )}`;
  const browser = rng.pick(BROWSER_AGENTS.slice(0, 3));
  // One browser session in OWA for everything after sign-in.
  const owa = { info: `Client=OWA;Action=ViaProxy;${browser};`, appId: EXCHANGE_APP_ID };

  const records: BecStory['records'] = [];
  const steps: Record<string, string[]> = {};
  const timeline = (from: Date) => {
    let t = from;
    return {
      emit(step: string, contentType: ContentType, build: (ctx: Ctx) => AuditRecord): AuditRecord {
        const record = build({ tenant, rng, time: t });
        records.push({ contentType, record });
        (steps[step] ??= []).push(String(record.Id));
        return record;
      },
      advance(minSeconds: number, maxSeconds: number): void {
        t = addSeconds(t, rng.int(minSeconds, maxSeconds));
      },
    };
  };

  // --- Spraying: one password across many users, then a second round that gets in as the victim.
  const lookAlikeUsers = new Set([traveller, helpdesk, admin]);
  const others = shuffle(
    rng,
    tenant.users.filter((u) => u !== victim && !lookAlikeUsers.has(u)),
  );
  const targets = shuffle(rng, [victim, ...others.slice(0, rng.int(18, 30) - 1)]);
  const sprayAgent = rng.pick(BROWSER_AGENTS.slice(0, 2));
  const attack = timeline(start);
  const sprayFailure = (user: SimUser, legacy: boolean): void => {
    attack.emit('spraying', 'Audit.AzureActiveDirectory', (ctx) =>
      stsLogonRecord(ctx, {
        user,
        ip: attackerIp,
        failed: true,
        userAgent: legacy ? 'BAV2ROPC' : sprayAgent,
        requestType: legacy ? 'OAuth2:Token' : 'Login:login',
        appId: legacy ? OFFICE_APP_ID : '4765445b-32c6-49b0-83e6-1d93765276ca',
        error: ['50126', 'InvalidUserNameOrPassword'],
      }),
    );
  };
  targets.forEach((user, i) => {
    if (i > 0) attack.advance(5, 40);
    sprayFailure(user, rng.chance(0.6));
  });
  attack.advance(300, 900);
  const secondRound = shuffle(rng, targets);
  for (const [i, user] of secondRound.entries()) {
    if (i > 0) attack.advance(5, 40);
    if (user === victim) break;
    sprayFailure(user, true);
  }
  attack.emit('successfulSignIn', 'Audit.AzureActiveDirectory', (ctx) =>
    stsLogonRecord(ctx, {
      user: victim,
      ip: attackerIp,
      failed: false,
      userAgent: 'BAV2ROPC',
      requestType: 'OAuth2:Token',
      appId: OFFICE_APP_ID,
    }),
  );

  // --- Compromise: an interactive session as the victim from the same address.
  attack.advance(120, 600);
  attack.emit('successfulSignIn', 'Audit.AzureActiveDirectory', (ctx) =>
    stsLogonRecord(ctx, {
      user: victim,
      ip: attackerIp,
      failed: false,
      userAgent: browser,
      requestType: 'OAuth2:Authorize',
      appId: '4765445b-32c6-49b0-83e6-1d93765276ca',
    }),
  );
  // Persistence: forward everything out and hide it; redirect replies about payments. One address is
  // written with the `smtp:` prefix, the other bare, as both occur.
  attack.advance(300, 1200);
  const prefixed = rng.chance(0.5);
  const spelled = (withPrefix: boolean): string => (withPrefix ? `smtp:${forwardTo}` : forwardTo);
  const forwardRule = rng.pick(['.', '..', 'RSS', 'Sync', 'Archive']);
  attack.emit('inboxRules', 'Audit.Exchange', (ctx) =>
    inboxRuleRecord(ctx, {
      user: victim,
      ip: attackerIp,
      operation: 'New-InboxRule',
      ruleName: forwardRule,
      params: [
        ['AlwaysDeleteOutlookRulesBlob', 'False'],
        ['Force', 'False'],
        ['ForwardTo', spelled(prefixed)],
        ['Name', forwardRule],
        ['MarkAsRead', 'True'],
        ['MoveToFolder', 'RSS Subscriptions'],
        ['StopProcessingRules', 'True'],
      ],
    }),
  );
  attack.advance(30, 180);
  const redirectRule = rng.pick(['..', '...', 'x', 'Notes']);
  attack.emit('inboxRules', 'Audit.Exchange', (ctx) =>
    inboxRuleRecord(ctx, {
      user: victim,
      ip: attackerIp,
      operation: 'New-InboxRule',
      ruleName: redirectRule,
      params: [
        ['AlwaysDeleteOutlookRulesBlob', 'False'],
        ['Force', 'False'],
        ['SubjectOrBodyContainsWords', 'invoice;payment;bank;wire'],
        ['RedirectTo', spelled(!prefixed)],
        ['Name', redirectRule],
        ['MarkAsRead', 'True'],
        ['MoveToFolder', 'Conversation History'],
        ['StopProcessingRules', 'True'],
      ],
    }),
  );
  attack.advance(60, 300);
  attack.emit('forwarding', 'Audit.Exchange', (ctx) =>
    setMailboxRecord(ctx, {
      actor: victim,
      ip: attackerIp,
      mailbox: victim,
      params: [
        ['ForwardingSmtpAddress', `smtp:${forwardTo}`],
        ['DeliverToMailboxAndForward', 'True'],
      ],
    }),
  );

  // Reconnaissance for payment threads.
  attack.advance(600, 1800);
  const queries = [
    ...PAYMENT_QUERIES.slice(0, 3),
    ...(rng.chance(0.5) ? [rng.pick(PAYMENT_QUERIES.slice(3))] : []),
  ];
  queries.forEach((query, i) => {
    if (i > 0) attack.advance(40, 240);
    attack.emit('searches', 'Audit.Exchange', (ctx) =>
      searchQueryRecord(ctx, { user: victim, ip: attackerIp, query, client: owa }),
    );
  });

  attack.advance(60, 600);
  const binds = rng.int(12, 30);
  for (let i = 0; i < binds; i++) {
    if (i > 0) attack.advance(20, 90);
    attack.emit('mailAccessBurst', 'Audit.Exchange', (ctx) =>
      mailItemsAccessedRecord(ctx, {
        user: victim,
        ip: attackerIp,
        accessType: 'Bind',
        itemCount: rng.int(5, 40),
        client: owa,
      }),
    );
  }

  attack.advance(300, 1200);
  const downloads = rng.int(15, 40);
  const sites = [personalSite(tenant, victim), ...tenant.sites.slice(0, 3)];
  for (let i = 0; i < downloads; i++) {
    if (i > 0) attack.advance(3, 45);
    attack.emit('fileDownloads', 'Audit.SharePoint', (ctx) =>
      fileOperationRecord(ctx, {
        user: victim,
        ip: attackerIp,
        operation: 'FileDownloaded',
        site: rng.pick(sites),
        userAgent: browser,
      }),
    );
  }

  // Internal phishing from the victim's mailbox: the lure the second victim follows.
  attack.advance(300, 900);
  const phishSubject = rng.pick(PHISH_SUBJECTS);
  attack.emit('phishingMail', 'Audit.Exchange', (ctx) =>
    sendMailRecord(ctx, { user: victim, ip: attackerIp, subject: phishSubject, client: owa }),
  );

  // --- Consent phishing: the second victim grants the attacker's app their mail, from their own browser.
  attack.advance(900, 2700);
  const app: ConsentApp = {
    appId: derivedGuid('consent-app', `${tenant.tenantId}:${rng.int(0, 1e9)}`),
    displayName: rng.pick(CONSENT_APP_NAMES),
    servicePrincipalId: derivedGuid('consent-sp', `${tenant.tenantId}:${rng.int(0, 1e9)}`),
    scopes: CONSENT_SCOPES,
  };
  const consentAgent = rng.pick(BROWSER_AGENTS);
  const consent = { user: consentVictim, ip: consentVictim.homeIp, userAgent: consentAgent, app };
  attack.emit('consentGrant', 'Audit.AzureActiveDirectory', (ctx) => addServicePrincipalRecord(ctx, consent));
  attack.advance(0, 2);
  attack.emit('consentGrant', 'Audit.AzureActiveDirectory', (ctx) => delegatedGrantRecord(ctx, consent));
  attack.advance(0, 2);
  attack.emit('consentGrant', 'Audit.AzureActiveDirectory', (ctx) => appRoleAssignmentRecord(ctx, consent));
  attack.advance(0, 2);
  attack.emit('consentGrant', 'Audit.AzureActiveDirectory', (ctx) =>
    consentToApplicationRecord(ctx, consent),
  );

  // The app reads the second victim's mail over Graph from the attacker's address.
  attack.advance(300, 1500);
  const viaApp = { info: `Client=REST;Client=RESTSystem;;`, appId: app.appId };
  const appBinds = rng.int(8, 20);
  for (let i = 0; i < appBinds; i++) {
    if (i > 0) attack.advance(20, 120);
    attack.emit('appMailAccess', 'Audit.Exchange', (ctx) => {
      const r = mailItemsAccessedRecord(ctx, {
        user: consentVictim,
        ip: attackerIp,
        accessType: 'Bind',
        itemCount: rng.int(5, 40),
        client: viaApp,
      });
      r.TokenObjectId = consentVictim.objectId;
      r.TokenTenantId = tenant.tenantId;
      return r;
    });
  }

  // --- Look-alikes.
  const lookAlikes: BecLookAlike[] = [];

  // A traveller: signs in at home, then from abroad on the same managed laptop and client; nothing else.
  const trip = rng.pick(FOREIGN_COUNTRIES.filter((c) => c.code !== country.code));
  const travelIp = foreignIpv4(rng, trip);
  const travelAgent = BROWSER_AGENTS[1] as string;
  const device = nameValues([
    ['Id', derivedGuid('device', traveller.objectId)],
    ['DisplayName', `LAPTOP-${derivedHex('device-name', traveller.objectId, 7).toUpperCase()}`],
    ['OS', 'Windows10'],
    ['BrowserType', 'Edge'],
    ['TrustType', '1'],
    ['IsCompliantAndManaged', 'True'],
  ]);
  const travel = timeline(addSeconds(start, rng.int(600, 1800)));
  const travellerIds: string[] = [];
  const travellerSignIn = (ip: string): void => {
    const r = travel.emit('traveller', 'Audit.AzureActiveDirectory', (ctx) =>
      stsLogonRecord(ctx, {
        user: traveller,
        ip,
        failed: false,
        userAgent: travelAgent,
        requestType: 'OAuth2:Authorize',
        appId: OFFICE_APP_ID,
      }),
    );
    r.DeviceProperties = device;
    travellerIds.push(String(r.Id));
  };
  travellerSignIn(traveller.homeIp);
  travel.advance(4 * 3600, 5 * 3600);
  const abroad = rng.int(2, 4);
  for (let i = 0; i < abroad; i++) {
    if (i > 0) travel.advance(600, 2400);
    travellerSignIn(travelIp);
  }
  lookAlikes.push({ kind: 'traveller', user: traveller, ip: travelIp, recordIds: travellerIds });

  // An admin forwarding their invoice mail to the tenant's own accounts-payable shared mailbox.
  const adminIp = admin.homeIp;
  const adminLine = timeline(addSeconds(start, rng.int(3600, 3 * 3600)));
  const adminRuleName = 'Invoices to AP';
  const adminRule = adminLine.emit('adminRule', 'Audit.Exchange', (ctx) =>
    inboxRuleRecord(ctx, {
      user: admin,
      ip: adminIp,
      operation: 'New-InboxRule',
      ruleName: adminRuleName,
      params: [
        ['AlwaysDeleteOutlookRulesBlob', 'False'],
        ['Force', 'False'],
        ['SubjectContainsWords', 'invoice'],
        ['ForwardTo', `smtp:accounts.payable@${tenant.domain}`],
        ['Name', adminRuleName],
        ['StopProcessingRules', 'False'],
      ],
    }),
  );
  lookAlikes.push({ kind: 'adminRule', user: admin, ip: adminIp, recordIds: [String(adminRule.Id)] });

  // A user who mistypes a changed password a few times at home, then gets it right.
  const helpdeskLine = timeline(addSeconds(start, rng.int(1800, 4 * 3600)));
  const helpdeskAgent = rng.pick(BROWSER_AGENTS);
  const helpdeskIds: string[] = [];
  const helpdeskFailures = rng.int(3, 5);
  for (let i = 0; i <= helpdeskFailures; i++) {
    if (i > 0) helpdeskLine.advance(15, 90);
    const failed = i < helpdeskFailures;
    const r = helpdeskLine.emit('helpdeskFailures', 'Audit.AzureActiveDirectory', (ctx) =>
      stsLogonRecord(ctx, {
        user: helpdesk,
        ip: helpdesk.homeIp,
        failed,
        userAgent: helpdeskAgent,
        requestType: 'Login:login',
        appId: rng.pick(FIRST_PARTY_APPS.slice(5, 7)).appId,
        ...(failed ? { error: ['50126', 'InvalidUserNameOrPassword'] as const } : {}),
      }),
    );
    helpdeskIds.push(String(r.Id));
  }
  lookAlikes.push({ kind: 'helpdeskFailures', user: helpdesk, ip: helpdesk.homeIp, recordIds: helpdeskIds });

  // In CreationTime order; a stable sort keeps each timeline's own order within a second.
  records.sort((a, b) =>
    String(a.record.CreationTime) < String(b.record.CreationTime)
      ? -1
      : String(a.record.CreationTime) > String(b.record.CreationTime)
        ? 1
        : 0,
  );
  const phases: Record<AttackPhase, string[]> = { spraying: [], compromise: [], consent: [] };
  for (const [step, ids] of Object.entries(steps)) {
    const phase = STEP_PHASE[step];
    if (phase) phases[phase].push(...ids);
  }
  return {
    victim,
    attackerIp,
    attackerCountry: country.code,
    forwardTo,
    records,
    steps,
    attack: phases,
    sprayedUsers: targets.map((u) => u.upn),
    consent: { victim: consentVictim, app, consentIp: consentVictim.homeIp },
    lookAlikes,
  };
}
