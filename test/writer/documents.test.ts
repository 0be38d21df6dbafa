import { normalizeClientIp } from '../../shared/writer/clientIp';
import {
  ADDED_FIELD_NAMES,
  documentBytesBound,
  oversizeStub,
  RESERVED_NAME_FIELDS,
  serializedBytes,
  STUB_MAX_BYTES,
  toDocument,
  type AuditDocument,
  type DocumentContext,
} from '../../shared/writer/documents';
import { flatFields } from '../../shared/writer/flatFields';
import { nameValues } from '../../shared/writer/nameValues';
import { MAX_DOCUMENT_NESTING, nestingDepth, stringifyDeep } from '../../shared/writer/nesting';
import {
  creationDayOf,
  documentId,
  isValidCosmosId,
  partitionKey,
  sha256Hex,
} from '../../shared/writer/recordIdentity';

const TENANT = '6f1d2c3b-4a59-4e68-9d7c-8b9a0f1e2d3c';
const CONTEXT: DocumentContext = {
  tenantId: TENANT,
  contentType: 'Audit.Exchange',
  ingestedAt: '2026-11-21T08:00:00.000Z',
};

function mapOk(record: unknown, context: DocumentContext = CONTEXT): AuditDocument {
  const mapped = toDocument(record, context);
  if (!mapped.ok) throw new Error(`expected a document, got: ${mapped.reason}`);
  return mapped.document;
}

// Fixtures shaped like the service's records (our own values).
const mailItemsAccessed = {
  CreationTime: '2026-05-04T09:12:40',
  Id: '3e0b6a52-1c4d-4f7e-9a21-5d8c7b6a4e31',
  Operation: 'MailItemsAccessed',
  OrganizationId: TENANT,
  RecordType: 50,
  ResultStatus: 'Succeeded',
  UserKey: '10032002AB12CD34',
  UserType: 0,
  Version: 1,
  Workload: 'Exchange',
  ClientIP: '203.0.113.7',
  UserId: 'Megan.Bowen@Contoso.com',
  ClientIPAddress: '203.0.113.7',
  ClientInfoString: 'Client=OutlookService;Outlook-iOS/2.0;',
  MailboxOwnerUPN: 'megan.bowen@contoso.com',
  OperationCount: 3,
  OperationProperties: [
    { Name: 'MailAccessType', Value: 'Bind' },
    { Name: 'IsThrottled', Value: 'False' },
  ],
  Folders: [{ Id: 'LgAAAA1', Path: '\\Inbox', FolderItems: [{ InternetMessageId: '<a1@contoso.com>' }] }],
};

const failedLogon = {
  CreationTime: '2026-05-04T12:13:33',
  Id: '9a7c5e31-2b4d-4c6e-8f10-1a2b3c4d5e6f',
  Operation: 'UserLoginFailed',
  OrganizationId: TENANT,
  RecordType: '15',
  ResultStatus: 'Failed',
  UserKey: 'f23c0000-1111-2222-3333-444455556666',
  UserType: '0',
  Version: '1',
  Workload: 'AzureActiveDirectory',
  ClientIP: '2001:DB8:114:105::1A:9B',
  ObjectId: 'Unknown',
  UserId: 'lidia@contoso.onmicrosoft.com',
  ExtendedProperties: [
    { Name: 'ResultStatusDetail', Value: 'UserError' },
    { Name: 'UserAgent', Value: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64)' },
    { Name: 'RequestType', Value: 'OAuth2:Token' },
  ],
  ActorIpAddress: '2001:db8:114:105::1a:9b',
  ErrorNumber: 50126,
  LogonError: 'InvalidUserNameOrPassword',
};

const newInboxRule = {
  CreationTime: '2026-05-05T07:01:02',
  Id: '5c1e7f20-0a9b-4d8c-b7e6-f5d4c3b2a190',
  Operation: 'New-InboxRule',
  RecordType: 1,
  ResultStatus: 'True',
  Workload: 'Exchange',
  ClientIP: '198.51.100.23:28491',
  UserId: 'adele@contoso.com',
  ObjectId:
    'EURPR01A002.prod.outlook.com/Microsoft Exchange Hosted Organizations/contoso.onmicrosoft.com/adele\\Forward',
  Parameters: [
    { Name: 'ForwardTo', Value: 'drop@example.net' },
    { Name: 'Name', Value: 'Forward everything' },
    { Name: 'StopProcessingRules', Value: 'True' },
  ],
};

