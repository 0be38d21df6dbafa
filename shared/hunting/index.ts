import type { Container, SqlParameter } from '@azure/cosmos';
import { getQuery, type HuntingQuery } from './queries';
import {
  cosmosTime,
  distinct,
  domainOf,
  failedBursts,
  forwardTargets,
  groupBy,
  mailBursts,
  nameValueMap,
  normalizeAddress,
  signInsByIp,
  sprayingIps,
  text,
  timeOf,
  type IpSummary,
  type Row,
  type TimeRange,
} from './rows';

/**
 * The hunting pack's runner: runs the named queries of shared/hunting/queries/ against the records
 * container and turns their rows into explainable findings. Aggregations the local stand-in cannot run
 * (GROUP BY) are done here over each query's narrow, indexed row form (see rows.ts).
 */

export { getQuery, listQueries, type HuntingQuery } from './queries';
export { indexProblems, isIndexed, type IndexProblem } from './indexCoverage';
export {
  cosmosTime,
  forwardTargets,
  normalizeAddress,
  type IpSummary,
  type Row,
  type TimeRange,
} from './rows';

export interface PageProgress {
  query: string;
  /** 1-based page number. */
  page: number;
  rowsInPage: number;
  rowsSoFar: number;
  requestCharge: number;
  requestChargeSoFar: number;
}

export interface RunOptions {
  /** `runner` (default): the form that runs everywhere; `cosmos`: the real Cosmos DB form (GROUP BY). */
  form?: 'runner' | 'cosmos';
  /** Rows per page (default 500). */
  pageSize?: number;
  onPage?: (progress: PageProgress) => void;
}

/**
 * Runs one pack query and yields its rows page by page. `params` are keyed with or without `@`; every
 * parameter in the file's header must be given; `@from`/`@to` may be Dates or ISO times and are sent
 * the way CreationTime is written (`YYYY-MM-DDTHH:MM:SS`, UTC); `@user` is lower-cased like `c.user`.
 */
export async function* runQuery(
  container: Container,
  name: string,
  params: Record<string, unknown>,
  options: RunOptions = {},
): AsyncGenerator<Row, void, undefined> {
  const query = getQuery(name);
  const sql = options.form === 'cosmos' ? (query.cosmosSql ?? query.sql) : query.sql;
  const iterator = container.items.query<Row>(
    { query: sql, parameters: parametersFor(query, params) },
    { maxItemCount: options.pageSize ?? 500 },
  );
  let page = 0;
  let rowsSoFar = 0;
  let chargeSoFar = 0;
  while (iterator.hasMoreResults()) {
    const response = await iterator.fetchNext();
    const rows = response.resources ?? [];
    page++;
    rowsSoFar += rows.length;
    chargeSoFar += response.requestCharge ?? 0;
    options.onPage?.({
      query: name,
      page,
      rowsInPage: rows.length,
      rowsSoFar,
      requestCharge: response.requestCharge ?? 0,
      requestChargeSoFar: chargeSoFar,
    });
    for (const row of rows) yield row;
  }
}

/** All rows of one query. */
export async function queryRows(
  container: Container,
  name: string,
  params: Record<string, unknown>,
  options: RunOptions = {},
): Promise<Row[]> {
  const rows: Row[] = [];
  for await (const row of runQuery(container, name, params, options)) rows.push(row);
  return rows;
}

function parametersFor(query: HuntingQuery, params: Record<string, unknown>): SqlParameter[] {
  const given = new Map(Object.entries(params).map(([k, v]) => [k.startsWith('@') ? k : `@${k}`, v]));
  return query.params.map((name) => {
    if (!given.has(name) || given.get(name) === undefined) {
      throw new Error(`hunting query ${query.name} needs ${query.params.join(' ')}; ${name} is missing`);
    }
    const value = given.get(name);
    if (name === '@from' || name === '@to') return { name, value: cosmosTime(value as Date | string) };
    if (name === '@user') return { name, value: String(value).trim().toLowerCase() };
    if (name === '@address') return { name, value: normalizeAddress(String(value)) };
    return { name, value: value as SqlParameter['value'] };
  });
}

/** Everything one account did, across workloads, oldest first. */
export function timeline(
  container: Container,
  user: string,
  range: TimeRange,
  options: RunOptions = {},
): Promise<Row[]> {
  return queryRows(container, 'user-timeline', { user, from: range.from, to: range.to }, options);
}

