import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { parse, type CsvError, type Options } from 'csv-parse';
import { AuditfeedError } from '../errors';
import { MAX_BATCH_JSON_BYTES } from '../messages/envelope';

/**
 * Streaming reader of an audit search export: a Purview portal export or `Search-UnifiedAuditLog … |
 * Export-Csv` output (docs/backfill-reference.md §4). Rows come out one at a time as the file is read, so
 * the caller's backpressure (awaiting each row's send) bounds memory whatever the file size. Every data row
 * comes out exactly once: as its AuditData text, or as a bad row with its line and the reason.
 */

/** The file cannot be read as an export at all (nothing in it was used). */
export class ExportCsvError extends AuditfeedError {
  constructor(message: string, code = 'ExportCsv') {
    super(message, code);
  }
}

/** A row so long it can only be a quote never closed (no record that long can be sent); reading stops here. */
export class ExportRowTooLongError extends ExportCsvError {
  constructor(
    readonly line: number,
    readonly row: number,
    limitBytes: number,
  ) {
    super(
      `line ${line} (row ${row}): the row runs past ${sizeText(limitBytes)}, far longer ` +
        'than any audit record can be: most likely a quote that is never closed. Rows from this line on were ' +
        'not read; fix the quoting there (or cut the file at this line) and import the rest again.',
      'ExportRowTooLong',
    );
  }
}

function sizeText(bytes: number): string {
  return bytes >= 1024 * 1024 ? `${Math.round(bytes / 1024 / 1024)} MiB` : `${bytes} bytes`;
}

export interface ExportHeader {
  columns: string[];
  /** Index of the AuditData column (found case-insensitively). */
  auditData: number;
  /** Index of the portal export's RecordId column, when present (a cross-check of AuditData's Id). */
  recordId?: number;
  /** The `#TYPE …` first line of Windows PowerShell's Export-Csv, when present. */
  typeLine?: string;
  /** Which producer the columns look like (§4.2), for the summary. */
  layout: string;
}

export type ExportRow =
  | { ok: true; row: number; line: number; auditData: string; recordId?: string }
  | { ok: false; row: number; line: number; reason: string };

/** No record the writer accepts is longer (its batch limit); with the other columns, a row never needs more. */
export const MAX_ROW_BYTES = MAX_BATCH_JSON_BYTES + 1024 * 1024;

type Item = ExportRow & { seq: number };

export class ExportReader {
  /** Bytes of the file read so far (what progress is measured in). */
  bytesRead = 0;
  /** Any byte ≥ 0x80 seen (a `#TYPE` file without one was probably written as ASCII, §4.3). */
  sawNonAscii = false;
  header: ExportHeader | undefined;
  private typeLine: string | undefined;
  /** Data rows numbered so far, as the parser meets them (bad ones included). */
  private rowCount = 0;

  constructor(
    private readonly source: Readable,
    private readonly maxRowBytes = MAX_ROW_BYTES,
  ) {}

  /**
   * The data rows in file order. Throws ExportCsvError for a file that is no export, and
   * ExportRowTooLongError where reading had to stop; the source is closed on any exit.
   */
  async *rows(): AsyncGenerator<ExportRow> {
    // Rows are numbered and classified as the parser meets them (on_record and the skip event run in file
    // order); bad ones wait in `skipped` until the rows parsed before them have been yielded.
    let seq = 0;
    let lastLine = 0;
    /** csv-parse's line count minus ours, as of the last good record. */
    let drift = 0;
    const skipped: Item[] = [];
    let fatal: Error | undefined;
    /** Sequence number where reading stopped: rows parsed before it still come out, nothing after it. */
    let stoppedAt: number | undefined;
    const counter = this.counter(() => stoppedAt !== undefined);
    /** Nothing of the file can be used (bad header, read error): stop at once. */
    const abort = (e: Error): void => {
      fatal ??= e;
      this.source.destroy();
      queueMicrotask(() => parser.destroy(e));
    };
    /** Stop reading the file, but let the rows parsed so far come out first. */
    const stopReading = (e: Error): void => {
      fatal ??= e;
      stoppedAt = seq++;
      this.source.unpipe(counter);
      this.source.destroy();
      counter.end();
    };
    const options: Options<Item, string[]> = {
      bom: true,
      // Column counts and stray quotes are checked per row here, so one bad row never takes others with it.
      relax_column_count: true,
      relax_quotes: true,
      skip_records_with_error: true,
      max_record_size: this.maxRowBytes,
      on_record: (fields: string[], context: { lines: number }): Item | null => {
        if (stoppedAt !== undefined) return null;
        // Lines are counted here: csv-parse counts a CRLF inside a quoted field as two.
        const line = lastLine + 1;
        lastLine = line + fields.reduce((n, f) => n + lineBreaks(f), 0);
        drift = context.lines - lastLine;
        try {
          const row = this.classify(fields, line);
          return row ? { ...row, seq: seq++ } : null;
        } catch (e) {
          abort(e as Error);
          return null;
        }
      },
    };
    // The typings tie on_record's result to the record type only when `columns` is set.
    const parser = parse(options as unknown as Options);
    parser.on('skip', (e: CsvError & { lines?: number }) => {
      if (stoppedAt !== undefined) return;
      const line = lastLine + 1;
      lastLine = Math.max(line, (typeof e.lines === 'number' ? e.lines : line) - drift);
      if (e.code === 'CSV_MAX_RECORD_SIZE') {
        // The parser cannot find the next row after this; everything before it is still good.
        stopReading(new ExportRowTooLongError(line, this.rowCount + 1, this.maxRowBytes));
        return;
      }
      const reason =
        e.code === 'CSV_QUOTE_NOT_CLOSED'
          ? 'a quoted field that starts here is never closed: everything from this line to the end of the file ' +
            'was read as one row and is not imported'
          : `not valid CSV (${e.message.split('\n')[0]!.trim()})`;
      if (!this.header) {
        abort(new ExportCsvError(`line ${line}: the header row cannot be read: ${reason}`));
        return;
      }
      skipped.push({ ok: false, row: ++this.rowCount, line, reason, seq: seq++ });
    });
    this.source.on('error', (e: Error) => abort(e));
    counter.on('error', (e: Error) => abort(e));
    this.source.pipe(counter).pipe(parser);

    try {
      for await (const item of parser as AsyncIterable<Item>) {
        while (skipped.length > 0 && skipped[0]!.seq < item.seq) yield strip(skipped.shift()!);
        yield strip(item);
      }
    } catch (e) {
      fatal ??= e as Error;
    } finally {
      // Also when the caller stops early: close the file.
      if (!this.source.destroyed) this.source.destroy();
      if (!parser.destroyed) parser.destroy();
    }
    for (const s of skipped.splice(0)) yield strip(s);
    if (fatal) throw fatal;
    if (!this.header) throw new ExportCsvError('the file is empty: no header row with an AuditData column');
  }

