import { startSimulator } from '../../scripts/simulator';
import type { ScenarioSpec, Simulator } from '../../scripts/simulator';
import { OTHER_TENANT, SIM_NOW, TENANT, api, http, tokenFor } from './helpers';

const GRAPH_SCOPE = 'https://graph.microsoft.com/.default';
const APP = { clientId: 'a1b2c3d4-0000-4000-8000-0000000000a1', clientSecret: 'graph~secret' };
const NO_GRAPH_APP = {
  clientId: 'a1b2c3d4-0000-4000-8000-0000000000a2',
  clientSecret: 'mgmt~only',
  permissions: ['ActivityFeed.Read', 'ActivityFeed.ReadDlp'],
};
const DAY = 86_400_000;

interface Query {
  id: string;
  status: string;
  isRecordCountLimitExceeded: boolean;
  approximateReturnedRecordCount: number;
  recordCountLimit: number;
}
interface RecordsPage {
  value: Array<Record<string, unknown> & { id: string; auditData: Record<string, unknown> }>;
  '@odata.nextLink'?: string;
}

async function graphToken(
  sim: Simulator,
  app: { clientId: string; clientSecret: string } = APP,
  tenantId = TENANT,
  scope = GRAPH_SCOPE,
): Promise<string> {
  const res = await http.post<{ access_token: string }>(
    sim.tokenEndpoint(tenantId),
    new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: app.clientId,
      client_secret: app.clientSecret,
      scope,
    }).toString(),
    { headers: { 'content-type': 'application/x-www-form-urlencoded' } },
  );
  if (res.status !== 200) throw new Error(`token: ${res.status} ${JSON.stringify(res.data)}`);
  return res.data.access_token;
}

function graph(sim: Simulator, token: string) {
  const base = `${sim.graphAudit.baseUrl}/v1.0/security/auditLog/queries`;
  const headers = { Authorization: `Bearer ${token}` };
  return {
    create: (body: unknown) => http.post<Query>(base, body, { headers }),
    list: () => http.get<{ value: Query[] }>(base, { headers }),
    get: (id: string) => http.get<Query>(`${base}/${id}`, { headers }),
    records: (id: string) => http.get<RecordsPage>(`${base}/${id}/records`, { headers }),
    next: (url: string) => http.get<RecordsPage>(url, { headers }),
  };
}

/** Every record of a succeeded query, following `@odata.nextLink`; also the links seen. */
async function allRecords(
  sim: Simulator,
  token: string,
  id: string,
): Promise<{ records: RecordsPage['value']; links: string[] }> {
  const g = graph(sim, token);
  const records: RecordsPage['value'] = [];
  const links: string[] = [];
  let res = await g.records(id);
  for (;;) {
    expect(res.status).toBe(200);
    records.push(...res.data.value);
    const next = res.data['@odata.nextLink'];
    if (!next) break;
    links.push(next);
    res = await g.next(next);
  }
  return { records, links };
}

function scenario(extra: Partial<ScenarioSpec> = {}): ScenarioSpec {
  return {
    seed: 'graph-audit',
    tenants: [{ tenantId: TENANT }, { tenantId: OTHER_TENANT }],
    apps: [APP, NO_GRAPH_APP],
    // 90 days of history at a low rate, hourly blobs: cheap to plan, most of it long past the API's 7 days.
    activity: {
      start: new Date(Date.parse(SIM_NOW) - 90 * DAY).toISOString(),
      end: SIM_NOW,
      recordsPerHour: {
        'Audit.AzureActiveDirectory': 3,
        'Audit.Exchange': 4,
        'Audit.SharePoint': 3,
        'Audit.General': 1,
        'DLP.All': 0.2,
      },
    },
    blobs: { aggregationMinutes: 60, lateFraction: 0.05, duplicateFraction: 0.2 },
    subscriptions: { preStarted: true },
    graphAudit: { pageSize: 50, startDelaySeconds: 10, runSeconds: [60, 60] },
    ...extra,
  };
}

async function start(extra: Partial<ScenarioSpec> = {}): Promise<Simulator> {
  return startSimulator({ scenario: scenario(extra), clock: { start: SIM_NOW, frozen: true } });
}

