import { AuditfeedError } from './errors';

/**
 * NCRONTAB schedules as the Functions timer trigger reads them (the NCrontab library): six fields
 * `{second} {minute} {hour} {day} {month} {day-of-week}`, UTC. Like NCrontab (and unlike Unix cron), a
 * restricted day and day-of-week must both match. Used by configuration validation and by the local
 * runner's timer, so both follow one set of rules.
 *
 * Where NCrontab would quietly reinterpret a value, this parser refuses it instead: a step of 0 (NCrontab
 * reads it as 1), a range that runs backwards (NCrontab swaps its ends), a schedule that never fires.
 * It refuses everything NCrontab refuses, e.g. day-of-week 7 (NCrontab allows 0-6 only).
 */

export type NcrontabFieldName = 'second' | 'minute' | 'hour' | 'day' | 'month' | 'day-of-week';

/** A schedule the timer trigger would refuse, or one that would never fire. */
export class InvalidScheduleError extends AuditfeedError {
  constructor(
    readonly expression: string,
    /** What is wrong, naming the field; without the expression (for messages that show it already). */
    readonly reason: string,
    readonly field?: NcrontabFieldName,
  ) {
    super(`NCRONTAB "${expression}" ${reason}`, 'InvalidSchedule');
  }
}

interface Field {
  name: NcrontabFieldName;
  min: number;
  max: number;
  /** Full names, matched case-insensitively by their first three letters or more (MON, Mon, Monday). */
  names?: readonly string[];
}

const MONTH_NAMES = [
  'January',
  'February',
  'March',
  'April',
  'May',
  'June',
  'July',
  'August',
  'September',
  'October',
  'November',
  'December',
] as const;
const DAY_NAMES = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'] as const;

const FIELDS: readonly Field[] = [
  { name: 'second', min: 0, max: 59 },
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12, names: MONTH_NAMES },
  { name: 'day-of-week', min: 0, max: 6, names: DAY_NAMES },
];

/** Most days each month can have (February in a leap year). */
const MONTH_DAYS = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** How far ahead next() looks before it decides a schedule never fires. */
const NCRONTAB_SEARCH_YEARS = 5;

export class NcrontabSchedule {
  private constructor(
    readonly expression: string,
    private readonly sets: readonly Set<number>[],
  ) {}

  /** Parses and checks an expression; throws InvalidScheduleError naming the field that is wrong. */
  static parse(expression: string): NcrontabSchedule {
    const parts = expression.trim().split(/\s+/);
    if (parts.length !== 6) {
      const unix =
        parts.length === 5
          ? '; a five-field Unix cron needs a seconds field in front, e.g. "0 */5 * * * *"'
          : '';
      throw new InvalidScheduleError(
        expression,
        `must have six fields: {second} {minute} {hour} {day} {month} {day-of-week} (it has ${parts.length}${unix})`,
      );
    }
    const sets = parts.map((part, i) => parseField(part, FIELDS[i]!, expression));
    const [, , , days, months] = sets as [Set<number>, Set<number>, Set<number>, Set<number>, Set<number>];
    // Known without a calendar: no month of the month field has a day of the day field (31 February).
    if (![...months].some((m) => [...days].some((d) => d <= MONTH_DAYS[m - 1]!))) {
      throw new InvalidScheduleError(
        expression,
        `never fires: no month in the month field "${parts[4]}" has a day in the day field "${parts[3]}" ` +
          '(February has at most 29 days; April, June, September and November 30)',
        'day',
      );
    }
    return new NcrontabSchedule(expression, sets);
  }