export interface HuntOptions {
  /** Failed sign-ins against one account within an hour that make a burst (default 10). */
  burstFailures?: number;
  /** Distinct accounts one IP must fail against to count as spraying (default 5). */
  sprayUsers?: number;
  /** MailItemsAccessed items from one IP within an hour that make a burst (default 100). */
  mailBurstItems?: number;
  /** Downloads from one IP within the range that count as bulk (default 50). */
  bulkDownloads?: number;
  /** Sign-in history before the range that defines "known" IPs and countries (default 30 days). */
  baselineDays?: number;
  /**
   * How far before the range an account's first successful sign-in in that history must be for the new-IP
   * rule to apply (default 24 hours). A shorter history (the store's first hours, a range starting just after
   * the account's first sign-ins) knows too few of the account's everyday addresses to call one new.
   */
  minHistoryHours?: number;
  /** Mail domains of the organisation; default: the domains of the accounts in the rows read. */
  internalDomains?: string[];
  /** IP → country (e.g. a GeoIP database); audit records carry no country. */
  ipCountry?: (ip: string) => string | undefined;
  /** hunt(): most accounts investigated in depth (default 50). */
  maxAccounts?: number;
  onPage?: (progress: PageProgress) => void;
}

export type Severity = 'high' | 'medium' | 'info';

export interface Finding {
  /** Stable rule id, e.g. `new-ip-then-mailbox-abuse`. */
  rule: string;
  severity: Severity;
  /** One line: what was seen. */
  title: string;
  /** Why it looks attacker-like (or why it is only context). */
  why: string;
  evidence: Row[];
}

export type Verdict = 'attacker-like' | 'worth a look' | 'nothing attacker-like';

export interface InvestigationReport {
  user: string;
  range: { from: string; to: string };
  verdict: Verdict;
  /** Most severe first. */
  findings: Finding[];
  /** Sign-ins per IP in the range, with first/last seen and whether the IP was known before. */
  signIns: (IpSummary & { knownBefore: boolean })[];
  /** Things the reader should know about what could not be checked. */
  notes: string[];
}

interface Defaults {
  burstFailures: number;
  sprayUsers: number;
  mailBurstItems: number;
  bulkDownloads: number;
  baselineDays: number;
  minHistoryHours: number;
}

function defaults(o: HuntOptions): Defaults {
  return {
    burstFailures: o.burstFailures ?? 10,
    sprayUsers: o.sprayUsers ?? 5,
    mailBurstItems: o.mailBurstItems ?? 100,
    bulkDownloads: o.bulkDownloads ?? 50,
    baselineDays: o.baselineDays ?? 30,
    minHistoryHours: o.minHistoryHours ?? 24,
  };
}

/** The tenant-wide queries' rows for one range, read once and shared by hunt() and investigate(). */
interface TenantRows {
  failed: Row[];
  spraying: Row[];
  legacy: Row[];
  inboxRules: Row[];
  forwarding: Row[];
  payment: Row[];
  consent: Row[];
  roles: Row[];
}

async function tenantRows(container: Container, range: TimeRange, options: HuntOptions): Promise<TenantRows> {
  const p = { from: range.from, to: range.to };
  const run = (name: string): Promise<Row[]> =>
    queryRows(container, name, p, options.onPage ? { onPage: options.onPage } : {});
  const [failed, spraying, legacy, inboxRules, forwarding, payment, consent, roles] = await Promise.all([
    run('failed-signin-bursts'),
    run('password-spraying'),
    run('legacy-protocol-signins'),
    run('inbox-rules'),
    run('mailbox-forwarding'),
    run('payment-searches'),
    run('consent-and-app-credentials'),
    run('admin-role-changes'),
  ]);
  return { failed, spraying, legacy, inboxRules, forwarding, payment, consent, roles };
}

/**
 * Runs the pack for one account over a time range and explains what looks attacker-like, with the
 * evidence rows. Rules (all thresholds in HuntOptions):
 * - a successful sign-in from an IP not used by the account in the baselineDays before the range, and from
 *   that same IP mailbox abuse (external forwarding, a rule that deletes or hides mail, payment searches, a
 *   MailItemsAccessed burst), bulk downloads, a consent grant or app credential, or an admin role change →
 *   high (downloads and mail sent from that IP and, with ipCountry, whether its country is new are added as
 *   context). Applied only when the account has successful sign-ins reaching back at least minHistoryHours
 *   before the range (otherwise every address it uses would look new). An action from another address, or
 *   none, is not tied to the sign-in: it cannot be placed in that session;
 * - a successful sign-in from an IP that sprayed passwords at ≥ sprayUsers accounts (evidence: every failed
 *   sign-in of that IP, against any account, and this account's successes from it), or the account's mail,
 *   files, mail sending or admin actions used from such an IP → high;
 * - from the IPs of those high findings, other accounts' mailboxes read by an application
 *   (mail-access-from-ip) whose owner's own directory changes in the range name that application
 *   (directory-changes-by-user: service principal added, grants, consent) → high (consent phishing: the
 *   evidence is the app's mail access and those directory changes);
 * - external forwarding of the account's own mailbox or by its rules, hiding rules, payment searches,
 *   legacy-protocol sign-ins, mail or download bursts, consent grants / app credentials, role changes by the
 *   account, failed-sign-in bursts on their own → medium;
 * - an admin (UserType 2) forwarding another mailbox outside (Set-Mailbox), or another account changing this
 *   account's admin roles → info only (an admin change);
 * - new IPs with nothing suspicious after them (travel, a new phone) → info only.
 * Verdict: attacker-like with any high finding, or two different medium rules each with evidence from
 * somewhere other than the account's usual address (known before the range; without a baseline, the one
 * most of its sign-ins in the range come from); worth a look with any medium finding.
 */
