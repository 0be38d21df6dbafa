export const SECOND = 1000;
export const MINUTE = 60 * SECOND;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;

/** `yyyyMMddHHmmssfff` (UTC), the timestamp prefix of real contentIds and nextPage tokens. */
export function stamp17(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:TZ.]/g, '');
}

export function parseStamp17(s: string): number | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{3})$/.exec(s);
  if (!m) return undefined;
  const [y, mo, d, h, mi, se, f] = m.slice(1).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const t = Date.UTC(y, mo - 1, d, h, mi, se, f);
  return stamp17(t) === s ? t : undefined;
}

/** `YYYY-MM-DDTHH:MM:SS`, no zone: how audit records spell CreationTime. */
export function recordTime(ms: number): string {
  return new Date(ms).toISOString().slice(0, 19);
}

const API_TIME = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,7}))?)?)?(Z)?$/;

/**
 * startTime/endTime as the API accepts them: `YYYY-MM-DD`, `YYYY-MM-DDTHH:MM`, `YYYY-MM-DDTHH:MM:SS`,
 * optional fraction and `Z`; always UTC. Returns undefined when the text is not one of those.
 */
export function parseApiTime(text: string): number | undefined {
  const m = API_TIME.exec(text);
  if (!m) return undefined;
  const n = (i: number): number => (m[i] === undefined ? 0 : Number(m[i]));
  const [y, mo, d, h, mi, s] = [n(1), n(2), n(3), n(4), n(5), n(6)];
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 59) return undefined;
  const ms = m[7] === undefined ? 0 : Math.floor(Number(`0.${m[7]}`) * 1000);
  const t = Date.UTC(y, mo - 1, d, h, mi, s, ms);
  // Rejects 2026-02-31 and the like, which Date.UTC would silently roll over.
  if (new Date(t).getUTCDate() !== d) return undefined;
  return t;
}
