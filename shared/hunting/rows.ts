/**
 * Client-side helpers over query rows: time conversion, address normalisation, and the aggregations the
 * local stand-in cannot run (GROUP BY): counts per IP, per account and hour.
 */

export type Row = Record<string, unknown>;

export interface TimeRange {
  /** Inclusive. A Date, or an ISO time (with or without zone; without one it is UTC). */
  from: Date | string;
  /** Exclusive. */
  to: Date | string;
}

/** `YYYY-MM-DDTHH:MM:SS` in UTC, the way the service writes CreationTime (no zone, no fraction). */
export function cosmosTime(value: Date | string): string {
  let date: Date;
  if (value instanceof Date) date = value;
  else {
    const text = value.trim();
    date = new Date(/(Z|[+-]\d{2}:?\d{2})$/i.test(text) || text.length <= 10 ? text : `${text}Z`);
  }
  if (Number.isNaN(date.getTime())) throw new Error(`not a time: ${String(value)}`);
  return date.toISOString().slice(0, 19);
}

/** Milliseconds since the epoch of a CreationTime (UTC without zone). */
export function timeOf(row: Row): number {
  const t = text(row, 'CreationTime');
  return t === undefined ? NaN : Date.parse(/Z$|[+-]\d{2}:?\d{2}$/.test(t) ? t : `${t}Z`);
}

export function text(row: Row, field: string): string | undefined {
  const v = row[field];
  return typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'boolean' ? String(v) : undefined;
}

