import { createHash } from 'node:crypto';

import type { AuditRecord } from '../../../shared/contentTypes';
import type { Rng } from '../rng';

export interface SimUser {
  upn: string;
  displayName: string;
  objectId: string;
  puid: string;
  homeIp: string;
  homeCountry: string;
}

export interface SimSite {
  title: string;
  /** With a trailing slash, as SharePoint writes `SiteUrl`. */
  url: string;
  siteId: string;
  webId: string;
  listId: string;
  library: string;
  workload: 'SharePoint' | 'OneDrive';
}

export interface SimApp {
  appId: string;
  displayName: string;
}

export interface SimTeam {
  name: string;
  threadId: string;
  groupId: string;
}

export interface SimSensitiveType {
  id: string;
  name: string;
}

export interface SimDlpRule {
  ruleId: string;
  ruleName: string;
  severity: 'Low' | 'Medium' | 'High';
  actions: string[];
}

export interface SimDlpPolicy {
  policyId: string;
  policyName: string;
  rules: SimDlpRule[];
  sensitiveTypes: SimSensitiveType[];
}

export interface TenantProfile {
  tenantId: string;
  domain: string;
  /** `<name>.onmicrosoft.com`, what Exchange puts in `OrganizationName`. */
  orgName: string;
  /** `<name>` as in `<name>.sharepoint.com`. */
  spoName: string;
  country: string;
  users: SimUser[];
  /** Subset of `users` that performs admin operations. */
  admins: SimUser[];
  sites: SimSite[];
  teams: SimTeam[];
  /** First-party client apps plus a few of the tenant's own registrations. */
  apps: SimApp[];
  /** Only the tenant's own registrations (targets of `Update application.`). */
  ownApps: SimApp[];
  exchangeServers: string[];
  /** Exchange forest region, e.g. `namprd12`, used in message ids and object paths. */
  exchangeRegion: string;
  dlpPolicies: SimDlpPolicy[];
}

/** What every workload generator receives: the rng drives all choices, `time` is the record's CreationTime. */
export interface Ctx {
  tenant: TenantProfile;
  rng: Rng;
  time: Date;
}

/**
 * Hex and GUIDs drawn from the same Rng, 28 bits per draw: Rng.hex/uuid spend one draw per character,
 * which dominated generation time (a 3 MB record holds ~100k ids).
 */
export function hexOf(rng: Rng, length: number): string {
  let s = '';
  while (s.length < length) {
    const draw = Math.floor(rng.next() * 0x10000000);
    s += draw.toString(16).padStart(7, '0');
  }
  return s.slice(0, length);
}