const setMailboxAsString = {
  CreationTime: '2026-05-05T07:05:00',
  Id: '7d2f8a31-1b0c-4e9d-a8f7-e6d5c4b3a2f1',
  Operation: 'Set-Mailbox',
  RecordType: 1,
  Workload: 'Exchange',
  UserId: 'NT AUTHORITY\\SYSTEM (Microsoft.Exchange.ServiceHost)',
  Parameters:
    '-Identity "adele@contoso.com" -ForwardingSmtpAddress "smtp:drop@example.net" -DeliverToMailboxAndForward "True" -QuarantineTypes ("Bulk","Spam") -Force',
};

const fileDownloaded = {
  CreationTime: '2026-05-04T16:44:08',
  Id: 'b2c3d4e5-f6a7-4b8c-9d0e-1f2a3b4c5d6e',
  Operation: 'FileDownloaded',
  RecordType: 6,
  UserKey: 'i:0h.f|membership|10032000aa@live.com',
  Workload: 'SharePoint',
  ClientIP: '[2001:db8::abcd]:443',
  ObjectId: 'https://contoso.sharepoint.com/sites/Finance/Shared Documents/Q2.xlsx',
  UserId: 'alex@contoso.com',
  UserAgent: 'Microsoft SkyDriveSync 23.1 ship; Windows NT 10.0',
  SiteUrl: 'https://contoso.sharepoint.com/sites/Finance/',
  SourceFileName: 'Q2.xlsx',
  SourceFileExtension: 'xlsx',
};

const dlpMatch = {
  CreationTime: '2026-02-25T16:23:39',
  Id: 'e1f2a3b4-c5d6-4e7f-8091-a2b3c4d5e6f7',
  Operation: 'DLPRuleMatch',
  RecordType: 11,
  UserId: 'DlpPolicyEventBasedAssistantOneDriveForBusiness',
  UserKey: 'DlpPolicyEventBasedAssistantOneDriveForBusiness',
  Workload: 'OneDrive',
  PolicyDetails: [
    {
      PolicyId: 'a15b0000-0000-4000-8000-000000000001',
      PolicyName: 'U.S. Financial Data',
      Rules: [
        {
          RuleName: 'Low volume of content detected',
          Severity: 'Low',
          ConditionsMatched: {
            SensitiveInformation: [{ SensitiveType: '50842eb7-edc8-4019-85dd-5a5c1f2bb085', Count: 1 }],
          },
        },
        {
          RuleName: 'High volume of content detected',
          Severity: 'High',
          ConditionsMatched: {
            SensitiveInformation: [
              { SensitiveInformationTypeName: 'Credit Card Number', Count: 12 },
              { SensitiveType: '50842eb7-edc8-4019-85dd-5a5c1f2bb085', Count: 3 },
            ],
          },
        },
      ],
    },
  ],
  SharePointMetaData: {
    FileName: 'Customers.docx',
    SiteCollectionUrl: 'https://contoso-my.sharepoint.com/personal/alex_contoso_com',
  },
};

const FIXTURES = [mailItemsAccessed, failedLogon, newInboxRule, setMailboxAsString, fileDownloaded, dlpMatch];

describe('document id', () => {
  it('keeps a record Id that Cosmos accepts', () => {
    expect(documentId('3e0b6a52-1c4d-4f7e-9a21-5d8c7b6a4e31')).toBe('3e0b6a52-1c4d-4f7e-9a21-5d8c7b6a4e31');
    expect(documentId('7')).toBe('7');
    expect(documentId('a'.repeat(1023))).toBe('a'.repeat(1023));
  });

  it.each(['a/b', 'a\\b', 'what?', 'tag#1', 'tab\there', 'x'.repeat(1024), 'é'.repeat(512)])(
    'hashes an Id Cosmos refuses (%#), deterministically',
    (raw) => {
      expect(isValidCosmosId(raw)).toBe(false);
      const id = documentId(raw);
      expect(id).toMatch(/^h-[0-9a-f]{32}$/);
      expect(id).toBe(`h-${sha256Hex(raw).slice(0, 32)}`);
      expect(documentId(raw)).toBe(id);
    },
  );

  it('gives different hashes for different Ids and uses the hash on the whole document', () => {
    expect(documentId('a/b')).not.toBe(documentId('a/c'));
    const doc = mapOk({ ...mailItemsAccessed, Id: 'Exchange/Item#42' });
    expect(doc.id).toBe(documentId('Exchange/Item#42'));
    expect(doc.Id).toBe('Exchange/Item#42');
  });

  it('accepts a numeric Id and spells it out', () => {
    expect(mapOk({ ...mailItemsAccessed, Id: 8 }).id).toBe('8');
  });
});

