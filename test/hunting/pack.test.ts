import type { Container, CosmosClient } from '@azure/cosmos';
import { createCosmosClient, startCosmos, stopAll, type CosmosHandle } from '../../scripts/local/services';
import {
  formatReport,
  hunt,
  investigate,
  listQueries,
  queryRows,
  runQuery,
  timeline,
  type InvestigationReport,
  type PageProgress,
  type Row,
} from '../../shared/hunting';
import {
  failedBursts,
  forwardTargets,
  mailBursts,
  signInsByIp,
  sprayingIps,
} from '../../shared/hunting/rows';
import { ensureCosmosContainer } from '../../shared/writer/cosmosContainer';
import { RecordingLogger } from '../writer/helpers';
import {
  ALICE_HOME,
  APP,
  EDGE_RANGE,
  NINA,
  OLGA,
  PETE,
  QUINN,
  RANGE,
  RON,
  SPRAY_IP,
  TOM_ABROAD,
  edgeDocuments,
  tenantDocuments,
} from './fixtures';

let cosmos: CosmosHandle;
let client: CosmosClient;
let container: Container;

beforeAll(async () => {
  cosmos = await startCosmos();
  client = createCosmosClient(cosmos);
  // The writer's own bootstrap: the container gets the real indexing policy (composite indexes included).
  container = await ensureCosmosContainer(
    client,
    { database: 'auditfeed', container: 'hunting', retentionDays: 180 },
    new RecordingLogger(),
  );
  for (const doc of tenantDocuments()) await container.items.upsert(doc);
});

afterAll(async () => {
  client?.dispose();
  await stopAll();
});

const ALICE = 'alice.adams@contoso.com';
const p = { from: RANGE.from, to: RANGE.to };
const brief = (rows: Row[]): string[] => rows.map((r) => `${String(r.user)} ${String(r.Operation)}`);

