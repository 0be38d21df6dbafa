import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import type { QueueClient } from '@azure/storage-queue';
import { fileWarnings } from '../../scripts/cli/import';
import { main } from '../../scripts/cli/main';
import type { Io } from '../../scripts/cli';
import { drainQueue } from '../../scripts/local/queueTrigger';
import { Rng } from '../../scripts/simulator/rng';
import { makeRecord, makeTenantProfile } from '../../scripts/simulator/records';
import { ExportReader } from '../../shared/backfill/exportCsv';
import { ExportImport, type ImportSummary, type RejectedRow } from '../../shared/backfill/exportImport';
import { contentTypeOf } from '../../shared/backfill/recordMapping';
import { CONTENT_TYPES, type AuditRecord } from '../../shared/contentTypes';
import { write } from '../../shared/handlers/write';
import type { BatchSink } from '../../shared/messages/batcher';
import type { BlobPointer, Envelope } from '../../shared/messages/envelope';
import { QueueBatchSink } from '../../shared/storage/batchSink';
import { CONTAINERS } from '../../shared/storage/clients';
import { poisonQueueName } from '../../shared/writer/poisonReplay';
import type { WriterRuntime } from '../../shared/writerRuntime';
import {
  containerOf,
  countAll,
  exchangeRecord,
  expectExactlyOnce,
  RecordingLogger,
  startWriterStack,
  TENANT,
  type WriterStack,
} from '../writer/helpers';

/**
 * `auditfeed import` end to end: generated exports in both column layouts (BOM, #TYPE, CRLF, multi-line
 * fields, doubled quotes, PowerShell 7 unquoted fields) with malformed rows, imported through the real
 * command into Azurite's queue, drained by the real writer into the Cosmos DB stand-in.
 */

let stack: WriterStack;
let dir: string;

beforeAll(async () => {
  stack = await startWriterStack();
  dir = mkdtempSync(path.join(os.tmpdir(), 'auditfeed-import-'));
});

