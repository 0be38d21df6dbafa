import type { AuditRecord } from '../../../shared/contentTypes';
import type { Rng } from '../rng';
import type { Ctx, SimUser, TenantProfile } from './common';
import {
  BROWSER_AGENTS,
  EXCHANGE_APP_ID,
  aliasOf,
  baseRecord,
  exchangeClientIp,
  exchangeItemId,
  formatCreationTime,
  internetMessageId,
  mailboxGuidOf,
  nameValues,
  originatingServer,
  sidOf,
  subject,
  userIp,
  weighted,
  fileName,
  guid,
} from './common';

export interface ExchangeClient {
  info: string;
  appId?: string;
}

function exchangeClient(rng: Rng, tenant: TenantProfile): ExchangeClient {
  return weighted<() => ExchangeClient>(rng, [
    [() => ({ info: `Client=OWA;Action=ViaProxy;${rng.pick(BROWSER_AGENTS)};`, appId: EXCHANGE_APP_ID }), 3],
    [() => ({ info: 'Client=MSExchangeRPC' }), 3],
    [
      () => ({
        info: 'Client=OutlookService;Outlook-iOS/2.0;',
        appId: '27922004-5251-4030-b22d-91ecd9a37ea4',
      }),
      1,
    ],
    [
      () => ({
        info: 'Client=OutlookService;Outlook-Android/2.0;',
        appId: '27922004-5251-4030-b22d-91ecd9a37ea4',
      }),
      1,
    ],
    [() => ({ info: 'Client=REST;Client=RESTSystem;;', appId: rng.pick(tenant.ownApps).appId }), 1],
    [
      () => ({
        info: 'Client=WebServices;Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17328; Pro);',
      }),
      1,
    ],
  ] as const)();
}

const FOLDERS = [
  '\\Inbox',
  '\\Inbox',
  '\\Inbox',
  '\\Sent Items',
  '\\Archive',
  '\\Inbox\\Finance',
  '\\Drafts',
  '\\Projekte',
];

function folderRef(rng: Rng, path: string): { Id: string; Path: string } {
  return { Id: exchangeItemId(rng, 'LgAAAAC', 60), Path: path };
}

/** Fields every mailbox-audit record carries, after the common ones. */
function mailboxFields(ctx: Ctx, user: SimUser, ip: string, client: ExchangeClient): Record<string, unknown> {
  const { rng, tenant } = ctx;
  const sid = sidOf(tenant, user);
  const f: Record<string, unknown> = {};
  if (client.appId) {
    f.AppId = client.appId;
    f.ClientAppId = client.appId;
  }
  f.ClientIPAddress = ip;
  f.ClientInfoString = client.info;
  f.ExternalAccess = false;
  f.InternalLogonType = 0;
  f.LogonType = 0;
  f.LogonUserSid = sid;
  f.MailboxGuid = mailboxGuidOf(user);
  f.MailboxOwnerSid = sid;
  f.MailboxOwnerUPN = user.upn;
  f.OrganizationName = tenant.orgName;
  f.OriginatingServer = originatingServer(rng, tenant);
  f.SessionId = guid(rng);
  return f;
}

function mailboxBase(
  ctx: Ctx,
  recordType: number,
  operation: string,
  user: SimUser,
  ip: string,
): AuditRecord {
  return baseRecord(ctx, {
    recordType,
    operation,
    resultStatus: 'Succeeded',
    userKey: user.puid,
    userType: 0,
    workload: 'Exchange',
    clientIp: exchangeClientIp(ctx.rng, ip),
    userId: user.upn,
  });
}

export interface FolderItem {
  InternetMessageId: string;
  SizeInBytes?: number;
  Id?: string;
  ImmutableId?: string;
}

export function folderItem(rng: Rng, tenant: TenantProfile, detailed: boolean): FolderItem {
  const item: FolderItem = { InternetMessageId: internetMessageId(rng, tenant) };
  if (detailed) {
    item.SizeInBytes = rng.int(2_000, 400_000);
    item.Id = exchangeItemId(rng, 'RgAAAAB', 152);
    item.ImmutableId = exchangeItemId(rng, 'LgAAAAB', 64);
  }
  return item;
}

