import type { Readable } from 'node:stream';
import { CONTENT_TYPES, type AuditRecord, type ContentType } from '../contentTypes';
import { AuditfeedError } from '../errors';
import { isGuid } from '../guid';
import { RecordNotSerialisableError, RecordTooLargeError, type BatchSink } from '../messages/batcher';
import type { BlobPointer, Envelope } from '../messages/envelope';
import { recordIdOf } from '../writer/recordIdentity';
import { ExportCsvError, ExportReader, type ExportHeader, type ExportRow } from './exportCsv';
import { fromAuditDataJson } from './recordMapping';
import { RecordSender } from './recordSender';

/**
 * An audit search export (docs/backfill-reference.md §4) into the live feed's batch queue: each row's
 * AuditData mapped (recordMapping.ts) and sent (recordSender.ts), so the existing writer stores it as the
 * document the live feed writes, create-only: importing the same file again (or a row the live feed already
 * stored) changes nothing. A row that
 * cannot be imported is handed to `onRejected` with its row, line and reason; none is dropped silently.
 */

/** The tenant cannot be settled: none given or found, not a configured one, or the file mixes tenants. */
export class ImportTenantError extends AuditfeedError {
  constructor(message: string) {
    super(message, 'ImportTenant');
  }
}

/** `Search-UnifiedAuditLog -Formatted` output: AuditData is not the raw record (§4.1). */
export class FormattedExportError extends ExportCsvError {
  constructor(line: number, row: number) {
    super(
      `line ${line} (row ${row}): AuditData has RecordType as a name, not a number: this is output of ` +
        'Search-UnifiedAuditLog -Formatted, whose AuditData is not the raw audit record. Run the search ' +
        'again without -Formatted and import that file.',
      'ExportFormatted',
    );
  }
}

export interface RejectedRow {
  row: number;
  line: number;
  reason: string;
  /** The row's AuditData text, when the row had one: with it nothing of the row is lost. */
  auditData?: string;
}

export interface ImportOptions {
  source: Readable;
  /** Names the import in the contentId the records are sent under (`import:<name>`). */
  name: string;
  sink: BatchSink;
  /** --tenant: the tenant the rows are stored for; rows of another OrganizationId are rejected. */
  tenant?: string;
  /** Tenants the settings name; empty = no restriction. */
  configuredTenants: readonly string[];
  onRejected(row: RejectedRow): void | Promise<void>;
  /** Called every `progressEveryRows` rows and at the end. */
  onProgress?(summary: ImportSummary, bytesRead: number): void;
  progressEveryRows?: number;
  maxMessageBytes?: number;
  maxRowBytes?: number;
}

export interface ImportSummary {
  /** Data rows read (the `#TYPE` line, header and blank lines are not rows). */
  rows: number;
  /** Records on the queue: in messages the queue confirmed (after a queue failure, fewer than `accepted`). */
  sent: number;
  /** Records taken from the file for sending (all of them sent once `run` resolved). */
  accepted: number;
  rejected: number;
  /** `sent`, per content type. */
  byContentType: Record<ContentType, number>;
  /** Queue messages the queue confirmed. */
  messages: number;
  tenantId: string | undefined;
  /** Rows whose RecordId column is not AuditData's Id (stored by AuditData's Id; §4.4 step 2). */
  recordIdMismatches: number;
  header: ExportHeader | undefined;
  bytesRead: number;
  /** No byte ≥ 0x80 in the whole file. */
  asciiOnly: boolean;
}

/** Records held while no row has named the tenant yet; beyond this the file needs --tenant. */
const MAX_HELD_WITHOUT_TENANT = 1000;

export class ExportImport {
  readonly summary: ImportSummary = {
    rows: 0,
    sent: 0,
    accepted: 0,
    rejected: 0,
    byContentType: Object.fromEntries(CONTENT_TYPES.map((c) => [c, 0])) as Record<ContentType, number>,
    messages: 0,
    tenantId: undefined,
    recordIdMismatches: 0,
    header: undefined,
    bytesRead: 0,
    asciiOnly: true,
  };
  private readonly reader: ExportReader;
  private readonly sink: ConfirmedSink;
  private sender: RecordSender | undefined;
  /** Mapped rows read before any row named the tenant (no --tenant). */
  private held: Array<{ row: ExportRow & { ok: true }; record: AuditRecord; contentType: ContentType }> = [];

  constructor(private readonly options: ImportOptions) {
    this.reader = new ExportReader(options.source, options.maxRowBytes);
    this.sink = new ConfirmedSink(options.sink);
    if (options.tenant !== undefined) this.settleTenant(options.tenant.trim(), '--tenant');
  }

  async run(): Promise<ImportSummary> {
    const every = this.options.progressEveryRows ?? 500;
    try {
      for await (const row of this.reader.rows()) {
        this.summary.rows++;
        await this.take(row);
        if (this.summary.rows % every === 0) this.progress();
      }
      if (this.held.length > 0) {
        throw new ImportTenantError(
          `no row names its tenant (OrganizationId): pass --tenant <tenant id>. Nothing was sent.`,
        );
      }
      await this.sender?.flush();
    } catch (e) {
      // Reading stopped part-way (a runaway row, a read error, -Formatted rows): what was accepted before
      // is good and goes out; a failing queue fails this flush too, and the first error is the one reported.
      await this.sender?.flush().catch(() => undefined);
      throw e;
    } finally {
      this.account();
    }
    this.progress();
    return this.summary;
  }

