import { startSimulator } from '../../scripts/simulator';
import type { ScenarioSpec, Simulator } from '../../scripts/simulator';
import { PUBLISHER, TENANT, api, errorCode, http, listAll, tokenFor } from './helpers';
import type { ContentItem } from './helpers';

const NOW = '2026-11-20T12:00:00.000Z';
const HOUR = 3_600_000;
const AF20030 =
  'Start time and end time must both be specified (or both omitted) and must be less than or equal to 24 hours apart, with the start time no more than 7 days in the past.';

const record = (id: string): Record<string, unknown> => ({
  CreationTime: '2026-11-20T09:00:00',
  Id: id,
  Operation: 'Set-Mailbox',
  RecordType: 1,
  Workload: 'Exchange',
});

function scenario(overrides: Partial<ScenarioSpec> = {}): ScenarioSpec {
  return {
    seed: 'listing',
    tenants: [{ tenantId: TENANT }],
    contentTypes: ['Audit.Exchange', 'Audit.General'],
    activity: {
      start: '2026-11-19T00:00:00Z',
      end: '2026-11-20T14:00:00Z',
      recordsPerHour: { 'Audit.Exchange': 40, 'Audit.General': 0 },
    },
    blobs: { recordsPerBlob: [1, 5], latencyMinutes: [1, 10], lateFraction: 0, duplicateFraction: 0 },
    listing: { pageSize: 7 },
    subscriptions: { preStarted: true },
    // Tests move the clock by hours; a day-long token keeps them about listing, not auth.
    tokenLifetimeSeconds: 86_400,
    explicit: [
      {
        tenantId: TENANT,
        contentType: 'Audit.General',
        contentCreated: '2026-11-20T10:00:00.000Z',
        contentId: 'A$1$audit_general$Audit_General',
        records: [record('a')],
      },
      {
        tenantId: TENANT,
        contentType: 'Audit.General',
        contentCreated: '2026-11-20T10:59:59.999Z',
        contentId: 'B$1$audit_general$Audit_General',
        records: [record('b')],
      },
      {
        tenantId: TENANT,
        contentType: 'Audit.General',
        contentCreated: '2026-11-20T11:00:00.000Z',
        contentId: 'C$1$audit_general$Audit_General',
        records: [record('c')],
      },
      {
        tenantId: TENANT,
        contentType: 'Audit.General',
        contentCreated: '2026-11-20T10:30:00.000Z',
        availableAt: '2026-11-20T13:00:00.000Z',
        contentId: 'D$1$audit_general$Audit_General',
        records: [record('d1'), record('d2')],
      },
    ],
    ...overrides,
  };
}