export interface MailAccessOptions {
  user: SimUser;
  ip: string;
  accessType?: 'Bind' | 'Sync';
  /** Bind only; default drawn from a long-tailed distribution. */
  itemCount?: number;
  client?: ExchangeClient;
}

/** RecordType 50 `MailItemsAccessed`: binds aggregate message ids per folder, syncs name one folder. */
export function mailItemsAccessedRecord(ctx: Ctx, o: MailAccessOptions): AuditRecord {
  const { rng, tenant } = ctx;
  const accessType = o.accessType ?? (rng.chance(0.8) ? 'Bind' : 'Sync');
  const client = o.client ?? exchangeClient(rng, tenant);
  const r = mailboxBase(ctx, 50, 'MailItemsAccessed', o.user, o.ip);
  if (rng.chance(0.5)) {
    r.AppAccessContext = {
      AADSessionId: guid(rng),
      APIId: guid(rng),
      ClientAppId: client.appId ?? EXCHANGE_APP_ID,
      CorrelationId: guid(rng),
      IssuedAtTime: formatCreationTime(new Date(ctx.time.getTime() - rng.int(60, 3600) * 1000)),
      UniqueTokenId: exchangeItemId(rng, '', 22),
    };
  }
  Object.assign(r, mailboxFields(ctx, o.user, o.ip, client));
  r.OperationProperties = nameValues([
    ['MailAccessType', accessType],
    ['IsThrottled', 'False'],
  ]);
  if (accessType === 'Sync') {
    r.Folders = [folderRef(rng, rng.pick(FOLDERS))];
    r.OperationCount = 1;
    return r;
  }
  const count =
    o.itemCount ??
    weighted(rng, [
      [1, 40],
      [rng.int(2, 5), 38],
      [rng.int(6, 15), 17],
      [rng.int(16, 45), 5],
    ] as const);
  // Newer records add Id/ImmutableId/SizeInBytes per item; keep those to small binds so the tail stays ~10 KB.
  const detailed = count <= 15 && rng.chance(0.3);
  const folders: Array<{ Id: string; Path: string; FolderItems: FolderItem[] }> = [];
  for (let i = 0; i < count; i++) {
    if (folders.length === 0 || (folders.length < 3 && rng.chance(0.1))) {
      folders.push({ ...folderRef(rng, rng.pick(FOLDERS)), FolderItems: [] });
    }
    folders[folders.length - 1]?.FolderItems.push(folderItem(rng, tenant, detailed));
  }
  r.Folders = folders;
  r.OperationCount = count;
  return r;
}

function attachmentsText(rng: Rng): string {
  return Array.from(
    { length: rng.int(1, 3) },
    () => `${fileName(rng).name} (${rng.int(1_000, 900_000)}b)`,
  ).join('; ');
}

function sendRecord(ctx: Ctx, user: SimUser, ip: string): AuditRecord {
  const { rng, tenant } = ctx;
  const r = mailboxBase(ctx, 2, 'Send', user, ip);
  Object.assign(r, mailboxFields(ctx, user, ip, exchangeClient(rng, tenant)));
  const item: Record<string, unknown> = {
    Id: exchangeItemId(rng, 'RgAAAAB', 152),
    InternetMessageId: internetMessageId(rng, tenant),
    IsRecord: false,
    ParentFolder: folderRef(rng, '\\Sent Items'),
    SizeInBytes: rng.int(3_000, 2_500_000),
    Subject: subject(rng),
  };
  if (rng.chance(0.3)) item.Attachments = attachmentsText(rng);
  r.Item = item;
  r.SaveToSentItems = true;
  return r;
}

