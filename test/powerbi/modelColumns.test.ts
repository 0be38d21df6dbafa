import { ADDED_FIELD_NAMES, toDocument, type AuditDocument } from '../../shared/writer/documents';
import type { ContentType } from '../../shared/contentTypes';
import { CONTENT_TYPES } from '../../shared/contentTypes';
import { makeRecord, makeTenantProfile } from '../../scripts/simulator/records';
import { Rng } from '../../scripts/simulator/rng';
import { expressionOf, loadModel, sourceFields, tableOf } from './project';

/**
 * The model's Records table reads fields the real writer puts in its documents: documents are built by
 * shared/writer's toDocument from records shaped like the service's (ours, below) and from the simulator,
 * and every field of the AuditRecords `Fields` list must be in them — matched ignoring case, because that is
 * how the mirror exposes them (OneLake stores the mirror as Delta tables, which keep one column per
 * case-insensitive name) and how the M looks them up.
 */

const TENANT = '6f1d2c3b-4a59-4e68-9d7c-8b9a0f1e2d3c';
const INGESTED_AT = '2026-11-21T08:00:00.000Z';

const base = (operation: string, workload: string, recordType: number | string, creationTime: string) => ({
  CreationTime: creationTime,
  Id: `${operation}-${creationTime}`,
  Operation: operation,
  OrganizationId: TENANT,
  RecordType: recordType,
  ResultStatus: 'Succeeded',
  UserKey: '10032002AB12CD34',
  UserType: 0,
  Version: 1,
  Workload: workload,
  UserId: 'Megan.Bowen@Contoso.com',
});

// Records shaped like the service's (our own values), one per report page's kind of event.
const FIXTURES: { contentType: ContentType; record: Record<string, unknown> }[] = [
  {
    contentType: 'Audit.AzureActiveDirectory',
    record: {
      ...base('UserLoggedIn', 'AzureActiveDirectory', 15, '2026-05-04T08:01:02'),
      ResultStatus: 'Success',
      ClientIP: '203.0.113.7',
      ObjectId: '00000002-0000-0ff1-ce00-000000000000',
      ExtendedProperties: [
        { Name: 'ResultStatusDetail', Value: 'Success' },
        { Name: 'UserAgent', Value: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64)' },
      ],
      ErrorNumber: '0',
    },
  },
  {
    contentType: 'Audit.AzureActiveDirectory',
    record: {
      ...base('UserLoginFailed', 'AzureActiveDirectory', '15', '2026-05-04T08:00:40'),
      ResultStatus: 'Failed',
      ClientIP: '[2001:DB8::1A]:443',
      LogonError: 'InvalidUserNameOrPassword',
      ErrorNumber: '50126',
      ExtendedProperties: [{ Name: 'ResultStatusDetail', Value: 'UserError' }],
    },
  },
  {
    contentType: 'Audit.Exchange',
    record: {
      ...base('New-InboxRule', 'Exchange', 1, '2026-05-04T08:05:00'),
      ResultStatus: 'True',
      ClientIP: '203.0.113.7:51234',
      ObjectId: 'megan.bowen\\Forward all',
      Parameters: [
        { Name: 'Name', Value: 'Forward all' },
        { Name: 'ForwardTo', Value: 'drop@attacker.example' },
        { Name: 'RedirectTo', Value: 'drop2@attacker.example' },
        { Name: 'ForwardAsAttachmentTo', Value: 'drop3@attacker.example' },
        { Name: 'StopProcessingRules', Value: 'True' },
      ],
    },
  },
  {
    contentType: 'Audit.Exchange',
    record: {
      ...base('Set-Mailbox', 'Exchange', 1, '2026-05-04T08:06:00'),
      ResultStatus: 'True',
      ClientIP: '203.0.113.7',
      ObjectId: 'Contoso.onmicrosoft.com/Users/Megan Bowen',
      Parameters: [
        { Name: 'Identity', Value: 'Megan Bowen' },
        { Name: 'ForwardingSmtpAddress', Value: 'smtp:drop@attacker.example' },
        { Name: 'ForwardingAddress', Value: 'External Contact' },
        { Name: 'DeliverToMailboxAndForward', Value: 'False' },
      ],
    },
  },
  {
    contentType: 'Audit.Exchange',
    record: {
      ...base('UpdateInboxRules', 'Exchange', 2, '2026-05-04T08:07:00'),
      ClientIPAddress: '203.0.113.7',
      OperationProperties: [{ Name: 'RuleName', Value: 'Hide replies' }],
    },
  },
  {
    contentType: 'Audit.Exchange',
    record: {
      ...base('MailItemsAccessed', 'Exchange', 50, '2026-05-04T08:10:00'),
      ClientIPAddress: '203.0.113.7',
      OperationProperties: [{ Name: 'MailAccessType', Value: 'Sync' }],
    },
  },
  {
    contentType: 'Audit.SharePoint',
    record: {
      ...base('FileDownloaded', 'OneDrive', 6, '2026-05-04T08:12:00'),
      ClientIP: '203.0.113.7',
      ObjectId: 'https://contoso-my.sharepoint.com/personal/megan/Documents/Payroll.xlsx',
      SiteUrl: 'https://contoso-my.sharepoint.com/personal/megan/',
      SourceFileName: 'Payroll.xlsx',
      UserAgent: 'OneDriveMpc-Transform_Thumbnail/1.0',
    },
  },
];