/** What each query returns on the seeded tenant; a query added to the pack without a case here fails. */
const CASES: Record<string, { params: Record<string, unknown>; check: (rows: Row[]) => void }> = {
  'signins-by-user': {
    params: { user: 'Alice.Adams@Contoso.com', ...p },
    check: (rows) => {
      expect(rows.map((r) => [r.CreationTime, r.Operation, r.clientIp, r.userAgent])).toEqual([
        ['2026-11-21T02:00:00', 'UserLoginFailed', SPRAY_IP, 'BAV2ROPC'],
        ['2026-11-21T02:15:00', 'UserLoggedIn', SPRAY_IP, 'BAV2ROPC'],
        ['2026-11-21T09:00:00', 'UserLoggedIn', ALICE_HOME, 'Mozilla/5.0'],
      ]);
      expect(signInsByIp(rows, (ip) => (ip === SPRAY_IP ? 'NL' : 'DE'))).toEqual([
        {
          ip: SPRAY_IP,
          first: '2026-11-21T02:00:00',
          last: '2026-11-21T02:15:00',
          successes: 1,
          failures: 1,
          country: 'NL',
        },
        {
          ip: ALICE_HOME,
          first: '2026-11-21T09:00:00',
          last: '2026-11-21T09:00:00',
          successes: 1,
          failures: 0,
          country: 'DE',
        },
      ]);
    },
  },
  'failed-signin-bursts': {
    params: p,
    check: (rows) => {
      expect(rows).toHaveLength(6 + 11);
      expect(failedBursts(rows, 10).map((b) => [b.user, b.hour, b.failures, b.ips])).toEqual([
        ['bob@contoso.com', '2026-11-21T06', 11, ['198.51.100.40']],
      ]);
    },
  },
  'password-spraying': {
    params: p,
    check: (rows) => {
      const spray = sprayingIps(rows, 5);
      expect(spray.map((s) => [s.ip, s.users.length, s.failures, s.succeeded])).toEqual([
        [SPRAY_IP, 6, 6, [ALICE]],
      ]);
      expect(sprayingIps(rows, 7)).toEqual([]);
    },
  },
  'legacy-protocol-signins': {
    params: p,
    check: (rows) => {
      expect(rows).toHaveLength(7);
      expect(rows.every((r) => r.userAgent === 'BAV2ROPC' && r.clientIp === SPRAY_IP)).toBe(true);
    },
  },
  'inbox-rules': {
    params: p,
    check: (rows) => {
      expect(rows.map((r) => [r.user, r.inboxRuleName, forwardTargets(r)])).toEqual([
        [ALICE, '..', ['drop@evil.example']],
        ['adam.admin@contoso.com', 'Invoices to finance', ['finance@contoso.com']],
      ]);
      expect(rows[0]?.clientIp).toBe(SPRAY_IP);
    },
  },
  'mailbox-forwarding': {
    params: p,
    check: (rows) => {
      // Both spellings (`smtp:`, `SMTP:`) normalise alike; the Set-Mailbox without forwarding is not here.
      expect(rows.map((r) => [r.user, r.ObjectId, forwardTargets(r), r.deliverToMailboxAndForward])).toEqual([
        [ALICE, 'alice', ['drop@evil.example'], true],
        ['adam.admin@contoso.com', 'shared-finance', ['finance@contoso.com'], undefined],
        [
          'adam.admin@contoso.com',
          'EURPR01A001.prod.outlook.com/Microsoft Exchange Hosted Organizations/contoso.onmicrosoft.com/erin',
          ['erin@partner.example'],
          undefined,
        ],
        ['fiona@contoso.com', 'fiona', ['fiona@partner.example'], undefined],
      ]);
      expect(rows.map((r) => r.UserType)).toEqual([undefined, undefined, 2, undefined]);
    },
  },
  'forwarding-to-address': {
    // The inbox rule spells it `Drop@Evil.example`, Set-Mailbox `smtp:drop@evil.example`: one pivot finds both.
    params: { address: 'SMTP:DROP@evil.example', ...p },
    check: (rows) => {
      expect(brief(rows)).toEqual([`${ALICE} New-InboxRule`, `${ALICE} Set-Mailbox`]);
    },
  },
  'payment-searches': {
    params: p,
    check: (rows) => {
      expect(rows.map((r) => [r.user, r.QueryText])).toEqual([[ALICE, 'Invoice wire transfer']]);
    },
  },
  'mail-items-accessed': {
    params: { user: ALICE, ...p },
    check: (rows) => {
      expect(rows.map((r) => [r.mailAccessType, r.OperationCount])).toEqual([
        ['Sync', 300],
        ['Sync', 300],
        ['Sync', 300],
        ['Bind', 5],
      ]);
      expect(mailBursts(rows, 500).map((b) => [b.hour, b.ip, b.items])).toEqual([
        ['2026-11-21T03', SPRAY_IP, 900],
      ]);
    },
  },
  'file-downloads': {
    params: { user: 'tom@contoso.com', ...p },
    check: (rows) => {
      // The download after the range is left out.
      expect(rows.map((r) => [r.fileName, r.clientIp])).toEqual([
        ['Slides.pptx', TOM_ABROAD],
        ['Agenda.docx', TOM_ABROAD],
      ]);
    },
  },
  'consent-and-app-credentials': {
    params: p,
    check: (rows) => {
      expect(brief(rows)).toEqual([
        `${ALICE} Consent to application.`,
        'carol@contoso.com Add service principal credentials.',
        'dana@contoso.com Consent to application.',
      ]);
      expect(rows[0]?.clientIp).toBe(SPRAY_IP);
    },
  },
  'admin-role-changes': {
    params: p,
    check: (rows) => {
      expect(rows.map((r) => [r.user, r.Operation, r.ObjectId])).toEqual([
        ['adam.admin@contoso.com', 'Add member to role.', 'dave@contoso.com'],
        ['fiona@contoso.com', 'Add member to role.', 'gus@contoso.com'],
      ]);
    },
  },
  'user-timeline': {
    params: { user: ALICE, ...p },
    check: (rows) => {
      const times = rows.map((r) => String(r.CreationTime));
      expect(times).toEqual([...times].sort());
      expect(new Set(rows.map((r) => r.Workload))).toEqual(
        new Set(['AzureActiveDirectory', 'Exchange', 'OneDrive']),
      );
      expect(rows).toHaveLength(3 + 1 + 1 + 1 + 1 + 4 + 2 + 3);
    },
  },
  'mail-sent': {
    params: { user: ALICE, ...p },
    check: (rows) => {
      expect(rows.map((r) => [r.Operation, r.clientIp, r.subject])).toEqual([
        ['Send', SPRAY_IP, 'Invoice approval needed today'],
        ['Send', ALICE_HOME, 'Lunch?'],
      ]);
    },
  },
  'mail-access-from-ip': {
    params: { ip: SPRAY_IP, ...p },
    check: (rows) => {
      // Alice's own session and the app reading Dana's mailbox, which names itself.
      expect(rows.map((r) => [r.user, r.AppId ?? null])).toEqual([
        [ALICE, null],
        [ALICE, null],
        [ALICE, null],
        ['dana@contoso.com', APP],
      ]);
    },
  },
  'directory-changes-by-user': {
    params: { user: 'dana@contoso.com', ...p },
    check: (rows) => {
      expect(rows.map((r) => [r.Operation, r.ObjectId, r.clientIp])).toEqual([
        ['Consent to application.', APP, '198.51.100.50'],
      ]);
      expect(rows.every((r) => typeof r.Id === 'string')).toBe(true);
    },
  },
};