describe('partition key', () => {
  it('is <creationDay>_<8 hex>, short, and the same for every spelling of the same record', () => {
    const a = mapOk(failedLogon);
    const b = mapOk({
      ...failedLogon,
      RecordType: 15,
      UserType: 0,
      UserId: 'LIDIA@contoso.onmicrosoft.com',
    });
    expect(a.pk).toMatch(/^2026-05-04_[0-9a-f]{8}$/);
    expect(Buffer.byteLength(a.pk)).toBeLessThanOrEqual(100);
    expect(b.pk).toBe(a.pk);
    expect(b.id).toBe(a.id);
  });

  it('does not depend on ingestion time or retention', () => {
    const later = mapOk(failedLogon, { ...CONTEXT, ingestedAt: '2027-01-01T00:00:00.000Z', ttlSeconds: 60 });
    expect(later.pk).toBe(mapOk(failedLogon).pk);
  });

  it('separates tenants, users and days, and falls back to UserKey then "unknown"', () => {
    const base = partitionKey(TENANT, '2026-05-04', 'lidia@contoso.onmicrosoft.com');
    expect(
      partitionKey('00000000-0000-4000-8000-000000000000', '2026-05-04', 'lidia@contoso.onmicrosoft.com'),
    ).not.toBe(base);
    expect(partitionKey(TENANT, '2026-05-04', 'megan@contoso.com')).not.toBe(base);
    expect(partitionKey(TENANT, '2026-05-05', 'lidia@contoso.onmicrosoft.com').slice(11)).toBe(
      base.slice(11),
    );

    const { UserId: _u, ...withoutUserId } = mailItemsAccessed;
    expect(mapOk(withoutUserId).pk).toBe(partitionKey(TENANT, '2026-05-04', '10032002ab12cd34'));
    const { UserKey: _k, ...anonymous } = withoutUserId;
    expect(mapOk(anonymous).pk).toBe(partitionKey(TENANT, '2026-05-04', 'unknown'));
    expect(mapOk(anonymous).user).toBeUndefined();
  });
});

describe('creation day', () => {
  it.each([
    ['2026-05-04T09:12:40', '2026-05-04'],
    ['2026-05-04T23:59:59', '2026-05-04'],
    ['2026-05-04T23:59:59.1234567', '2026-05-04'],
    ['2026-05-04T09:12', '2026-05-04'],
    ['2026-05-04T23:30:00Z', '2026-05-04'],
    ['2026-05-04T23:30:00-02:00', '2026-05-05'],
    ['2026-05-05T00:30:00+01:00', '2026-05-04'],
  ])('%s is UTC day %s', (time, day) => {
    expect(creationDayOf(time)).toBe(day);
  });

  it.each([
    '9/15/2025 11:05:00 PM',
    '2026-02-30T10:00:00',
    '2026-05-04T24:00:00',
    '',
    'yesterday',
    1714813960,
  ])('refuses %p', (time) => {
    expect(creationDayOf(time)).toBeUndefined();
  });
});

