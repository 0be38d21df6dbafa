import { createReadStream, createWriteStream, statSync, type WriteStream } from 'node:fs';
import path from 'node:path';
import { once } from 'node:events';
import { ExportCsvError, ExportRowTooLongError } from '../../shared/backfill/exportCsv';
import {
  ExportImport,
  ImportTenantError,
  type ImportSummary,
  type RejectedRow,
} from '../../shared/backfill/exportImport';
import { loadStoreSettings, SETTINGS } from '../../shared/config';
import { CONTENT_TYPES } from '../../shared/contentTypes';
import { ConfigError } from '../../shared/errors';
import { isGuid } from '../../shared/guid';
import { QueueBatchSink } from '../../shared/storage/batchSink';
import { CONTAINERS, createStorageClients } from '../../shared/storage/clients';
import type { Command, Io } from '../cli';
import { describeError } from '../cli';
import { flagSet, flagValue, parseFlags, UsageError } from './args';
import { resolveStorage } from './target';

const USAGE = `Usage: auditfeed import <file> [--tenant ID] [--rejects FILE] [--progress] [--local] [--state-dir DIR]

Imports an audit search export — a Purview portal audit search export (CSV), or Search-UnifiedAuditLog
output saved with Export-Csv — into the store: every row's AuditData goes to the writer's queue, and the
writer stores it as the same document the live feed writes (importing a file again adds nothing).
See docs/backfill-mapping.md, "Importing an export".

Where it writes: the queue in the settings (AUDITFEED_STORAGE, or AUDITFEED_STORAGE__blobServiceUri and
AUDITFEED_STORAGE__queueServiceUri with your Azure sign-in; AUDITFEED_QUEUE_NAME); with none of those, the
running local stack (\`npm start -- --follow\`). The writer must be running to store what is queued.

  --tenant ID       the tenant the rows belong to (default: the rows' OrganizationId, which must agree);
                    rows of another OrganizationId are then rejected. Must be one of AUDITFEED_TENANT_IDS
                    (or the local stack's tenants) when those are known.
  --rejects FILE    write rejected rows to FILE as JSON lines (row, line, reason, AuditData) instead of
                    one stderr line each
  --progress        show progress on stderr (rows, bytes, rate, time left); on by default on a terminal
  --local           use the running local stack even when storage settings are set
  --state-dir DIR   where the local stack's last-run.json is (default .local; also AUDITFEED_LOCAL_DIR)
  --help            this text

Exit codes: 0 every row imported; 1 some rows rejected, or the import failed part-way (the summary says
what was sent); 2 bad arguments, settings or file (nothing was sent).`;

const FLAGS = [
  { name: 'tenant', value: 'ID' },
  { name: 'rejects', value: 'FILE' },
  { name: 'progress' },
  { name: 'local' },
  { name: 'state-dir', value: 'DIR' },
];

interface Args {
  file: string;
  tenant: string | undefined;
  rejects: string | undefined;
  progress: boolean;
  local: boolean;
  stateDir: string | undefined;
}

export function parseImportArgs(argv: readonly string[]): Args | 'help' {
  const p = parseFlags(argv, FLAGS);
  if (p.help) return 'help';
  if (p.positionals.length === 0) throw new UsageError('name the export file to import');
  if (p.positionals.length > 1)
    throw new UsageError(`unexpected argument ${JSON.stringify(p.positionals[1])}`);
  const tenant = flagValue(p, 'tenant');
  if (tenant !== undefined && !isGuid(tenant.trim()))
    throw new UsageError(`--tenant needs a tenant id (a GUID), got ${JSON.stringify(tenant)}`);
  return {
    file: p.positionals[0]!,
    tenant: tenant?.trim(),
    rejects: flagValue(p, 'rejects'),
    progress: flagSet(p, 'progress'),
    local: flagSet(p, 'local'),
    stateDir: flagValue(p, 'state-dir'),
  };
}