function documentOf(record: unknown, contentType: ContentType): AuditDocument {
  const mapped = toDocument(record, { tenantId: TENANT, contentType, ingestedAt: INGESTED_AT });
  if (!mapped.ok) throw new Error(mapped.reason);
  return mapped.document;
}

const fixtureDocuments = FIXTURES.map((f) => documentOf(f.record, f.contentType));

// A simulated hour of each content type, through the same writer function.
const simulatedDocuments = CONTENT_TYPES.flatMap((contentType) => {
  const rng = new Rng(`powerbi:${contentType}`);
  const tenant = makeTenantProfile(TENANT, new Rng('powerbi:tenant'), 20);
  return Array.from({ length: 400 }, (_, i) =>
    documentOf(
      makeRecord(contentType, new Date(Date.UTC(2026, 4, 4, 8) + i * 9_000), tenant, rng, {
        edgeCases: false,
      }),
      contentType,
    ),
  );
});

const model = loadModel();
const fields = sourceFields(model);
const records = tableOf(model, 'Records');

/** The mirror's view of a document: one name per case-insensitive spelling. */
const lowerNames = (documents: AuditDocument[]): Set<string> =>
  new Set(documents.flatMap((d) => Object.keys(d).map((k) => k.toLowerCase())));

const M_TO_TMDL_TYPE: Record<string, string> = {
  'type text': 'string',
  'type datetime': 'dateTime',
  'type date': 'dateTime',
  'Int64.Type': 'int64',
  'type logical': 'boolean',
};

