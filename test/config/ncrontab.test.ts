import { AuditfeedError } from '../../shared/errors';
import { InvalidScheduleError, NcrontabSchedule } from '../../shared/ncrontab';

const next = (expression: string, after: string): string =>
  NcrontabSchedule.parse(expression).next(new Date(after)).toISOString();

function errorOf(action: () => unknown): InvalidScheduleError {
  try {
    action();
  } catch (e) {
    if (e instanceof InvalidScheduleError) return e;
    throw e;
  }
  throw new Error('expected an InvalidScheduleError');
}

const parseError = (expression: string): InvalidScheduleError =>
  errorOf(() => NcrontabSchedule.parse(expression));

describe('NCRONTAB schedule (timer trigger)', () => {
  it('finds the next occurrence strictly after the given time, in UTC', () => {
    expect(next('0 */5 * * * *', '2026-11-20T10:02:13.500Z')).toBe('2026-11-20T10:05:00.000Z');
    expect(next('0 */5 * * * *', '2026-11-20T10:05:00.000Z')).toBe('2026-11-20T10:10:00.000Z');
    expect(next('0 */5 * * * *', '2026-11-20T23:59:00.000Z')).toBe('2026-11-21T00:00:00.000Z');
    expect(next('*/30 * * * * *', '2026-11-20T10:00:29.999Z')).toBe('2026-11-20T10:00:30.000Z');
    expect(next('15 30 2 * * *', '2026-11-20T10:00:00Z')).toBe('2026-11-21T02:30:15.000Z');
    expect(next('0 0 9-17/4 * * *', '2026-11-20T13:00:00Z')).toBe('2026-11-20T17:00:00.000Z');
    expect(next('0 0 0 1 Jan *', '2026-11-20T00:00:00Z')).toBe('2027-01-01T00:00:00.000Z');
    // `a/step` runs from a to the end of the field.
    expect(next('50/5 * * * * *', '2026-11-20T10:00:56Z')).toBe('2026-11-20T10:01:50.000Z');
    // 29 February: the next leap year.
    expect(next('0 0 0 29 2 *', '2026-11-20T00:00:00Z')).toBe('2028-02-29T00:00:00.000Z');
  });

  it('requires both day and day of week when both are restricted, like NCrontab', () => {
    // 2026-11-20 is a Friday; the next Friday the 13th is in August 2027.
    expect(next('0 0 12 13 * Fri', '2026-11-20T00:00:00Z')).toBe('2027-08-13T12:00:00.000Z');
    expect(next('0 0 8 * * mon-fri', '2026-11-21T00:00:00Z')).toBe('2026-11-23T08:00:00.000Z');
    expect(next('0 0 8 * * 0,6', '2026-11-20T00:00:00Z')).toBe('2026-11-21T08:00:00.000Z');
    // Every day of the week: `*` is 0-6.
    expect(next('0 0 8 * * */2', '2026-11-20T00:00:00Z')).toBe('2026-11-21T08:00:00.000Z');
  });

  it('reads month and day names by three letters or more, in any case, as NCrontab does', () => {
    expect(next('0 0 8 * * Monday-Wednesday', '2026-11-20T00:00:00Z')).toBe('2026-11-23T08:00:00.000Z');
    expect(next('0 0 8 * * TUES', '2026-11-20T00:00:00Z')).toBe('2026-11-24T08:00:00.000Z');
    expect(next('0 0 0 1 sept-Oct *', '2026-11-20T00:00:00Z')).toBe('2027-09-01T00:00:00.000Z');
  });

  it('says which field is wrong, and how', () => {
    const cases: [string, RegExp, string | undefined][] = [
      [
        '*/5 * * * *',
        /must have six fields: .* \(it has 5; a five-field Unix cron needs a seconds field/,
        undefined,
      ],
      ['0 61 * * * *', /minute field "61" has 61, outside 0-59$/, 'minute'],
      ['0 0 24 * * *', /hour field "24" has 24, outside 0-23$/, 'hour'],
      ['0 0 0 0 * *', /day field "0" has 0, outside 1-31$/, 'day'],
      ['0 0 0 * 13 *', /month field "13" has 13, outside 1-12$/, 'month'],
      [
        '0 0 8 * * MON-XYZ',
        /day-of-week field "MON-XYZ" has "XYZ", neither a number 0-6 nor a name \(SUN, MON/,
        'day-of-week',
      ],
      ['0 0 8 * Foo *', /month field "Foo" has "Foo", neither a number 1-12 nor a name \(JAN, FEB/, 'month'],
      // Two letters could be two days (TUE/THU): NCrontab would take the first; refused here.
      ['0 0 8 * * Th', /day-of-week field "Th" has "Th"/, 'day-of-week'],
      ['0 0 x * * *', /hour field "x" has "x", not a number 0-23$/, 'hour'],
      // NCrontab allows 0-6 only: the host would refuse 7.
      ['0 0 8 * * 0,7', /day-of-week field "0,7" has 7, outside 0-6 \(Sunday is 0 or SUN\)/, 'day-of-week'],
      [
        '0 0 5-2 * * *',
        /hour field "5-2" has a range that runs backwards \(5-2\): .* \(e\.g\. 5-23,0-2\)/,
        'hour',
      ],
      [
        '0 */0 * * * *',
        /minute field "\*\/0" has step "0": a step must be a whole number of at least 1/,
        'minute',
      ],
      ['0 */x * * * *', /minute field "\*\/x" has step "x"/, 'minute'],
      ['0 1/2/3 * * * *', /minute field "1\/2\/3" has "1\/2\/3" with more than one step/, 'minute'],
      ['0 1,,2 * * * *', /minute field "1,,2" has an empty list item/, 'minute'],
      ['0 1-2-3 * * * *', /minute field "1-2-3" has "1-2-3", not a value or a range a-b/, 'minute'],
      ['0 /5 * * * *', /minute field "\/5" has "\/5" without a value before the step/, 'minute'],
    ];
    for (const [expression, reason, field] of cases) {
      const error = parseError(expression);
      expect([expression, error.reason]).toEqual([expression, expect.stringMatching(reason)]);
      expect(error.field).toBe(field);
      expect(error.message).toBe(`NCRONTAB "${expression}" ${error.reason}`);
      expect(error).toBeInstanceOf(AuditfeedError);
      expect(error.code).toBe('InvalidSchedule');
    }
  });

  it('refuses a day that no month of the month field has, without looking at a calendar', () => {
    for (const expression of ['0 0 0 31 2 *', '0 0 0 30 Feb *', '0 0 0 31 4,6,9,11 *', '0 0 0 30-31 feb *']) {
      expect(parseError(expression).reason).toMatch(
        /^never fires: no month in the month field ".*" has a day in the day field ".*" \(February has at most 29 days/,
      );
    }
    // One possible pair is enough.
    expect(() => NcrontabSchedule.parse('0 0 0 31 2,3 *')).not.toThrow();
  });

  it('refuses, when asked for the next occurrence, a day and day of week that do not meet for years', () => {
    // 29 February is a Monday in 2044 and not before (after 2016).
    const schedule = NcrontabSchedule.parse('0 0 0 29 2 Mon');
    expect(schedule.next(new Date('2043-01-01T00:00:00Z')).toISOString()).toBe('2044-02-29T00:00:00.000Z');
    const error = errorOf(() => schedule.next(new Date('2026-11-20T00:00:00Z')));
    expect(error.reason).toMatch(
      /^has no occurrence within 5 years after 2026-11-20T00:00:00.000Z: the day field "29" and the day-of-week field "Mon" must both match/,
    );
    expect(error.field).toBe('day-of-week');
  });
});