/** The tenants the settings (or the local stack) name; empty when none are known. */
function configuredTenants(io: Io, fromTarget: string[]): string[] {
  if ((io.env[SETTINGS.tenantIds.name] ?? '').trim() === '') return fromTarget;
  try {
    return loadStoreSettings(io.env, ['tenantIds']).tenantIds;
  } catch (e) {
    if (e instanceof ConfigError) throw new UsageError(e.message);
    throw e;
  }
}

function fileSize(file: string): number {
  try {
    const stat = statSync(file);
    if (!stat.isFile()) throw new UsageError(`${file} is not a file`);
    return stat.size;
  } catch (e) {
    if (e instanceof UsageError) throw e;
    throw new UsageError(`cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

export const importCommand: Command = {
  name: 'import',
  summary: 'imports a Purview audit search export or Search-UnifiedAuditLog CSV into the store',
  usage: USAGE,
  async run(argv, io) {
    const args = parseImportArgs(argv);
    if (args === 'help') {
      io.out(`${USAGE}\n`);
      return 0;
    }
    const total = fileSize(args.file);
    const target = resolveStorage(io.env, { local: args.local, stateDir: args.stateDir });
    const tenants = configuredTenants(io, target.tenantIds);
    const { queues, blobs } = createStorageClients(target.storage);
    const sink = new QueueBatchSink(
      queues.getQueueClient(target.queueName),
      blobs.getContainerClient(CONTAINERS.batches),
    );
    let rejects: RejectsFile | undefined;
    const source = createReadStream(args.file);
    const progress = new ImportProgress(io, total, args.progress || io.errIsTTY);
    let run: ExportImport;
    try {
      run = new ExportImport({
        source,
        name: path.basename(args.file),
        sink,
        ...(args.tenant !== undefined ? { tenant: args.tenant } : {}),
        configuredTenants: tenants,
        onRejected: (r) => (rejects ? rejects.write(r) : io.err(`${describeReject(args.file, r)}\n`)),
        onProgress: (s, bytes) => progress.update(s.rows, bytes),
      });
    } catch (e) {
      // --tenant is not a configured tenant: settled before anything is read or sent (exit 2, one line).
      source.destroy();
      if (e instanceof ImportTenantError) throw new UsageError(e.message);
      throw e;
    }
    if (args.rejects !== undefined) rejects = await openRejects(args.rejects);

    let failure: unknown;
    try {
      await run.run();
    } catch (e) {
      failure = e;
    } finally {
      progress.done();
      await rejects?.close();
    }
    const s = run.summary;
    // Found before anything was sent: the file, tenant or arguments are wrong (exit 2, one line).
    if (
      failure !== undefined &&
      s.sent === 0 &&
      (failure instanceof ExportCsvError || failure instanceof ImportTenantError) &&
      !(failure instanceof ExportRowTooLongError)
    ) {
      throw new UsageError(`${args.file}: ${failure instanceof Error ? failure.message : String(failure)}`);
    }
    io.out(`${summaryText(args.file, target.queueName, s, args.rejects)}\n`);
    for (const w of fileWarnings(s)) io.err(`auditfeed import: warning: ${w}\n`);
    if (failure !== undefined) {
      io.err(`auditfeed import failed: ${args.file}: ${describeError(failure)}\n`);
      return 1;
    }
    return s.rejected > 0 ? 1 : 0;
  },
};

export function describeReject(file: string, r: RejectedRow): string {
  return `auditfeed import: ${file} line ${r.line} (row ${r.row}) rejected: ${r.reason}`;
}

function summaryText(file: string, queue: string, s: ImportSummary, rejectsFile: string | undefined): string {
  const types = CONTENT_TYPES.filter((c) => s.byContentType[c] > 0)
    .map((c) => `${c} ${s.byContentType[c]}`)
    .join(', ');
  const lines = [
    `Imported ${file} (${s.header?.layout ?? 'no header read'}): ${s.rows} row(s) read, ${s.sent} record(s) sent` +
      (s.tenantId ? ` for tenant ${s.tenantId}` : '') +
      (types ? ` (${types})` : '') +
      ` in ${s.messages} message(s) to queue ${queue}; ${s.rejected} row(s) rejected` +
      (s.rejected > 0 ? (rejectsFile ? ` (written to ${rejectsFile})` : ' (listed on stderr)') : '') +
      '.',
  ];
  if (s.accepted > s.sent)
    lines.push(
      `${s.accepted - s.sent} record(s) taken from the file were not sent: the queue failed (below). Import the ` +
        'file again once the queue works: the records already sent are stored once, whatever is sent twice.',
    );
  if (s.recordIdMismatches > 0)
    lines.push(
      `${s.recordIdMismatches} row(s) have a RecordId other than AuditData's Id; they are stored by AuditData's Id.`,
    );
  if (s.sent > 0)
    lines.push(
      'The writer stores them as it drains the queue; a record imported again is the same document.',
    );
  return lines.join('\n');
}

/** The importer's warnings about the file as a whole (reference §4.4 step 4). */
export function fileWarnings(s: ImportSummary): string[] {
  const out: string[] = [];
  if (s.header?.typeLine && s.asciiOnly && s.rows > 0) {
    out.push(
      'the file starts with a #TYPE line and holds no non-ASCII character: Windows PowerShell 5.1 Export-Csv ' +
        'writes ASCII by default and replaces other characters with "?". Export again with -Encoding UTF8 if ' +
        'names, subjects or file names may have had them.',
    );
  }
  if ([5_000, 10_000, 50_000].includes(s.rows)) {
    out.push(
      `the file holds exactly ${s.rows} rows, a limit of the audit search (ResultSize, session paging or the ` +
        'portal export): the search was probably cut off. Split its date range and export the rest.',
    );
  }
  return out;
}

interface RejectsFile {
  write(r: RejectedRow): Promise<void>;
  close(): Promise<void>;
}

async function openRejects(file: string): Promise<RejectsFile> {
  const stream: WriteStream = createWriteStream(file, { flags: 'w' });
  try {
    await once(stream, 'open');
  } catch (e) {
    throw new UsageError(
      `cannot write --rejects ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
    );
  }
  return {
    async write(r) {
      // Backpressure: a file of many bad rows must not pile up in memory.
      if (!stream.write(`${JSON.stringify(r)}\n`)) await once(stream, 'drain');
    },
    close: () =>
      new Promise<void>((resolve, reject) => stream.end((e?: Error | null) => (e ? reject(e) : resolve()))),
  };
}

/** Rows, bytes of the file, rate and time left on stderr: one rewritten line on a terminal, else a line every 10 s. */
export class ImportProgress {
  private readonly started: number;
  private last = 0;
  private shown = false;

  constructor(
    private readonly io: Io,
    private readonly totalBytes: number,
    readonly enabled: boolean,
  ) {
    this.started = io.now().getTime();
  }

  update(rows: number, bytes: number): void {
    if (!this.enabled) return;
    const now = this.io.now().getTime();
    if (now - this.last < (this.io.errIsTTY ? 1_000 : 10_000)) return;
    this.last = now;
    const text = progressText(rows, bytes, this.totalBytes, now - this.started);
    if (this.io.errIsTTY) {
      this.io.err(`\r\x1b[2K${text}`);
      this.shown = true;
    } else this.io.err(`${text}\n`);
  }

  done(): void {
    if (this.shown) this.io.err('\r\x1b[2K');
    this.shown = false;
  }
}

export function progressText(rows: number, bytes: number, total: number, elapsedMs: number): string {
  const seconds = elapsedMs / 1000;
  const percent = total > 0 ? Math.min(100, Math.floor((bytes / total) * 100)) : 100;
  const rate = seconds > 0 ? Math.round(rows / seconds) : 0;
  const left = bytes > 0 && seconds > 0 ? ((total - bytes) / bytes) * seconds : undefined;
  return (
    `import: ${rows} row(s), ${megabytes(bytes)} of ${megabytes(total)} MB (${percent}%), ${rate} rows/s` +
    (left !== undefined ? `, about ${duration(left)} left` : '')
  );
}

function megabytes(bytes: number): string {
  return (bytes / 1_000_000).toFixed(1);
}

function duration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
}