  private progress(): void {
    this.account();
    this.options.onProgress?.(this.summary, this.reader.bytesRead);
  }

  private account(): void {
    const s = this.summary;
    s.header = this.reader.header;
    s.bytesRead = this.reader.bytesRead;
    s.asciiOnly = !this.reader.sawNonAscii;
    // The sender counts records accepted; the queue's confirmations say what was really sent.
    if (this.sender) s.accepted = Object.values(this.sender.stats.records).reduce((a, b) => a + b, 0);
    s.byContentType = { ...this.sink.records };
    s.messages = this.sink.messages;
    s.sent = Object.values(this.sink.records).reduce((a, b) => a + b, 0);
  }

  private async take(row: ExportRow): Promise<void> {
    if (!row.ok) return this.reject(row, row.reason);
    const mapped = fromAuditDataJson(row.auditData);
    if (!mapped.ok) {
      if (mapped.code === 'FormattedRecordType') throw new FormattedExportError(row.line, row.row);
      return this.reject(row, mapped.reason, row.auditData);
    }
    const { record, contentType } = mapped;
    if (row.recordId !== undefined && recordIdOf(record.Id)?.toLowerCase() !== row.recordId.toLowerCase()) {
      this.summary.recordIdMismatches++;
    }
    const org = typeof record.OrganizationId === 'string' ? record.OrganizationId.trim() : '';
    const tenant = this.summary.tenantId;
    if (this.options.tenant !== undefined) {
      if (org !== '' && org.toLowerCase() !== tenant!.toLowerCase()) {
        return this.reject(
          row,
          `OrganizationId ${org} is another tenant than --tenant ${tenant}`,
          row.auditData,
        );
      }
      return this.send(row, record, contentType);
    }
    if (tenant === undefined) {
      if (org === '') {
        this.held.push({ row, record, contentType });
        if (this.held.length > MAX_HELD_WITHOUT_TENANT) {
          throw new ImportTenantError(
            `rows 1-${row.row} name no tenant (no OrganizationId in AuditData): pass --tenant <tenant id>. ` +
              'Nothing was sent.',
          );
        }
        return;
      }
      this.settleTenant(org, `OrganizationId of line ${row.line} (row ${row.row})`);
      const held = this.held;
      this.held = [];
      for (const h of held) await this.send(h.row, h.record, h.contentType);
    } else if (org !== '' && org.toLowerCase() !== tenant.toLowerCase()) {
      // What was accepted belongs to `tenant` (its rows said so): send it, then stop.
      await this.sender!.flush();
      this.account();
      throw new ImportTenantError(
        `line ${row.line} (row ${row.row}) has OrganizationId ${org}, the rows before it ${tenant}: the export ` +
          `mixes tenants. The ${this.summary.sent} record(s) before it were sent for ${tenant}. Import the file ` +
          'once per tenant with --tenant <tenant id> (rows of other tenants are then reported as rejected).',
      );
    }
    return this.send(row, record, contentType);
  }

  private settleTenant(value: string, from: string): void {
    if (!isGuid(value)) {
      throw new ImportTenantError(
        `${from} is ${JSON.stringify(value)}, not a tenant id (a GUID); pass --tenant <tenant id>`,
      );
    }
    const configured = this.options.configuredTenants;
    const match = configured.find((t) => t.toLowerCase() === value.toLowerCase());
    if (configured.length > 0 && match === undefined) {
      throw new ImportTenantError(
        `${from} is tenant ${value}, which is not one of the configured tenants (${configured.join(', ')}); ` +
          'import only tenants auditfeed collects, or add it to AUDITFEED_TENANT_IDS',
      );
    }
    // The configured spelling: the live feed's documents carry that tenantId.
    const tenantId = match ?? value.toLowerCase();
    this.summary.tenantId = tenantId;
    this.sender = new RecordSender({
      tenantId,
      sink: this.sink,
      source: `import:${this.options.name}`,
      ...(this.options.maxMessageBytes ? { maxMessageBytes: this.options.maxMessageBytes } : {}),
    });
  }

  private async send(row: ExportRow, record: AuditRecord, contentType: ContentType): Promise<void> {
    try {
      await this.sender!.add(record, contentType);
    } catch (e) {
      if (e instanceof RecordTooLargeError || e instanceof RecordNotSerialisableError) {
        return this.reject(row, e.message, row.ok ? row.auditData : undefined);
      }
      throw e;
    }
  }

  private async reject(row: ExportRow, reason: string, auditData?: string): Promise<void> {
    this.summary.rejected++;
    await this.options.onRejected({
      row: row.row,
      line: row.line,
      reason,
      ...(auditData !== undefined ? { auditData } : {}),
    });
  }
}

/** The import's sink: counts the records in each message the queue confirmed (claim checks included). */
class ConfirmedSink implements BatchSink {
  readonly records = Object.fromEntries(CONTENT_TYPES.map((c) => [c, 0])) as Record<ContentType, number>;
  messages = 0;

  constructor(private readonly inner: BatchSink) {}

  async enqueue(text: string, envelope: Envelope): Promise<void> {
    await this.inner.enqueue(text, envelope);
    this.records[envelope.contentType] += envelope.count;
    this.messages++;
  }

  storeClaimCheck(envelope: Omit<Envelope, 'data' | 'blob'>, compressed: Buffer): Promise<BlobPointer> {
    return this.inner.storeClaimCheck(envelope, compressed);
  }
}
