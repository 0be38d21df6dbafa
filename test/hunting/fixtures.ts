import type { AuditRecord, ContentType } from '../../shared/contentTypes';
import { toDocument, type AuditDocument } from '../../shared/writer/documents';

/**
 * A small tenant, as records the service would send (our own values, shaped like the public samples)
 * mapped to documents by the writer's own toDocument():
 * - alice: password-sprayed, then signs in from the spraying IP with BAV2ROPC, forwards her mail outside,
 *   searches for invoices, syncs her mailbox, downloads files and consents to an app (the attacker);
 * - tom: a traveller signing in from abroad, reading mail and downloading two files (benign);
 * - adam: an admin creating a legitimate inbox rule, internal mailbox forwarding, a role change and, on request,
 *   forwarding erin's mailbox to a partner (benign);
 * - bob: a burst of failed sign-ins (a forgotten password), nothing else;
 * - carol: adds a credential to an application;
 * - fiona: an admin with no sign-ins before the range who, from her desk (where she always signs in), adds a
 *   role member and forwards her own mailbox to her address at a partner (benign: the owner's own doing);
 * - dana: consents to the attacker's app, which reads her mail from the spraying IP (the second victim), after
 *   alice's mailbox sent a lure from the spraying IP.
 */

export const TENANT = '6f1d2c3b-4a59-4e68-9d7c-8b9a0f1e2d3c';
export const RANGE = { from: '2026-11-21T00:00:00', to: '2026-11-23T00:00:00' };
export const SPRAY_IP = '203.0.113.66';
export const ALICE_HOME = '198.51.100.10';
export const TOM_ABROAD = '192.0.2.77';

let n = 0;
const id = (): string => `5a1e${String(++n).padStart(4, '0')}-7b2c-4d3e-8f4a-9b0c1d2e3f4a`;

function base(time: string, user: string, operation: string, ip: string, extra: AuditRecord): AuditRecord {
  return {
    CreationTime: time,
    Id: id(),
    Operation: operation,
    OrganizationId: TENANT,
    UserId: user,
    UserKey: `1003200${user.length}`,
    ClientIP: ip,
    ...extra,
  };
}

function signIn(time: string, user: string, ip: string, ok: boolean, agent = 'Mozilla/5.0'): AuditRecord {
  return base(time, user, ok ? 'UserLoggedIn' : 'UserLoginFailed', ip, {
    RecordType: '15',
    Workload: 'AzureActiveDirectory',
    ResultStatus: ok ? 'Success' : 'Failed',
    ObjectId: '00000002-0000-0ff1-ce00-000000000000',
    ExtendedProperties: [
      { Name: 'ResultStatusDetail', Value: ok ? 'Success' : 'UserError' },
      { Name: 'UserAgent', Value: agent },
      { Name: 'RequestType', Value: 'OAuth2:Token' },
    ],
    ...(ok ? {} : { LogonError: 'InvalidUserNameOrPassword', ErrorNumber: '50126' }),
  });
}

function exchangeAdmin(
  time: string,
  user: string,
  operation: string,
  ip: string,
  objectId: string,
  parameters: [string, string][],
): AuditRecord {
  return base(time, user, operation, `${ip}:50432`, {
    RecordType: 1,
    Workload: 'Exchange',
    ResultStatus: 'True',
    ObjectId: objectId,
    ExternalAccess: false,
    OrganizationName: 'contoso.onmicrosoft.com',
    Parameters: parameters.map(([Name, Value]) => ({ Name, Value })),
  });
}

function mailAccess(
  time: string,
  user: string,
  ip: string,
  type: string,
  count: number,
  appId?: string,
): AuditRecord {
  return base(time, user, 'MailItemsAccessed', ip, {
    ...(appId === undefined ? {} : { AppId: appId, ClientAppId: appId }),
    RecordType: 50,
    Workload: 'Exchange',
    ResultStatus: 'Succeeded',
    MailboxOwnerUPN: user,
    OperationCount: count,
    OperationProperties: [
      { Name: 'MailAccessType', Value: type },
      { Name: 'IsThrottled', Value: 'False' },
    ],
  });
}

function send(time: string, user: string, ip: string, subject: string): AuditRecord {
  return base(time, user, 'Send', ip, {
    RecordType: 2,
    Workload: 'Exchange',
    ResultStatus: 'Succeeded',
    Item: { Subject: subject, ParentFolder: { Path: '\\Sent Items' } },
  });
}

