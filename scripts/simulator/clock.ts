/** The simulator's notion of "now": content availability, expiry and token lifetimes all follow it. */
export interface SimClock {
  now(): Date;
  set(d: Date | string): void;
  advance(ms: number): void;
}

export interface ClockOptions {
  start?: Date | string;
  /** When true the clock only moves through set()/advance(), so tests are not at the mercy of wall time. */
  frozen?: boolean;
}

export function toDate(value: Date | string, what: string): Date {
  const d = value instanceof Date ? new Date(value.getTime()) : new Date(value);
  if (Number.isNaN(d.getTime())) throw new Error(`${what}: not a valid date: ${String(value)}`);
  return d;
}

export function createClock(options: ClockOptions = {}): SimClock {
  const frozen = options.frozen ?? false;
  const start = options.start === undefined ? Date.now() : toDate(options.start, 'clock.start').getTime();
  // A running clock is wall time plus an offset, so set()/advance() keep it running.
  let offset = start - Date.now();
  let frozenAt = start;
  return {
    now: () => new Date(frozen ? frozenAt : Date.now() + offset),
    set(d) {
      const t = toDate(d, 'clock.set').getTime();
      if (frozen) frozenAt = t;
      else offset = t - Date.now();
    },
    advance(ms) {
      if (!Number.isFinite(ms)) throw new Error(`clock.advance: not a finite number: ${ms}`);
      if (frozen) frozenAt += ms;
      else offset += ms;
    },
  };
}