/** A `Send` with a chosen subject and client (scripted stories); ordinary activity uses `sendRecord`. */
export function sendMailRecord(
  ctx: Ctx,
  o: { user: SimUser; ip: string; subject: string; client: ExchangeClient; attachments?: string },
): AuditRecord {
  const { rng, tenant } = ctx;
  const r = mailboxBase(ctx, 2, 'Send', o.user, o.ip);
  Object.assign(r, mailboxFields(ctx, o.user, o.ip, o.client));
  const item: Record<string, unknown> = {
    Id: exchangeItemId(rng, 'RgAAAAB', 152),
    InternetMessageId: internetMessageId(rng, tenant),
    IsRecord: false,
    ParentFolder: folderRef(rng, '\\Sent Items'),
    SizeInBytes: rng.int(20_000, 90_000),
    Subject: o.subject,
  };
  if (o.attachments !== undefined) item.Attachments = o.attachments;
  r.Item = item;
  r.SaveToSentItems = true;
  return r;
}

function updateRecord(ctx: Ctx, user: SimUser, ip: string): AuditRecord {
  const { rng, tenant } = ctx;
  const r = mailboxBase(ctx, 2, 'Update', user, ip);
  Object.assign(r, mailboxFields(ctx, user, ip, exchangeClient(rng, tenant)));
  r.Item = {
    Id: exchangeItemId(rng, 'RgAAAAB', 152),
    InternetMessageId: internetMessageId(rng, tenant),
    IsRecord: false,
    ParentFolder: folderRef(rng, rng.pick(['\\Drafts', '\\Calendar', '\\Inbox'])),
    SizeInBytes: rng.int(2_000, 90_000),
    Subject: subject(rng),
  };
  // A plain list of strings here, where most records put {Name,…} objects.
  r.ModifiedProperties = rng.pick([
    ['HtmlBody'],
    ['HtmlBody', 'RecipientCollection'],
    ['Subject', 'HtmlBody'],
  ]);
  return r;
}

/**
 * RecordType 3 (ExchangeItemGroup): deletes carry `AffectedItems[]` and `Folder`, not `Item`, in real feeds.
 */
function itemGroupRecord(
  ctx: Ctx,
  operation: 'MoveToDeletedItems' | 'SoftDelete' | 'HardDelete',
  user: SimUser,
  ip: string,
): AuditRecord {
  const { rng, tenant } = ctx;
  const r = mailboxBase(ctx, 3, operation, user, ip);
  Object.assign(r, mailboxFields(ctx, user, ip, exchangeClient(rng, tenant)));
  const from = folderRef(rng, operation === 'MoveToDeletedItems' ? rng.pick(FOLDERS) : '\\Deleted Items');
  r.AffectedItems = Array.from(
    {
      length: weighted(rng, [
        [1, 6],
        [rng.int(2, 6), 3],
        [rng.int(7, 20), 1],
      ] as const),
    },
    () => {
      const item: Record<string, unknown> = {
        Id: exchangeItemId(rng, 'RgAAAAB', 152),
        InternetMessageId: internetMessageId(rng, tenant),
        ParentFolder: from,
        Subject: subject(rng),
      };
      if (rng.chance(0.15)) item.Attachments = attachmentsText(rng);
      return item;
    },
  );
  r.CrossMailboxOperation = false;
  if (operation === 'MoveToDeletedItems') r.DestFolder = folderRef(rng, '\\Deleted Items');
  r.Folder = from;
  return r;
}

const NORMAL_QUERIES = [
  'budget',
  'from:megan',
  'flight confirmation',
  'contract renewal',
  'Übersicht',
  'offsite',
  'payslip',
  '会议纪要',
  'presentation',
  'hasattachments:yes quarterly',
  'expense',
  'password reset',
  'Angebot',
];

/**
 * `SearchQueryInitiatedExchange`. The query text field name is not confirmed by any source; `QueryText`
 * is our guess. RecordType seen as 101 (ExchangeSearch) and 2 in different descriptions: emit both.
 */