export async function investigate(
  container: Container,
  user: string,
  range: TimeRange,
  options: HuntOptions = {},
): Promise<InvestigationReport> {
  return investigateWith(container, user.trim().toLowerCase(), range, options, undefined);
}

async function investigateWith(
  container: Container,
  user: string,
  range: TimeRange,
  options: HuntOptions,
  shared: TenantRows | undefined,
): Promise<InvestigationReport> {
  const d = defaults(options);
  const from = cosmosTime(range.from);
  const to = cosmosTime(range.to);
  const baselineFrom = cosmosTime(new Date(Date.parse(`${from}Z`) - d.baselineDays * 86_400_000));
  const pageOptions = options.onPage ? { onPage: options.onPage } : {};
  const userParams = { user, from, to };
  const [history, mail, downloads, sent, tenant] = await Promise.all([
    queryRows(container, 'signins-by-user', { user, from: baselineFrom, to }, pageOptions),
    queryRows(container, 'mail-items-accessed', userParams, pageOptions),
    queryRows(container, 'file-downloads', userParams, pageOptions),
    queryRows(container, 'mail-sent', userParams, pageOptions),
    shared ?? tenantRows(container, range, options),
  ]);
  const mine = (rows: Row[]): Row[] => rows.filter((r) => text(r, 'user') === user);
  const internal = internalDomains(user, tenant, options);
  const findings: Finding[] = [];
  const notes: string[] = [];

  // Sign-ins: known IPs / countries come from successful sign-ins before the range.
  const baseline = history.filter((r) => (text(r, 'CreationTime') ?? '') < from);
  const inRange = history.filter((r) => (text(r, 'CreationTime') ?? '') >= from);
  const baselineSuccesses = baseline.filter((r) => text(r, 'Operation') === 'UserLoggedIn');
  const knownIps = new Set(baselineSuccesses.map((r) => text(r, 'clientIp')));
  const countryOf = (ip: string | undefined): string | undefined =>
    ip === undefined ? undefined : options.ipCountry?.(ip);
  const knownCountries = new Set([...knownIps].map(countryOf).filter((c) => c !== undefined));
  const summaries = signInsByIp(inRange, options.ipCountry).map((s) => ({
    ...s,
    knownBefore: knownIps.has(s.ip),
  }));
  const successes = inRange.filter((r) => text(r, 'Operation') === 'UserLoggedIn');
  // The history must reach back far enough to know the account's everyday addresses: with none, or only the
  // last minutes or hours of it (a range starting just after the store's first records or the account's
  // first sign-ins), its phone, its home's other address or a colleague's desk would all look new.
  const historyStart = Math.min(...baselineSuccesses.map(timeOf));
  const historyMs = Date.parse(`${from}Z`) - historyStart;
  let newIpSignIns: Row[] = [];
  if (baselineSuccesses.length === 0) {
    notes.push(
      `No successful sign-ins in the ${d.baselineDays} days before the range: every IP would be new, so the ` +
        'new-IP rule was not applied.',
    );
  } else if (!(historyMs >= d.minHistoryHours * 3_600_000)) {
    notes.push(
      `The account's first successful sign-in the store holds is at ${cosmosTime(new Date(historyStart))}, only ` +
        `${(historyMs / 3_600_000).toFixed(1)} h before the range (less than ${d.minHistoryHours} h): too little ` +
        'to know its usual addresses, so the new-IP rule was not applied.',
    );
  } else {
    const firstPerIp = new Map<string, Row>();
    for (const r of successes) {
      const ip = text(r, 'clientIp');
      if (ip !== undefined && !knownIps.has(ip) && !firstPerIp.has(ip)) firstPerIp.set(ip, r);
    }
    newIpSignIns = [...firstPerIp.values()];
  }
  if (options.ipCountry === undefined) {
    notes.push('Countries are not in audit records; pass an IP-to-country lookup (ipCountry) to see them.');
  }

  // Post-compromise actions, each a candidate follow-up of a new-IP sign-in.
  const actions: { label: string; rows: Row[] }[] = [];
  const addMedium = (rule: string, title: string, why: string, evidence: Row[]): void => {
    if (evidence.length === 0) return;
    findings.push({ rule, severity: 'medium', title, why, evidence });
    actions.push({ label: title, rows: evidence });
  };

  const rules = mine(tenant.inboxRules);
  const externalRules = rules.filter((r) => externalTargets(r, internal).length > 0);
  addMedium(
    'external-forwarding-rule',
    `${externalRules.length} inbox rule(s) forwarding or redirecting mail outside the organisation`,
    `forwards to ${unique(externalRules.flatMap((r) => externalTargets(r, internal))).join(', ')}; ` +
      'attackers forward a mailbox to themselves to keep reading it after a password reset',
    externalRules,
  );
  const hiding = rules.filter((r) => !externalRules.includes(r) && hidesMail(r));
  addMedium(
    'mail-hiding-rule',
    `${hiding.length} inbox rule(s) that delete mail or move it out of sight`,
    'rules that delete, or mark as read and move, incoming mail hide replies and security notices from the owner',
    hiding,
  );
  const forwarding = tenant.forwarding.filter(
    (r) => text(r, 'user') === user || (text(r, 'ObjectId') ?? '').toLowerCase() === user,
  );
  const externalMailbox = forwarding.filter((r) => externalTargets(r, internal).length > 0);
  // An admin forwarding someone else's mailbox (to a partner, a shared mailbox) is an administrative change,
  // not a sign of this account being taken over: context only. Attackers forward the mailbox they are in.
  const adminForwarding = externalMailbox.filter((r) => setOnAnotherMailbox(r, user));
  const ownForwarding = externalMailbox.filter((r) => !adminForwarding.includes(r));
  addMedium(
    'external-mailbox-forwarding',
    'mailbox forwarding to an outside address',
    `Set-Mailbox forwards to ${unique(ownForwarding.flatMap((r) => externalTargets(r, internal))).join(', ')}`,
    ownForwarding,
  );
  if (adminForwarding.length > 0) {
    findings.push({
      rule: 'admin-mailbox-forwarding',
      severity: 'info',
      title: `${adminForwarding.length} other mailbox(es) forwarded to an outside address by this admin`,
      why:
        `an admin change (Set-Mailbox on ${unique(adminForwarding.map((r) => mailboxOf(r) ?? '?')).join(', ')} ` +
        `to ${unique(adminForwarding.flatMap((r) => externalTargets(r, internal))).join(', ')}); worth checking it ` +
        'was requested, but not a sign that this account was taken over',
      evidence: adminForwarding,
    });
  }
  addMedium(
    'payment-search',
    'searches for payment terms',
    `searched for ${unique(mine(tenant.payment).map((r) => JSON.stringify(text(r, 'QueryText') ?? ''))).join(', ')}; ` +
      'business-email compromise looks for invoices and bank details before redirecting a payment',
    mine(tenant.payment),
  );
  const bursts = mailBursts(mail, d.mailBurstItems);
  addMedium(
    'mail-access-burst',
    `${bursts.length} hour(s) with ≥ ${d.mailBurstItems} mail items accessed from one IP`,
    bursts.map((b) => `${b.items} items in ${b.hour}:00 from ${b.ip}`).join('; ') +
      ' — bulk reading or syncing of a mailbox, as exfiltration does',
    bursts.flatMap((b) => b.rows),
  );
  const bulk = [...groupBy(downloads, (r) => text(r, 'clientIp'))].filter(
    ([, g]) => g.length >= d.bulkDownloads,
  );
  addMedium(
    'bulk-downloads',
    `≥ ${d.bulkDownloads} file downloads from one IP`,
    bulk.map(([ip, g]) => `${g.length} downloads from ${ip}`).join('; '),
    bulk.flatMap(([, g]) => g),
  );
  addMedium(
    'consent-or-app-credential',
    'consent grants or new application credentials',
    `${unique(mine(tenant.consent).map((r) => text(r, 'Operation') ?? '')).join(', ')}: an attacker keeps ` +
      'access through an application that survives password resets',
    mine(tenant.consent),
  );
  const describeRole = (r: Row): string =>
    `${text(r, 'Operation') ?? ''} ${roleName(r) ?? ''} on ${text(r, 'ObjectId') ?? '?'}`;
  const roleRows = mine(tenant.roles);
  addMedium(
    'admin-role-change',
    'admin role changes by this account',
    roleRows.map(describeRole).join('; '),
    roleRows,
  );
  // A role another admin gave this account (or took from it) is that admin's doing: context for what the
  // account may do, not a sign that it was taken over (the change is evidence in the admin's own report).
  const grantedRoles = tenant.roles.filter(
    (r) => text(r, 'user') !== user && (text(r, 'ObjectId') ?? '').toLowerCase() === user,
  );
  if (grantedRoles.length > 0) {
    findings.push({
      rule: 'admin-role-change-by-other',
      severity: 'info',
      title: `${grantedRoles.length} admin role change(s) for this account by other accounts`,
      why:
        `${grantedRoles.map((r) => `${text(r, 'user') ?? '?'}: ${describeRole(r)}`).join('; ')}; another ` +
        'admin’s change, worth checking it was requested, but not a sign that this account was taken over',
      evidence: grantedRoles,
    });
  }

  // Sign-in based medium findings (not follow-up actions).
  const legacy = mine(tenant.legacy).filter((r) => text(r, 'Operation') === 'UserLoggedIn');
  if (legacy.length > 0) {
    findings.push({
      rule: 'legacy-protocol-signin',
      severity: 'medium',
      title: `${legacy.length} successful legacy-protocol sign-in(s) (BAV2ROPC)`,
      why: 'basic authentication skips MFA; password-spraying tools use it',
      evidence: legacy,
    });
  }
  const myBursts = failedBursts(mine(tenant.failed), d.burstFailures);
  if (myBursts.length > 0) {
    findings.push({
      rule: 'failed-signin-burst',
      severity: 'medium',
      title: `${myBursts.length} hour(s) with ≥ ${d.burstFailures} failed sign-ins`,
      why: myBursts.map((b) => `${b.failures} failures in ${b.hour}:00 from ${b.ips.join(', ')}`).join('; '),
      evidence: myBursts.flatMap((b) => b.rows),
    });
  }

  // High: a success from a spraying IP, or the account's mail and files used from one (e.g. by an app the
  // account consented to, running on the attacker's infrastructure).
  const sprays = sprayingIps(tenant.spraying, d.sprayUsers);
  const sprayIps = new Set(sprays.map((s) => s.ip));
  const usedFromSpray = unique([...mail, ...downloads, ...sent, ...actions.flatMap((a) => a.rows)])
    .filter((r) => sprayIps.has(text(r, 'clientIp') ?? ''))
    .sort((a, b) => timeOf(a) - timeOf(b));
  if (usedFromSpray.length > 0) {
    findings.push({
      rule: 'activity-from-spraying-ip',
      severity: 'high',
      title: `${usedFromSpray.length} mailbox, mail-sending, file or admin action(s) from an IP that sprayed passwords`,
      why:
        `${unique(usedFromSpray.map((r) => text(r, 'clientIp'))).join(', ')} failed sign-ins against ≥ ` +
        `${d.sprayUsers} accounts; the same address then used this account's data`,
      evidence: usedFromSpray,
    });
  }
  for (const spray of sprays) {
    if (!spray.succeeded.includes(user)) continue;
    findings.push({
      rule: 'signin-from-spraying-ip',
      severity: 'high',
      title: `signed in from ${spray.ip}, which failed sign-ins against ${spray.users.length} accounts`,
      why: 'one IP failing against many accounts is password spraying; a success from it means a guessed password',
      evidence: spray.rows.filter(
        (r) => text(r, 'user') === user || text(r, 'Operation') === 'UserLoginFailed',
      ),
    });
  }

  // High: a new IP and post-compromise actions taken from it. Only from it: an action from another address
  // or none cannot be placed in that session (a phone's or an office's next address, another admin's change
  // for this account, a directory change without an address look the same), and ones from elsewhere still
  // count in the verdict's two medium rules from somewhere other than the usual address.
  for (const signIn of newIpSignIns) {
    const ip = text(signIn, 'clientIp') as string;
    const followed = actions
      .map((a) => ({ label: a.label, rows: a.rows.filter((r) => text(r, 'clientIp') === ip) }))
      .filter((a) => a.rows.length > 0);
    // Downloads from the new IP are context, not a trigger: a traveller downloads files from a hotel too.
    if (followed.length === 0) continue;
    const sameIpDownloads = downloads.filter((r) => text(r, 'clientIp') === ip);
    // Mail sent from the same IP is context too: once the session is the attacker's, it is their phishing.
    const sameIpSends = sent.filter((r) => text(r, 'clientIp') === ip);
    const country = countryOf(ip);
    const newCountry = country !== undefined && knownCountries.size > 0 && !knownCountries.has(country);
    const what = [
      ...followed.map((a) => a.label),
      ...(sameIpDownloads.length > 0 ? [`${sameIpDownloads.length} file download(s) from that IP`] : []),
      ...(sameIpSends.length > 0 ? [`${sameIpSends.length} mail(s) sent from that IP`] : []),
    ];
    findings.push({
      rule: 'new-ip-then-abuse',
      severity: 'high',
      title: `sign-in from a new IP ${ip}${country ? ` (${country}${newCountry ? ', a new country' : ''})` : ''} followed by ${what.join('; ')}`,
      why:
        `${ip} was never used by this account in the ${d.baselineDays} days before; from the same IP came the ` +
        'actions an attacker takes after stealing a session or password',
      evidence: unique([signIn, ...followed.flatMap((a) => a.rows), ...sameIpDownloads, ...sameIpSends]).sort(
        (a, b) => timeOf(a) - timeOf(b),
      ),
    });
  }

  // High: the attacker's IPs (those of this account's high findings) reading other mailboxes through an
  // application, and the directory changes by those mailboxes' owners that name the application (the
  // consent that let it in). Followed only from IPs already tied to an attack on this account.
  const attackerIps = unique(
    findings
      .filter((f) => f.severity === 'high')
      .flatMap((f) => f.evidence)
      .filter((r) => text(r, 'user') === user)
      .map((r) => text(r, 'clientIp'))
      .filter((ip): ip is string => ip !== undefined && ip !== ''),
  );
  for (const pivot of await appPivots(container, user, attackerIps, { from, to }, pageOptions)) {
    findings.push({
      rule: 'attacker-ip-app-access',
      severity: 'high',
      title:
        `${pivot.access.length} access(es) to ${pivot.owner}'s mailbox from ${pivot.ip} by application ` +
        `${pivot.appId}, which ${pivot.owner} consented to (${pivot.directory.length} directory change(s))`,
      why:
        `${pivot.ip} is where this account was attacked from; the same address then read another mailbox ` +
        `through an application its owner had just let in (${unique(pivot.directory.map((r) => text(r, 'Operation') ?? '')).join(', ')}): ` +
        'consent phishing, a second victim whose access survives a password reset',
      evidence: unique([...pivot.directory, ...pivot.access]).sort((a, b) => timeOf(a) - timeOf(b)),
    });
  }

  // Info: new IPs with nothing after them.
  const reported = new Set(
    findings.filter((f) => f.rule === 'new-ip-then-abuse').map((f) => text(f.evidence[0] ?? {}, 'clientIp')),
  );
  const quiet = newIpSignIns.filter((r) => !reported.has(text(r, 'clientIp')));
  if (quiet.length > 0) {
    findings.push({
      rule: 'new-ip',
      severity: 'info',
      title: `sign-ins from ${quiet.length} IP(s) not seen before: ${quiet.map((r) => text(r, 'clientIp')).join(', ')}`,
      why: 'new IPs alone are normal (travel, a new network); nothing suspicious followed them',
      evidence: quiet,
    });
  }
  if (tenant.payment.length === 0) {
    notes.push('No search records at all in the range: payment searches need search auditing turned on.');
  }

  const order: Record<Severity, number> = { high: 0, medium: 1, info: 2 };
  findings.sort((a, b) => order[a.severity] - order[b.severity]);
  // The account's usual addresses: known before the range, or (no baseline) the one most of its successful
  // sign-ins in the range come from. Two kinds of medium finding taken only from there look like the owner's
  // own doing (an admin's routine changes), not an intruder's.
  const perIp = groupBy(successes, (r) => text(r, 'clientIp'));
  const usual = new Set<string>([
    ...[...knownIps].filter((ip): ip is string => ip !== undefined),
    ...[...perIp]
      .filter(([, rows]) => rows.length >= 3 && rows.length * 2 >= successes.length)
      .map(([ip]) => ip),
  ]);
  return {
    user,
    range: { from, to },
    verdict: verdictOf(findings, usual),
    findings,
    signIns: summaries,
    notes,
  };
}