describe('hunting pack on the Cosmos DB stand-in', () => {
  it('has a case for every query of the pack', () => {
    expect(Object.keys(CASES).sort()).toEqual(listQueries().map((q) => q.name));
  });

  it.each(Object.keys(CASES))('runs %s and returns the expected rows', async (name) => {
    const c = CASES[name]!;
    c.check(await queryRows(container, name, c.params));
  });

  it('yields rows page by page and reports progress', async () => {
    const pages: PageProgress[] = [];
    const rows: Row[] = [];
    for await (const row of runQuery(container, 'failed-signin-bursts', p, {
      pageSize: 5,
      onPage: (progress) => pages.push(progress),
    })) {
      rows.push(row);
    }
    expect(rows).toHaveLength(17);
    expect(pages.filter((x) => x.rowsInPage > 0).map((x) => x.rowsInPage)).toEqual([5, 5, 5, 2]);
    expect(pages.at(-1)?.rowsSoFar).toBe(17);
    expect(pages.every((x) => x.query === 'failed-signin-bursts')).toBe(true);
  });

  it('refuses a missing parameter and an unknown query', async () => {
    await expect(queryRows(container, 'file-downloads', p)).rejects.toThrow(/@user is missing/);
    await expect(queryRows(container, 'no-such-query', p)).rejects.toThrow(
      /no hunting query "no-such-query"/,
    );
  });

  it('keeps the real Cosmos DB GROUP BY form, which the stand-in cannot parse', async () => {
    await expect(queryRows(container, 'password-spraying', p, { form: 'cosmos' })).rejects.toThrow();
  });

  it('timeline() returns one account across workloads, oldest first', async () => {
    const rows = await timeline(container, 'TOM@contoso.com', RANGE);
    expect(brief(rows)).toEqual([
      'tom@contoso.com UserLoginFailed',
      'tom@contoso.com UserLoggedIn',
      'tom@contoso.com MailItemsAccessed',
      'tom@contoso.com FileDownloaded',
      'tom@contoso.com FileDownloaded',
      'tom@contoso.com UserLoggedIn',
      'tom@contoso.com MailItemsAccessed',
    ]);
  });
});

