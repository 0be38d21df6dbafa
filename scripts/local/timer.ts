/**
 * NCRONTAB schedules as the Functions timer trigger reads them: six fields
 * `{second} {minute} {hour} {day} {month} {day-of-week}`, UTC. Like NCrontab (and unlike Unix cron), a
 * restricted day and day-of-week must both match. Small enough to keep here rather than add a library.
 */

interface Field {
  name: string;
  min: number;
  max: number;
  names?: readonly string[];
}

const FIELDS: readonly Field[] = [
  { name: 'second', min: 0, max: 59 },
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day', min: 1, max: 31 },
  {
    name: 'month',
    min: 1,
    max: 12,
    names: ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'],
  },
  // 7 is Sunday too, as in most cron dialects.
  { name: 'day-of-week', min: 0, max: 7, names: ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'] },
];

/** How far ahead next() looks before it decides a schedule never fires (e.g. 30 February). */
const SEARCH_YEARS = 5;

export class NcrontabSchedule {
  private constructor(
    readonly expression: string,
    private readonly sets: readonly Set<number>[],
  ) {}

  static parse(expression: string): NcrontabSchedule {
    const parts = expression.trim().split(/\s+/);
    if (parts.length !== 6) {
      throw new Error(
        `NCRONTAB "${expression}" must have six fields: {second} {minute} {hour} {day} {month} {day-of-week}`,
      );
    }
    const sets = parts.map((part, i) => parseField(part, FIELDS[i] as Field, expression));
    const dow = sets[5] as Set<number>;
    if (dow.delete(7)) dow.add(0);
    return new NcrontabSchedule(expression, sets);
  }

  /** The first occurrence strictly after `after`. */
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
    const limit = after.getTime() + SEARCH_YEARS * 366 * 86_400_000;
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
    throw new Error(`NCRONTAB "${this.expression}" has no occurrence within ${SEARCH_YEARS} years`);
  }
}

function parseField(text: string, field: Field, expression: string): Set<number> {
  const fail = (why: string): never => {
    throw new Error(`NCRONTAB "${expression}": ${field.name} field "${text}" ${why}`);
  };
  const value = (token: string): number => {
    const named = field.names?.indexOf(token.toUpperCase()) ?? -1;
    if (named >= 0) return named + (field.name === 'month' ? 1 : 0);
    if (!/^\d+$/.test(token)) fail(`has "${token}", not a number${field.names ? ' or name' : ''}`);
    const n = Number(token);
    if (n < field.min || n > field.max) fail(`has ${n}, outside ${field.min}-${field.max}`);
    return n;
  };
  const set = new Set<number>();
  for (const item of text.split(',')) {
    const [range = '', stepText, extra] = item.split('/');
    if (extra !== undefined || range === '') fail('is not valid');
    let step = 1;
    if (stepText !== undefined) {
      if (!/^\d+$/.test(stepText) || Number(stepText) === 0) fail(`has step "${stepText}"`);
      step = Number(stepText);
    }
    let from: number;
    let to: number;
    if (range === '*') {
      from = field.min;
      to = field.name === 'day-of-week' ? 6 : field.max;
    } else {
      const [a = '', b, more] = range.split('-');
      if (more !== undefined) fail('has a range with more than two ends');
      from = value(a);
      // `5/15` means from 5 to the end, every 15.
      to = b !== undefined ? value(b) : stepText !== undefined ? field.max : from;
      if (to < from) fail(`has a range that runs backwards (${from}-${to})`);
    }
    for (let n = from; n <= to; n += step) set.add(n);
  }
  return set;
}