export function searchQueryRecord(
  ctx: Ctx,
  o: { user: SimUser; ip: string; query: string; client?: ExchangeClient },
): AuditRecord {
  const { rng, tenant } = ctx;
  const r = mailboxBase(ctx, rng.chance(0.7) ? 101 : 2, 'SearchQueryInitiatedExchange', o.user, o.ip);
  Object.assign(r, mailboxFields(ctx, o.user, o.ip, o.client ?? exchangeClient(rng, tenant)));
  r.QueryText = o.query;
  return r;
}

function mailboxObjectId(tenant: TenantProfile, user: SimUser): string {
  return `${tenant.exchangeRegion.toUpperCase()}A001.prod.outlook.com/Microsoft Exchange Hosted Organizations/${tenant.orgName}/${aliasOf(user)}`;
}

interface CmdletActor {
  userId: string;
  userKey: string;
  userType: number;
  ip?: string;
  external: boolean;
}

function userActor(user: SimUser, ip: string, userType: number): CmdletActor {
  return { userId: user.upn, userKey: user.puid, userType, ip, external: false };
}

const SYSTEM_ACTOR: CmdletActor = {
  userId: 'NT AUTHORITY\\SYSTEM (Microsoft.Exchange.ServiceHost)',
  userKey: 'NT AUTHORITY\\SYSTEM (Microsoft.Exchange.ServiceHost)',
  userType: 3,
  external: true,
};

/** RecordType 1 admin cmdlet; `ResultStatus` is the string "True" for these. */
function cmdletRecord(
  ctx: Ctx,
  operation: string,
  actor: CmdletActor,
  objectId: string,
  params: ReadonlyArray<readonly [string, string]>,
): AuditRecord {
  const { rng, tenant } = ctx;
  const r = baseRecord(ctx, {
    recordType: 1,
    operation,
    resultStatus: 'True',
    userKey: actor.userKey,
    userType: actor.userType,
    workload: 'Exchange',
    clientIp: actor.ip === undefined ? undefined : exchangeClientIp(rng, actor.ip),
    objectId,
    userId: actor.userId,
  });
  r.AppId = actor.ip === undefined ? '' : EXCHANGE_APP_ID;
  if (actor.ip !== undefined)
    r.AppPoolName = rng.pick(['MSExchangeOWAAppPool', 'MSExchangePowerShellFrontEndAppPool']);
  r.ClientAppId = '';
  r.ExternalAccess = actor.external;
  r.OrganizationName = tenant.orgName;
  r.OriginatingServer = originatingServer(rng, tenant);
  r.Parameters = nameValues(params);
  r.SessionId = guid(rng);
  return r;
}

export function inboxRuleRecord(
  ctx: Ctx,
  o: {
    user: SimUser;
    ip: string;
    operation: 'New-InboxRule' | 'Set-InboxRule';
    ruleName: string;
    params: ReadonlyArray<readonly [string, string]>;
  },
): AuditRecord {
  return cmdletRecord(
    ctx,
    o.operation,
    userActor(o.user, o.ip, 0),
    `${mailboxObjectId(ctx.tenant, o.user)}\\${o.ruleName}`,
    o.params,
  );
}

export function setMailboxRecord(
  ctx: Ctx,
  o: { actor: SimUser; ip: string; mailbox: SimUser; params: ReadonlyArray<readonly [string, string]> },
): AuditRecord {
  const objectId = mailboxObjectId(ctx.tenant, o.mailbox);
  return cmdletRecord(ctx, 'Set-Mailbox', userActor(o.actor, o.ip, o.actor === o.mailbox ? 0 : 2), objectId, [
    ['Identity', objectId],
    ...o.params,
  ]);
}

const RULE_NAMES = [
  'Newsletters',
  'Receipts',
  'From manager',
  'Jira notifications',
  'Übersicht',
  'Facturas',
  'CC me',
];