/** Version-4-shaped GUID, lower case. */
export function guid(rng: Rng): string {
  const h = hexOf(rng, 32);
  const variant = ((parseInt(h.charAt(16), 16) & 0x3) | 0x8).toString(16);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** 'YYYY-MM-DDTHH:MM:SS' in UTC, no zone and no fraction, as the service writes `CreationTime`. */
export function formatCreationTime(d: Date): string {
  if (Number.isNaN(d.getTime())) throw new Error('formatCreationTime: invalid date');
  return d.toISOString().slice(0, 19);
}

/** Nested timestamps use a 7-digit fraction and `Z`, unlike `CreationTime`. */
export function formatNestedTime(d: Date, rng: Rng): string {
  return `${d.toISOString().slice(0, 19)}.${String(rng.int(0, 9_999_999)).padStart(7, '0')}Z`;
}

export function addSeconds(d: Date, seconds: number): Date {
  return new Date(d.getTime() + seconds * 1000);
}

export function weighted<T>(rng: Rng, table: ReadonlyArray<readonly [T, number]>): T {
  const total = table.reduce((sum, [, w]) => sum + w, 0);
  let r = rng.next() * total;
  for (const [value, w] of table) {
    r -= w;
    if (r < 0) return value;
  }
  const last = table[table.length - 1];
  if (!last) throw new Error('weighted: empty table');
  return last[0];
}

/** Fisher–Yates on a copy. */
export function shuffle<T>(rng: Rng, items: readonly T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = rng.int(0, i);
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

/** Stable per-entity values (mailbox GUID, SID, …) derived from an id, so they need no rng and no storage. */
export function derivedHex(label: string, key: string, length: number): string {
  let out = '';
  for (let i = 0; out.length < length; i++) {
    out += createHash('sha256').update(`${label}:${i}:${key}`).digest('hex');
  }
  return out.slice(0, length);
}

export function derivedGuid(label: string, key: string): string {
  const h = derivedHex(label, key, 32);
  const variant = ((parseInt(h.charAt(16), 16) & 0x3) | 0x8).toString(16);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

function derivedInt(label: string, key: string, max: number): number {
  return parseInt(derivedHex(label, key, 8), 16) % max;
}

/** Derived values are hashes; cache them per user object since most Exchange/SharePoint records need one. */
const derivedCache = new WeakMap<object, Map<string, unknown>>();

function memo<T>(owner: object, key: string, compute: () => T): T {
  let m = derivedCache.get(owner);
  if (!m) {
    m = new Map();
    derivedCache.set(owner, m);
  }
  if (!m.has(key)) m.set(key, compute());
  return m.get(key) as T;
}

export function mailboxGuidOf(user: SimUser): string {
  return memo(user, `mailbox:${user.objectId}`, () => derivedGuid('mailbox', user.objectId));
}

export function sidOf(tenant: TenantProfile, user: SimUser): string {
  return memo(user, `sid:${tenant.tenantId}:${user.objectId}`, () => {
    const domainPart = [1, 2, 3].map(
      (i) => 1_000_000_000 + derivedInt(`sid${i}`, tenant.tenantId, 2_000_000_000),
    );
    return `S-1-5-21-${domainPart.join('-')}-${10_000_000 + derivedInt('rid', user.objectId, 90_000_000)}`;
  });
}

export function aliasOf(user: SimUser): string {
  return user.upn.split('@')[0] ?? user.upn;
}

/** SharePoint's claims-encoded user key: `i:0h.f|membership|<puid>@live.com`. */
export function spoUserKey(user: SimUser): string {
  return `i:0h.f|membership|${user.puid.toLowerCase()}@live.com`;
}

export function personalSite(tenant: TenantProfile, user: SimUser): SimSite {
  const key = `odsite:${tenant.spoName}:${user.upn}:${user.objectId}`;
  return { ...memo(user, key, () => buildPersonalSite(tenant, user)) };
}

function buildPersonalSite(tenant: TenantProfile, user: SimUser): SimSite {
  const path = user.upn.replace(/[@.]/g, '_');
  return {
    title: user.displayName,
    url: `https://${tenant.spoName}-my.sharepoint.com/personal/${path}/`,
    siteId: derivedGuid('odsite', user.objectId),
    webId: derivedGuid('odweb', user.objectId),
    listId: derivedGuid('odlist', user.objectId),
    library: 'Documents',
    workload: 'OneDrive',
  };
}

/** Start of every record, keys in the order the service writes them. */
export function baseRecord(
  ctx: Ctx,
  f: {
    recordType: number;
    operation: string;
    userType: number;
    userKey: string;
    userId: string;
    workload: string;
    resultStatus?: string;
    clientIp?: string;
    objectId?: string;
    id?: string;
  },
): AuditRecord {
  const r: AuditRecord = {
    CreationTime: formatCreationTime(ctx.time),
    Id: f.id ?? guid(ctx.rng),
    Operation: f.operation,
    OrganizationId: ctx.tenant.tenantId,
    RecordType: f.recordType,
  };
  if (f.resultStatus !== undefined) r.ResultStatus = f.resultStatus;
  r.UserKey = f.userKey;
  r.UserType = f.userType;
  r.Version = 1;
  r.Workload = f.workload;
  if (f.clientIp !== undefined) r.ClientIP = f.clientIp;
  if (f.objectId !== undefined) r.ObjectId = f.objectId;
  r.UserId = f.userId;
  return r;
}

export function nameValues(
  pairs: ReadonlyArray<readonly [string, string]>,
): Array<{ Name: string; Value: string }> {
  return pairs.map(([Name, Value]) => ({ Name, Value }));
}

// ---------------------------------------------------------------------------------------------
// Addresses. All come from ranges reserved for documentation/benchmarks (RFC 5737, RFC 2544,
// RFC 3849) so no generated record names a real host. 198.18.x = users at home, at work or travelling,
// 198.19.x = foreign sign-ins (attackers).

export interface Country {
  code: string;
  /** Index into the reserved ranges; keeps each country's addresses in its own /21. */
  slot: number;
}

export const HOME_COUNTRIES: readonly Country[] = [
  { code: 'US', slot: 0 },
  { code: 'GB', slot: 1 },
  { code: 'DE', slot: 2 },
  { code: 'FR', slot: 3 },
  { code: 'NL', slot: 4 },
  { code: 'CA', slot: 5 },
  { code: 'AU', slot: 6 },
  { code: 'SE', slot: 7 },
  { code: 'ES', slot: 8 },
  { code: 'JP', slot: 9 },
  { code: 'IN', slot: 10 },
  { code: 'BR', slot: 11 },
];

export const FOREIGN_COUNTRIES: readonly Country[] = [
  { code: 'NG', slot: 0 },
  { code: 'RU', slot: 1 },
  { code: 'RO', slot: 2 },
  { code: 'VN', slot: 3 },
  { code: 'CN', slot: 4 },
  { code: 'ID', slot: 5 },
  { code: 'TR', slot: 6 },
  { code: 'UA', slot: 7 },
  { code: 'PK', slot: 8 },
  { code: 'KZ', slot: 9 },
];

function countryByCode(code: string): Country {
  return HOME_COUNTRIES.find((c) => c.code === code) ?? { code, slot: 15 };
}

export function homeIpv4(rng: Rng, country: string): string {
  const c = countryByCode(country);
  return `198.18.${c.slot * 8 + rng.int(0, 7)}.${rng.int(1, 254)}`;
}

export function foreignIpv4(rng: Rng, country: Country): string {
  return `198.19.${country.slot * 8 + rng.int(0, 7)}.${rng.int(1, 254)}`;
}

export function ipv6(rng: Rng, country: string): string {
  const c = countryByCode(country);
  return `2001:db8:${(0x100 + c.slot).toString(16)}:${hexOf(rng, 4).replace(/^0+/, '') || '0'}::${hexOf(rng, 3).replace(/^0+/, '') || '1'}`;
}

export function isIpv6(ip: string): boolean {
  return ip.includes(':');
}

/** Where routine activity comes from: mostly the user's home address, sometimes a phone or a trip. */
export function userIp(ctx: Ctx, user: SimUser): string {
  const { rng } = ctx;
  const roll = rng.next();
  if (roll < 0.82) return user.homeIp;
  if (roll < 0.96) return rng.chance(0.4) ? ipv6(rng, user.homeCountry) : homeIpv4(rng, user.homeCountry);
  return homeIpv4(rng, rng.pick(HOME_COUNTRIES).code);
}

/** Exchange writes the client's source port, and brackets IPv6 when it does. */
export function exchangeClientIp(rng: Rng, ip: string): string {
  if (isIpv6(ip)) return rng.chance(0.4) ? `[${ip}]:${rng.int(1024, 65535)}` : ip;
  return rng.chance(0.55) ? `${ip}:${rng.int(1024, 65535)}` : ip;
}

// ---------------------------------------------------------------------------------------------
// Clients

export const BROWSER_AGENTS: readonly string[] = [
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/125.0.0.0 Safari/537.36',
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36 Edg/126.0.2592.87',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 14.5; rv:127.0) Gecko/20100101 Firefox/127.0',
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0',
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148',
];

export function osAndBrowser(userAgent: string): [string, string] {
  const os = userAgent.includes('iPhone')
    ? 'Ios'
    : userAgent.includes('Macintosh')
      ? 'MacOs'
      : userAgent.includes('Windows')
        ? 'Windows10'
        : 'Unknown';
  const browser = userAgent.includes('Edg/')
    ? 'Edge'
    : userAgent.includes('Firefox')
      ? 'Firefox'
      : userAgent.includes('Chrome')
        ? 'Chrome'
        : userAgent.includes('Safari') || userAgent.includes('iPhone')
          ? 'Safari'
          : 'Other';
  return [os, browser];
}

/** Well-known first-party app ids, so resource/client ids look like the real feed's. */
export const FIRST_PARTY_APPS: readonly SimApp[] = [
  { appId: '00000002-0000-0ff1-ce00-000000000000', displayName: 'Office 365 Exchange Online' },
  { appId: '00000003-0000-0ff1-ce00-000000000000', displayName: 'Office 365 SharePoint Online' },
  { appId: '00000003-0000-0000-c000-000000000000', displayName: 'Microsoft Graph' },
  { appId: '1fec8e78-bce4-4aaf-ab1b-5451cc387264', displayName: 'Microsoft Teams' },
  { appId: '27922004-5251-4030-b22d-91ecd9a37ea4', displayName: 'Outlook Mobile' },
  { appId: '4765445b-32c6-49b0-83e6-1d93765276ca', displayName: 'OfficeHome' },
  { appId: 'd3590ed6-52b3-4102-aeff-aad2292ab01c', displayName: 'Microsoft Office' },
  { appId: 'ab9b8c07-8f02-4f72-87fa-80105867a763', displayName: 'OneDrive SyncEngine' },
  { appId: 'c44b4083-3bb0-49c1-b47d-974e53cbdf3c', displayName: 'Azure Portal' },
];

export const EXCHANGE_APP_ID = '00000002-0000-0ff1-ce00-000000000000';
export const GRAPH_APP_ID = '00000003-0000-0000-c000-000000000000';

// ---------------------------------------------------------------------------------------------
// Names. Several carry non-ASCII letters on purpose: a store or a Power BI column must keep them.

const FIRST_NAMES = [
  'Adele',
  'Alex',
  'Allan',
  'Amara',
  'Ana',
  'Anaïs',
  'Ben',
  'Bianca',
  'Björn',
  'Chen',
  'Chloé',
  'Diego',
  'Elif',
  'Emma',
  'Ethan',
  'Fatima',
  'Grace',
  'Hiro',
  'Isabella',
  'Jonas',
  'José',
  'Kwame',
  'Lena',
  'Lidia',
  'Liam',
  'Łukasz',
  'Lucas',
  'Mateo',
  'Megan',
  'Mia',
  'Nia',
  'Noah',
  'Olivia',
  'Omar',
  'Priya',
  'Raj',
  'Renée',
  'Sofia',
  'Søren',
  'Tomás',
  'Yuki',
  'Zoë',
];
const LAST_NAMES = [
  'Ahmed',
  'Brown',
  'Costa',
  'Dubois',
  'Fernández',
  'Garcia',
  'Jensen',
  'Johnson',
  'Kim',
  'Kowalski',
  'Larsen',
  'Müller',
  'Nguyen',
  'Novák',
  "O'Neil",
  'Okafor',
  'Öztürk',
  'Patel',
  'Rossi',
  'Schmidt',
  'Silva',
  'Singh',
  'Tanaka',
  'van der Berg',
  'Williams',
  'Ångström',
];
/** Display names in non-Latin scripts, with the ASCII UPN such users get. */
const SCRIPT_NAMES: ReadonlyArray<readonly [string, string]> = [
  ['王芳', 'fang.wang'],
  ['李娜', 'na.li'],
  ['佐藤 健', 'ken.sato'],
  ['김민준', 'minjun.kim'],
  ['Дмитрий Иванов', 'dmitry.ivanov'],
  ['Αλέξανδρος Παππάς', 'alexandros.pappas'],
  ['אורי כהן', 'uri.cohen'],
];
const COMPANIES = [
  'contoso',
  'fabrikam',
  'northwind',
  'adatum',
  'litware',
  'proseware',
  'woodgrove',
  'tailspin',
  'wingtip',
  'fourthcoffee',
  'lucerne',
  'treyresearch',
  'cohowinery',
  'alpineski',
  'wideworld',
  'margie',
];
const TEAM_SITE_TITLES = [
  'Finance',
  'HR',
  'Marketing',
  'Sales',
  'Legal',
  'Engineering',
  'IT Operations',
  'Procurement',
  'Board',
  'Customer Success',
  'Projekt Übersicht',
  'Ventas LATAM',
  'Product Design',
  'Executive Team',
];

function asciiFold(s: string): string {
  return s
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/ø/gi, 'o')
    .replace(/ł/gi, 'l')
    .replace(/ß/g, 'ss')
    .toLowerCase()
    .replace(/[^a-z0-9.-]/g, '');
}

/** Mostly a dense, known set; enough per tenant that user × day partitions spread out. */
export function makeTenantProfile(tenantId: string, rng: Rng, userCount: number): TenantProfile {
  if (!Number.isInteger(userCount) || userCount < 1)
    throw new Error('makeTenantProfile: userCount must be ≥ 1');
  const company = rng.pick(COMPANIES);
  const spoName = `${company}${hexOf(rng, 4)}`;
  const orgName = `${spoName}.onmicrosoft.com`;
  const domain = orgName;
  const country = weighted(rng, [
    ['US', 5],
    ['GB', 2],
    ['DE', 2],
    ['NL', 1],
    ['FR', 1],
    ['AU', 1],
    ['CA', 1],
  ] as const);

  const users: SimUser[] = [];
  const taken = new Set<string>();
  for (let i = 0; i < userCount; i++) {
    let displayName: string;
    let local: string;
    if (rng.chance(0.06)) {
      [displayName, local] = rng.pick(SCRIPT_NAMES);
    } else {
      const first = rng.pick(FIRST_NAMES);
      const last = rng.pick(LAST_NAMES);
      displayName = `${first} ${last}`;
      local = `${asciiFold(first)}.${asciiFold(last)}`;
    }
    let candidate = local;
    for (let n = 2; taken.has(candidate); n++) candidate = `${local}${n}`;
    taken.add(candidate);
    const homeCountry = rng.chance(0.88) ? country : rng.pick(HOME_COUNTRIES).code;
    users.push({
      upn: `${candidate}@${domain}`,
      displayName,
      objectId: guid(rng),
      puid: `1003${hexOf(rng, 12).toUpperCase()}`,
      homeIp: rng.chance(0.2) ? ipv6(rng, homeCountry) : homeIpv4(rng, homeCountry),
      homeCountry,
    });
  }
  const admins = users.slice(0, Math.max(1, Math.round(userCount * 0.03)));

  const siteTitles = shuffle(rng, TEAM_SITE_TITLES).slice(0, rng.int(5, TEAM_SITE_TITLES.length));
  const sites: SimSite[] = siteTitles.map((title) => ({
    title,
    url: `https://${spoName}.sharepoint.com/sites/${title.replace(/\s+/g, '')}/`,
    siteId: guid(rng),
    webId: guid(rng),
    listId: guid(rng),
    library: 'Shared Documents',
    workload: 'SharePoint' as const,
  }));
  const teams: SimTeam[] = siteTitles.map((name) => ({
    name,
    threadId: `19:${hexOf(rng, 32)}@thread.skype`,
    groupId: guid(rng),
  }));

  const ownApps: SimApp[] = [
    'HR Portal',
    'Expense Sync',
    'Invoice Robot',
    'Intranet Search',
    'Backup Connector',
  ]
    .slice(0, rng.int(2, 5))
    .map((displayName) => ({ appId: guid(rng), displayName }));

  const regionCode = country === 'US' || country === 'CA' ? 'namprd' : country === 'AU' ? 'ausprd' : 'eurprd';
  const regionNumber = String(rng.int(1, 19)).padStart(2, '0');
  const serverPrefixes =
    regionCode === 'namprd'
      ? ['DM6PR', 'BY5PR', 'SN6PR', 'CY4PR', 'MW4PR']
      : ['AM6PR', 'DB7PR', 'HE1PR', 'VI1PR'];
  const exchangeServers = Array.from(
    { length: 6 },
    () => `${rng.pick(serverPrefixes)}${regionNumber}MB${rng.int(1000, 9999)}`,
  );

  return {
    tenantId,
    domain,
    orgName,
    spoName,
    country,
    users,
    admins,
    sites,
    teams,
    apps: [...FIRST_PARTY_APPS, ...ownApps],
    ownApps,
    exchangeServers,
    exchangeRegion: `${regionCode}${regionNumber}`,
    dlpPolicies: makeDlpPolicies(rng),
  };
}

/** Built-in sensitive-information-type ids (public) so DLP records resemble real ones. */
const SENSITIVE_TYPES: Record<string, SimSensitiveType> = {
  card: { id: '50842eb7-edc8-4019-85dd-5a5c1f2bb085', name: 'Credit Card Number' },
  aba: { id: 'cb353f78-2b72-4c3c-8827-92ebe4f69fdf', name: 'ABA Routing Number' },
  bank: { id: 'a2ce32a8-f935-4bb6-8e96-2a5157672e2c', name: 'U.S. Bank Account Number' },
  ssn: { id: 'a44669fe-0d48-453d-a9b1-2cc83f2cba77', name: 'U.S. Social Security Number (SSN)' },
  itin: {
    id: 'e55e2a32-f92d-4985-a35d-a0b269eb687b',
    name: 'U.S. Individual Taxpayer Identification Number (ITIN)',
  },
  passport: { id: '178ec42a-18b4-47cc-85c7-d62c92fd67f8', name: 'U.S. / U.K. Passport Number' },
  eudebit: { id: '0e9b3178-9678-47dd-a509-37222ca96b42', name: 'EU Debit Card Number' },
  iban: { id: 'e7dc4711-11b7-4cb0-b88b-2c394a771f0e', name: 'International Banking Account Number (IBAN)' },
};

function makeDlpPolicies(rng: Rng): SimDlpPolicy[] {
  const templates: Array<[string, SimSensitiveType[]]> = [
    ['U.S. Financial Data', [SENSITIVE_TYPES.card!, SENSITIVE_TYPES.aba!, SENSITIVE_TYPES.bank!]],
    [
      'U.S. Personally Identifiable Information (PII) Data',
      [SENSITIVE_TYPES.ssn!, SENSITIVE_TYPES.itin!, SENSITIVE_TYPES.passport!],
    ],
    ['GDPR Enhanced', [SENSITIVE_TYPES.eudebit!, SENSITIVE_TYPES.iban!, SENSITIVE_TYPES.passport!]],
    ['Financial Data Detection', [SENSITIVE_TYPES.card!, SENSITIVE_TYPES.eudebit!, SENSITIVE_TYPES.iban!]],
  ];
  return templates.map(([policyName, sensitiveTypes]) => ({
    policyId: guid(rng),
    policyName,
    sensitiveTypes,
    rules: [
      {
        ruleId: guid(rng),
        ruleName: `Low volume of content detected ${policyName}`,
        severity: 'Low' as const,
        actions: ['NotifyUser'],
      },
      {
        ruleId: guid(rng),
        ruleName: `High volume of content detected ${policyName}`,
        severity: 'High' as const,
        actions: ['BlockAccess', 'NotifyUser', 'GenerateIncidentReport'],
      },
    ],
  }));
}

// ---------------------------------------------------------------------------------------------
// Content

const DOC_STEMS = [
  'Q3 Budget',
  'Board deck',
  'Contract draft',
  'Onboarding checklist',
  'Sales pipeline',
  'Vendor list',
  'Payroll export',
  'Roadmap 2025',
  'Meeting notes',
  'Invoice 4471',
  'Price list',
  'Org chart',
  'Offer letter',
  'Security review',
  'Customer list',
  'Expense report',
  'Präsentation Übersicht',
  'Presupuesto año fiscal',
  '報價單',
  'Café menu',
  'Résumé final',
];
const DOC_EXTENSIONS: ReadonlyArray<readonly [string, number]> = [
  ['docx', 5],
  ['xlsx', 5],
  ['pptx', 3],
  ['pdf', 4],
  ['png', 1],
  ['txt', 1],
  ['csv', 1],
  ['msg', 1],
];

export function fileName(rng: Rng): { name: string; ext: string } {
  const ext = weighted(rng, DOC_EXTENSIONS);
  const stem = rng.pick(DOC_STEMS);
  const suffix = rng.chance(0.4) ? ` v${rng.int(2, 9)}` : rng.chance(0.2) ? ` (${rng.int(1, 4)})` : '';
  return { name: `${stem}${suffix}.${ext}`, ext };
}

const SUBJECTS = [
  'Re: Q3 numbers',
  'Lunch on Friday?',
  'Updated contract attached',
  'FW: Invoice overdue',
  'Team offsite agenda',
  'Your password expires soon',
  'Re: Re: project status',
  'Welcome to the team!',
  'Payment confirmation',
  'Angebot für Projekt Übersicht',
  'Reunión de ventas',
  '会议纪要',
  'Customer escalation',
  'Holiday schedule',
  'Travel itinerary',
  'Re: budget approval',
  'Weekly report',
];

export function subject(rng: Rng): string {
  return rng.pick(SUBJECTS);
}

export function internetMessageId(rng: Rng, tenant: TenantProfile): string {
  const server = rng.pick(tenant.exchangeServers);
  return `<${server}${hexOf(rng, 26).toUpperCase()}@${server}.${tenant.exchangeRegion}.prod.outlook.com>`;
}

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

export function exchangeItemId(rng: Rng, prefix: string, length: number): string {
  let s = prefix;
  while (s.length < length) {
    let bits = Math.floor(rng.next() * 0x40000000); // 5 base64 chars per draw
    for (let k = 0; k < 5 && s.length < length; k++, bits >>>= 6) s += B64.charAt(bits & 63);
  }
  return s;
}

export function originatingServer(rng: Rng, tenant: TenantProfile): string {
  const build = `15.20.${rng.int(4000, 8900)}.${String(rng.int(0, 40)).padStart(3, '0')}`;
  // A trailing newline shows up in real captures; keep it rare.
  return `${rng.pick(tenant.exchangeServers)} (${build})${rng.chance(0.03) ? '\n' : ''}`;
}