describe('Records columns against the documents the writer produces', () => {
  it('reads the flat fields the issue asks for', () => {
    expect(fields.map((f) => f.field)).toEqual(
      expect.arrayContaining([
        'CreationTime',
        'Operation',
        'user',
        'UserId',
        'clientIp',
        'recordType',
        'Workload',
        'ResultStatus',
        'ObjectId',
        'contentType',
        'tenantId',
        'creationDay',
      ]),
    );
    expect(new Set(fields.map((f) => f.column)).size).toBe(fields.length);
    expect(new Set(fields.map((f) => f.field.toLowerCase())).size).toBe(fields.length);
  });

  it('has one Records column per field read, with the type the M gives it', () => {
    expect(records.columns.map((c) => c.name).sort()).toEqual(fields.map((f) => f.column).sort());
    for (const f of fields) {
      const column = records.columns.find((c) => c.name === f.column)!;
      expect({ column: f.column, sourceColumn: column.sourceColumn }).toEqual({
        column: f.column,
        sourceColumn: f.column,
      });
      expect({ column: f.column, dataType: column.dataType }).toEqual({
        column: f.column,
        dataType: M_TO_TMDL_TYPE[f.type],
      });
    }
  });

  it('reads camelCase fields only where the writer adds them (its normalised copies, not the raw ones)', () => {
    const added = new Set<string>(ADDED_FIELD_NAMES);
    for (const f of fields.filter((f) => /^[a-z]/.test(f.field))) {
      expect({ field: f.field, addedByWriter: added.has(f.field) }).toEqual({
        field: f.field,
        addedByWriter: true,
      });
    }
  });

  it('finds every field it reads in documents built from the fixture records', () => {
    const names = lowerNames(fixtureDocuments);
    expect(fields.filter((f) => !names.has(f.field.toLowerCase())).map((f) => f.field)).toEqual([]);
  });

  it('finds them in simulated traffic too, but for forwarding (ordinary traffic sets none)', () => {
    const names = lowerNames(simulatedDocuments);
    expect(fields.filter((f) => !names.has(f.field.toLowerCase())).map((f) => f.field)).toEqual(
      fields.map((f) => f.field).filter((f) => /^(forward|redirect|deliverToMailbox)/.test(f)),
    );
  });

  it('finds, in the documents, values of the types the M converts them to', () => {
    const wrong: string[] = [];
    for (const document of [...fixtureDocuments, ...simulatedDocuments]) {
      for (const f of fields) {
        const value = document[f.field];
        if (value === undefined || value === null) continue;
        const ok =
          f.type === 'Int64.Type'
            ? Number.isInteger(value)
            : f.type === 'type logical'
              ? typeof value === 'boolean'
              : f.type === 'type date'
                ? typeof value === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(value)
                : f.type === 'type datetime'
                  ? typeof value === 'string' && /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/.test(value)
                  : typeof value === 'string';
        if (!ok) wrong.push(`${f.field} = ${JSON.stringify(value)} (${f.type}) in ${document.id}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it('gives the report pages something to show from the fixture records', () => {
    const byOperation = (operation: string): AuditDocument =>
      fixtureDocuments.find((d) => d.Operation === operation)!;
    expect(byOperation('UserLoginFailed')).toMatchObject({ clientIp: '2001:db8::1a', recordType: 15 });
    expect(byOperation('New-InboxRule')).toMatchObject({
      inboxRuleName: 'Forward all',
      forwardTo: 'drop@attacker.example',
      clientIp: '203.0.113.7',
    });
    expect(byOperation('Set-Mailbox')).toMatchObject({
      forwardingSmtpAddress: 'smtp:drop@attacker.example',
      deliverToMailboxAndForward: false,
    });
    expect(byOperation('UpdateInboxRules')).toMatchObject({ inboxRuleName: 'Hide replies' });
    expect(byOperation('MailItemsAccessed')).toMatchObject({ mailAccessType: 'Sync' });
    expect(byOperation('FileDownloaded')).toMatchObject({
      fileName: 'Payroll.xlsx',
      user: 'megan.bowen@contoso.com',
    });
  });

  it('looks fields up ignoring case, since documents hold names that differ only in case', () => {
    // The writer keeps the record's own fields next to its flat copies: clientIp and ClientIP, recordType and
    // RecordType, id and Id, ... A Delta table cannot hold both, so the mirror has one column for each pair.
    const collisions = new Set<string>();
    for (const document of [...fixtureDocuments, ...simulatedDocuments]) {
      const seen = new Map<string, string>();
      for (const name of Object.keys(document)) {
        const other = seen.get(name.toLowerCase());
        if (other !== undefined && other !== name) collisions.add(name.toLowerCase());
        seen.set(name.toLowerCase(), name);
      }
    }
    expect([...collisions]).toEqual(expect.arrayContaining(['clientip', 'recordtype', 'id']));
    const m = expressionOf(model, 'AuditRecords').m;
    expect(m).toContain('Comparer.OrdinalIgnoreCase(name, field) = 0');
    expect(m).toContain('Table.SelectColumns(Container, List.Transform(Present, (f) => ColumnOf(f{1})))');
  });
});
