import { auditLogRecordText, GRAPH_RECORD_TYPES } from '../../scripts/simulator/graphAudit';
import { Rng } from '../../scripts/simulator/rng';
import { becStory, makeLargeRecord, makeRecord, makeTenantProfile } from '../../scripts/simulator/records';
import {
  contentTypeOf,
  fromAuditDataJson,
  fromAuditLogRecord,
  warningKind,
  type MappedBackfillRecord,
} from '../../shared/backfill/recordMapping';
import { recordTypeByName } from '../../shared/backfill/recordTypeNames';
import { CONTENT_TYPES, type AuditRecord, type ContentType } from '../../shared/contentTypes';
import { toDocument } from '../../shared/writer/documents';
import { exchangeRecord, TENANT } from '../writer/helpers';

const T0 = Date.UTC(2026, 10, 1, 8, 0, 0);
const tenant = makeTenantProfile(TENANT, new Rng('mapping-tenant'), 40);

/** The simulator's records of one content type: what the live feed files under that type. */
function simulated(contentType: ContentType, count: number, seed: string = contentType): AuditRecord[] {
  const rng = new Rng(`mapping:${seed}`);
  return Array.from({ length: count }, (_, i) =>
    makeRecord(contentType, new Date(T0 + i * 5_000), tenant, rng),
  );
}

const GRAPH_NAMES: Record<number, string> = {
  1: 'exchangeAdmin',
  2: 'exchangeItem',
  6: 'sharePointFileOperation',
  15: 'azureActiveDirectoryStsLogon',
  25: 'microsoftTeams',
  50: 'exchangeItemAggregated',
};

/** The auditLogRecord Graph would return for a Management API record (wrapper fields per reference §2.1). */
function graphRecordOf(
  record: AuditRecord,
  overrides: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    id: record.Id,
    createdDateTime: `${String(record.CreationTime)}Z`,
    auditLogRecordType: GRAPH_NAMES[Number(record.RecordType)] ?? 'unknownFutureValue',
    operation: record.Operation,
    organizationId: record.OrganizationId,
    userType: 'regular',
    userId: record.UserId,
    userPrincipalName: record.UserId,
    service: record.Workload,
    clientIp: '198.51.100.1',
    objectId: record.ObjectId ?? null,
    administrativeUnits: [],
    auditData: { '@odata.type': '#microsoft.graph.security.defaultAuditData', ...record },
    ...overrides,
  };
}

function ok(mapped: MappedBackfillRecord): Extract<MappedBackfillRecord, { ok: true }> {
  if (!mapped.ok) throw new Error(`refused: ${mapped.reason}`);
  return mapped;
}

function kinds(mapped: MappedBackfillRecord): string[] {
  return mapped.ok ? (mapped.warnings ?? []).map((w) => warningKind(w) ?? w) : [];
}

describe('contentTypeOf (reference §3.2)', () => {
  it.each(CONTENT_TYPES)(
    'files every simulated %s record under the content type the simulator serves it in',
    (ct) => {
      const records = simulated(ct, 1500);
      const misfiled = records.filter((r) => contentTypeOf(r) !== ct);
      expect(misfiled.map((r) => [r.RecordType, r.Workload, r.Operation])).toEqual([]);
    },
  );

  it('files large records and the BEC story records as the simulator does', () => {
    const rng = new Rng('mapping-large');
    for (const ct of CONTENT_TYPES) {
      expect(contentTypeOf(makeLargeRecord(ct, new Date(T0), tenant, rng, 40_000))).toBe(ct);
    }
    const story = becStory(tenant, new Date(T0), new Rng('mapping-bec'));
    expect(story.records.length).toBeGreaterThan(50);
    for (const { contentType, record } of story.records) expect(contentTypeOf(record)).toBe(contentType);
  });

  it('DLP first: RecordType 11 or 13 (number or numeric string) whatever the workload', () => {
    for (const [recordType, workload] of [
      [11, 'SharePoint'],
      [11, 'OneDrive'],
      [13, 'Exchange'],
      ['11', 'OneDrive'],
      ['13', 'Exchange'],
    ] as const) {
      expect(contentTypeOf({ RecordType: recordType, Workload: workload, Operation: 'Something' })).toBe(
        'DLP.All',
      );
    }
  });

  it('DLP first: the DLP operations in any spelling, whatever the RecordType and workload', () => {
    for (const operation of ['DlpRuleMatch', 'DLPRuleMatch', 'dlpruleundo', 'DlpInfo']) {
      expect(contentTypeOf({ RecordType: 6, Workload: 'SharePoint', Operation: operation })).toBe('DLP.All');
    }
    // Other DLP-ish record types are not DLP.All by this rule (unconfirmed in §3.2): they follow the workload.
    expect(contentTypeOf({ RecordType: 33, Workload: 'SharePoint', Operation: 'DlpClassification' })).toBe(
      'Audit.SharePoint',
    );
    expect(
      contentTypeOf({ RecordType: 63, Workload: 'Endpoint', Operation: 'FileCopiedToRemovableMedia' }),
    ).toBe('Audit.General');
  });

  it('then by Workload: AzureActiveDirectory, Exchange, SharePoint and OneDrive (names case-insensitive)', () => {
    expect(contentTypeOf({ RecordType: 15, Workload: 'AzureActiveDirectory' })).toBe(
      'Audit.AzureActiveDirectory',
    );
    expect(contentTypeOf({ RecordType: 2, Workload: 'Exchange' })).toBe('Audit.Exchange');
    expect(contentTypeOf({ RecordType: 6, Workload: 'SharePoint' })).toBe('Audit.SharePoint');
    expect(contentTypeOf({ RecordType: '14', Workload: 'OneDrive' })).toBe('Audit.SharePoint');
    expect(contentTypeOf({ RecordType: 2, Workload: 'exchange' })).toBe('Audit.Exchange');
  });

  it('everything else is Audit.General — also a record without Workload, whatever its RecordType', () => {
    for (const workload of ['MicrosoftTeams', 'PowerBI', 'Yammer', 'SecurityComplianceCenter', 'Copilot']) {
      expect(contentTypeOf({ RecordType: 25, Workload: workload })).toBe('Audit.General');
    }
    // The rule reads Workload only: an Exchange admin RecordType without Workload is not routed by number.
    expect(contentTypeOf({ RecordType: 1 })).toBe('Audit.General');
    expect(contentTypeOf({})).toBe('Audit.General');
  });
});