describe('toDocument', () => {
  it('keeps every record field as it is and adds ours', () => {
    const doc = mapOk(mailItemsAccessed, { ...CONTEXT, ttlSeconds: 90 * 86_400 });
    for (const [key, value] of Object.entries(mailItemsAccessed)) expect(doc[key]).toEqual(value);
    expect(doc).toMatchObject({
      id: mailItemsAccessed.Id,
      tenantId: TENANT,
      contentType: 'Audit.Exchange',
      creationDay: '2026-05-04',
      ingestedAt: CONTEXT.ingestedAt,
      ttl: 90 * 86_400,
    });
    expect(mapOk(mailItemsAccessed).ttl).toBeUndefined();
  });

  it('moves fields that start with "_" or clash with ours under reservedNameFields, unchanged', () => {
    const record = {
      ...mailItemsAccessed,
      _rid: 'abc',
      _ts: 5,
      __meta: { a: 1 },
      id: 'lower-case id from some workload',
      pk: 'theirs',
      ttl: 3,
      clientIp: 'theirs too',
      [RESERVED_NAME_FIELDS]: 'even this',
    };
    const doc = mapOk(record);
    expect(doc.id).toBe(mailItemsAccessed.Id);
    expect(doc.pk).toMatch(/^2026-05-04_/);
    expect(doc.ttl).toBeUndefined();
    expect(doc.clientIp).toBe('203.0.113.7');
    expect(doc[RESERVED_NAME_FIELDS]).toEqual({
      _rid: 'abc',
      _ts: 5,
      __meta: { a: 1 },
      id: 'lower-case id from some workload',
      pk: 'theirs',
      ttl: 3,
      clientIp: 'theirs too',
      [RESERVED_NAME_FIELDS]: 'even this',
    });
    expect(Object.keys(doc).filter((k) => k.startsWith('_'))).toEqual([]);
  });

  it('adds only camelCase names, distinct from the PascalCase record fields', () => {
    for (const name of ADDED_FIELD_NAMES) expect(name).toMatch(/^[a-z]/);
  });

  it.each([
    [{ ...mailItemsAccessed, Id: undefined }, /no usable Id \(missing\)/],
    [{ ...mailItemsAccessed, Id: '' }, /no usable Id/],
    [{ ...mailItemsAccessed, Id: { nested: true } }, /no usable Id/],
    [{ ...mailItemsAccessed, CreationTime: undefined }, /no parseable CreationTime \(missing\)/],
    [
      { ...mailItemsAccessed, CreationTime: '9/15/2025 11:05:00 PM' },
      /no parseable CreationTime \("9\/15\/2025/,
    ],
    [{ Platform: 1 }, /no usable Id/],
    [null, /not a JSON object/],
    ['a string', /not a JSON object/],
  ])('refuses an unusable record (%#) with the reason', (record, reason) => {
    const mapped = toDocument(record, CONTEXT);
    expect(mapped.ok).toBe(false);
    if (!mapped.ok) expect(mapped.reason).toMatch(reason);
  });
});

describe('flat fields', () => {
  it('Exchange mailbox access: client IP, user, mail access type', () => {
    expect(flatFields(mailItemsAccessed)).toEqual({
      clientIp: '203.0.113.7',
      user: 'megan.bowen@contoso.com',
      recordType: 50,
      mailAccessType: 'Bind',
    });
  });

  it('Azure AD sign-in: user agent, result detail, logon error, error number as text, record type as number', () => {
    expect(flatFields(failedLogon)).toEqual({
      clientIp: '2001:db8:114:105::1a:9b',
      user: 'lidia@contoso.onmicrosoft.com',
      recordType: 15,
      userAgent: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64)',
      resultStatusDetail: 'UserError',
      logonError: 'InvalidUserNameOrPassword',
      errorNumber: '50126',
    });
  });

  it('Azure AD directory event: user agent from additionalDetails JSON', () => {
    const record = {
      ...failedLogon,
      ExtendedProperties: [
        { Name: 'additionalDetails', Value: '{"User-Agent":"Mozilla/5.0 (Macintosh) Firefox/72.0"}' },
      ],
    };
    expect(flatFields(record).userAgent).toBe('Mozilla/5.0 (Macintosh) Firefox/72.0');
  });

  it('Exchange inbox rule: rule name and forwarding target, IP without port', () => {
    expect(flatFields(newInboxRule)).toMatchObject({
      clientIp: '198.51.100.23',
      inboxRuleName: 'Forward everything',
      forwardTo: 'drop@example.net',
      recordType: 1,
    });
  });

  it('Exchange Set-Mailbox with Parameters as one string: forwarding address and flag', () => {
    const flat = flatFields(setMailboxAsString);
    expect(flat).toMatchObject({
      forwardingSmtpAddress: 'smtp:drop@example.net',
      deliverToMailboxAndForward: true,
    });
    expect(flat.inboxRuleName).toBeUndefined();
  });

  it('Outlook UpdateInboxRules: rule name from OperationProperties given as JSON text', () => {
    const record = {
      ...mailItemsAccessed,
      Operation: 'UpdateInboxRules',
      OperationProperties: '[{"Name":"RuleName","Value":"Clean up"},{"Name":"RuleActions","Value":"[]"}]',
    };
    expect(flatFields(record).inboxRuleName).toBe('Clean up');
  });

  it('SharePoint file operation: file name, site, user agent, bracketed IPv6 with port', () => {
    expect(flatFields(fileDownloaded)).toMatchObject({
      clientIp: '2001:db8::abcd',
      fileName: 'Q2.xlsx',
      siteUrl: 'https://contoso.sharepoint.com/sites/Finance/',
      userAgent: 'Microsoft SkyDriveSync 23.1 ship; Windows NT 10.0',
    });
  });

  it('DLP: policy, rules, highest severity, sensitive types, file from SharePointMetaData', () => {
    expect(flatFields(dlpMatch)).toMatchObject({
      dlpPolicyName: 'U.S. Financial Data',
      dlpRuleName: 'Low volume of content detected; High volume of content detected',
      dlpSeverity: 'High',
      dlpSensitiveTypes: '50842eb7-edc8-4019-85dd-5a5c1f2bb085; Credit Card Number',
      fileName: 'Customers.docx',
      siteUrl: 'https://contoso-my.sharepoint.com/personal/alex_contoso_com',
    });
  });

  it('tolerates missing and oddly shaped fields', () => {
    expect(
      flatFields({
        CreationTime: '2026-05-04T00:00:00',
        RecordType: '1.0',
        Parameters: 42,
        PolicyDetails: 'x',
      }),
    ).toEqual({
      recordType: 1,
    });
    expect(flatFields({ ExtendedProperties: '-Name "foo" -Force', RecordType: 'fourteen' })).toEqual({});
  });

  it('every flat value is a scalar (Power BI reads only scalar columns)', () => {
    for (const record of FIXTURES) {
      for (const value of Object.values(flatFields(record)))
        expect(['string', 'number', 'boolean']).toContain(typeof value);
    }
  });
});

