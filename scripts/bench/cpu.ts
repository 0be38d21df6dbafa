import { readFileSync } from 'node:fs';

/** Linux reports process times in clock ticks; 100 per second on every common kernel build. */
const TICKS_PER_SECOND = 100;

/**
 * CPU time (user + system, ms) a process has used so far, read from /proc, so the bench can charge the
 * servers it starts (simulator, Azurite, Cosmos stand-in) for their share of the machine. Undefined where
 * /proc is not there (macOS, Windows) or the process is gone.
 */
export function cpuMsOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces) start at field 3; utime and stime are 14 and 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]);
    return Number.isFinite(ticks) ? (ticks * 1000) / TICKS_PER_SECOND : undefined;
  } catch {
    return undefined;
  }
}

/** CPU ms each named process used between `start()` and `stop()`; a process /proc cannot read is left out. */
export function cpuMeter(pids: Record<string, number>): { stop(): Record<string, number> } {
  const before = Object.fromEntries(Object.entries(pids).map(([name, pid]) => [name, cpuMsOf(pid)]));
  return {
    stop() {
      const used: Record<string, number> = {};
      for (const [name, pid] of Object.entries(pids)) {
        const a = before[name];
        const b = cpuMsOf(pid);
        if (a !== undefined && b !== undefined) used[name] = b - a;
      }
      return used;
    },
  };
}