afterAll(async () => {
  await stack?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const OTHER_TENANT = '9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d';

/** Records of every content type, as the live feed would carry them for TENANT (edge cases included). */
function records(count: number, seed: string, tenantId = TENANT): AuditRecord[] {
  const profile = makeTenantProfile(tenantId, new Rng(`${seed}-tenant`), 30);
  const rng = new Rng(seed);
  return Array.from({ length: count }, (_, i) =>
    makeRecord(
      CONTENT_TYPES[i % CONTENT_TYPES.length]!,
      new Date(Date.UTC(2026, 5, 1, 8, 0, i)),
      profile,
      rng,
    ),
  );
}

/** A CSV field: quoted with doubled quotes (Export-Csv's default), or as is when `quote` is false and it can be. */
function field(value: string, quote = true): string {
  return quote || /[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

/** `9/20/2023 4:05:03 AM`: the culture-formatted CreationDate, which the importer must never parse. */
function usDate(creationTime: unknown): string {
  const d = new Date(`${String(creationTime)}Z`);
  const h = d.getUTCHours();
  return `${d.getUTCMonth() + 1}/${d.getUTCDate()}/${d.getUTCFullYear()} ${h % 12 || 12}:${String(d.getUTCMinutes()).padStart(2, '0')}:${String(d.getUTCSeconds()).padStart(2, '0')} ${h < 12 ? 'AM' : 'PM'}`;
}

type Layout = 'purview' | 'cmdlet';

interface Expected {
  row: number;
  line: number;
  reason: RegExp;
}

interface Generated {
  text: string;
  good: AuditRecord[];
  rejects: Expected[];
  /** Line each data row starts on, by row number - 1. */
  rowLines: number[];
}

/**
 * An export of `good` with malformed rows mixed in at fixed places; returns the exact rows and lines the
 * importer must report. Every 7th record's AuditData spans two lines (JSON allows the line break).
 */
function generateExport(
  good: AuditRecord[],
  layout: Layout,
  options: { bom?: boolean; unclosedAtEnd?: boolean; malformed?: boolean } = {},
): Generated {
  const lines: string[] = [];
  let line = 0;
  let row = 0;
  const rejects: Expected[] = [];
  const rowLines: number[] = [];
  const malformed = options.malformed ?? true;
  const emit = (text: string): number => {
    const start = line + 1;
    lines.push(text);
    line += text.split('\r\n').length;
    return start;
  };
  const columns =
    layout === 'purview'
      ? [
          'RecordId',
          'CreationDate',
          'RecordType',
          'Operation',
          'UserId',
          'AuditData',
          'AssociatedAdminUnits',
          'AssociatedAdminUnitsNames',
        ]
      : [
          'RecordType',
          'CreationDate',
          'UserIds',
          'Operations',
          'AuditData',
          'ResultIndex',
          'ResultCount',
          'Identity',
          'IsValid',
          'ObjectState',
        ];
  if (layout === 'cmdlet')
    emit('#TYPE Deserialized.Microsoft.Exchange.Management.SystemConfigurationTasks.AuditRecord');
  emit(columns.map((c) => field(c)).join(','));
  const rowOf = (r: AuditRecord, auditData: string, i: number): string => {
    const quote = layout === 'purview' || i % 2 === 0; // PowerShell 7 -UseQuotes AsNeeded on every other row
    const values =
      layout === 'purview'
        ? [
            String(r.Id),
            usDate(r.CreationTime),
            String(r.RecordType),
            String(r.Operation),
            String(r.UserId),
            auditData,
            '',
            i % 7 === 3 ? 'Unit A\r\nUnit B' : '',
          ]
        : [
            `Type${String(r.RecordType)}`,
            usDate(r.CreationTime),
            String(r.UserId),
            String(r.Operation),
            auditData,
            String(i + 1),
            String(good.length),
            String(r.Id),
            'True',
            'New',
          ];
    return values.map((v) => field(v, quote)).join(',');
  };
  const bad = (reason: RegExp, text: string): void => {
    row++;
    const start = emit(text);
    rowLines.push(start);
    rejects.push({ row, line: start, reason });
  };
  const template = good[0]!;
  good.forEach((r, i) => {
    const json = JSON.stringify(r);
    const auditData = i % 7 === 0 ? json.replace(',', ',\r\n') : json;
    row++;
    rowLines.push(emit(rowOf(r, auditData, i)));
    if (!malformed) return;
    if (i === 2) bad(/^AuditData is not JSON/, rowOf(template, json.slice(0, 40), 1));
    if (i === 9)
      bad(
        /^AuditData has no usable Id \(absent\)$/,
        rowOf(template, JSON.stringify({ ...r, Id: undefined }), 1),
      );
    if (i === 16) {
      bad(
        /^AuditData has no parseable CreationTime \("9\/20\/2023 4:05:03 AM"\)/,
        rowOf(template, JSON.stringify({ ...r, Id: randomUUID(), CreationTime: '9/20/2023 4:05:03 AM' }), 1),
      );
    }
    if (i === 20) emit(''); // a blank line: no row, but a line
    if (i === 24) {
      // An unquoted comma in a field: one field too many.
      bad(
        new RegExp(`^the row has ${columns.length + 1} field\\(s\\), the header ${columns.length}`),
        `${rowOf(template, '{}', 1)},stray`,
      );
    }
  });
  if (options.unclosedAtEnd) {
    bad(
      /^a quoted field that starts here is never closed: everything from this line to the end of the file/,
      `"${String(template.Id)}","{""CreationTime"":`,
    );
  }
  const text = `${options.bom ? '\uFEFF' : ''}${lines.join('\r\n')}\r\n`;
  return { text, good, rejects, rowLines };
}

interface Run {
  code: number;
  out: string;
  err: string;
}

function io(
  env: Record<string, string>,
  options: { step?: number } = {},
): Io & { outText: () => string; errText: () => string } {
  let out = '';
  let err = '';
  let t = Date.UTC(2026, 11, 3, 9, 0, 0);
  return {
    out: (text) => void (out += text),
    err: (text) => void (err += text),
    env,
    errIsTTY: false,
    columns: undefined,
    now: () => new Date((t += options.step ?? 0)),
    outText: () => out,
    errText: () => err,
  };
}

async function cli(
  args: string[],
  env: Record<string, string>,
  options: { step?: number } = {},
): Promise<Run> {
  const i = io(env, options);
  const code = await main(['import', ...args], i);
  return { code, out: i.outText(), err: i.errText() };
}

interface Target {
  queue: QueueClient;
  name: string;
  env: Record<string, string>;
  runtime: WriterRuntime;
  drain(): Promise<void>;
}

async function target(extraEnv: Record<string, string> = {}): Promise<Target> {
  const name = `import-${randomUUID().slice(0, 8)}`;
  const queue = stack.storage.queues.getQueueClient(name);
  await queue.create();
  const logger = new RecordingLogger();
  const runtime = stack.runtime({ queueName: name }, {}, logger);
  await runtime.ensureResources();
  return {
    queue,
    name,
    runtime,
    env: {
      AUDITFEED_STORAGE: stack.azurite.connectionString,
      AUDITFEED_QUEUE_NAME: name,
      AUDITFEED_TENANT_IDS: TENANT,
      ...extraEnv,
    },
    async drain() {
      const result = await drainQueue({
        queue,
        poisonQueue: stack.storage.queues.getQueueClient(poisonQueueName(name)),
        handler: (m) => write(runtime, m.text, { messageId: m.id, dequeueCount: m.dequeueCount }, logger),
      });
      expect(result).toMatchObject({ drained: true, failed: 0, poisoned: [] });
      expect(logger.at('error')).toEqual([]);
    },
  };
}

function writeExport(name: string, text: string): string {
  const file = path.join(dir, name);
  writeFileSync(file, text, 'utf8');
  return file;
}

function readRejects(file: string): RejectedRow[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as RejectedRow);
}

function expectRejects(actual: RejectedRow[], expected: Expected[]): void {
  expect(actual.map((r) => [r.row, r.line])).toEqual(expected.map((e) => [e.row, e.line]));
  actual.forEach((r, i) => expect(r.reason).toMatch(expected[i]!.reason));
}

describe('auditfeed import', () => {
  const good = records(120, 'import-main');

  it('reports exactly the malformed rows, stores every good record once, and a re-import in either layout adds nothing', async () => {
    const t = await target();
    const purview = generateExport(good, 'purview', { bom: true, unclosedAtEnd: true });
    const cmdlet = generateExport(good, 'cmdlet');
    const purviewFile = writeExport('purview.csv', purview.text);
    const cmdletFile = writeExport('cmdlet.csv', cmdlet.text);
    const rejectsFile = path.join(dir, 'rejects.jsonl');

    const first = await cli([purviewFile, '--rejects', rejectsFile], t.env);
    expect(first.code).toBe(1); // rows were rejected: something to look at
    const rejected = readRejects(rejectsFile);
    expectRejects(rejected, purview.rejects);
    // Nothing of a rejected row is lost: its AuditData comes with it.
    expect(rejected[0]!.auditData).toBe(JSON.stringify(good[2]).slice(0, 40));
    expect(first.out).toContain(
      `(Purview portal export): ${good.length + purview.rejects.length} row(s) read, ${good.length} record(s) sent for tenant ${TENANT}`,
    );
    expect(first.out).toContain(`${purview.rejects.length} row(s) rejected (written to ${rejectsFile})`);
    expect(first.err).toBe('');
    await t.drain();
    const container = containerOf(stack, t.runtime);
    await expectExactlyOnce(container, good);
    // Filed under the content type the live feed uses for each record.
    const { resources } = await container.items
      .query<{ Id: string; contentType: string; tenantId: string }>(
        'SELECT c.Id, c.contentType, c.tenantId FROM c',
      )
      .fetchAll();
    const byId = new Map(good.map((r) => [String(r.Id), contentTypeOf(r)]));
    for (const d of resources) {
      expect(d.contentType).toBe(byId.get(d.Id));
      expect(d.tenantId).toBe(TENANT);
    }

    // The other layout (#TYPE, no BOM, partly unquoted fields), rejects on stderr, one line each.
    const second = await cli([cmdletFile], t.env);
    expect(second.code).toBe(1);
    const lines = second.err.split('\n').filter((l) => l.includes('rejected:'));
    expectRejects(
      lines.map((l) => {
        const m = /line (\d+) \(row (\d+)\) rejected: (.*)$/.exec(l)!;
        return { line: Number(m[1]), row: Number(m[2]), reason: m[3]! };
      }),
      cmdlet.rejects,
    );
    expect(second.out).toContain('(Search-UnifiedAuditLog output)');
    // #TYPE, but non-ASCII text survived: no encoding warning.
    expect(second.err).not.toMatch(/warning/);
    await t.drain();
    await expectExactlyOnce(container, good);

    // The same file again.
    expect((await cli([purviewFile, '--rejects', rejectsFile], t.env)).code).toBe(1);
    await t.drain();
    await expectExactlyOnce(container, good);
    expect(await countAll(container)).toBe(good.length);
  });

  it('exits 0 on a clean file, and shows progress (rows, bytes of total, rate, time left) with --progress', async () => {
    const t = await target();
    const clean = records(40, 'import-clean');
    const cleanText = generateExport(clean, 'purview', { malformed: false }).text;
    const file = writeExport('clean.csv', cleanText);
    const mb = (Buffer.byteLength(cleanText) / 1e6).toFixed(1);
    const r = await cli([file, '--progress'], t.env, { step: 11_000 });
    expect(r.code).toBe(0);
    expect(r.out).toContain(`40 row(s) read, 40 record(s) sent for tenant ${TENANT}`);
    expect(r.err).toMatch(
      new RegExp(`^import: 40 row\\(s\\), ${mb} of ${mb} MB \\(100%\\), \\d+ rows/s, about 0s left$`, 'm'),
    );
    await t.drain();
    await expectExactlyOnce(containerOf(stack, t.runtime), clean);

    // #TYPE and not one non-ASCII byte: probably Windows PowerShell 5.1's ASCII default (§4.3).
    const ascii = Array.from({ length: 5 }, (_, i) => exchangeRecord(i));
    const typed = await cli(
      [writeExport('ascii.csv', generateExport(ascii, 'cmdlet', { malformed: false }).text)],
      t.env,
    );
    expect(typed.code).toBe(0);
    expect(typed.err).toMatch(
      /^auditfeed import: warning: the file starts with a #TYPE line and holds no non-ASCII character: Windows PowerShell 5.1/,
    );
  });

  it('tenant: from OrganizationId; refused when not configured; a file mixing tenants stops with a clear error', async () => {
    const t = await target();
    const mine = records(10, 'import-t1');
    const theirs = records(10, 'import-t2', OTHER_TENANT);

    const other = writeExport('other.csv', generateExport(theirs, 'purview', { malformed: false }).text);
    const refused = await cli([other], t.env);
    expect(refused.code).toBe(2);
    expect(refused.err).toMatch(
      new RegExp(
        `OrganizationId of line 2 \\(row 1\\) is tenant ${OTHER_TENANT}, which is not one of the configured tenants \\(${TENANT}\\)`,
      ),
    );
    expect(refused.err.trim().split('\n')).toHaveLength(1);
    // --tenant naming a tenant that is not configured: the same, found before the file is read.
    const unconfiguredRejects = path.join(dir, 'unconfigured-rejects.jsonl');
    const notConfigured = await cli(
      [other, '--tenant', OTHER_TENANT, '--rejects', unconfiguredRejects],
      t.env,
    );
    expect(notConfigured).toEqual({
      code: 2,
      out: '',
      err: `auditfeed import: --tenant is tenant ${OTHER_TENANT}, which is not one of the configured tenants (${TENANT}); import only tenants auditfeed collects, or add it to AUDITFEED_TENANT_IDS (see \`auditfeed import --help\`)\n`,
    });
    expect(existsSync(unconfiguredRejects)).toBe(false);
    expect(await t.queue.getProperties()).toMatchObject({ approximateMessagesCount: 0 });

    const mixedExport = generateExport([...mine, ...theirs], 'purview', { malformed: false });
    const mixed = writeExport('mixed.csv', mixedExport.text);
    const stopped = await cli([mixed], { ...t.env, AUDITFEED_TENANT_IDS: `${TENANT},${OTHER_TENANT}` });
    expect(stopped.code).toBe(1);
    expect(stopped.err).toMatch(
      new RegExp(
        `line ${mixedExport.rowLines[10]} \\(row 11\\) has OrganizationId ${OTHER_TENANT}, the rows before it ${TENANT}: the export mixes tenants. The 10 record\\(s\\) before it were sent`,
      ),
    );
    expect(stopped.out).toContain('11 row(s) read, 10 record(s) sent');

    // --tenant: rows of another tenant are rejected, the rest imported.
    const rejectsFile = path.join(dir, 'tenant-rejects.jsonl');
    const chosen = await cli([mixed, '--tenant', TENANT, '--rejects', rejectsFile], t.env);
    expect(chosen.code).toBe(1);
    const rejected = readRejects(rejectsFile);
    expect(rejected.map((r) => r.row)).toEqual([11, 12, 13, 14, 15, 16, 17, 18, 19, 20]);
    expect(rejected[0]!.reason).toBe(
      `OrganizationId ${OTHER_TENANT} is another tenant than --tenant ${TENANT}`,
    );
    await t.drain();
    await expectExactlyOnce(containerOf(stack, t.runtime), mine);

    // No OrganizationId anywhere and no --tenant: nothing sent, exit 2.
    const anonymous = mine.map((r) => ({ ...r, OrganizationId: undefined }));
    const none = await cli(
      [writeExport('anon.csv', generateExport(anonymous, 'purview', { malformed: false }).text)],
      t.env,
    );
    expect(none.code).toBe(2);
    expect(none.err).toMatch(
      /no row names its tenant \(OrganizationId\): pass --tenant <tenant id>. Nothing was sent./,
    );
    expect(await t.queue.getProperties()).toMatchObject({ approximateMessagesCount: 0 });
    expect(
      (
        await cli(
          [
            writeExport('anon2.csv', generateExport(anonymous, 'purview', { malformed: false }).text),
            '--tenant',
            TENANT,
          ],
          t.env,
        )
      ).code,
    ).toBe(0);
  });

  it('refuses files that are no export, -Formatted output and UTF-16, before sending anything (exit 2)', async () => {
    const t = await target();
    const cases: Array<[string, string | Buffer, RegExp]> = [
      [
        'nocolumn.csv',
        'CreationDate,UserIds,Operations\r\n1,2,3\r\n',
        /the header has no AuditData column \(columns: CreationDate, UserIds, Operations\)/,
      ],
      ['empty.csv', '', /the file is empty/],
      [
        'formatted.csv',
        `RecordType,AuditData\r\nExchangeItem,${field(JSON.stringify({ ...good[1], RecordType: 'ExchangeItem' }))}\r\n`,
        /line 2 \(row 1\): AuditData has RecordType as a name, not a number: this is output of Search-UnifiedAuditLog -Formatted/,
      ],
      [
        'utf16.csv',
        Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('AuditData\r\n', 'utf16le')]),
        /the file is UTF-16/,
      ],
    ];
    for (const [name, content, message] of cases) {
      const file = path.join(dir, name);
      writeFileSync(file, content);
      const r = await cli([file], t.env);
      expect([name, r.code]).toEqual([name, 2]);
      expect(r.err).toMatch(message);
      expect(r.err.trim().split('\n')).toHaveLength(1);
    }
    expect((await cli([path.join(dir, 'missing.csv')], t.env)).err).toMatch(
      /cannot read .*missing.csv: ENOENT/,
    );
    expect((await cli([], t.env)).code).toBe(2);
    expect((await cli(['x.csv', '--tenant', 'contoso'], t.env)).err).toMatch(
      /--tenant needs a tenant id \(a GUID\)/,
    );
    expect(await t.queue.getProperties()).toMatchObject({ approximateMessagesCount: 0 });
  });

  it('finds the AuditData column case-insensitively and reads quoted multi-line fields', async () => {
    const r = good[0]!;
    const text = `"RECORDID","auditdata","Notes"\n"${String(r.Id)}",${field(JSON.stringify(r).replace(',', ',\n'))},"a\n""b"""\n`;
    const reader = new ExportReader(Readable.from([Buffer.from(text)]));
    const rows = [];
    for await (const row of reader.rows()) rows.push(row);
    expect(rows).toEqual([
      { ok: true, row: 1, line: 2, auditData: JSON.stringify(r).replace(',', ',\n'), recordId: String(r.Id) },
    ]);
    expect(reader.header).toMatchObject({ auditData: 1, recordId: 0, layout: 'Purview portal export' });
  });
});

describe('limits', () => {
  it('a runaway row (a quote never closed in a huge file) stops reading at its line; rows before it are sent', async () => {
    const t = await target();
    const before = Array.from({ length: 3 }, (_, i) => exchangeRecord(i));
    const text =
      `AuditData\r\n${before.map((r) => field(JSON.stringify(r))).join('\r\n')}\r\n"{""Id"":""x` +
      'y'.repeat(5000) +
      '\r\nmore rows that are never read\r\n';
    const sink = new QueueBatchSink(t.queue, stack.storage.blobs.getContainerClient(CONTAINERS.batches));
    const run = new ExportImport({
      source: Readable.from([Buffer.from(text)]),
      name: 'runaway.csv',
      sink,
      configuredTenants: [],
      onRejected: () => undefined,
      maxRowBytes: 4096,
    });
    await expect(run.run()).rejects.toThrow(
      /^line 5 \(row 4\): the row runs past 4096 bytes, far longer than any audit record can be: most likely a quote that is never closed/,
    );
    expect(run.summary).toMatchObject({ rows: 3, sent: 3 });
    await t.drain();
    await expectExactlyOnce(containerOf(stack, t.runtime), before);
  });

  it('warns when the row count is a cap of the audit search (5,000, 10,000, 50,000)', () => {
    const summary = { rows: 50_000, header: undefined, asciiOnly: false } as unknown as ImportSummary;
    expect(fileWarnings(summary)).toEqual([
      'the file holds exactly 50000 rows, a limit of the audit search (ResultSize, session paging or the portal ' +
        'export): the search was probably cut off. Split its date range and export the rest.',
    ]);
    expect(fileWarnings({ ...summary, rows: 49_999 })).toEqual([]);
  });
});

describe('queue failure', () => {
  it('a queue that does not exist: nothing is reported sent, and the summary says what was not', async () => {
    const t = await target();
    const clean = records(40, 'import-noqueue');
    const file = writeExport('noqueue.csv', generateExport(clean, 'purview', { malformed: false }).text);
    const r = await cli([file], { ...t.env, AUDITFEED_QUEUE_NAME: `missing-${randomUUID().slice(0, 8)}` });
    expect(r.code).toBe(1);
    expect(r.out).toContain('40 row(s) read, 0 record(s) sent for tenant');
    expect(r.out).toContain('40 record(s) taken from the file were not sent: the queue failed (below).');
    expect(r.out).not.toContain('The writer stores them');
    expect(r.err).toMatch(/^auditfeed import failed: .*noqueue\.csv: .*QueueNotFound/m);
  });

  it('failing part-way: `sent` is exactly what reached the queue, and the writer stores exactly that many', async () => {
    const t = await target();
    // Exchange records only (one batcher); the one in the middle is too big for a message and needs a
    // claim-check blob, in a container that does not exist: the queue part of the sink works, that fails.
    const noise = (i: number): string =>
      Array.from({ length: 2500 }, (_, k) => ((i * 7919 + k * 104729) % 1_000_003).toString(36)).join('');
    const list = Array.from({ length: 400 }, (_, i) =>
      exchangeRecord(
        i,
        i === 200 ? { Blob: noise(i) } : { Subject: `message ${i} ${noise(i).slice(0, 200)}` },
      ),
    );
    const sink = new QueueBatchSink(t.queue, stack.storage.blobs.getContainerClient('no-such-container'));
    const run = new ExportImport({
      source: Readable.from([Buffer.from(generateExport(list, 'purview', { malformed: false }).text)]),
      name: 'partway.csv',
      sink,
      configuredTenants: [TENANT],
      onRejected: () => undefined,
      maxMessageBytes: 8 * 1024,
    });
    await expect(run.run()).rejects.toThrow(/ContainerNotFound|container does not exist/i);
    const s = run.summary;
    expect(s.sent).toBeGreaterThan(0);
    expect(s.accepted).toBeGreaterThan(s.sent);
    expect(s.byContentType['Audit.Exchange']).toBe(s.sent);
    expect(s.messages).toBe((await t.queue.getProperties()).approximateMessagesCount);
    await t.drain();
    expect(await countAll(containerOf(stack, t.runtime))).toBe(s.sent);
  });
});

/** The real queue sink, counting what it has been given (the streaming proof watches it). */
class CountingSink implements BatchSink {
  enqueued = 0;
  constructor(private readonly inner: QueueBatchSink) {}
  async enqueue(text: string, envelope: Envelope): Promise<void> {
    await this.inner.enqueue(text);
    void envelope;
    this.enqueued++;
  }
  storeClaimCheck(envelope: Omit<Envelope, 'data' | 'blob'>, compressed: Buffer): Promise<BlobPointer> {
    return this.inner.storeClaimCheck(envelope, compressed);
  }
}

describe('streaming', () => {
  it('sends records before the file has been read to its end (no timing involved)', async () => {
    const t = await target();
    const many = records(3000, 'import-stream');
    const text = Buffer.from(generateExport(many, 'purview').text);
    const chunkBytes = 64 * 1024;
    const chunks = Math.ceil(text.length / chunkBytes);
    expect(chunks).toBeGreaterThan(30);
    const sink = new CountingSink(
      new QueueBatchSink(t.queue, stack.storage.blobs.getContainerClient(CONTAINERS.batches)),
    );
    let sentBeforeLastChunk = -1;
    function* file(): Generator<Buffer> {
      for (let i = 0; i < chunks; i++) {
        // Asked for the last piece: whatever was sent by now was sent before the end was read.
        if (i === chunks - 1) sentBeforeLastChunk = sink.enqueued;
        yield text.subarray(i * chunkBytes, (i + 1) * chunkBytes);
      }
    }
    const rejected: RejectedRow[] = [];
    const summary = await new ExportImport({
      source: Readable.from(file()),
      name: 'stream.csv',
      sink,
      configuredTenants: [TENANT],
      onRejected: (r) => void rejected.push(r),
      maxMessageBytes: 16 * 1024,
    }).run();
    expect(rejected.map((r) => r.row)).toEqual([4, 12, 20, 29]);
    expect(summary.sent).toBe(many.length);
    expect(summary.messages).toBe(sink.enqueued);
    // Dozens of messages were on the queue before the reader asked for the file's last 64 KiB.
    expect(sentBeforeLastChunk).toBeGreaterThan(10);
    expect(sentBeforeLastChunk).toBeLessThan(sink.enqueued);
  });
});