function download(time: string, user: string, ip: string, file: string): AuditRecord {
  const site = `https://contoso-my.sharepoint.com/personal/${user.split('@')[0]}_contoso_com/`;
  return base(time, user, 'FileDownloaded', ip, {
    RecordType: 6,
    Workload: 'OneDrive',
    ObjectId: `${site}Documents/${file}`,
    SiteUrl: site,
    SourceFileName: file,
    UserAgent: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64)',
  });
}

function directory(
  time: string,
  user: string,
  operation: string,
  objectId: string,
  ip: string,
  role?: string,
): AuditRecord {
  return base(time, user, operation, '', {
    RecordType: 8,
    Workload: 'AzureActiveDirectory',
    ResultStatus: 'Success',
    ClientIP: undefined,
    ActorIpAddress: ip,
    ObjectId: objectId,
    Target: [{ ID: objectId, Type: 2 }],
    ModifiedProperties:
      role === undefined ? [] : [{ Name: 'Role.DisplayName', NewValue: role, OldValue: '' }],
  });
}

const ALICE = 'Alice.Adams@contoso.com';
const TOM = 'tom@contoso.com';
const ADAM = 'adam.admin@contoso.com';
const BOB = 'bob@contoso.com';
const CAROL = 'carol@contoso.com';
const DANA = 'dana@contoso.com';
const FIONA = 'fiona@contoso.com';
const FIONA_DESK = '198.51.100.70';
export const APP = 'a1b2c3d4-0000-4000-8000-00000000c0de';
const OTHER_APP = 'b2c3d4e5-0000-4000-8000-00000000ca11';