describe('simulator: content listing and blobs', () => {
  let sim: Simulator;
  let token: string;

  beforeAll(async () => {
    sim = await startSimulator({ scenario: scenario(), clock: { start: NOW, frozen: true } });
    token = await tokenFor(sim);
  });

  afterAll(() => sim.stop());

  beforeEach(() => sim.clock.set(NOW));

  const ids = (items: ContentItem[]): string[] => items.map((i) => i.contentId[0] as string);
  const general = (startTime: string, endTime: string) =>
    api(sim, token).get<ContentItem[]>('subscriptions/content', {
      contentType: 'Audit.General',
      startTime,
      endTime,
    });

  it('filters half-open [startTime, endTime) on contentCreated, in every accepted time format', async () => {
    expect(ids((await general('2026-11-20T10:00:00Z', '2026-11-20T11:00:00Z')).data)).toEqual(['A', 'B']);
    expect(ids((await general('2026-11-20T10:00', '2026-11-20T11:00')).data)).toEqual(['A', 'B']);
    expect(ids((await general('2026-11-20T10:00:00.0000000Z', '2026-11-20T10:59:59.999')).data)).toEqual([
      'A',
    ]);
    expect(ids((await general('2026-11-20T11:00:00', '2026-11-20T12:00:00')).data)).toEqual(['C']);
    expect(ids((await general('2026-11-20', '2026-11-21')).data)).toEqual(['A', 'B', 'C']);
    const item = (await general('2026-11-20T10:00', '2026-11-20T10:01')).data[0];
    expect(item).toEqual({
      contentType: 'Audit.General',
      contentId: 'A$1$audit_general$Audit_General',
      contentUri: `${sim.apiRoot(TENANT)}/audit/A$1$audit_general$Audit_General`,
      contentCreated: '2026-11-20T10:00:00.000Z',
      contentExpiration: '2026-11-27T10:00:00.000Z',
    });
  });

  it('lists a blob only once it is available, in availability order, and serves it only then', async () => {
    const d = sim.contentUri(TENANT, 'D$1$audit_general$Audit_General');
    const early = await http.get(d, { headers: { Authorization: `Bearer ${token}` } });
    expect(early.status).toBe(400);
    expect(early.data).toEqual({
      error: {
        code: 'AF20050',
        message: 'The specified content (D$1$audit_general$Audit_General) does not exist.',
      },
    });
    sim.clock.set('2026-11-20T13:00:00Z');
    const fresh = await tokenFor(sim);
    expect(
      ids(
        (
          await api(sim, fresh).get<ContentItem[]>('subscriptions/content', {
            contentType: 'Audit.General',
            startTime: '2026-11-20T10:00',
            endTime: '2026-11-20T11:00',
          })
        ).data,
      ),
    ).toEqual(['A', 'B', 'D']);
    const late = await http.get<unknown[]>(d, { headers: { Authorization: `Bearer ${fresh}` } });
    expect(late.status).toBe(200);
    expect(late.data).toEqual([record('d1'), record('d2')]);
  });

  it('rejects windows over 24 h, reversed, one-sided, too old, or badly written', async () => {
    const exactly24 = await general('2026-11-19T12:00', '2026-11-20T12:00');
    expect(exactly24.status).toBe(200);
    const tooLong = await general('2026-11-19T12:00', '2026-11-20T12:01');
    expect(tooLong.status).toBe(400);
    expect(tooLong.data).toEqual({ error: { code: 'AF20030', message: AF20030 } });
    expect(errorCode(await general('2026-11-20T11:00', '2026-11-20T11:00'))).toBe('AF20055');
    expect(errorCode(await general('2026-11-20T11:00', '2026-11-20T10:00'))).toBe('AF20055');
    const oneSided = await api(sim, token).get('subscriptions/content', {
      contentType: 'Audit.General',
      startTime: '2026-11-20T10:00',
    });
    expect(errorCode(oneSided)).toBe('AF20030');
    // 7 days back is allowed with about an hour of grace, like the service.
    expect((await general('2026-11-13T11:30', '2026-11-14T11:00')).status).toBe(200);
    expect(errorCode(await general('2026-11-13T10:30', '2026-11-14T10:00'))).toBe('AF20030');
    const bad = await general('20/11/2026', '2026-11-20T11:00');
    expect(bad.data).toEqual({
      error: { code: 'AF20002', message: 'Invalid parameter type: startTime. Expected type: datetime' },
    });
    expect(errorCode(await general('2026-02-31', '2026-03-01'))).toBe('AF20002');
    const badType = await api(sim, token).get('subscriptions/content', { contentType: 'audit.general' });
    expect(errorCode(badType)).toBe('AF20020');
  });

  it('lists the last 24 hours when no window is given', async () => {
    const { items } = await listAll(sim, token, { contentType: 'Audit.Exchange' });
    const now = Date.parse(NOW);
    const expected = sim.truth
      .blobs({ tenantId: TENANT, contentType: 'Audit.Exchange', availableBy: new Date(NOW) })
      .filter((b) => Date.parse(b.contentCreated) >= now - 24 * HOUR && Date.parse(b.contentCreated) < now)
      .map((b) => b.contentId);
    expect(expected.length).toBeGreaterThan(20);
    expect(items.map((i) => i.contentId)).toEqual(expected);
  });

  it('pages with NextPageUri that keeps the window and PublisherIdentifier; pages stay consistent while blobs arrive', async () => {
    const window = {
      contentType: 'Audit.Exchange',
      startTime: '2026-11-20T00:00',
      endTime: '2026-11-21T00:00',
    };
    const snapshot = sim.truth
      .blobs({ tenantId: TENANT, contentType: 'Audit.Exchange', availableBy: new Date(NOW) })
      .filter((b) => b.contentCreated >= '2026-11-20T00:00:00.000Z')
      .map((b) => b.contentId);
    expect(snapshot.length).toBeGreaterThan(3 * 7);

    const first = await api(sim, token).get<ContentItem[]>('subscriptions/content', window);
    expect(first.data).toHaveLength(7);
    const next = new URL(String(first.headers.nextpageuri));
    expect(next.origin + next.pathname).toBe(`${sim.apiRoot(TENANT)}/subscriptions/content`);
    expect(next.searchParams.get('startTime')).toBe('2026-11-20T00:00');
    expect(next.searchParams.get('PublisherIdentifier')).toBe(PUBLISHER);
    expect(next.searchParams.get('nextPage')).toMatch(/^\d{17}R\d{9}$/);

    // Blobs keep arriving (activity runs to 14:00) while we page; the listing must not shift.
    const { items, headers } = await listAll(sim, token, window, () => sim.clock.advance(2 * 60_000));
    expect(headers.every((h) => h === 'nextpageuri')).toBe(true);
    expect(items.map((i) => i.contentId)).toEqual(snapshot);
    const after = await listAll(sim, await tokenFor(sim), window);
    expect(after.items.length).toBeGreaterThan(snapshot.length);
    expect(after.items.slice(0, snapshot.length).map((i) => i.contentId)).toEqual(snapshot);

    const invalid = await api(sim, token).get('subscriptions/content', { ...window, nextPage: 'bogus' });
    expect(invalid.data).toEqual({ error: { code: 'AF20031', message: 'Invalid nextPage Input: bogus.' } });
    const tooFar = await api(sim, token).get('subscriptions/content', {
      ...window,
      nextPage: '20261120120000000R000999999',
    });
    expect(errorCode(tooFar)).toBe('AF20031');
    const future = await api(sim, token).get('subscriptions/content', {
      ...window,
      nextPage: '20261121000000000R000000007',
    });
    expect(errorCode(future)).toBe('AF20031');
  });

  it('serves a blob as a JSON array matching ground truth; $ ids round-trip encoded or not', async () => {
    const { items } = await listAll(sim, token, {
      contentType: 'Audit.Exchange',
      startTime: '2026-11-20T08:00',
      endTime: '2026-11-20T09:00',
    });
    const item = items[0] as ContentItem;
    expect(item.contentId).toMatch(/^\d{23}\$\d{23}\$audit_exchange\$Audit_Exchange$/);
    expect(item.contentUri).toBe(`${sim.apiRoot(TENANT)}/audit/${item.contentId}`);
    const res = await http.get<Array<Record<string, unknown>>>(item.contentUri, {
      headers: { Authorization: `Bearer ${token}` },
    });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
    const truthIds = [...sim.truth.records({ tenantId: TENANT, contentType: 'Audit.Exchange' })]
      .filter((r) => r.contentId === item.contentId)
      .map((r) => r.id);
    expect(res.data.map((r) => r.Id)).toEqual(truthIds);
    expect(sim.truth.servedContentIds().has(item.contentId)).toBe(true);

    const encoded = `${sim.apiRoot(TENANT)}/audit/${encodeURIComponent(item.contentId)}`;
    const again = await http.get(encoded, { headers: { Authorization: `Bearer ${token}` } });
    expect(again.data).toEqual(res.data);
  });

  it('answers AF20051 once a blob expired and drops it from listings', async () => {
    const blob = sim.truth.blobs({ tenantId: TENANT, contentType: 'Audit.Exchange' })[0]!;
    sim.clock.set(new Date(Date.parse(blob.contentExpiration) - 1));
    const t1 = await tokenFor(sim);
    expect((await http.get(blob.contentUri, { headers: { Authorization: `Bearer ${t1}` } })).status).toBe(
      200,
    );
    sim.clock.set(blob.contentExpiration);
    const t2 = await tokenFor(sim);
    const gone = await http.get(blob.contentUri, { headers: { Authorization: `Bearer ${t2}` } });
    expect(gone.status).toBe(400);
    expect(gone.data).toEqual({
      error: {
        code: 'AF20051',
        message: `Content requested with the key ${blob.contentId} has already expired. Content older than 7 days cannot be retrieved.`,
      },
    });
    const start = new Date(Date.parse(blob.contentCreated) - 60_000).toISOString().slice(0, 19);
    const end = new Date(Date.parse(blob.contentCreated) + 60_000).toISOString().slice(0, 19);
    const listed = await api(sim, t2).get<ContentItem[]>('subscriptions/content', {
      contentType: 'Audit.Exchange',
      startTime: start,
      endTime: end,
    });
    expect(listed.status).toBe(200);
    expect(listed.data.map((i) => i.contentId)).not.toContain(blob.contentId);
  });

  it('answers AF20050 for an unknown contentId', async () => {
    const res = await http.get(sim.contentUri(TENANT, 'nope$nope'), {
      headers: { Authorization: `Bearer ${token}` },
    });
    expect(res.data).toEqual({
      error: { code: 'AF20050', message: 'The specified content (nope$nope) does not exist.' },
    });
  });
});

