import { clock, duration, int, rate, table } from './format';
import type { RunStats } from './stats';

/**
 * Live progress of a local run: a table redrawn in place on a terminal, or one plain line every few
 * seconds when stdout is a pipe or CI log (redraw codes would only litter those). Events (a collector
 * run finished, a problem) are printed as lines in both modes.
 */
export interface ProgressOptions {
  stats: RunStats;
  out: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  /** Title line, e.g. which tenant. */
  title: string;
  /** Redraw as a table; default: out.isTTY. */
  tty?: boolean;
  /** Plain mode: seconds between lines. Default 5. */
  plainIntervalSeconds?: number;
  logFile: string;
}

export class Progress {
  private timer: NodeJS.Timeout | undefined;
  private drawn = 0;
  private readonly tty: boolean;
  private lastPlain = 0;

  constructor(private readonly options: ProgressOptions) {
    this.tty = options.tty ?? options.out.isTTY === true;
  }

  start(): void {
    if (this.tty) {
      this.options.out.write('\x1b[?25l'); // hide the cursor while redrawing
      this.redraw();
      this.timer = setInterval(() => this.redraw(), 500);
    } else {
      this.timer = setInterval(() => this.plainTick(), 1000);
    }
  }

  /** A line that stays (above the table on a terminal). */
  event(line: string): void {
    if (this.tty && this.timer) {
      this.clear();
      this.options.out.write(`${line}\n`);
      this.redraw();
    } else {
      this.options.out.write(`${line}\n`);
    }
  }

  stop(): void {
    if (!this.timer) return;
    clearInterval(this.timer);
    this.timer = undefined;
    if (this.tty) {
      this.redraw();
      this.drawn = 0;
      this.options.out.write('\x1b[?25h');
    }
  }

  /** The table as lines (also what a test or the summary can show). */
  lines(now = Date.now()): string[] {
    const s = this.options.stats;
    const elapsed = s.elapsedMs(now);
    const rows: string[][] = [['Content type', 'Collected', 'Written', 'Lag', 'Collector']];
    for (const [ct, t] of s.types) {
      rows.push([ct, int(t.collected), int(t.written), duration(s.lagSeconds(ct, now)), t.state]);
    }
    rows.push(['Total', int(s.collected), int(s.writtenTotal), duration(s.maxLagSeconds(now)), '']);
    const next = s.collectorRunning
      ? `collector run ${s.collectorRuns} running`
      : s.nextCollectorRun
        ? `next collector run ${clock(s.nextCollectorRun)} UTC`
        : `collector runs ${s.collectorRuns}`;
    return [
      `${this.options.title} · ${duration(elapsed / 1000)} elapsed`,
      ...table(rows, (i) => i > 0 && i < 4),
      `Queue ${int(s.queueDepth)} waiting, ${s.inFlight} in flight · written ${rate(s.writtenTotal, elapsed)} · ` +
        `poison ${s.poisoned.length} · gaps ${s.gaps} · ${next}`,
      `Warnings ${s.warnings}, errors ${s.errors} (log: ${this.options.logFile}) · Ctrl-C stops`,
      ...s.recentProblems.map((p) => `  ${p}`),
    ];
  }

  private plainTick(): void {
    const interval = (this.options.plainIntervalSeconds ?? 5) * 1000;
    const now = Date.now();
    if (now - this.lastPlain < interval) return;
    this.lastPlain = now;
    const s = this.options.stats;
    const elapsed = s.elapsedMs(now);
    this.options.out.write(
      `[${duration(elapsed / 1000)}] collected ${int(s.collected)} · written ${int(s.writtenTotal)} ` +
        `(${rate(s.writtenTotal, elapsed)}) · queue ${int(s.queueDepth)}, ${s.inFlight} in flight · lag ${duration(s.maxLagSeconds(now))} · ` +
        `poison ${s.poisoned.length} · ${s.collectorRunning ? 'collector running' : 'collector idle'}\n`,
    );
  }

  private redraw(): void {
    const lines = fitToWidth(this.lines(), this.options.out.columns);
    this.clear();
    this.options.out.write(`${lines.join('\n')}\n`);
    this.drawn = lines.length;
  }

  private clear(): void {
    // Up to the first line drawn, then erase to the end of the screen.
    if (this.drawn > 0) this.options.out.write(`\x1b[${this.drawn}F\x1b[J`);
    this.drawn = 0;
  }
}

/** Width assumed when the terminal does not say (columns undefined, or 0 as some containers report). */
export const FALLBACK_COLUMNS = 80;

/**
 * Lines cut to the terminal's width (one column spare, so no line wraps and breaks the redraw). A width
 * that is not a positive number is unknown, not zero: the fallback applies.
 */
export function fitToWidth(lines: string[], columns: number | undefined): string[] {
  const width =
    columns !== undefined && Number.isFinite(columns) && columns >= 1
      ? Math.floor(columns)
      : FALLBACK_COLUMNS;
  const max = Math.max(1, width - 1);
  return lines.map((l) => (l.length > max ? l.slice(0, max) : l));
}