describe('investigate and hunt', () => {
  it('investigate() finds the compromised account’s attacker records and says why', async () => {
    const report = await investigate(container, 'Alice.Adams@contoso.com', RANGE);
    expect(report.verdict).toBe('attacker-like');
    const rules = report.findings.map((f) => `${f.severity} ${f.rule}`);
    expect(rules.slice(0, 4).sort()).toEqual([
      'high activity-from-spraying-ip',
      'high attacker-ip-app-access',
      'high new-ip-then-abuse',
      'high signin-from-spraying-ip',
    ]);
    expect(rules).toEqual(
      expect.arrayContaining([
        'medium external-forwarding-rule',
        'medium external-mailbox-forwarding',
        'medium payment-search',
        'medium mail-access-burst',
        'medium consent-or-app-credential',
        'medium legacy-protocol-signin',
      ]),
    );
    const chain = report.findings.find((f) => f.rule === 'new-ip-then-abuse')!;
    expect(chain.title).toContain(SPRAY_IP);
    expect(chain.evidence.map((r) => r.Operation)).toEqual([
      'UserLoggedIn',
      'New-InboxRule',
      'Set-Mailbox',
      'SearchQueryInitiatedExchange',
      'MailItemsAccessed',
      'MailItemsAccessed',
      'MailItemsAccessed',
      'FileDownloaded',
      'FileDownloaded',
      'FileDownloaded',
      'Send',
      'Consent to application.',
    ]);
    expect(chain.title).toContain('1 mail(s) sent from that IP');
    // The pivot: the spraying IP read Dana's mailbox through the app she consented to.
    const pivot = report.findings.find((f) => f.rule === 'attacker-ip-app-access')!;
    expect(pivot.title).toContain(`dana@contoso.com's mailbox from ${SPRAY_IP} by application ${APP}`);
    expect(pivot.evidence.map((r) => `${String(r.user)} ${String(r.Operation)}`)).toEqual([
      'dana@contoso.com Consent to application.',
      'dana@contoso.com MailItemsAccessed',
    ]);
    // Her own sign-in from home and her ordinary mail reading are not evidence.
    const evidence = report.findings.flatMap((f) => f.evidence);
    expect(evidence.some((r) => r.clientIp === ALICE_HOME)).toBe(false);
    expect(report.signIns.map((s) => [s.ip, s.knownBefore])).toEqual([
      [SPRAY_IP, false],
      [ALICE_HOME, true],
    ]);
    const text = formatReport(report);
    expect(text).toContain('Verdict: attacker-like');
    expect(text).toContain('forwards to drop@evil.example');
    expect(text).toContain(`${SPRAY_IP}  first 2026-11-21T02:00:00`);
    expect(text).toMatch(/why: .*password spraying/);
  });

  it('investigate() sees a traveller’s new country as context, not an attack', async () => {
    const report = await investigate(container, 'tom@contoso.com', RANGE, {
      ipCountry: (ip) => (ip === TOM_ABROAD ? 'JP' : 'FR'),
    });
    expect(report.verdict).toBe('nothing attacker-like');
    expect(report.findings.map((f) => `${f.severity} ${f.rule}`)).toEqual(['info new-ip']);
    expect(report.signIns.map((s) => [s.ip, s.country, s.knownBefore])).toEqual([
      [SPRAY_IP, 'FR', false],
      [TOM_ABROAD, 'JP', false],
    ]);
    expect(formatReport(report)).toContain('Nothing attacker-like found.');
  });

  it('hunt() flags the compromised account and not the benign look-alikes', async () => {
    const result = await hunt(container, RANGE);
    // Dana never signed in from the attacker's IP, but her consented app read her mail from it.
    expect(result.flagged.map((r) => r.user)).toEqual([ALICE, 'dana@contoso.com']);
    const dana = result.flagged[1]!;
    expect(dana.findings.map((f) => `${f.severity} ${f.rule}`)).toEqual([
      'high activity-from-spraying-ip',
      'medium consent-or-app-credential',
    ]);
    expect(result.spraying).toEqual([
      { ip: SPRAY_IP, users: expect.any(Array) as unknown, failures: 6, succeeded: [ALICE] },
    ]);
    const reviewed = Object.fromEntries(result.reviewed.map((r) => [r.user, r.verdict]));
    expect(reviewed).toEqual({
      [ALICE]: 'attacker-like',
      'bob@contoso.com': 'worth a look',
      'adam.admin@contoso.com': 'worth a look',
      'carol@contoso.com': 'worth a look',
      'dana@contoso.com': 'attacker-like',
      // Two medium rules, but both from the address she always signs in from: her own doing.
      'fiona@contoso.com': 'worth a look',
    });
    // The admin's rule forwards inside the organisation: no forwarding finding. Erin's mailbox forwarded to
    // a partner by him is an admin change, context only; with the role change it would otherwise make two
    // medium rules and an attacker-like verdict.
    const adam = await investigate(container, 'adam.admin@contoso.com', RANGE);
    expect(adam.findings.map((f) => `${f.severity} ${f.rule}`)).toEqual([
      'medium admin-role-change',
      'info admin-mailbox-forwarding',
    ]);
    expect(adam.findings[1]!.why).toContain('erin');
    const fiona = await investigate(container, 'fiona@contoso.com', RANGE);
    expect(fiona.findings.map((f) => `${f.severity} ${f.rule}`).sort()).toEqual([
      'medium admin-role-change',
      'medium external-mailbox-forwarding',
    ]);
    expect(fiona.verdict).toBe('worth a look');
    expect(result.skipped).toEqual([]);
  });
});

