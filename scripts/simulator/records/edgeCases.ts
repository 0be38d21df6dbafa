import type { AuditRecord } from '../../../shared/contentTypes';
import type { Rng } from '../rng';
import { hexOf } from './common';

/**
 * Per-record probabilities of the oddities seen in real feeds (see the samples README). Applied after a
 * record is built, so every workload gets them and the rates can be tested in one place.
 */
export interface EdgeCaseRates {
  /** `"RecordType":"15"`, `"UserType":"0"`, `"Version":"1"`, `Actor[].Type`, `OperationCount:"3.0"` … */
  stringNumbers: number;
  /** `Id` not a GUID: short, 9-char first group, `xxx` groups, or containing `/ \ ? #` (a store must hash it). */
  nonGuidId: number;
  /** A `\u0011`-style control character inside one free-text string value. */
  controlChar: number;
  /** Of records that carry a `Parameters`/`ExtendedProperties` list: the list given as one PowerShell-ish string. */
  stringLists: number;
  /** Of records with a `ClientIP`: `::ffff:v4`, `[v4]:port`, `[v4]`, `[v6]` or `localhost[:port]`. */
  unusualClientIp: number;
}

export const EDGE_CASE_RATES: Readonly<EdgeCaseRates> = Object.freeze({
  stringNumbers: 0.04,
  nonGuidId: 0.005,
  controlChar: 0.003,
  stringLists: 0.03,
  unusualClientIp: 0.01,
});

export const NO_EDGE_CASES: Readonly<EdgeCaseRates> = Object.freeze({
  stringNumbers: 0,
  nonGuidId: 0,
  controlChar: 0,
  stringLists: 0,
  unusualClientIp: 0,
});

const NUMERIC_TOP_LEVEL = ['RecordType', 'UserType', 'Version', 'LogonType', 'InternalLogonType'];
const NUMERIC_OPTIONAL = ['AzureActiveDirectoryEventType'];
/** Identity and routing fields keep their value; an oddity there would only test the generator. */
const NO_CONTROL_CHAR = new Set([
  'Id',
  'CreationTime',
  'Operation',
  'OrganizationId',
  'RecordType',
  'UserType',
  'UserKey',
  'UserId',
  'Version',
  'Workload',
  'ResultStatus',
  'ClientIP',
  'ClientIPAddress',
  'ActorIpAddress',
]);

export function applyEdgeCases(record: AuditRecord, rng: Rng, rates: Readonly<EdgeCaseRates>): AuditRecord {
  // One draw per kind whatever the record, so a rate change does not reshuffle unrelated choices.
  const rolls = [rng.next(), rng.next(), rng.next(), rng.next(), rng.next()] as const;
  // Nested edits must not reach objects a generator may share (profile arrays, folder refs).
  if (rolls[0] < rates.stringNumbers || rolls[2] < rates.controlChar) record = structuredClone(record);
  if (rolls[0] < rates.stringNumbers) stringifyNumbers(record);
  if (rolls[1] < rates.nonGuidId) record.Id = oddId(rng, String(record.Id));
  if (rolls[2] < rates.controlChar) injectControlChar(record, rng);
  if (rolls[3] < rates.stringLists) flattenLists(record);
  if (rolls[4] < rates.unusualClientIp && typeof record.ClientIP === 'string') {
    record.ClientIP = unusualClientIp(rng, record.ClientIP);
  }
  return record;
}

function stringifyNumbers(record: AuditRecord): void {
  for (const key of [...NUMERIC_TOP_LEVEL, ...NUMERIC_OPTIONAL]) {
    if (typeof record[key] === 'number') record[key] = String(record[key]);
  }
  if (typeof record.OperationCount === 'number') record.OperationCount = `${record.OperationCount}.0`;
  for (const key of ['Actor', 'Target']) {
    const list = record[key];
    if (!Array.isArray(list)) continue;
    for (const entry of list as unknown[]) {
      if (isObject(entry) && typeof entry.Type === 'number') entry.Type = String(entry.Type);
    }
  }
}

