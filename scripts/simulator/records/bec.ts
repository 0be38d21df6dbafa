import type { AuditRecord, ContentType } from '../../../shared/contentTypes';
import type { Rng } from '../rng';
import { stsLogonRecord } from './azureAd';
import type { Ctx, SimUser, TenantProfile } from './common';
import {
  BROWSER_AGENTS,
  EXCHANGE_APP_ID,
  FOREIGN_COUNTRIES,
  addSeconds,
  foreignIpv4,
  personalSite,
} from './common';
import { inboxRuleRecord, mailItemsAccessedRecord, searchQueryRecord, setMailboxRecord } from './exchange';
import { fileOperationRecord } from './sharePoint';

export interface BecStory {
  victim: SimUser;
  attackerIp: string;
  attackerCountry: string;
  forwardTo: string;
  /** In CreationTime order. */
  records: Array<{ contentType: ContentType; record: AuditRecord }>;
  /**
   * Record Ids per step: failedSignIns, successfulSignIn, inboxRule (New-InboxRule, plus Set-Mailbox forwarding
   * when the attacker also set it), searches, mailAccessBurst, fileDownloads.
   */
  steps: Record<string, string[]>;
}

const PAYMENT_QUERIES = ['invoice', 'wire transfer', 'payment', 'bank details', 'remittance', 'IBAN'];

/**
 * A business-email-compromise sequence against one user, from one foreign address: password guessing, a
 * successful sign-in, a hidden forwarding rule, searches for payment mail, then bulk mail and file access.
 * Records are clean (no edge cases) so a test can find every step by user and address.
 */
export function becStory(tenant: TenantProfile, start: Date, rng: Rng): BecStory {
  const candidates =
    tenant.users.length > tenant.admins.length ? tenant.users.slice(tenant.admins.length) : tenant.users;
  const victim = rng.pick(candidates);
  const country = rng.pick(FOREIGN_COUNTRIES.filter((c) => c.code !== victim.homeCountry));
  const attackerIp = foreignIpv4(rng, country);
  const forwardTo = `${rng.pick(['accounts', 'ap.team', 'invoices', 'finance.dept'])}${rng.int(10, 99)}@${rng.pick(
    ['mailbox.example.net', 'securemail.example.org', 'inbox-relay.example.com'],
  )}`;
  const browser = rng.pick(BROWSER_AGENTS.slice(0, 3));
  // One browser session in OWA for everything after sign-in.
  const owa = { info: `Client=OWA;Action=ViaProxy;${browser};`, appId: EXCHANGE_APP_ID };

  let t = start;
  const records: BecStory['records'] = [];
  const steps: Record<string, string[]> = {
    failedSignIns: [],
    successfulSignIn: [],
    inboxRule: [],
    searches: [],
    mailAccessBurst: [],
    fileDownloads: [],
  };
  const emit = (step: string, contentType: ContentType, build: (ctx: Ctx) => AuditRecord): void => {
    const record = build({ tenant, rng, time: t });
    records.push({ contentType, record });
    (steps[step] ??= []).push(String(record.Id));
  };
  const advance = (minSeconds: number, maxSeconds: number): void => {
    t = addSeconds(t, rng.int(minSeconds, maxSeconds));
  };

  // Password spraying through legacy auth, the usual first sign of it.
  const failures = rng.int(4, 8);
  for (let i = 0; i < failures; i++) {
    if (i > 0) advance(15, 120);
    emit('failedSignIns', 'Audit.AzureActiveDirectory', (ctx) =>
      stsLogonRecord(ctx, {
        user: victim,
        ip: attackerIp,
        failed: true,
        userAgent: 'BAV2ROPC',
        requestType: 'OAuth2:Token',
        error: ['50126', 'InvalidUserNameOrPassword'],
      }),
    );
  }
  advance(60, 600);
  emit('successfulSignIn', 'Audit.AzureActiveDirectory', (ctx) =>
    stsLogonRecord(ctx, {
      user: victim,
      ip: attackerIp,
      failed: false,
      userAgent: browser,
      requestType: 'OAuth2:Authorize',
    }),
  );

  // Persistence: forward everything out and hide it.
  advance(300, 1200);
  const ruleName = rng.pick(['.', '..', 'RSS', 'Sync', 'Archive']);
  emit('inboxRule', 'Audit.Exchange', (ctx) =>
    inboxRuleRecord(ctx, {
      user: victim,
      ip: attackerIp,
      operation: 'New-InboxRule',
      ruleName,
      params: [
        ['AlwaysDeleteOutlookRulesBlob', 'False'],
        ['Force', 'False'],
        ['ForwardTo', forwardTo],
        ['Name', ruleName],
        ['MarkAsRead', 'True'],
        ['MoveToFolder', 'RSS Subscriptions'],
        ['StopProcessingRules', 'True'],
      ],
    }),
  );
  if (rng.chance(0.5)) {
    advance(60, 300);
    emit('inboxRule', 'Audit.Exchange', (ctx) =>
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
  }

  // Reconnaissance for payment threads.
  advance(1200, 3600);
  const queries = [
    ...PAYMENT_QUERIES.slice(0, 3),
    ...(rng.chance(0.5) ? [rng.pick(PAYMENT_QUERIES.slice(3))] : []),
  ];
  queries.forEach((query, i) => {
    if (i > 0) advance(40, 240);
    emit('searches', 'Audit.Exchange', (ctx) =>
      searchQueryRecord(ctx, { user: victim, ip: attackerIp, query, client: owa }),
    );
  });

  advance(60, 600);
  const binds = rng.int(12, 30);
  for (let i = 0; i < binds; i++) {
    if (i > 0) advance(20, 120);
    emit('mailAccessBurst', 'Audit.Exchange', (ctx) =>
      mailItemsAccessedRecord(ctx, {
        user: victim,
        ip: attackerIp,
        accessType: 'Bind',
        itemCount: rng.int(5, 40),
        client: owa,
      }),
    );
  }

  advance(600, 1800);
  const downloads = rng.int(15, 40);
  const sites = [personalSite(tenant, victim), ...tenant.sites.slice(0, 3)];
  for (let i = 0; i < downloads; i++) {
    if (i > 0) advance(3, 45);
    emit('fileDownloads', 'Audit.SharePoint', (ctx) =>
      fileOperationRecord(ctx, {
        user: victim,
        ip: attackerIp,
        operation: 'FileDownloaded',
        site: rng.pick(sites),
        userAgent: browser,
      }),
    );
  }

  return { victim, attackerIp, attackerCountry: country.code, forwardTo, records, steps };
}