describe('document size bound (lets the writer skip measuring small batches)', () => {
  /** Every string value made long, of a character whose lower case is longer in UTF-8 (İ → i̇). */
  function inflate(value: unknown, key = ''): unknown {
    if (typeof value === 'string') {
      if (key === 'CreationTime' || key === 'Id') return value;
      return /ip/i.test(key) ? `${value}:${'1'.repeat(5_000)}` : `${value}${'İ'.repeat(5_000)}`;
    }
    if (Array.isArray(value)) return value.map((v) => inflate(v, key));
    if (value && typeof value === 'object')
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, inflate(v, k)]));
    return value;
  }

  it('holds for records whose values feed every flat field, however long', () => {
    for (const record of FIXTURES) {
      for (const r of [record, inflate(record)]) {
        const recordBytes = Buffer.byteLength(JSON.stringify(r), 'utf8');
        const document = mapOk(r);
        expect(serializedBytes(document)).toBeGreaterThan(recordBytes);
        expect(serializedBytes(document)).toBeLessThanOrEqual(documentBytesBound(recordBytes));
      }
    }
  });
});

describe('client IP', () => {
  it.each([
    ['1.2.3.4', '1.2.3.4'],
    ['1.2.3.4:5678', '1.2.3.4'],
    ['[10.11.12.13]:12345', '10.11.12.13'],
    ['[10.11.12.13]', '10.11.12.13'],
    ['[2001:db8::1]:443', '2001:db8::1'],
    ['[2001:db8::abcd]', '2001:db8::abcd'],
    ['2603:10B6:5:1F4:CAFE::28', '2603:10b6:5:1f4:cafe::28'],
    ['::1', '::1'],
    ['::ffff:10.11.12.13', '10.11.12.13'],
    [' 198.51.100.7 ', '198.51.100.7'],
  ])('%s → %s', (raw, ip) => {
    expect(normalizeClientIp(raw)).toBe(ip);
  });

  it.each([
    '',
    'localhost',
    'localhost:12345',
    'cool.client.local:12345',
    'NOTANIPV4 (10.9000.0.1)',
    '10.900.0.1',
    42,
  ])('%p is not an IP', (raw) => {
    expect(normalizeClientIp(raw)).toBeUndefined();
  });

  it('falls back from an empty ClientIP to ClientIPAddress, then ActorIpAddress', () => {
    expect(flatFields({ ClientIP: '', ClientIPAddress: '192.0.2.1:4433' }).clientIp).toBe('192.0.2.1');
    expect(flatFields({ ClientIP: 'localhost', ActorIpAddress: '192.0.2.9' }).clientIp).toBe('192.0.2.9');
  });
});

