/** Number and time formatting shared by the progress display and the summary. */

export function int(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

/** 1h 02m, 3m 07s, 42s; '—' when unknown. */
export function duration(seconds: number | undefined): string {
  if (seconds === undefined || !Number.isFinite(seconds)) return '—';
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${String(s % 60).padStart(2, '0')}s`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h ${String(m % 60).padStart(2, '0')}m`;
  return `${Math.floor(h / 24)}d ${String(h % 24).padStart(2, '0')}h`;
}

/** Records per second over `ms`. */
export function rate(count: number, ms: number): string {
  return ms <= 0 ? '—' : `${int((count * 1000) / ms)}/s`;
}

export function table(rows: string[][], alignRight: (column: number) => boolean): string[] {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows.map((row) =>
    row
      .map((cell, i) => (alignRight(i) ? cell.padStart(widths[i] ?? 0) : cell.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd(),
  );
}

export function clock(d: Date): string {
  return d.toISOString().slice(11, 19);
}