function verdictOf(findings: Finding[], usual: Set<string>): Verdict {
  if (findings.some((f) => f.severity === 'high')) return 'attacker-like';
  const medium = new Set(findings.filter((f) => f.severity === 'medium').map((f) => f.rule));
  const fromElsewhere = new Set(
    findings
      .filter((f) => f.severity === 'medium' && f.evidence.some((r) => !usual.has(text(r, 'clientIp') ?? '')))
      .map((f) => f.rule),
  );
  if (fromElsewhere.size >= 2) return 'attacker-like';
  return medium.size > 0 ? 'worth a look' : 'nothing attacker-like';
}

export interface HuntResult {
  range: { from: string; to: string };
  /** Accounts whose investigation says attacker-like, most findings first. */
  flagged: InvestigationReport[];
  /** Accounts that showed up in a tenant-wide query and were investigated, flagged or not. */
  reviewed: { user: string; verdict: Verdict; rules: string[] }[];
  /** IPs that failed against ≥ sprayUsers accounts. */
  spraying: { ip: string; users: string[]; failures: number; succeeded: string[] }[];
  /** Candidates left out because of maxAccounts. */
  skipped: string[];
}

/**
 * Accounts that look compromised: the tenant-wide queries (failed-sign-in bursts, spraying, legacy
 * protocols, inbox rules, mailbox forwarding, payment searches, consent and app credentials, role changes)
 * name candidate accounts, and each is investigated in depth; those with an attacker-like verdict are
 * flagged.
 */