describe('name/value lists', () => {
  it('reads lists, JSON text and PowerShell-style strings, case-insensitively, first wins', () => {
    expect(
      nameValues([
        { Name: 'A', Value: 1 },
        { Name: 'a', Value: 'second' },
        { Name: 'B', Value: true },
      ]),
    ).toEqual(
      new Map([
        ['a', '1'],
        ['b', 'True'],
      ]),
    );
    expect(nameValues('[{"Name":"X","Value":"y"}]')).toEqual(new Map([['x', 'y']]));
    expect(
      nameValues(
        `-StartReceivedDate "4/25/2021 7:00:00 AM" -PageSize "100" -Types ("Bulk","Spam") -Force -Name 'it''s' -Bare value`,
      ),
    ).toEqual(
      new Map([
        ['startreceiveddate', '4/25/2021 7:00:00 AM'],
        ['pagesize', '100'],
        ['types', '"Bulk","Spam"'],
        ['force', 'True'],
        ['name', "it's"],
        ['bare', 'value'],
      ]),
    );
    expect(nameValues(undefined)).toEqual(new Map());
    expect(nameValues({ Name: 'not a list' })).toEqual(new Map());
  });
});

describe('oversize stub', () => {
  it('keeps id, pk, our fields, flat fields and searchable scalars, drops the bulk, points at the blob', () => {
    const huge = { ...failedLogon, Blob: 'x'.repeat(3_000_000), Nested: { deep: [1, 2, 3] }, Short: 'kept' };
    const doc = mapOk(huge, { ...CONTEXT, ttlSeconds: 60 });
    expect(serializedBytes(doc)).toBeGreaterThan(2_000_000);
    const pointer = {
      container: 'oversize',
      name: `${TENANT}/Audit.Exchange/2026-05-04/${doc.id}.json`,
      bytes: 3_000_500,
    };
    const stub = oversizeStub(doc, pointer);
    expect(serializedBytes(stub)).toBeLessThan(64 * 1024 + 4096);
    expect(stub).toMatchObject({
      id: doc.id,
      pk: doc.pk,
      tenantId: TENANT,
      creationDay: '2026-05-04',
      ttl: 60,
      oversizeBlob: pointer,
      clientIp: '2001:db8:114:105::1a:9b',
      logonError: 'InvalidUserNameOrPassword',
      Operation: 'UserLoginFailed',
      UserId: 'lidia@contoso.onmicrosoft.com',
      CreationTime: '2026-05-04T12:13:33',
      Short: 'kept',
    });
    expect(stub.Blob).toBeUndefined();
    expect(stub.Nested).toBeUndefined();
    expect(stub.ExtendedProperties).toBeUndefined();
  });
});