describe('the new-IP rule needs a history, and ties only what was done from the new IP', () => {
  let edges: Container;
  const rules = (r: InvestigationReport): string[] => r.findings.map((f) => `${f.severity} ${f.rule}`);

  beforeAll(async () => {
    edges = await ensureCosmosContainer(
      client,
      { database: 'auditfeed', container: 'hunting-edges', retentionDays: 180 },
      new RecordingLogger(),
    );
    for (const doc of edgeDocuments()) await edges.items.upsert(doc);
  });

  it('leaves the rule out when the account’s history before the range is a sliver', async () => {
    // Olga's only sign-in before the range is 30 minutes before it: her other address is not known to be new.
    const olga = await investigate(edges, OLGA, EDGE_RANGE);
    expect(olga.verdict).toBe('worth a look');
    expect(rules(olga)).toEqual(['medium admin-role-change']);
    expect(olga.notes.join('\n')).toContain('only 0.5 h before the range (less than 24 h)');
    // With the minimum lowered, the same records make the rule fire.
    const eager = await investigate(edges, OLGA, EDGE_RANGE, { minHistoryHours: 0.25 });
    expect(eager.verdict).toBe('attacker-like');
    expect(rules(eager)[0]).toBe('high new-ip-then-abuse');
  });

  it('leaves the rule out when no sign-in before the range succeeded', async () => {
    const nina = await investigate(edges, NINA, EDGE_RANGE);
    expect(nina.verdict).toBe('nothing attacker-like');
    expect(rules(nina)).toEqual(['info admin-role-change-by-other']);
    expect(nina.notes.join('\n')).toContain('No successful sign-ins');
  });

  it('does not make another admin’s change for the account its own doing', async () => {
    const ron = await investigate(edges, RON, EDGE_RANGE);
    expect(ron.verdict).toBe('nothing attacker-like');
    expect(rules(ron).sort()).toEqual(['info admin-role-change-by-other', 'info new-ip']);
    const granted = ron.findings.find((f) => f.rule === 'admin-role-change-by-other')!;
    expect(granted.why).toContain(`${PETE}: Add member to role. Exchange Administrator on ${RON}`);
  });

  it('ties to a new IP only what was done from it', async () => {
    // An action without an address cannot be placed in the new address's session, whether or not the account
    // signed in from its usual address in between.
    for (const user of [PETE, QUINN]) {
      const report = await investigate(edges, user, EDGE_RANGE);
      expect(report.verdict).toBe('worth a look');
      expect(rules(report)).toEqual(['medium admin-role-change', 'info new-ip']);
    }
    const result = await hunt(edges, EDGE_RANGE);
    expect(result.flagged).toEqual([]);
    expect(result.reviewed.map((r) => r.user).sort()).toEqual([OLGA, PETE, QUINN]);
  });
});