export function tenantRecords(): { contentType: ContentType; record: AuditRecord }[] {
  const aad: AuditRecord[] = [
    // Baselines: where each account usually signs in from.
    ...['2026-11-10T08:01:00', '2026-11-15T08:03:00', '2026-11-20T08:02:00'].map((t) =>
      signIn(t, ALICE, `${ALICE_HOME}`, true),
    ),
    ...['2026-11-12T07:30:00', '2026-11-18T07:45:00'].map((t) => signIn(t, TOM, '198.51.100.20', true)),
    signIn('2026-11-14T09:00:00', ADAM, '198.51.100.30', true),
    // Spraying: one IP, six accounts, one try each, with the legacy-protocol agent.
    ...[ALICE, BOB, CAROL, TOM, ADAM, 'erin@contoso.com'].map((u, i) =>
      signIn(`2026-11-21T02:0${i}:00`, u, SPRAY_IP, false, 'BAV2ROPC'),
    ),
    signIn('2026-11-21T02:15:00', ALICE, SPRAY_IP, true, 'BAV2ROPC'),
    signIn('2026-11-21T09:00:00', ALICE, ALICE_HOME, true),
    // Tom abroad; a new IP, then ordinary work.
    signIn('2026-11-21T08:00:00', TOM, TOM_ABROAD, true),
    signIn('2026-11-22T08:00:00', TOM, TOM_ABROAD, true),
    // Adam at his desk.
    signIn('2026-11-21T10:00:00', ADAM, '198.51.100.30', true),
    // Fiona at her desk, all day; no history before the range.
    ...['07:00', '11:00', '15:00'].map((t) => signIn(`2026-11-21T${t}:00`, FIONA, FIONA_DESK, true)),
    directory(
      '2026-11-21T11:30:00',
      FIONA,
      'Add member to role.',
      'gus@contoso.com',
      FIONA_DESK,
      'Reports Reader',
    ),
    // Bob forgot his password: 11 failures in one hour from home.
    ...Array.from({ length: 11 }, (_, i) =>
      signIn(`2026-11-21T06:${String(i * 3).padStart(2, '0')}:00`, BOB, '198.51.100.40', false),
    ),
    directory('2026-11-21T05:00:00', ALICE, 'Consent to application.', APP, SPRAY_IP),
    // Dana consents from her own desk to the attacker's app, which then reads her mail from the spraying IP.
    directory('2026-11-21T12:00:00', DANA, 'Consent to application.', APP, '198.51.100.50'),
    directory('2026-11-21T11:00:00', CAROL, 'Add service principal credentials.', OTHER_APP, '198.51.100.60'),
    directory(
      '2026-11-21T10:30:00',
      ADAM,
      'Add member to role.',
      'dave@contoso.com',
      '198.51.100.30',
      'Exchange Administrator',
    ),
  ];
  const exchange: AuditRecord[] = [
    exchangeAdmin(
      '2026-11-21T03:00:00',
      ALICE,
      'New-InboxRule',
      SPRAY_IP,
      'contoso.onmicrosoft.com\\alice\\.',
      [
        ['Mailbox', 'alice'],
        ['Name', '..'],
        ['ForwardTo', 'Drop@Evil.example'],
        ['MarkAsRead', 'True'],
        ['MoveToFolder', 'RSS Feeds'],
      ],
    ),
    exchangeAdmin('2026-11-21T03:05:00', ALICE, 'Set-Mailbox', SPRAY_IP, 'alice', [
      ['Identity', 'alice'],
      ['ForwardingSmtpAddress', 'smtp:drop@evil.example'],
      ['DeliverToMailboxAndForward', 'True'],
    ]),
    base('2026-11-21T03:10:00', ALICE, 'SearchQueryInitiatedExchange', SPRAY_IP, {
      RecordType: 101,
      Workload: 'Exchange',
      QueryText: 'Invoice wire transfer',
      QuerySource: 'Owa',
    }),
    ...['03:20', '03:35', '03:50'].map((t) => mailAccess(`2026-11-21T${t}:00`, ALICE, SPRAY_IP, 'Sync', 300)),
    mailAccess('2026-11-21T09:05:00', ALICE, ALICE_HOME, 'Bind', 5),
    mailAccess('2026-11-21T08:10:00', TOM, TOM_ABROAD, 'Bind', 12),
    mailAccess('2026-11-21T13:00:00', DANA, SPRAY_IP, 'Bind', 30, APP),
    // The lure from alice's mailbox, and an ordinary mail of hers from home.
    send('2026-11-21T04:10:00', ALICE, SPRAY_IP, 'Invoice approval needed today'),
    send('2026-11-21T09:10:00', ALICE, ALICE_HOME, 'Lunch?'),
    mailAccess('2026-11-22T08:10:00', TOM, TOM_ABROAD, 'Sync', 40),
    // Adam's legitimate rule: invoices to the finance team (internal), kept in a folder.
    exchangeAdmin(
      '2026-11-21T10:05:00',
      ADAM,
      'New-InboxRule',
      '198.51.100.30',
      'contoso.onmicrosoft.com\\adam\\.',
      [
        ['Name', 'Invoices to finance'],
        ['SubjectContainsWords', 'invoice'],
        ['ForwardTo', 'finance@contoso.com'],
        ['MoveToFolder', 'Invoices'],
      ],
    ),
    exchangeAdmin('2026-11-21T10:10:00', ADAM, 'Set-Mailbox', '198.51.100.30', 'shared-finance', [
      ['Identity', 'shared-finance'],
      ['ForwardingSmtpAddress', 'SMTP:finance@contoso.com'],
    ]),
    // Erin's mail to a partner, set by the admin on request: an admin change, not a takeover.
    {
      ...exchangeAdmin(
        '2026-11-21T10:11:00',
        ADAM,
        'Set-Mailbox',
        '198.51.100.30',
        'EURPR01A001.prod.outlook.com/Microsoft Exchange Hosted Organizations/contoso.onmicrosoft.com/erin',
        [['ForwardingSmtpAddress', 'smtp:erin@partner.example']],
      ),
      UserType: 2,
    },
    exchangeAdmin('2026-11-21T15:10:00', FIONA, 'Set-Mailbox', FIONA_DESK, 'fiona', [
      ['Identity', 'fiona'],
      ['ForwardingSmtpAddress', 'smtp:fiona@partner.example'],
    ]),
    // A Set-Mailbox without forwarding: not forwarding.
    exchangeAdmin('2026-11-21T10:12:00', ADAM, 'Set-Mailbox', '198.51.100.30', 'shared-finance', [
      ['Identity', 'shared-finance'],
      ['ProhibitSendQuota', '49 GB'],
    ]),
  ];
  const sharePoint: AuditRecord[] = [
    ...['Q4-payments.xlsx', 'Vendors.xlsx', 'Bank-details.docx'].map((f, i) =>
      download(`2026-11-21T04:0${i}:00`, ALICE, SPRAY_IP, f),
    ),
    download('2026-11-21T08:30:00', TOM, TOM_ABROAD, 'Slides.pptx'),
    download('2026-11-21T08:31:00', TOM, TOM_ABROAD, 'Agenda.docx'),
    // Outside the range: never returned.
    download('2026-11-25T08:31:00', TOM, TOM_ABROAD, 'Later.docx'),
  ];
  return [
    ...aad.map((record) => ({ contentType: 'Audit.AzureActiveDirectory' as const, record })),
    ...exchange.map((record) => ({ contentType: 'Audit.Exchange' as const, record })),
    ...sharePoint.map((record) => ({ contentType: 'Audit.SharePoint' as const, record })),
  ];
}