describe('oversize stub bound', () => {
  const pointerFor = (doc: AuditDocument) => ({
    container: 'oversize',
    name: `${TENANT}/Audit.Exchange/2026-05-05/${doc.id}.json`,
    bytes: 9_000_000,
  });
  const MB2 = 2 * 1024 * 1024;

  it('leaves out 2 MB flat-field sources and searchable fields, and stays under 64 KiB', () => {
    const record = {
      ...newInboxRule,
      UserId: `${'u'.repeat(MB2)}@contoso.com`,
      ObjectId: 'o'.repeat(MB2),
      UserAgent: 'a'.repeat(MB2),
      SourceFileName: 'f'.repeat(MB2),
      Parameters: [
        { Name: 'Name', Value: 'Forward everything' },
        { Name: 'ForwardTo', Value: `${'x'.repeat(MB2)}@example.net` },
      ],
    };
    const doc = mapOk(record);
    // The flat copies really are 2 MB: without a bound they would land in the stub.
    expect((doc.forwardTo as string).length).toBeGreaterThan(MB2);
    expect((doc.user as string).length).toBeGreaterThan(MB2);

    const pointer = pointerFor(doc);
    const stub = oversizeStub(doc, pointer);
    expect(serializedBytes(stub)).toBeLessThan(64 * 1024);
    expect(stub).toMatchObject({ id: doc.id, pk: doc.pk, oversizeBlob: pointer });
    expect(stub).toMatchObject({
      Id: newInboxRule.Id,
      CreationTime: newInboxRule.CreationTime,
      Operation: 'New-InboxRule',
      inboxRuleName: 'Forward everything',
      clientIp: '198.51.100.23',
    });
    for (const left of [
      'UserId',
      'ObjectId',
      'UserAgent',
      'SourceFileName',
      'forwardTo',
      'user',
      'userAgent',
      'fileName',
    ])
      expect(stub[left]).toBeUndefined();
  });

  it('stays under STUB_MAX_BYTES when many short values each serialise six times longer', () => {
    // 2,000 control characters pass the length cap but take 12 KB of JSON each (\u0001).
    const escaped = '\u0001'.repeat(2_000);
    const record: Record<string, unknown> = {
      ...newInboxRule,
      UserId: escaped,
      ObjectId: escaped,
      UserAgent: escaped,
      Parameters: [
        { Name: 'ForwardTo', Value: escaped },
        { Name: 'RedirectTo', Value: escaped },
        { Name: 'ForwardAsAttachmentTo', Value: escaped },
      ],
    };
    for (let i = 0; i < 50; i++) record[`Extra${i}`] = escaped;
    record.Last = 'small values still fit after big ones are skipped';
    const doc = mapOk(record);
    const stub = oversizeStub(doc, pointerFor(doc));
    expect(serializedBytes(stub)).toBeLessThan(STUB_MAX_BYTES);
    expect(STUB_MAX_BYTES).toBeLessThanOrEqual(64 * 1024);
    // Searchable fields come first; a later value too big for what is left is skipped, smaller ones kept.
    expect(stub).toMatchObject({ Id: newInboxRule.Id, Operation: 'New-InboxRule', UserId: escaped });
    expect(stub.Last).toBe(record.Last);
  });
});

describe('field names JSON.parse allows but assignment mishandles', () => {
  const text =
    '{"Id":"9f1e2d3c-0000-4000-8000-00000000abcd","CreationTime":"2026-05-05T07:01:02",' +
    '"Operation":"New-InboxRule","UserId":"adele@contoso.com",' +
    '"__proto__":{"x":1},"constructor":{"y":2},"hasOwnProperty":"z",' +
    '"Parameters":[{"Name":"__proto__","Value":"p"},{"Name":"constructor","Value":"c"},' +
    '{"Name":"ForwardTo","Value":"drop@example.net"}]}';

  function ownValue(target: unknown, name: string): unknown {
    return Object.getOwnPropertyDescriptor(target, name)?.value;
  }

  it('keeps a record field named __proto__ (moved under reservedNameFields) through JSON', () => {
    const record = JSON.parse(text) as Record<string, unknown>;
    expect(Object.hasOwn(record, '__proto__')).toBe(true);
    const doc = mapOk(record);
    expect(Object.getPrototypeOf(doc)).toBe(Object.prototype);

    const json = JSON.stringify(doc);
    expect(json).toContain('"__proto__":{"x":1}');
    expect(json).toContain('{"Name":"__proto__","Value":"p"}');
    const back = JSON.parse(json) as Record<string, unknown>;
    const reserved = back[RESERVED_NAME_FIELDS];
    expect(Object.getPrototypeOf(reserved)).toBe(Object.prototype);
    expect(ownValue(reserved, '__proto__')).toEqual({ x: 1 });
    expect(ownValue(back, 'constructor')).toEqual({ y: 2 });
    expect(ownValue(back, 'hasOwnProperty')).toBe('z');
    expect(back.Parameters).toEqual(record.Parameters);
    expect(back.forwardTo).toBe('drop@example.net');
    expect(({} as Record<string, unknown>).x).toBeUndefined();
  });

  it('reads name/value lists with such names as plain entries', () => {
    const record = JSON.parse(text) as Record<string, unknown>;
    const values = nameValues(record.Parameters);
    expect(values.get('__proto__')).toBe('p');
    expect(values.get('constructor')).toBe('c');
    expect(flatFields(record).forwardTo).toBe('drop@example.net');
    expect(({} as Record<string, unknown>).x).toBeUndefined();
  });

  it('keeps such fields in an oversize stub as own fields, and its prototype plain', () => {
    const record = JSON.parse(text) as Record<string, unknown>;
    const doc = mapOk(record);
    const stub = oversizeStub(doc, { container: 'oversize', name: 'n.json', bytes: 3_000_000 });
    expect(Object.getPrototypeOf(stub)).toBe(Object.prototype);
    const back = JSON.parse(JSON.stringify(stub)) as Record<string, unknown>;
    expect(ownValue(back, 'hasOwnProperty')).toBe('z');
    expect(back.Operation).toBe('New-InboxRule');
  });
});