export async function hunt(
  container: Container,
  range: TimeRange,
  options: HuntOptions = {},
): Promise<HuntResult> {
  const d = defaults(options);
  const tenant = await tenantRows(container, range, options);
  const spraying = sprayingIps(tenant.spraying, d.sprayUsers);
  const candidates = unique([
    ...spraying.flatMap((s) => s.succeeded),
    ...failedBursts(tenant.failed, d.burstFailures).map((b) => b.user),
    ...distinct(
      tenant.legacy.filter((r) => text(r, 'Operation') === 'UserLoggedIn'),
      'user',
    ),
    ...distinct(tenant.inboxRules, 'user'),
    ...distinct(tenant.forwarding, 'user'),
    ...distinct(tenant.payment, 'user'),
    ...distinct(tenant.consent, 'user'),
    ...distinct(tenant.roles, 'user'),
  ]).filter((u) => u.includes('@'));
  const max = options.maxAccounts ?? 50;
  const reports: InvestigationReport[] = [];
  for (const user of candidates.slice(0, max)) {
    reports.push(await investigateWith(container, user, range, options, tenant));
  }
  const rank = (r: InvestigationReport): number =>
    r.findings.filter((f) => f.severity === 'high').length * 100 + r.findings.length;
  return {
    range: { from: cosmosTime(range.from), to: cosmosTime(range.to) },
    flagged: reports.filter((r) => r.verdict === 'attacker-like').sort((a, b) => rank(b) - rank(a)),
    reviewed: reports.map((r) => ({
      user: r.user,
      verdict: r.verdict,
      rules: unique(r.findings.map((f) => f.rule)),
    })),
    spraying: spraying.map(({ ip, users, failures, succeeded }) => ({ ip, users, failures, succeeded })),
    skipped: candidates.slice(max),
  };
}