const ADDRESS = /[A-Za-z0-9._%+'-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}/g;
const FORWARD_FIELDS = [
  'forwardTo',
  'redirectTo',
  'forwardAsAttachmentTo',
  'forwardingSmtpAddress',
  'forwardingAddress',
];

/**
 * Every address a row forwards or redirects to, lower case, without `smtp:`/`SMTP:` prefixes, display
 * names or list separators: `SMTP:X@Evil.com;y@evil.com` → `x@evil.com`, `y@evil.com`.
 */
export function forwardTargets(row: Row): string[] {
  const out = new Set<string>();
  for (const field of FORWARD_FIELDS) {
    const value = text(row, field);
    if (value === undefined) continue;
    for (const m of value.replace(/\bsmtp:/gi, ' ').matchAll(ADDRESS)) out.add(m[0].toLowerCase());
  }
  return [...out];
}

/** A forwarding address in lower case without `smtp:`, as forwarding-to-address wants @address. */
export function normalizeAddress(address: string): string {
  return address
    .trim()
    .replace(/^smtp:/i, '')
    .toLowerCase();
}

export function domainOf(address: string): string {
  return address.slice(address.lastIndexOf('@') + 1).toLowerCase();
}

export interface IpSummary {
  ip: string;
  first: string;
  last: string;
  successes: number;
  failures: number;
  country?: string;
}

/** signins-by-user rows grouped per IP (what the Cosmos DB form does with GROUP BY). */
export function signInsByIp(rows: Row[], ipCountry?: (ip: string) => string | undefined): IpSummary[] {
  const byIp = new Map<string, IpSummary>();
  for (const row of rows) {
    const ip = text(row, 'clientIp') ?? '(none)';
    const t = text(row, 'CreationTime') ?? '';
    const s = byIp.get(ip) ?? { ip, first: t, last: t, successes: 0, failures: 0 };
    if (t < s.first) s.first = t;
    if (t > s.last) s.last = t;
    if (text(row, 'Operation') === 'UserLoginFailed') s.failures++;
    else s.successes++;
    byIp.set(ip, s);
  }
  const out = [...byIp.values()].sort((a, b) => a.first.localeCompare(b.first));
  if (ipCountry) {
    for (const s of out) {
      const country = s.ip === '(none)' ? undefined : ipCountry(s.ip);
      if (country !== undefined) s.country = country;
    }
  }
  return out;
}

/** Rows grouped by `key(row)`; keys in first-seen order. */
export function groupBy(rows: Row[], key: (row: Row) => string | undefined): Map<string, Row[]> {
  const out = new Map<string, Row[]>();
  for (const row of rows) {
    const k = key(row);
    if (k === undefined) continue;
    const list = out.get(k);
    if (list) list.push(row);
    else out.set(k, [row]);
  }
  return out;
}

/** `YYYY-MM-DDTHH` of a row: its hour bucket. */
export function hourOf(row: Row): string | undefined {
  return text(row, 'CreationTime')?.slice(0, 13);
}

export interface FailedBurst {
  user: string;
  hour: string;
  failures: number;
  ips: string[];
  rows: Row[];
}

/** failed-signin-bursts: accounts with at least `threshold` failures in one hour. */
export function failedBursts(rows: Row[], threshold: number): FailedBurst[] {
  const out: FailedBurst[] = [];
  const failed = rows.filter((r) => text(r, 'Operation') === 'UserLoginFailed');
  for (const [key, group] of groupBy(failed, (r) => `${text(r, 'user') ?? '(none)'}|${hourOf(r) ?? ''}`)) {
    if (group.length < threshold) continue;
    const [user, hour] = key.split('|') as [string, string];
    out.push({ user, hour, failures: group.length, ips: distinct(group, 'clientIp'), rows: group });
  }
  return out;
}

export interface SprayingIp {
  ip: string;
  /** Distinct accounts it failed against. */
  users: string[];
  failures: number;
  /** Accounts that then signed in successfully from the same IP. */
  succeeded: string[];
  rows: Row[];
}

/** password-spraying: IPs whose failed sign-ins hit at least `threshold` distinct accounts. */
export function sprayingIps(rows: Row[], threshold: number): SprayingIp[] {
  const out: SprayingIp[] = [];
  for (const [ip, group] of groupBy(rows, (r) => text(r, 'clientIp'))) {
    const failed = group.filter((r) => text(r, 'Operation') === 'UserLoginFailed');
    const users = distinct(failed, 'user');
    if (users.length < threshold) continue;
    const firstFailure = Math.min(...failed.map(timeOf));
    const successes = group.filter(
      (r) => text(r, 'Operation') === 'UserLoggedIn' && timeOf(r) >= firstFailure,
    );
    out.push({
      ip,
      users,
      failures: failed.length,
      succeeded: distinct(successes, 'user'),
      rows: [...failed, ...successes].sort((a, b) => timeOf(a) - timeOf(b)),
    });
  }
  return out;
}

export interface MailBurst {
  hour: string;
  ip: string;
  items: number;
  rows: Row[];
}

/** mail-items-accessed: hours in which one IP accessed at least `threshold` items (OperationCount summed). */
export function mailBursts(rows: Row[], threshold: number): MailBurst[] {
  const out: MailBurst[] = [];
  for (const [key, group] of groupBy(rows, (r) => `${hourOf(r) ?? ''}|${text(r, 'clientIp') ?? '(none)'}`)) {
    const items = group.reduce((n, r) => n + itemCount(r), 0);
    if (items < threshold) continue;
    const [hour, ip] = key.split('|') as [string, string];
    out.push({ hour, ip, items, rows: group });
  }
  return out;
}

function itemCount(row: Row): number {
  const n = Number(row.OperationCount ?? 1);
  return Number.isFinite(n) && n > 0 ? n : 1;
}

export function distinct(rows: Row[], field: string): string[] {
  return [...new Set(rows.map((r) => text(r, field)).filter((v): v is string => v !== undefined))];
}

/** Name/Value lists (Parameters, ModifiedProperties) as a lower-case-keyed map; also NewValue. */
export function nameValueMap(value: unknown): Map<string, string> {
  const out = new Map<string, string>();
  if (!Array.isArray(value)) return out;
  for (const item of value) {
    if (typeof item !== 'object' || item === null) continue;
    const o = item as Record<string, unknown>;
    const name = typeof o.Name === 'string' ? o.Name.toLowerCase() : undefined;
    const v = o.Value ?? o.NewValue;
    if (name !== undefined && (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean')) {
      out.set(name, String(v));
    }
  }
  return out;
}