export function tenantDocuments(): AuditDocument[] {
  return documentsOf(tenantRecords());
}

/**
 * Accounts whose history before EDGE_RANGE is short or holds no successful sign-in, or whose role another admin
 * changes (for a container of their own):
 * - olga: an admin whose only sign-in before the range is half an hour before it; in the range she signs in
 *   from another address and, two hours later, makes a role change from it (benign: her laptop at home);
 * - nina: only a failed sign-in before the range, at her desk all day; pete adds her to a role (benign);
 * - ron: signs in from his desk for weeks, in the range once from a new address; pete adds him to a role an
 *   hour later (benign: pete's doing, not that session's);
 * - pete: an admin at his desk for weeks; in the range from a new address, an hour later from his desk again,
 *   then a role change without an address (benign);
 * - quinn: signs in from his desk for weeks; in the range from a new address, and two hours later gives himself
 *   a role, the change carrying no address (which session it was taken in cannot be told).
 */
export const EDGE_RANGE = { from: '2026-11-21T12:00:00', to: '2026-11-22T00:00:00' };
export const OLGA = 'olga@contoso.com';
export const NINA = 'nina@contoso.com';
export const RON = 'ron@contoso.com';
export const PETE = 'pete@contoso.com';
export const QUINN = 'quinn@contoso.com';

export function edgeRecords(): { contentType: ContentType; record: AuditRecord }[] {
  const aad: AuditRecord[] = [
    signIn('2026-11-21T11:30:00', OLGA, '198.51.100.81', true),
    signIn('2026-11-21T13:00:00', OLGA, '2001:db8:81::7', true),
    directory(
      '2026-11-21T15:00:00',
      OLGA,
      'Add member to role.',
      'gus@contoso.com',
      '2001:db8:81::7',
      'Reports Reader',
    ),
    signIn('2026-11-18T09:00:00', NINA, '198.51.100.82', false),
    ...['13:00', '14:00', '16:00'].map((t) => signIn(`2026-11-21T${t}:00`, NINA, '198.51.100.82', true)),
    ...['2026-11-10T08:00:00', '2026-11-17T08:00:00'].map((t) => signIn(t, RON, '198.51.100.83', true)),
    signIn('2026-11-21T13:00:00', RON, '192.0.2.83', true),
    ...['2026-11-10T08:00:00', '2026-11-17T08:00:00'].map((t) => signIn(t, PETE, '198.51.100.84', true)),
    signIn('2026-11-21T12:30:00', PETE, '198.51.100.84', true),
    directory('2026-11-21T12:40:00', PETE, 'Add member to role.', NINA, '198.51.100.84', 'Reports Reader'),
    signIn('2026-11-21T13:00:00', PETE, '192.0.2.84', true),
    directory(
      '2026-11-21T13:59:00',
      PETE,
      'Add member to role.',
      RON,
      '198.51.100.84',
      'Exchange Administrator',
    ),
    signIn('2026-11-21T14:00:00', PETE, '198.51.100.84', true),
    directory(
      '2026-11-21T15:00:00',
      PETE,
      'Add member to role.',
      'gus@contoso.com',
      '',
      'Helpdesk Administrator',
    ),
    ...['2026-11-10T08:00:00', '2026-11-17T08:00:00'].map((t) => signIn(t, QUINN, '198.51.100.85', true)),
    signIn('2026-11-21T13:00:00', QUINN, '192.0.2.85', true),
    directory('2026-11-21T15:00:00', QUINN, 'Add member to role.', QUINN, '', 'Global Administrator'),
  ];
  return aad.map((record) => ({ contentType: 'Audit.AzureActiveDirectory' as const, record }));
}

export function edgeDocuments(): AuditDocument[] {
  return documentsOf(edgeRecords());
}

function documentsOf(records: { contentType: ContentType; record: AuditRecord }[]): AuditDocument[] {
  return records.map(({ contentType, record }) => {
    const mapped = toDocument(JSON.parse(JSON.stringify(record)), {
      tenantId: TENANT,
      contentType,
      ingestedAt: '2026-11-23T00:00:00.000Z',
    });
    if (!mapped.ok) throw new Error(mapped.reason);
    return mapped.document;
  });
}