describe('simulator: next-page header spellings', () => {
  it.each([
    ['NextPageUri', ['nextpageuri']],
    ['NextPageUrl', ['nextpageurl']],
    ['alternate', ['nextpageuri', 'nextpageurl']],
  ] as const)('%s', async (mode, names) => {
    const sim = await startSimulator({
      scenario: scenario({ listing: { pageSize: 4, nextPageHeader: mode } }),
      clock: { start: NOW, frozen: true },
    });
    try {
      const token = await tokenFor(sim);
      const window = {
        contentType: 'Audit.Exchange',
        startTime: '2026-11-20T00:00',
        endTime: '2026-11-20T06:00',
      };
      const { items, headers } = await listAll(sim, token, window);
      const expected = sim.truth
        .blobs({ contentType: 'Audit.Exchange', availableBy: new Date(NOW) })
        .filter(
          (b) =>
            b.contentCreated >= '2026-11-20T00:00:00.000Z' && b.contentCreated < '2026-11-20T06:00:00.000Z',
        )
        .map((b) => b.contentId);
      expect(headers.length).toBe(Math.ceil(expected.length / 4) - 1);
      expect(new Set(headers)).toEqual(new Set(names));
      if (mode === 'alternate') expect(headers.slice(0, 2)).toEqual(['nextpageuri', 'nextpageurl']);
      expect(items.map((i) => i.contentId)).toEqual(expected);
    } finally {
      await sim.stop();
    }
  });
});

describe('simulator: per-tenant rate limit', () => {
  it('answers 403 AF429 over the limit, without Retry-After', async () => {
    const sim = await startSimulator({
      scenario: { ...scenario(), rateLimitPerMinute: 3 },
      clock: { start: NOW, frozen: true },
    });
    try {
      const a = api(sim, await tokenFor(sim));
      for (let i = 0; i < 3; i++) expect((await a.get('subscriptions/list')).status).toBe(200);
      const res = await a.get('subscriptions/list');
      expect(res.status).toBe(403);
      expect(res.headers['retry-after']).toBeUndefined();
      expect(res.data).toEqual({
        error: {
          code: 'AF429',
          message: `Too many requests. Method=ListSubscriptions, PublisherId=${PUBLISHER}`,
        },
      });
    } finally {
      await sim.stop();
    }
  });
});