describe('fromAuditLogRecord (reference §2.3)', () => {
  it('the record is auditData without @odata annotations, unchanged, and maps to the live feed document', () => {
    for (const ct of CONTENT_TYPES) {
      for (const record of simulated(ct, 40, `graph-${ct}`)) {
        const mapped = ok(fromAuditLogRecord(graphRecordOf(record)));
        expect(mapped.record).toEqual(record);
        expect(mapped.contentType).toBe(ct);
        expect(kinds(mapped)).toEqual([]);
        // Same id and partition key as the document the live feed writes for this record.
        const context = { tenantId: TENANT, contentType: ct, ingestedAt: '2026-12-03T00:00:00Z' };
        expect(toDocument(mapped.record, context)).toEqual(toDocument(record, context));
      }
    }
  });

  it("maps the simulator's Graph records (its own wrapper of every content type) back to the record, without warnings", () => {
    for (const ct of CONTENT_TYPES) {
      for (const record of simulated(ct, 200, `graph-sim-${ct}`)) {
        const graph: unknown = JSON.parse(auditLogRecordText(JSON.stringify(record), record));
        const mapped = ok(fromAuditLogRecord(graph));
        expect(mapped.record).toEqual(record);
        expect(mapped.contentType).toBe(ct);
        expect(kinds(mapped)).toEqual([]);
      }
    }
    // The simulator's Graph member names and the name table agree on every number.
    for (const [number, name] of Object.entries(GRAPH_RECORD_TYPES)) {
      expect([name, recordTypeByName(name)]).toEqual([name, Number(number)]);
    }
  });

  it('never builds or patches the record from wrapper fields', () => {
    const record = exchangeRecord(3);
    const mapped = ok(
      fromAuditLogRecord(
        graphRecordOf(record, {
          userId: 'someone-else@contoso.com',
          clientIp: '203.0.113.9',
          service: 'SharePoint',
          organizationId: '00000000-0000-0000-0000-000000000000',
        }),
      ),
    );
    expect(mapped.record).toEqual(record);
    expect(mapped.contentType).toBe('Audit.Exchange');
  });

  it('uses auditData.dynamicProperties only when auditData itself has no Id', () => {
    const record = exchangeRecord(4);
    const nested = ok(
      fromAuditLogRecord(
        graphRecordOf(record, {
          auditData: {
            '@odata.type': '#microsoft.graph.security.exchangeAuditRecord',
            dynamicProperties: {
              '@odata.type': '#microsoft.graph.security.auditRecordTypeDictionary',
              ...record,
            },
          },
        }),
      ),
    );
    expect(nested.record).toEqual(record);
    expect(kinds(nested)).toEqual(['DynamicProperties']);

    const both = { ...record, dynamicProperties: { Extra: 1 } };
    expect(ok(fromAuditLogRecord(graphRecordOf(record, { auditData: both }))).record).toEqual(both);
  });

  it('refuses, with the reason, records the writer could not store under the live feed identity', () => {
    const record = exchangeRecord(5);
    // Fixed texts naming no record (no ids or values): a run counts them by text (the export path shows values).
    const cases: Array<[unknown, string, string]> = [
      ['text', 'NotObject', 'auditLogRecord is not a JSON object'],
      [{ id: 'x' }, 'NoAuditData', 'auditLogRecord has no auditData object'],
      [
        graphRecordOf(record, { auditData: '{not json' }),
        'NoAuditData',
        'auditLogRecord: auditData is text that is not JSON',
      ],
      [
        graphRecordOf(record, { auditData: { ...record, Id: undefined } }),
        'NoId',
        'auditLogRecord: auditData has no usable Id',
      ],
      [
        graphRecordOf(record, { auditData: { ...record, Id: '  ' } }),
        'NoId',
        'auditLogRecord: auditData has no usable Id',
      ],
      [
        graphRecordOf(record, { auditData: { ...record, Id: { v: 1 } } }),
        'NoId',
        'auditLogRecord: auditData has no usable Id',
      ],
      ...['2026-02-30T10:00:00', '9/20/2023 4:05:03 AM', undefined].map((time): [unknown, string, string] => [
        graphRecordOf(record, { auditData: { ...record, CreationTime: time } }),
        'NoCreationTime',
        'auditLogRecord: auditData has no parseable CreationTime; expected YYYY-MM-DDTHH:MM:SS',
      ]),
    ];
    for (const [input, code, reason] of cases) {
      expect(fromAuditLogRecord(input)).toEqual({ ok: false, code, reason });
    }
    // A numeric Id is an Id to the writer too.
    expect(fromAuditLogRecord(graphRecordOf(record, { auditData: { ...record, Id: 7 } })).ok).toBe(true);
  });

  it('cross-checks id, createdDateTime and operation as warnings, never changing the record', () => {
    const record = exchangeRecord(6);
    const same = fromAuditLogRecord(
      graphRecordOf(record, {
        id: String(record.Id).toUpperCase(),
        createdDateTime: `${String(record.CreationTime)}.4410000Z`,
        operation: String(record.Operation).toLowerCase(),
      }),
    );
    expect(kinds(same)).toEqual([]);

    const differs = ok(
      fromAuditLogRecord(
        graphRecordOf(record, {
          id: 'a1b2c3d4-0000-0000-0000-000000000000',
          createdDateTime: '2026-11-20T10:06:07+01:00',
          operation: 'HardDelete',
        }),
      ),
    );
    expect(kinds(differs)).toEqual(['IdMismatch', 'CreationTimeMismatch', 'OperationMismatch']);
    expect(differs.warnings).toEqual([
      'IdMismatch: auditLogRecord id is not auditData.Id',
      'CreationTimeMismatch: createdDateTime is not auditData.CreationTime (to the second)',
      'OperationMismatch: operation is not auditData.Operation',
    ]);
    expect(differs.record).toEqual(record);
    expect(kinds(fromAuditLogRecord(graphRecordOf(record, { createdDateTime: 'yesterday' })))).toEqual([
      'CreationTimeMismatch',
    ]);
    // Wrapper fields that are absent are not compared.
    expect(kinds(fromAuditLogRecord({ auditData: record }))).toEqual([]);
  });

  it('RecordType: the number in auditData is the authority; a numeric string is kept as it is', () => {
    const record = { ...exchangeRecord(7), RecordType: '2' };
    const mapped = ok(fromAuditLogRecord(graphRecordOf(record, { auditLogRecordType: 'exchangeItem' })));
    expect(mapped.record.RecordType).toBe('2');
    expect(kinds(mapped)).toEqual([]);
    const mismatch = ok(fromAuditLogRecord(graphRecordOf(record, { auditLogRecordType: 'sharePoint' })));
    expect(mismatch.record.RecordType).toBe('2');
    expect(kinds(mismatch)).toEqual(['RecordTypeMismatch']);
    const named = ok(fromAuditLogRecord(graphRecordOf({ ...record, RecordType: 'ExchangeItem' })));
    expect(kinds(named)).toContain('RecordTypeNotNumeric');
  });

  it('RecordType absent: taken from the Graph name through the name table, never by ordinal', () => {
    const base = exchangeRecord(8);
    delete base.RecordType;
    const cases: Array<[string, number]> = [
      ['exchangeItemAggregated', 50],
      ['ExchangeItemAggregated', 50],
      // Graph skips 26 and 27 and places members out of order: ordinals would give other numbers.
      ['microsoftTeams', 25],
      ['threatIntelligence', 28],
      ['workplaceAnalytics', 44],
      ['sharePointListItemOperation', 54],
      ['mipLabel', 43],
      ['syntheticProbe', 5],
      ['sway', 12],
      ['yammer', 22],
      ['vivaGoals', 216],
      ['projectForTheWebProject', 195],
      ['powerAppsApp', 45],
    ];
    for (const [name, number] of cases) {
      const mapped = ok(fromAuditLogRecord(graphRecordOf(base, { auditLogRecordType: name })));
      expect([name, mapped.record.RecordType]).toEqual([name, number]);
      expect(kinds(mapped)).toEqual(['RecordTypeFromName']);
    }
    const unknown = ok(fromAuditLogRecord(graphRecordOf(base, { auditLogRecordType: 'unknownFutureValue' })));
    expect(unknown.record).not.toHaveProperty('RecordType');
    expect(kinds(unknown)).toEqual(['RecordTypeUnknown']);
    // The filled number routes the record: a DLP type found by name goes to DLP.All.
    const dlp = ok(
      fromAuditLogRecord(
        graphRecordOf(base, { auditLogRecordType: 'complianceDLPExchange', auditData: base }),
      ),
    );
    expect(dlp.contentType).toBe('DLP.All');
  });

  it('accepts auditData given as JSON text, and keeps an own __proto__ field as a field', () => {
    const record = exchangeRecord(9);
    const text = ok(fromAuditLogRecord(graphRecordOf(record, { auditData: JSON.stringify(record) })));
    expect(text.record).toEqual(record);
    expect(kinds(text)).toEqual(['AuditDataText']);

    const hostile: unknown = JSON.parse(
      `{"auditData":${JSON.stringify(record).replace(/}$/, ',"__proto__":{"x":1}}')}}`,
    );
    const mapped = ok(fromAuditLogRecord(hostile));
    expect(Object.getPrototypeOf(mapped.record)).toBe(Object.prototype);
    expect(Object.getOwnPropertyDescriptor(mapped.record, '__proto__')?.value).toEqual({ x: 1 });
  });
});