interface AppPivot {
  ip: string;
  owner: string;
  appId: string;
  /** The app's MailItemsAccessed on owner's mailbox from ip. */
  access: Row[];
  /** owner's directory changes naming appId. */
  directory: Row[];
}

/**
 * attacker IP → MailItemsAccessed from it on other accounts' mailboxes, with the application that read them
 * → those accounts' directory changes that name the application. Only an application named by its
 * mailbox owner's own directory changes in the range (a consent, a service principal, a grant) is followed:
 * an attacker's IP shared with an office would otherwise pull in colleagues' ordinary mail reading.
 */
async function appPivots(
  container: Container,
  user: string,
  ips: string[],
  range: { from: string; to: string },
  pageOptions: RunOptions,
): Promise<AppPivot[]> {
  const out: AppPivot[] = [];
  const directoryOf = new Map<string, Promise<Row[]>>();
  for (const ip of ips) {
    const rows = await queryRows(container, 'mail-access-from-ip', { ip, ...range }, pageOptions);
    const others = rows.filter((r) => {
      const owner = text(r, 'user');
      return owner !== undefined && owner !== user && owner.includes('@') && appIdOf(r) !== undefined;
    });
    for (const [key, access] of groupBy(others, (r) => `${text(r, 'user') ?? ''}|${appIdOf(r) ?? ''}`)) {
      const [owner, appId] = key.split('|') as [string, string];
      let directory = directoryOf.get(owner);
      if (directory === undefined) {
        directory = queryRows(container, 'directory-changes-by-user', { user: owner, ...range }, pageOptions);
        directoryOf.set(owner, directory);
      }
      const naming = (await directory).filter((r) => namesApp(r, appId));
      if (naming.length > 0) out.push({ ip, owner, appId, access, directory: naming });
    }
  }
  return out;
}

