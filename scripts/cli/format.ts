import { UsageError } from './args';

/**
 * Rows as a person or a script wants them (`--format table|csv|json`). Rows are query results: objects
 * (columns are their keys, in order of first appearance; nested values as JSON) or scalars
 * (`SELECT VALUE …`, one column "value").
 */

export const FORMATS = ['table', 'csv', 'json'] as const;
export type Format = (typeof FORMATS)[number];

export function parseFormat(value: string | undefined, fallback: Format = 'table'): Format {
  if (value === undefined) return fallback;
  if (!(FORMATS as readonly string[]).includes(value))
    throw new UsageError(`--format must be one of ${FORMATS.join(', ')} (got ${JSON.stringify(value)})`);
  return value as Format;
}

export type Row = unknown;

/** Column names and cell texts of rows. */
export function columnsOf(rows: readonly Row[]): { columns: string[]; cells: string[][] } {
  const isRecord = (r: Row): r is Record<string, unknown> =>
    typeof r === 'object' && r !== null && !Array.isArray(r);
  const columns: string[] = [];
  const seen = new Set<string>();
  for (const r of rows) {
    const keys = isRecord(r) ? Object.keys(r) : ['value'];
    for (const k of keys) {
      if (!seen.has(k)) {
        seen.add(k);
        columns.push(k);
      }
    }
  }
  const cells = rows.map((r) =>
    columns.map((c) => cellText(isRecord(r) ? r[c] : c === 'value' ? r : undefined)),
  );
  return { columns, cells };
}

function cellText(v: unknown): string {
  if (v === undefined || v === null) return '';
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return JSON.stringify(v);
}

/** RFC 4180: CRLF line ends; a field with a comma, quote, CR or LF is quoted, quotes doubled. */
export function toCsv(rows: readonly Row[]): string {
  const { columns, cells } = columnsOf(rows);
  if (columns.length === 0) return '';
  const field = (s: string): string => (/[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
  return [columns, ...cells].map((r) => r.map(field).join(',')).join('\r\n') + '\r\n';
}

export function toJson(rows: readonly Row[]): string {
  return `${JSON.stringify(rows, null, 2)}\n`;
}

/** Longest a table cell gets before it is cut with "…" (the full value: --format csv or json). */
export const MAX_CELL = 60;

/**
 * Aligned columns, safe to print: control characters (newlines, tabs, escape sequences) become visible
 * escapes, long cells are cut at `maxCell` characters, and with `width` (a terminal's columns) the widest
 * columns shrink until a line fits.
 */
export function toTable(rows: readonly Row[], options: { maxCell?: number; width?: number } = {}): string {
  const { columns, cells } = columnsOf(rows);
  if (columns.length === 0) return '(no rows)\n';
  const all = [columns, ...cells].map((r) => r.map(printable));
  const widths = columns.map((_, i) =>
    Math.min(options.maxCell ?? MAX_CELL, Math.max(...all.map((r) => length(r[i]!)))),
  );
  if (options.width !== undefined) {
    const gap = 2 * (columns.length - 1);
    // Shrink the widest column one character at a time, down to 8 (or its header), until it fits.
    while (widths.reduce((a, b) => a + b, 0) + gap > options.width) {
      const widest = widths.indexOf(Math.max(...widths));
      if (widths[widest]! <= 8) break;
      widths[widest]!--;
    }
  }
  const lines = all.map((r) =>
    r
      .map((cell, i) => pad(cut(cell, widths[i]!), widths[i]!))
      .join('  ')
      .trimEnd(),
  );
  lines.splice(1, 0, widths.map((w) => '-'.repeat(w)).join('  '));
  return `${lines.join('\n')}\n`;
}

/** Control characters (C0, DEL, C1) as \n, \t or \u{…}: a cell never moves the cursor or breaks a line. */
function printable(s: string): string {
  // eslint-disable-next-line no-control-regex -- control characters are what this finds
  return s.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) =>
    c === '\n' ? '\\n' : c === '\r' ? '\\r' : c === '\t' ? '\\t' : `\\u{${c.codePointAt(0)!.toString(16)}}`,
  );
}

/** Code points, so a surrogate pair (emoji) counts once and is never cut in half. */
function length(s: string): number {
  return [...s].length;
}

function cut(s: string, width: number): string {
  const chars = [...s];
  return chars.length <= width ? s : `${chars.slice(0, Math.max(0, width - 1)).join('')}…`;
}

function pad(s: string, width: number): string {
  return s + ' '.repeat(Math.max(0, width - length(s)));
}

export function formatRows(rows: readonly Row[], format: Format, width?: number): string {
  if (format === 'csv') return toCsv(rows);
  if (format === 'json') return toJson(rows);
  return toTable(rows, width === undefined ? {} : { width });
}