describe('fromAuditDataJson (reference §4.4)', () => {
  it('the record is the AuditData JSON as it is', () => {
    for (const ct of CONTENT_TYPES) {
      for (const record of simulated(ct, 30, `export-${ct}`)) {
        const mapped = ok(fromAuditDataJson(JSON.stringify(record)));
        expect(mapped.record).toEqual(record);
        expect(mapped.contentType).toBe(ct);
        expect(mapped.warnings).toBeUndefined();
      }
    }
  });

  it('refuses what is not a record the writer can store, and -Formatted output, each with its reason', () => {
    const record = exchangeRecord(10);
    const cases: Array<[string, string, RegExp]> = [
      ['{"CreationTime":', 'NotJson', /^AuditData is not JSON \(.*; starts with "\{\\"CreationTime\\":"\)$/],
      ['[1,2]', 'NotObject', /not a JSON object \(\[1,2\]\)/],
      ['null', 'NotObject', /not a JSON object \(null\)/],
      [JSON.stringify({ ...record, Id: undefined }), 'NoId', /^AuditData has no usable Id \(absent\)$/],
      [JSON.stringify({ ...record, CreationTime: '3/12/2025 7:31:34 AM' }), 'NoCreationTime', /CreationTime/],
      [JSON.stringify({ ...record, RecordType: 'ExchangeItem' }), 'FormattedRecordType', /-Formatted/],
    ];
    for (const [text, code, reason] of cases) {
      const mapped = fromAuditDataJson(text);
      expect(mapped).toMatchObject({ ok: false, code });
      expect(mapped.ok ? '' : mapped.reason).toMatch(reason);
    }
    expect(ok(fromAuditDataJson(JSON.stringify({ ...record, RecordType: '2' }))).contentType).toBe(
      'Audit.Exchange',
    );
  });
});

describe('recordTypeByName', () => {
  it('knows schema names, Graph members and the aliases of §2.2, ignoring case and spaces', () => {
    expect(recordTypeByName('AzureActiveDirectoryStsLogon')).toBe(15);
    expect(recordTypeByName('azureactivedirectorystslogon')).toBe(15);
    expect(recordTypeByName('Viva Engage')).toBe(22);
    expect(recordTypeByName('VivaInsights')).toBe(44);
    expect(recordTypeByName('Viva Goals')).toBe(216);
    expect(recordTypeByName('CopilotInteraction')).toBe(261);
    expect(recordTypeByName('unknownFutureValue')).toBeUndefined();
    expect(recordTypeByName('')).toBeUndefined();
  });
});