  /** One parsed record → a data row, or undefined for the `#TYPE` line, the header and blank lines. */
  private classify(fields: string[], line: number): ExportRow | undefined {
    // A blank line parses as one empty field: not a row.
    if (fields.length === 1 && fields[0] === '') return undefined;
    if (!this.header) {
      if (line === 1 && fields.length === 1 && fields[0]!.startsWith('#TYPE')) {
        this.typeLine = fields[0];
        return undefined;
      }
      this.header = headerOf(fields, line, this.typeLine);
      return undefined;
    }
    const row = ++this.rowCount;
    const { columns, auditData, recordId } = this.header;
    if (fields.length !== columns.length) {
      return {
        ok: false,
        row,
        line,
        reason: `the row has ${fields.length} field(s), the header ${columns.length}: a quote or comma out of place`,
      };
    }
    const id = recordId !== undefined ? fields[recordId]!.trim() : '';
    return { ok: true, row, line, auditData: fields[auditData]!, ...(id ? { recordId: id } : {}) };
  }

  /** Counts bytes as they pass (progress) and refuses UTF-16, which the CSV parser would read as garbage. */
  private counter(stopped: () => boolean): Transform {
    return new Transform({
      transform: (chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback) => {
        if (stopped()) {
          callback();
          return;
        }
        if (this.bytesRead === 0 && chunk.length >= 2) {
          const bom = chunk.readUInt16BE(0);
          if (bom === 0xfffe || bom === 0xfeff) {
            callback(
              new ExportCsvError(
                'the file is UTF-16 (Windows PowerShell -Encoding Unicode); save it as UTF-8 ' +
                  '(Export-Csv -Encoding UTF8) and import that',
                'ExportEncoding',
              ),
            );
            return;
          }
        }
        this.bytesRead += chunk.length;
        if (!this.sawNonAscii && chunk.some((b) => b >= 0x80)) this.sawNonAscii = true;
        callback(null, chunk);
      },
    });
  }
}

/** Line breaks inside a (quoted) field value: CRLF, LF or CR each end one line. */
function lineBreaks(value: string): number {
  if (!value.includes('\n') && !value.includes('\r')) return 0;
  return value.match(/\r\n|\r|\n/g)?.length ?? 0;
}

function strip({ seq: _seq, ...row }: Item): ExportRow {
  return row;
}

function headerOf(fields: string[], line: number, typeLine: string | undefined): ExportHeader {
  const columns = fields.map((f) => f.trim());
  const find = (name: string): number | undefined => {
    const i = columns.findIndex((c) => c.toLowerCase() === name.toLowerCase());
    return i < 0 ? undefined : i;
  };
  const auditData = find('AuditData');
  if (auditData === undefined) {
    const shown = columns.slice(0, 12).join(', ') + (columns.length > 12 ? ', …' : '');
    throw new ExportCsvError(
      `line ${line}: the header has no AuditData column (columns: ${shown}). Import a Purview audit search ` +
        'export or Search-UnifiedAuditLog output exported with its AuditData property.',
      'ExportNoAuditData',
    );
  }
  const recordId = find('RecordId');
  const layout =
    recordId !== undefined
      ? 'Purview portal export'
      : find('UserIds') !== undefined || find('ResultIndex') !== undefined
        ? 'Search-UnifiedAuditLog output'
        : 'CSV with an AuditData column';
  return {
    columns,
    auditData,
    ...(recordId !== undefined ? { recordId } : {}),
    ...(typeLine !== undefined ? { typeLine } : {}),
    layout,
  };
}