describe('simulator: Graph audit log query API', () => {
  let sim: Simulator;
  let token: string;

  beforeAll(async () => {
    sim = await start();
    token = await graphToken(sim);
  });
  afterAll(() => sim.stop());
  afterEach(() => {
    sim.faults.clear();
    sim.clock.set(SIM_NOW);
    sim.graphAudit.reset();
  });

  it('runs a query notStarted → running → succeeded on the simulator clock and pages every record once', async () => {
    const g = graph(sim, token);
    const from = new Date(Date.parse(SIM_NOW) - 3 * DAY).toISOString();
    const to = new Date(Date.parse(SIM_NOW) - 2 * DAY).toISOString();
    const created = await g.create({ displayName: 'day', filterStartDateTime: from, filterEndDateTime: to });
    expect(created.status).toBe(201);
    expect(created.headers.location).toBe(`${sim.baseUrl}/v1.0/security/auditLog/queries/${created.data.id}`);
    expect(created.data).toMatchObject({
      status: 'notStarted',
      filterStartDateTime: from,
      filterEndDateTime: to,
    });
    const id = created.data.id;

    expect((await g.records(id)).status).toBe(400); // not readable before it succeeds
    sim.clock.advance(30_000);
    expect((await g.get(id)).data.status).toBe('running');
    sim.clock.advance(30_000);
    const done = await g.get(id);
    expect(done.data).toMatchObject({ status: 'succeeded', isRecordCountLimitExceeded: false });

    const { records, links } = await allRecords(sim, token, id);
    const ids = records.map((r) => r.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(links.length).toBeGreaterThan(1);
    for (const l of links) expect(new URL(l).origin).toBe(sim.baseUrl);
    expect(done.data.approximateReturnedRecordCount).toBe(ids.length);

    // The same records the content blobs carry: available by then, CreationTime in [from, to).
    const expected = new Set<string>();
    for (const r of sim.truth.records({ tenantId: TENANT, availableBy: new Date(SIM_NOW) })) {
      const t = Date.parse(`${r.creationTime}Z`);
      if (r.outcome === 'store' && r.id && t >= Date.parse(from) && t < Date.parse(to)) expected.add(r.id);
    }
    expect(new Set(ids)).toEqual(expected);
    expect(ids).toEqual(
      sim.graphAudit.recordIds({ tenantId: TENANT, start: new Date(from), end: new Date(to) }),
    );
  });

  it('wraps the Management API record as auditData, byte for byte, with Graph enum names outside', async () => {
    const g = graph(sim, token);
    // A window the Management API still serves, so a blob can be compared with its Graph records.
    const blob = sim.truth
      .blobs({ tenantId: TENANT, contentType: 'Audit.Exchange', availableBy: new Date(SIM_NOW) })
      .filter((b) => Date.parse(b.contentExpiration) > Date.parse(SIM_NOW) + DAY && !b.duplicateOf)[0];
    expect(blob).toBeDefined();
    const mgmt = await api(sim, await tokenFor(sim)).get<Array<Record<string, unknown>>>(
      blob!.contentUri.slice(sim.apiRoot(TENANT).length + 1),
    );
    expect(mgmt.status).toBe(200);
    const times = mgmt.data.map((r) => Date.parse(`${String(r.CreationTime)}Z`));
    const q = await g.create({
      filterStartDateTime: new Date(Math.min(...times)).toISOString(),
      filterEndDateTime: new Date(Math.max(...times) + 1000).toISOString(),
    });
    sim.clock.advance(60_000);
    const { records } = await allRecords(sim, token, q.data.id);
    const byId = new Map(records.map((r) => [r.id, r]));
    for (const rec of mgmt.data) {
      const gr = byId.get(String(rec.Id));
      expect(gr).toBeDefined();
      const { ['@odata.type']: odataType, ...auditData } = gr!.auditData;
      expect(odataType).toBe('#microsoft.graph.security.defaultAuditData');
      expect(auditData).toEqual(rec);
      expect(gr!.createdDateTime).toBe(`${String(rec.CreationTime)}Z`);
      expect(gr!.operation).toBe(rec.Operation);
      expect(gr!.service).toBe(rec.Workload);
      expect(gr!.organizationId).toBe(rec.OrganizationId);
      expect(typeof gr!.auditLogRecordType).toBe('string');
      expect(typeof gr!.userType).toBe('string');
      expect(gr!.administrativeUnits).toEqual([]);
    }
    const types = new Set(records.map((r) => r.auditLogRecordType));
    expect([...types].every((t) => /^[a-z][A-Za-z]+$/.test(String(t)))).toBe(true);
  });

  it('serves history beyond the 7 days the Management API keeps, within the audit retention', async () => {
    const g = graph(sim, token);
    const from = new Date(Date.parse(SIM_NOW) - 89 * DAY).toISOString();
    const q = await g.create({ filterStartDateTime: from, filterEndDateTime: SIM_NOW });
    sim.clock.advance(60_000);
    const done = await g.get(q.data.id);
    // Records come oldest first: the first page reaches back to the start of the range.
    const first = (await g.records(q.data.id)).data.value;
    expect(Date.parse(String(first[0]?.createdDateTime))).toBeLessThan(Date.parse(SIM_NOW) - 88 * DAY);
    // The Management API lists only blobs created in the last 7 days; everything older is Graph-only.
    const listable = sim.truth.recordIds({ tenantId: TENANT, notExpiredAt: new Date(SIM_NOW) });
    expect(done.data.approximateReturnedRecordCount).toBeGreaterThan(listable.size * 5);
    const old = await api(sim, await tokenFor(sim)).get('subscriptions/content', {
      contentType: 'Audit.Exchange',
      startTime: new Date(Date.parse(SIM_NOW) - 30 * DAY).toISOString().slice(0, 19),
      endTime: new Date(Date.parse(SIM_NOW) - 29 * DAY).toISOString().slice(0, 19),
    });
    expect(old.status).toBe(400);
  });

  it('returns what a correct pipeline stores: story records, hostile ones it keeps, records of blobs never listed', async () => {
    const s = await start({
      tenants: [{ tenantId: TENANT, users: 12 }],
      stories: [
        { kind: 'bec', tenantId: TENANT, start: new Date(Date.parse(SIM_NOW) - 4 * DAY).toISOString() },
      ],
      blobs: {
        aggregationMinutes: 60,
        duplicateFraction: 0.3,
        // Some blobs arrive after their 7-day expiry: never listed, yet in the audit log.
        lateFraction: 0.2,
        lateHours: [100, 200],
        // All kinds but the 3 MB string, which only makes pages slow.
        hostileRecords: { fraction: 0.2, kinds: ['proto', 'deep', 'no-id', 'not-object'] },
        unreadable: { fraction: 0.2, recoverAfterHours: null },
      },
      graphAudit: { runSeconds: [0, 0], pageSize: 200 },
    });
    try {
      const t = await graphToken(s);
      const from = new Date(Date.parse(SIM_NOW) - 12 * DAY);
      const q = await graph(s, t).create({
        filterStartDateTime: from.toISOString(),
        filterEndDateTime: SIM_NOW,
      });
      const { records } = await allRecords(s, t, q.data.id);
      const ids = records.map((r) => r.id);
      const expected = new Set<string>();
      for (const r of s.truth.records({ tenantId: TENANT, availableBy: new Date(SIM_NOW) })) {
        const time = Date.parse(`${r.creationTime}Z`);
        if (r.outcome === 'store' && r.id !== undefined && time >= from.getTime()) expected.add(r.id);
      }
      expect(ids.length).toBe(expected.size);
      expect(new Set(ids)).toEqual(expected);
      const story = s.truth.stories()[0]!;
      expect(story.attackerRecordIds.every((id) => expected.has(id))).toBe(true);
      const kept = s.truth.blobs({ tenantId: TENANT }).filter((b) => b.hostileKind === 'proto');
      expect(kept.length).toBeGreaterThan(0);
      const rejected = new Set(s.truth.rejectedRecords({ tenantId: TENANT }).map((r) => r.id));
      expect(ids.some((id) => rejected.has(id))).toBe(false);
      const neverListed = s.truth
        .blobs({ tenantId: TENANT, availableBy: new Date(SIM_NOW) })
        .filter((b) => b.availableAt >= b.contentExpiration && Date.parse(b.contentCreated) > from.getTime());
      expect(neverListed.length).toBeGreaterThan(0);
    } finally {
      await s.stop();
    }
  });

  it('stops at recordCountLimit, still succeeded, flagged isRecordCountLimitExceeded', async () => {
    const s = await start({ graphAudit: { pageSize: 7, runSeconds: [0, 0], recordCountLimit: 20 } });
    try {
      const t = await graphToken(s);
      const from = new Date(Date.parse(SIM_NOW) - 2 * DAY).toISOString();
      const q = await graph(s, t).create({ filterStartDateTime: from, filterEndDateTime: SIM_NOW });
      expect(q.data.status).toBe('succeeded');
      expect(q.data).toMatchObject({ isRecordCountLimitExceeded: true, recordCountLimit: 20 });
      const { records } = await allRecords(s, t, q.data.id);
      const truth = s.graphAudit.recordIds({
        tenantId: TENANT,
        start: new Date(from),
        end: new Date(SIM_NOW),
      });
      expect(truth.length).toBeGreaterThan(20);
      expect(records.map((r) => r.id)).toEqual(truth.slice(0, 20));
    } finally {
      await s.stop();
    }
  });

  it('drops records older than the retention, fails a configured share of queries', async () => {
    const s = await start({ graphAudit: { runSeconds: [0, 0], retentionDays: 30, failFraction: 1 } });
    try {
      const t = await graphToken(s);
      const q = await graph(s, t).create({
        filterStartDateTime: new Date(Date.parse(SIM_NOW) - 60 * DAY).toISOString(),
        filterEndDateTime: SIM_NOW,
      });
      expect(q.data.status).toBe('failed');
      const r = await graph(s, t).records(q.data.id);
      expect(r.status).toBe(400);
      expect(r.data).toMatchObject({ error: { code: 'BadRequest' } });
      const ids = s.graphAudit.recordIds({
        tenantId: TENANT,
        start: new Date(Date.parse(SIM_NOW) - 60 * DAY),
        end: new Date(SIM_NOW),
      });
      const within = s.graphAudit.recordIds({
        tenantId: TENANT,
        start: new Date(Date.parse(SIM_NOW) - 30 * DAY),
        end: new Date(SIM_NOW),
      });
      expect(ids).toEqual(within);
    } finally {
      await s.stop();
    }
  });

  it('honours serviceFilters and recordTypeFilters, and refuses an unknown record type', async () => {
    const g = graph(sim, token);
    const range = {
      filterStartDateTime: new Date(Date.parse(SIM_NOW) - 2 * DAY).toISOString(),
      filterEndDateTime: SIM_NOW,
    };
    const ex = await g.create({ ...range, serviceFilters: ['Exchange'] });
    const sts = await g.create({ ...range, recordTypeFilters: ['azureActiveDirectoryStsLogon'] });
    sim.clock.advance(60_000);
    const exRecords = (await allRecords(sim, token, ex.data.id)).records;
    const stsRecords = (await allRecords(sim, token, sts.data.id)).records;
    expect(exRecords.length).toBeGreaterThan(0);
    expect(exRecords.every((r) => r.service === 'Exchange')).toBe(true);
    expect(stsRecords.length).toBeGreaterThan(0);
    expect(stsRecords.every((r) => r.auditLogRecordType === 'azureActiveDirectoryStsLogon')).toBe(true);
    expect(stsRecords.every((r) => Number(r.auditData.RecordType) === 15)).toBe(true);
    const bad = await g.create({ ...range, recordTypeFilters: ['notAType'] });
    expect(bad.status).toBe(400);
    expect(bad.data).toMatchObject({ error: { code: 'BadRequest' } });
    expect((await g.create({ filterStartDateTime: 'yesterday' })).status).toBe(400);
  });

  it('wants a Graph token whose app holds AuditLogsQuery.Read.All, and keeps tenants apart', async () => {
    const base = `${sim.graphAudit.baseUrl}/v1.0/security/auditLog/queries`;
    const none = await http.get(base);
    expect(none.status).toBe(401);
    expect(none.data).toMatchObject({ error: { code: 'InvalidAuthenticationToken' } });
    // A Management API token is for another audience.
    const mgmt = await http.get(base, { headers: { Authorization: `Bearer ${await tokenFor(sim)}` } });
    expect(mgmt.status).toBe(401);
    const denied = await http.get(base, {
      headers: { Authorization: `Bearer ${await graphToken(sim, NO_GRAPH_APP)}` },
    });
    expect(denied.status).toBe(403);
    expect(denied.data).toMatchObject({ error: { code: 'Forbidden' } });
    expect(JSON.stringify(denied.data)).toContain('AuditLogsQuery.Read.All');
    // A Graph token does not open the Management API.
    expect((await api(sim, token).get('subscriptions/list')).status).toBe(401);

    const q = await graph(sim, token).create({
      filterStartDateTime: '2026-11-19T00:00:00Z',
      filterEndDateTime: SIM_NOW,
    });
    const other = graph(sim, await graphToken(sim, APP, OTHER_TENANT));
    expect((await other.get(q.data.id)).status).toBe(404);
    expect((await other.list()).data.value).toEqual([]);
    expect((await graph(sim, token).list()).data.value.map((x) => x.id)).toEqual([q.data.id]);
  });

  it('answers 429 with Retry-After over the concurrent and the 24-hour submission limits', async () => {
    const s = await start({
      graphAudit: { runSeconds: [600, 600], maxConcurrentQueries: 2, maxQueriesPerDay: 3 },
    });
    try {
      const g = graph(s, await graphToken(s));
      const body = { filterStartDateTime: '2026-11-19T00:00:00Z', filterEndDateTime: SIM_NOW };
      expect((await g.create(body)).status).toBe(201);
      s.clock.advance(100_000);
      expect((await g.create(body)).status).toBe(201);
      const busy = await g.create(body);
      expect(busy.status).toBe(429);
      expect(busy.data).toMatchObject({ error: { code: 'TooManyRequests' } });
      expect(busy.headers['retry-after']).toBe('500'); // the first query ends 600 s after creation
      s.clock.advance(500_000);
      expect((await g.create(body)).status).toBe(201);
      s.clock.advance(600_000);
      const daily = await g.create(body);
      expect(daily.status).toBe(429);
      expect(Number(daily.headers['retry-after'])).toBe(86_400 - 1_200);
      s.clock.advance(86_400_000 - 1_200_000);
      // A day later the first token has expired: a fresh one.
      expect((await graph(s, await graphToken(s)).create(body)).status).toBe(201);
      expect(s.graphAudit.stats()).toMatchObject({ created: 4, throttledConcurrent: 1, throttledDaily: 1 });
    } finally {
      await s.stop();
    }
  });

  it('takes faults on its routes in Graph shapes: throttling, 5xx, a malformed page', async () => {
    const g = graph(sim, token);
    sim.faults.add({
      route: 'graphQueries',
      action: { kind: 'throttle', shape: '429', retryAfterSeconds: 7 },
    });
    const thr = await g.create({ filterStartDateTime: '2026-11-19T00:00:00Z', filterEndDateTime: SIM_NOW });
    expect(thr.status).toBe(429);
    expect(thr.headers['retry-after']).toBe('7');
    expect(thr.data).toMatchObject({ error: { code: 'TooManyRequests' } });
    const q = await g.create({ filterStartDateTime: '2026-11-19T00:00:00Z', filterEndDateTime: SIM_NOW });
    sim.clock.advance(60_000);
    sim.faults.add({ route: 'graphQuery', action: { kind: 'error', status: 503 } });
    const down = await g.get(q.data.id);
    expect(down.status).toBe(503);
    expect(down.data).toMatchObject({ error: { code: 'ServiceUnavailable' } });
    sim.faults.add({ route: 'graphRecords', tenantId: TENANT, action: { kind: 'malformed' } });
    const bad = await http.get<string>(`${sim.baseUrl}/v1.0/security/auditLog/queries/${q.data.id}/records`, {
      headers: { Authorization: `Bearer ${token}` },
      responseType: 'text',
    });
    expect(bad.status).toBe(200);
    expect(() => {
      JSON.parse(bad.data);
    }).toThrow();
    expect((await g.records(q.data.id)).status).toBe(200);
  });

  it('tells tests over HTTP which records Graph returns and which queries ran', async () => {
    const g = graph(sim, token);
    const from = '2026-11-18T00:00:00Z';
    const q = await g.create({ filterStartDateTime: from, filterEndDateTime: SIM_NOW });
    sim.clock.advance(60_000);
    const { records } = await allRecords(sim, token, q.data.id);
    const truth = await http.get<{ count: number; ids: string[] }>(
      `${sim.baseUrl}/_sim/truth/graph-records`,
      {
        params: { tenantId: TENANT, start: from, end: SIM_NOW, at: SIM_NOW },
      },
    );
    expect(truth.status).toBe(200);
    expect(truth.data.ids).toEqual(records.map((r) => r.id));
    const queries = await http.get<Array<{ id: string; status: string; returned: number }>>(
      `${sim.baseUrl}/_sim/graph/queries`,
    );
    expect(queries.data).toEqual([
      expect.objectContaining({ id: q.data.id, status: 'succeeded', returned: records.length }),
    ]);
    const info = await http.get<{ graph: { endpoint: string; scope: string } }>(`${sim.baseUrl}/_sim/info`);
    expect(info.data.graph).toEqual({ endpoint: sim.baseUrl, scope: GRAPH_SCOPE });
    const stats = await http.get<{ pages: number; recordsServed: number }>(`${sim.baseUrl}/_sim/graph/stats`);
    expect(stats.data.recordsServed).toBe(records.length);
    expect((await http.delete(`${sim.baseUrl}/_sim/graph/queries`)).status).toBe(200);
    expect((await g.get(q.data.id)).status).toBe(404);
  });
});