describe('nesting depth', () => {
  /** `levels` nested arrays around 1: nested(2) is [[1]]. */
  function nested(levels: number): unknown {
    return JSON.parse(`${'['.repeat(levels)}1${']'.repeat(levels)}`);
  }

  it('accepts a document exactly at the Cosmos DB limit and refuses one level more', () => {
    // The document is level 1, so a field may hold MAX - 1 levels; a moved field one fewer.
    expect(mapOk({ ...newInboxRule, Deep: nested(MAX_DOCUMENT_NESTING - 1) })).toBeDefined();
    expect(mapOk({ ...newInboxRule, _deep: nested(MAX_DOCUMENT_NESTING - 2) })).toBeDefined();
    for (const record of [
      { ...newInboxRule, Deep: nested(MAX_DOCUMENT_NESTING) },
      { ...newInboxRule, _deep: nested(MAX_DOCUMENT_NESTING - 1) },
      { ...newInboxRule, Deep: nested(200) },
    ]) {
      const mapped = toDocument(record, CONTEXT);
      expect(mapped.ok).toBe(false);
      if (!mapped.ok)
        expect(mapped.reason).toMatch(
          /nests objects\/arrays over 128 levels deep.*Cosmos DB's per-item nesting limit/,
        );
    }
  });

  it('refuses a record 6,000 deep, or with a 6,000-deep Id, without throwing', () => {
    const deep = toDocument({ ...newInboxRule, Deep: nested(6_000) }, CONTEXT);
    expect(deep.ok).toBe(false);
    const deepId = toDocument({ ...newInboxRule, Id: nested(6_000) }, CONTEXT);
    expect(deepId).toEqual({ ok: false, reason: 'record has no usable Id (an array of 1)' });
  });

  it('measures without recursion and stops early', () => {
    expect(nestingDepth('x')).toBe(0);
    expect(nestingDepth({})).toBe(1);
    expect(nestingDepth({ a: [1, { b: [] }], c: {} })).toBe(4);
    expect(nestingDepth(nested(100_000))).toBe(100_000);
    expect(nestingDepth(nested(100_000), 10)).toBe(11);
  });

  it('serialises like JSON.stringify at any depth', () => {
    const record = JSON.parse(
      '{"__proto__":{"x":[1,2.5,-0,1e21]},"s":"q\\"\\u0001\\ud800é","n":null,"t":true,"e":[],"o":{}}',
    ) as unknown;
    for (const value of [...FIXTURES, record, 'text', 7, null, [[], [{}]]])
      expect(stringifyDeep(value)).toBe(JSON.stringify(value));
    const deepText = `{"Id":"a","Deep":${'[{"k":'.repeat(5_000)}1${'}]'.repeat(5_000)}}`;
    expect(() => JSON.stringify(JSON.parse(deepText))).toThrow(RangeError);
    expect(stringifyDeep(JSON.parse(deepText))).toBe(deepText);
  });
});