function appIdOf(row: Row): string | undefined {
  const id = text(row, 'AppId') || text(row, 'ClientAppId');
  return id === undefined || id === '' ? undefined : id.toLowerCase();
}

/** Does a directory change name this application id (object, targets, changed or extended properties)? */
function namesApp(row: Row, appId: string): boolean {
  const named = [row.ObjectId, row.Target, row.ModifiedProperties, row.ExtendedProperties];
  return JSON.stringify(named).toLowerCase().includes(appId);
}

/** The mailbox a Set-Mailbox changed: the last segment of its ObjectId (`…/Org/alias`, `alias`, a UPN). */
function mailboxOf(row: Row): string | undefined {
  const id = text(row, 'ObjectId');
  return id === undefined || id === '' ? undefined : (id.split(/[\\/]/).pop() ?? id).toLowerCase();
}

/** Set by an admin (UserType 2) on a mailbox that is not the admin's own. */
function setOnAnotherMailbox(row: Row, user: string): boolean {
  if (text(row, 'UserType') !== '2') return false;
  const mailbox = mailboxOf(row);
  return mailbox !== undefined && mailbox !== user && mailbox !== user.split('@')[0];
}

function internalDomains(user: string, tenant: TenantRows, options: HuntOptions): Set<string> {
  if (options.internalDomains !== undefined) {
    return new Set(options.internalDomains.map((d) => d.toLowerCase()));
  }
  const users = [user, ...Object.values(tenant).flatMap((rows: Row[]) => distinct(rows, 'user'))];
  return new Set(users.filter((u) => u.includes('@')).map(domainOf));
}