  /** The first occurrence strictly after `after`; throws InvalidScheduleError when there is none for years. */
  next(after: Date): Date {
    const [seconds, minutes, hours, days, months, weekdays] = this.sets as [
      Set<number>,
      Set<number>,
      Set<number>,
      Set<number>,
      Set<number>,
      Set<number>,
    ];
    const t = new Date(Math.floor(after.getTime() / 1000) * 1000 + 1000);
    const limit = after.getTime() + NCRONTAB_SEARCH_YEARS * 366 * 86_400_000;
    while (t.getTime() <= limit) {
      if (!months.has(t.getUTCMonth() + 1)) {
        t.setUTCMonth(t.getUTCMonth() + 1, 1);
        t.setUTCHours(0, 0, 0, 0);
        continue;
      }
      if (!days.has(t.getUTCDate()) || !weekdays.has(t.getUTCDay())) {
        t.setUTCDate(t.getUTCDate() + 1);
        t.setUTCHours(0, 0, 0, 0);
        continue;
      }
      if (!hours.has(t.getUTCHours())) {
        t.setUTCHours(t.getUTCHours() + 1, 0, 0, 0);
        continue;
      }
      if (!minutes.has(t.getUTCMinutes())) {
        t.setUTCMinutes(t.getUTCMinutes() + 1, 0, 0);
        continue;
      }
      if (!seconds.has(t.getUTCSeconds())) {
        t.setUTCSeconds(t.getUTCSeconds() + 1, 0);
        continue;
      }
      return t;
    }
    // parse() ruled out impossible day/month pairs, so only day and day-of-week can fail to meet.
    const [, , , day, month, dow] = this.expression.trim().split(/\s+/);
    throw new InvalidScheduleError(
      this.expression,
      `has no occurrence within ${NCRONTAB_SEARCH_YEARS} years after ${after.toISOString()}: the day field "${day}" ` +
        `and the day-of-week field "${dow}" must both match (NCRONTAB requires both when both are restricted), ` +
        `and they do not meet in the months of the month field "${month}"`,
      'day-of-week',
    );
  }
}

function parseField(text: string, field: Field, expression: string): Set<number> {
  const fail: (why: string) => never = (why) => {
    throw new InvalidScheduleError(expression, `${field.name} field "${text}" ${why}`, field.name);
  };
  const value = (token: string): number => {
    if (/^\d+$/.test(token)) {
      const n = Number(token);
      if (n < field.min || n > field.max) {
        const sunday = field.name === 'day-of-week' && n === 7 ? ' (Sunday is 0 or SUN)' : '';
        fail(`has ${n}, outside ${field.min}-${field.max}${sunday}`);
      }
      return n;
    }
    const upper = token.toUpperCase();
    const named =
      upper.length >= 3 ? (field.names?.findIndex((name) => name.toUpperCase().startsWith(upper)) ?? -1) : -1;
    if (named >= 0) return named + field.min;
    if (field.names) {
      const short = field.names.map((name) => name.slice(0, 3).toUpperCase()).join(', ');
      fail(`has "${token}", neither a number ${field.min}-${field.max} nor a name (${short})`);
    }
    return fail(`has "${token}", not a number ${field.min}-${field.max}`);
  };
  const set = new Set<number>();
  for (const item of text.split(',')) {
    if (item === '') fail('has an empty list item');
    const [range = '', stepText, extra] = item.split('/');
    if (extra !== undefined) fail(`has "${item}" with more than one step`);
    if (range === '') fail(`has "${item}" without a value before the step`);
    let step = 1;
    if (stepText !== undefined) {
      if (!/^\d+$/.test(stepText) || Number(stepText) === 0) {
        fail(`has step "${stepText}": a step must be a whole number of at least 1`);
      }
      step = Number(stepText);
    }
    let from: number;
    let to: number;
    if (range === '*') {
      from = field.min;
      to = field.max;
    } else {
      const [a = '', b, more] = range.split('-');
      if (more !== undefined || a === '' || b === '') fail(`has "${range}", not a value or a range a-b`);
      from = value(a);
      // `5/15` means from 5 to the end, every 15.
      to = b !== undefined ? value(b) : stepText !== undefined ? field.max : from;
      if (to < from) {
        fail(
          `has a range that runs backwards (${from}-${to}): put the smaller end first, or list two ranges ` +
            `(e.g. ${from}-${field.max},${field.min}-${to})`,
        );
      }
    }
    for (let n = from; n <= to; n += step) set.add(n);
  }
  return set;
}