function oddId(rng: Rng, guid: string): string {
  const [a = '', b = '', c = '', d = '', e = ''] = guid.split('-');
  switch (rng.int(0, 6)) {
    case 0:
      return String(rng.int(1_000_000, 2_000_000_000)); // short, numeric
    case 1:
      return `${a}${hexOf(rng, 1)}-${b}-${c}-${d}-${e}`; // 9-char first group
    case 2:
      return `${a}-${b}-xxx-xxx-${e}`;
    case 3:
      return `${a}-${b}/${c}-${d}-${e}`;
    case 4:
      return `${guid}#${rng.int(1, 99)}`;
    case 5:
      return `${guid}?v=${rng.int(1, 9)}`;
    default:
      return `EURPR${rng.int(1, 9)}\\${a}${e}`;
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Text-like fields where real feeds showed stray control characters; other leaves only as a fallback. */
const TEXT_KEYS = new Set([
  'Subject',
  'QueryText',
  'SourceFileName',
  'FileName',
  'InternetMessageId',
  'DisplayName',
  'UserAgent',
  'TeamName',
  'ChannelName',
  'ItemName',
  'ClientInfoString',
  'ObjectDisplayName',
  'GroupName',
  'Comments',
  'Value',
  'Path',
  'Attachments',
]);

function injectControlChar(record: AuditRecord, rng: Rng): void {
  type Target = {
    holder: Record<string, unknown> | unknown[];
    key: string | number;
    value: string;
    text: boolean;
  };
  const targets: Target[] = [];
  const visit = (holder: Record<string, unknown> | unknown[], key: string | number, value: unknown): void => {
    if (typeof value === 'string') {
      // Free text only: a control char inside embedded JSON would make it unparseable, a different case.
      if (value.length > 0 && !/^[[{]/.test(value)) {
        targets.push({ holder, key, value, text: typeof key === 'string' && TEXT_KEYS.has(key) });
      }
    } else if (Array.isArray(value)) {
      value.forEach((v, i) => visit(value, i, v));
    } else if (isObject(value)) {
      for (const [k, v] of Object.entries(value)) visit(value, k, v);
    }
  };
  for (const [k, v] of Object.entries(record)) {
    if (!NO_CONTROL_CHAR.has(k)) visit(record, k, v);
  }
  const text = targets.filter((t) => t.text);
  const pool = text.length > 0 ? text : targets;
  if (pool.length === 0) return;
  const t = rng.pick(pool);
  const at = rng.int(0, t.value.length - 1);
  const ch = rng.pick(['\u0011', '\u0001', '\u001f', '\u0007']);
  const next = `${t.value.slice(0, at)}${ch}${t.value.slice(at)}`;
  if (Array.isArray(t.holder)) t.holder[t.key as number] = next;
  else t.holder[t.key as string] = next;
}

/** `[{Name,Value}]` → `-Name "Value" -Other "x"`, the shape some records carry instead of a list. */
export function nameValueListToString(list: unknown[]): string {
  return list
    .map((entry) => {
      if (!isObject(entry)) return '';
      const name = typeof entry.Name === 'string' ? entry.Name : '';
      const value = typeof entry.Value === 'string' ? entry.Value : JSON.stringify(entry.Value ?? '');
      return `-${name} "${value.replace(/"/g, '\\"')}"`;
    })
    .filter((s) => s.length > 0)
    .join(' ');
}

function flattenLists(record: AuditRecord): void {
  for (const key of ['Parameters', 'ExtendedProperties']) {
    const list = record[key];
    if (Array.isArray(list) && list.length > 0) record[key] = nameValueListToString(list as unknown[]);
  }
}

export function plainIp(clientIp: string): string {
  const bracketed = /^\[([^\]]*)\](?::\d+)?$/.exec(clientIp);
  if (bracketed) return bracketed[1] ?? '';
  const v4Port = /^(\d+\.\d+\.\d+\.\d+):\d+$/.exec(clientIp);
  if (v4Port) return v4Port[1] ?? '';
  return clientIp;
}

function unusualClientIp(rng: Rng, clientIp: string): string {
  const ip = plainIp(clientIp);
  const port = rng.int(1024, 65535);
  // No empty string here: system actors already send '' legitimately.
  const roll = rng.int(0, 9);
  if (roll <= 1) return rng.chance(0.5) ? 'localhost' : `localhost:${port}`;
  if (ip.includes(':')) return `[${ip}]`;
  if (roll <= 4) return `::ffff:${ip}`;
  if (roll <= 7) return `[${ip}]:${port}`;
  return `[${ip}]`;
}