function normalInboxRule(
  ctx: Ctx,
  user: SimUser,
  ip: string,
  operation: 'New-InboxRule' | 'Set-InboxRule',
): AuditRecord {
  const { rng } = ctx;
  const ruleName = rng.pick(RULE_NAMES);
  const params: Array<[string, string]> =
    operation === 'New-InboxRule'
      ? [
          ['AlwaysDeleteOutlookRulesBlob', 'False'],
          ['Force', 'False'],
          ['MoveToFolder', ruleName],
          ['Name', ruleName],
          rng.chance(0.5)
            ? [
                'From',
                `noreply@${rng.pick(['newsletter.example', 'tickets.example.org', 'billing.example.net'])}`,
              ]
            : ['SubjectContainsWords', rng.pick(['receipt', 'digest', 'build failed', 'Rechnung'])],
          ['StopProcessingRules', rng.chance(0.3) ? 'True' : 'False'],
        ]
      : [
          ['Identity', `${aliasOf(user)}\\${rng.int(1_000_000, 9_999_999)}${rng.int(1_000_000, 9_999_999)}`],
          ['Enabled', rng.chance(0.5) ? 'True' : 'False'],
        ];
  return inboxRuleRecord(ctx, { user, ip, operation, ruleName, params });
}

function normalSetMailbox(ctx: Ctx): AuditRecord {
  const { rng, tenant } = ctx;
  const mailbox = rng.pick(tenant.users);
  if (rng.chance(0.4)) {
    // Service-side housekeeping: no client address at all.
    const objectId = mailboxObjectId(tenant, mailbox);
    return cmdletRecord(ctx, 'Set-Mailbox', SYSTEM_ACTOR, objectId, [
      ['Identity', objectId],
      ['RecoverableItemsQuota', '30 GB (32,212,254,720 bytes)'],
      ['ProhibitSendQuota', '99 GB (106,300,440,576 bytes)'],
      ['IssueWarningQuota', '98 GB (105,226,698,752 bytes)'],
      ['UseDatabaseQuotaDefaults', 'False'],
      ['Force', 'True'],
    ]);
  }
  const admin = rng.pick(tenant.admins);
  const change = weighted<Array<[string, string]>>(rng, [
    [[['LitigationHoldEnabled', 'True']], 3],
    [[['AuditEnabled', 'True']], 3],
    [[['RetentionPolicy', 'Default MRM Policy']], 2],
    [[['GrantSendOnBehalfTo', rng.pick(tenant.users).upn]], 2],
    [
      [
        ['ForwardingSmtpAddress', `smtp:${aliasOf(mailbox)}@partner.example.com`],
        ['DeliverToMailboxAndForward', 'True'],
      ],
      1,
    ],
  ] as const);
  return setMailboxRecord(ctx, { actor: admin, ip: userIp(ctx, admin), mailbox, params: change });
}

export function makeExchangeRecord(ctx: Ctx): AuditRecord {
  const { rng, tenant } = ctx;
  const user = rng.pick(tenant.users);
  const ip = userIp(ctx, user);
  const op = weighted(rng, [
    ['MailItemsAccessed', 50],
    ['Send', 12],
    ['MoveToDeletedItems', 9],
    ['SoftDelete', 5],
    ['HardDelete', 2],
    ['Update', 3],
    ['SearchQueryInitiatedExchange', 7],
    ['New-InboxRule', 2],
    ['Set-InboxRule', 1.5],
    ['Set-Mailbox', 4],
  ] as const);
  switch (op) {
    case 'MailItemsAccessed':
      return mailItemsAccessedRecord(ctx, { user, ip });
    case 'Send':
      return sendRecord(ctx, user, ip);
    case 'Update':
      return updateRecord(ctx, user, ip);
    case 'MoveToDeletedItems':
    case 'SoftDelete':
    case 'HardDelete':
      return itemGroupRecord(ctx, op, user, ip);
    case 'SearchQueryInitiatedExchange':
      return searchQueryRecord(ctx, { user, ip, query: rng.pick(NORMAL_QUERIES) });
    case 'New-InboxRule':
    case 'Set-InboxRule':
      return normalInboxRule(ctx, user, ip, op);
    case 'Set-Mailbox':
      return normalSetMailbox(ctx);
  }
}