function externalTargets(row: Row, internal: Set<string>): string[] {
  return forwardTargets(row).filter((a) => !internal.has(domainOf(a)));
}

const HIDDEN_FOLDERS = /rss|conversation history|junk|archive|deleted items/i;

function hidesMail(row: Row): boolean {
  const p = nameValueMap(row.Parameters);
  const yes = (name: string): boolean => (p.get(name) ?? '').toLowerCase() === 'true';
  if (yes('deletemessage') || yes('softdeletemessage')) return true;
  const folder = p.get('movetofolder');
  return folder !== undefined && (yes('markasread') || HIDDEN_FOLDERS.test(folder));
}

function roleName(row: Row): string | undefined {
  return nameValueMap(row.ModifiedProperties).get('role.displayname')?.replace(/^"|"$/g, '');
}

function unique<T>(values: T[]): T[] {
  return [...new Set(values)];
}

/** Columns shown for an evidence row, in this order, when present. */
const EVIDENCE_COLUMNS = [
  'CreationTime',
  'user',
  'Operation',
  'clientIp',
  'userAgent',
  'inboxRuleName',
  'QueryText',
  'subject',
  'AppId',
  'mailAccessType',
  'OperationCount',
  'fileName',
  'ObjectId',
  'errorNumber',
];

export function formatRow(row: Row): string {
  const parts: string[] = [];
  for (const column of EVIDENCE_COLUMNS) {
    const v = text(row, column);
    if (v !== undefined && v !== '') parts.push(column === 'CreationTime' ? v : `${column}=${v}`);
  }
  const targets = forwardTargets(row);
  if (targets.length > 0) parts.push(`forwards to ${targets.join(', ')}`);
  return parts.join('  ');
}

/** The report as text for a terminal: verdict, findings with why and evidence, sign-ins per IP, notes. */
export function formatReport(report: InvestigationReport, maxEvidence = 10): string {
  const lines: string[] = [];
  lines.push(`Investigation of ${report.user}, ${report.range.from} to ${report.range.to} (UTC)`);
  lines.push(`Verdict: ${report.verdict}`);
  lines.push('');
  const attacker = report.findings.filter((f) => f.severity !== 'info');
  lines.push(attacker.length === 0 ? 'Nothing attacker-like found.' : 'What looks attacker-like, and why:');
  for (const f of report.findings) {
    lines.push('');
    lines.push(`[${f.severity}] ${f.title}`);
    lines.push(`  why: ${f.why}`);
    for (const row of f.evidence.slice(0, maxEvidence)) lines.push(`    ${formatRow(row)}`);
    if (f.evidence.length > maxEvidence) lines.push(`    … and ${f.evidence.length - maxEvidence} more`);
  }
  lines.push('');
  lines.push('Sign-ins by IP:');
  if (report.signIns.length === 0) lines.push('  (none in the range)');
  for (const s of report.signIns) {
    lines.push(
      `  ${s.ip}${s.country ? ` (${s.country})` : ''}  first ${s.first}  last ${s.last}  ` +
        `${s.successes} ok, ${s.failures} failed  ${s.knownBefore ? 'known before' : 'NEW'}`,
    );
  }
  if (report.notes.length > 0) {
    lines.push('');
    lines.push('Notes:');
    for (const n of report.notes) lines.push(`  - ${n}`);
  }
  return `${lines.join('\n')}\n`;
}
