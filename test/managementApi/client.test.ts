import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { startSimulator, type Simulator } from '../../scripts/simulator';
import { CLOUD_ENDPOINTS, CLOUDS } from '../../shared/clouds';
import {
  AbortedError,
  ApiRequestError,
  AuthenticationError,
  ContentUnavailableError,
  MalformedResponseError,
  ManagementApiError,
  SubscriptionNotEnabledError,
  ThrottledError,
  UntrustedUrlError,
} from '../../shared/errors';
import {
  ManagementActivityClient,
  type ManagementActivityClientOptions,
} from '../../shared/managementApi/client';
import { RecordingCredential, SimulatorSecretCredential } from '../helpers/credentials';

const TENANT = '6f1d2c3b-4a59-4e68-9d7c-8b9a0f1e2d3c';
const PUBLISHER = '0a0b0c0d-1e2f-4a3b-8c4d-5e6f7a8b9c0d';
const NOW = '2026-11-20T12:00:00Z';

const hour = 3_600_000;
const at = (iso: string): Date => new Date(iso);

describe('ManagementActivityClient against the simulator', () => {
  let sim: Simulator;
  let clients: ManagementActivityClient[] = [];

  beforeAll(async () => {
    sim = await startSimulator({
      scenario: {
        seed: 'client-tests',
        tenants: [{ tenantId: TENANT, users: 20 }],
        activity: {
          start: '2026-11-18T00:00:00Z',
          end: '2026-11-20T11:00:00Z',
          recordsPerHour: {
            'Audit.Exchange': 60,
            'Audit.AzureActiveDirectory': 30,
            'Audit.SharePoint': 20,
            'Audit.General': 5,
            'DLP.All': 2,
          },
        },
        blobs: {
          recordsPerBlob: [1, 6],
          aggregationMinutes: 5,
          latencyMinutes: [1, 10],
          lateFraction: 0,
          duplicateFraction: 0,
        },
        listing: { pageSize: 7, nextPageHeader: 'alternate' },
        subscriptions: { preStarted: true },
        tokenLifetimeSeconds: 3599,
      },
      clock: { start: NOW, frozen: true },
    });
  });

  afterAll(async () => {
    await sim.stop();
  });

  beforeEach(() => {
    sim.faults.clear();
    sim.clock.set(NOW);
  });

  afterEach(() => {
    for (const c of clients) c.close();
    clients = [];
  });

  function credential(): SimulatorSecretCredential {
    const app = sim.apps[0]!;
    return new SimulatorSecretCredential(sim.baseUrl, TENANT, app.clientId, app.clientSecret!);
  }

  function client(options: Partial<ManagementActivityClientOptions> = {}): ManagementActivityClient {
    const c = new ManagementActivityClient({
      tenantId: TENANT,
      apiOrigin: sim.baseUrl,
      credential: credential(),
      publisherId: PUBLISHER,
      requestsPerMinute: 60_000,
      retry: { maxRetries: 4, baseDelayMs: 20, maxDelayMs: 100 },
      timeoutMs: 2000,
      ...options,
    });
    clients.push(c);
    return c;
  }

  async function listAll(c: ManagementActivityClient, start: Date, end: Date) {
    const ids: string[] = [];
    let pages = 0;
    for await (const page of c.listContent('Audit.Exchange', start, end)) {
      pages++;
      ids.push(...page.items.map((i) => i.contentId));
    }
    return { ids, pages };
  }

  it('lists every blob of a window across many pages, following both next-page header spellings', async () => {
    const start = at('2026-11-19T00:00:00Z');
    const end = at('2026-11-20T00:00:00Z');
    const expected = sim.truth
      .blobs({ tenantId: TENANT, contentType: 'Audit.Exchange' })
      .filter(
        (b) =>
          Date.parse(b.contentCreated) >= start.getTime() && Date.parse(b.contentCreated) < end.getTime(),
      )
      .map((b) => b.contentId);
    expect(expected.length).toBeGreaterThan(100);

    const { ids, pages } = await listAll(client(), start, end);
    expect(pages).toBe(Math.ceil(expected.length / 7));
    expect(new Set(ids).size).toBe(ids.length);
    expect([...ids].sort()).toEqual([...expected].sort());

    const listings = sim.truth.requests.filter((r) => r.route === 'content');
    expect(listings.some((r) => r.query.includes('nextPage='))).toBe(true);
  });

  it('fetches blobs and sends PublisherIdentifier and a token on every request', async () => {
    const c = client();
    const records = [];
    for await (const page of c.listContent(
      'Audit.Exchange',
      at('2026-11-20T08:00:00Z'),
      at('2026-11-20T10:00:00Z'),
    )) {
      for (const item of page.items) records.push(...(await c.fetchContent(item.contentUri)));
    }
    const truthIds = new Set(sim.truth.servedRecordIds());
    expect(records.length).toBeGreaterThan(0);
    for (const r of records) expect(truthIds.has(r.Id as string)).toBe(true);
    const api = sim.truth.requests.filter((r) => r.route !== 'token');
    expect(api.length).toBeGreaterThan(1);
    for (const r of api) {
      expect(r.publisherIdentifier).toBe(PUBLISHER);
      expect(r.hadAuthorization).toBe(true);
    }
  });

  it('caches the token, refreshes it before expiry, and recovers once from a 401', async () => {
    let now = Date.now();
    const c = client({ tokenCache: { now: () => now } });
    for (let i = 0; i < 5; i++) await c.listSubscriptions();
    expect(c.tokenAcquisitions).toBe(1);

    now += 3599_000 - 4 * 60_000; // inside the 5-minute refresh margin
    await c.listSubscriptions();
    expect(c.tokenAcquisitions).toBe(2);

    // The service rejects the (locally still fresh) token because its clock is past the token's
    // lifetime: one new token, then success.
    now = Date.now();
    await c.listSubscriptions();
    expect(c.tokenAcquisitions).toBe(2);
    sim.clock.advance(2 * hour);
    await expect(c.listSubscriptions()).resolves.toHaveLength(5);
    expect(c.tokenAcquisitions).toBe(3);
    const statuses = sim.truth.requests.filter((r) => r.route === 'list').map((r) => r.status);
    expect(statuses.slice(-2)).toEqual([401, 200]);
  });

  it('asks each cloud for a token scoped to that cloud API host', async () => {
    for (const cloud of CLOUDS) {
      const recording = new RecordingCredential();
      const c = client({ apiOrigin: CLOUD_ENDPOINTS[cloud].apiOrigin, credential: recording });
      await expect(c.listSubscriptions()).rejects.toBeInstanceOf(AuthenticationError);
      expect(recording.scopes).toEqual([`${CLOUD_ENDPOINTS[cloud].apiOrigin}/.default`]);
    }
  });

  it('honours Retry-After on 429', async () => {
    const blob = sim.truth.blobs({ tenantId: TENANT, contentType: 'Audit.Exchange' })[0]!;
    const fault = sim.faults.add({
      route: 'blob',
      action: { kind: 'throttle', shape: '429', retryAfterSeconds: 1 },
    });
    const c = client();
    const started = Date.now();
    const records = await c.fetchContent(blob.contentUri);
    expect(records.length).toBe(blob.recordCount);
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    expect(fault.hits).toBe(1);
    expect(c.stats).toMatchObject({ throttled: 1, retries: 1, requests: 2 });
  });

  it('backs off on 403 AF429 without Retry-After', async () => {
    const blob = sim.truth.blobs({ tenantId: TENANT, contentType: 'Audit.Exchange' })[1]!;
    sim.faults.add({ route: 'blob', times: 2, action: { kind: 'throttle', shape: '403-AF429' } });
    const c = client();
    await expect(c.fetchContent(blob.contentUri)).resolves.toHaveLength(blob.recordCount);
    expect(c.stats).toMatchObject({ throttled: 2, retries: 2 });
  });

  it('honours Retry-After on 403 AF429 too', async () => {
    const blob = sim.truth.blobs({ tenantId: TENANT, contentType: 'Audit.Exchange' })[3]!;
    sim.faults.add({ route: 'blob', action: { kind: 'throttle', shape: '403-AF429', retryAfterSeconds: 1 } });
    const c = client();
    const started = Date.now();
    await expect(c.fetchContent(blob.contentUri)).resolves.toHaveLength(blob.recordCount);
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    expect(c.stats).toMatchObject({ throttled: 1, retries: 1 });
  });

  it('backs off exponentially without Retry-After, and reports exhausted throttling as ThrottledError', async () => {
    const blob = sim.truth.blobs({ tenantId: TENANT, contentType: 'Audit.Exchange' })[4]!;
    sim.faults.add({ route: 'blob', times: Infinity, action: { kind: 'throttle', shape: '403-AF429' } });
    // Equal jitter: retry n waits at least half of 100 ms × 2^n, so 3 retries wait ≥ 50 + 100 + 200 ms.
    const c = client({ retry: { maxRetries: 3, baseDelayMs: 100, maxDelayMs: 10_000 } });
    const started = Date.now();
    const error = await c.fetchContent(blob.contentUri).catch((e: unknown) => e);
    expect(Date.now() - started).toBeGreaterThanOrEqual(340);
    expect(error).toBeInstanceOf(ThrottledError);
    expect(error).toMatchObject({ status: 403, serviceCode: 'AF429' });
    expect(c.stats).toMatchObject({ throttled: 4, retries: 3, requests: 4 });
  });

  it('paces requests to a tenant: no more than a second of burst, then evenly spaced', async () => {
    const blob = sim.truth.blobs({ tenantId: TENANT, contentType: 'Audit.General' })[0]!;
    // 600 a minute: a burst of 10, then one every 100 ms.
    const c = client({ requestsPerMinute: 600 });
    const started = Date.now();
    for (let i = 0; i < 30; i++) await c.fetchContent(blob.contentUri);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_900);
    expect(c.stats.requests).toBe(30);
  });

  it('gives up on a Retry-After longer than it is allowed to wait, as a ThrottledError', async () => {
    const blob = sim.truth.blobs({ tenantId: TENANT, contentType: 'Audit.Exchange' })[2]!;
    sim.faults.add({ route: 'blob', action: { kind: 'throttle', shape: '429', retryAfterSeconds: 600 } });
    const error = await client()
      .fetchContent(blob.contentUri)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ThrottledError);
    // The error base both API clients share: the fields their retry loop reads.
    expect(error).toBeInstanceOf(ApiRequestError);
    expect(error).toMatchObject({ status: 429, retryAfterMs: 600_000, throttled: true, code: 'Throttled' });
  });

  it('retries 5xx, timeouts, resets and truncated bodies, then succeeds', async () => {
    const blob = sim.truth.blobs({ tenantId: TENANT, contentType: 'Audit.SharePoint' })[0]!;
    for (const action of [
      { kind: 'error', status: 503 },
      {
        kind: 'error',
        status: 500,
        code: 'AF50000',
        message: 'An internal error occurred. Retry the request.',
      },
      { kind: 'hang' },
      { kind: 'reset' },
      { kind: 'truncate' },
    ] as const) {
      sim.faults.clear();
      const fault = sim.faults.add({ route: 'blob', action, times: 1 });
      const c = client({ timeoutMs: 300 });
      await expect(c.fetchContent(blob.contentUri)).resolves.toHaveLength(blob.recordCount);
      expect(fault.hits).toBe(1);
      expect(c.stats.retries).toBe(1);
    }
  });

  it('stops after maxRetries with a typed error carrying status, service code and request id', async () => {
    const blob = sim.truth.blobs({ tenantId: TENANT, contentType: 'Audit.SharePoint' })[1]!;
    sim.faults.add({
      route: 'blob',
      times: Infinity,
      action: { kind: 'error', status: 500, code: 'AF50000' },
    });
    const c = client();
    const error = await c.fetchContent(blob.contentUri).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ManagementApiError);
    expect(error).toMatchObject({ status: 500, serviceCode: 'AF50000', retryable: true });
    expect((error as ManagementApiError).requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(c.stats.requests).toBe(5);
  });

  it('does not retry errors that will not improve', async () => {
    const c = client();
    const tooLong = await (async () => {
      for await (const _ of c.listContent(
        'Audit.Exchange',
        at('2026-11-19T00:00:00Z'),
        at('2026-11-20T01:00:00Z'),
      )) {
        // drain
      }
    })().catch((e: unknown) => e);
    expect(tooLong).toBeInstanceOf(ManagementApiError);
    expect(tooLong).toMatchObject({ status: 400, serviceCode: 'AF20030', retryable: false });
    expect((tooLong as Error).message).toMatch(/HTTP 400 AF20030: Start time and end time/);
    expect(c.stats).toMatchObject({ requests: 1, retries: 0 });

    const expired = sim.truth.blobs({ tenantId: TENANT, contentType: 'Audit.Exchange' })[0]!;
    sim.clock.set(new Date(Date.parse(expired.contentExpiration) + 1000));
    const gone = await c.fetchContent(expired.contentUri).catch((e: unknown) => e);
    expect(gone).toBeInstanceOf(ContentUnavailableError);
    expect(gone).toMatchObject({ serviceCode: 'AF20051' });
    expect(c.stats.retries).toBe(0);
  });

  it('maps missing subscriptions to SubscriptionNotEnabledError and treats AF20024 as already enabled', async () => {
    sim.subscriptions.stop(TENANT, 'DLP.All');
    const c = client();
    const listing = c.listContent('DLP.All', at('2026-11-20T00:00:00Z'), at('2026-11-20T10:00:00Z'));
    await expect(listing.next()).rejects.toBeInstanceOf(SubscriptionNotEnabledError);
    await expect(c.startSubscription('DLP.All')).resolves.toMatchObject({
      status: 'enabled',
      alreadyEnabled: false,
    });
    await expect(c.startSubscription('DLP.All')).resolves.toMatchObject({
      status: 'enabled',
      alreadyEnabled: true,
    });
    const page = await c
      .listContent('DLP.All', at('2026-11-20T00:00:00Z'), at('2026-11-20T10:00:00Z'))
      .next();
    expect(page.done).toBe(false);
  });

  it('streams a blob record by record and, when the body is cut off, resumes after the records handed over', async () => {
    const blob = sim.truth
      .blobs({ tenantId: TENANT, contentType: 'Audit.Exchange' })
      .sort((a, b) => b.recordCount - a.recordCount)[0]!;
    expect(blob.recordCount).toBeGreaterThanOrEqual(4);
    const fault = sim.faults.add({ route: 'blob', contentId: blob.contentId, action: { kind: 'truncate' } });
    const c = client();
    const seen: number[] = [];
    let duringFirstAttempt = 0;
    const result = await c.readContent(blob.contentUri, (e) => {
      expect(e.kind).toBe('record');
      seen.push(e.index);
      if (c.stats.requests === 1) duringFirstAttempt++;
    });
    expect(fault.hits).toBe(1);
    expect(c.stats).toMatchObject({ requests: 2, retries: 1 });
    // Some records came before the cut; none of them came twice.
    expect(duringFirstAttempt).toBeGreaterThan(0);
    expect(seen).toEqual(Array.from({ length: blob.recordCount }, (_, i) => i));
    expect(result).toMatchObject({ elements: blob.recordCount, records: blob.recordCount, rejected: 0 });
  });

  it('refuses a listing larger than its cap at once instead of fetching it again', async () => {
    const c = client({ maxResponseBytes: 2_000 });
    const error = await c
      .listContent('Audit.Exchange', at('2026-11-19T00:00:00Z'), at('2026-11-20T00:00:00Z'))
      .next()
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ManagementApiError);
    expect(error).toMatchObject({ retryable: false, serviceCode: 'ResponseTooLarge' });
    expect(c.stats).toMatchObject({ requests: 1, retries: 0 });
  });

  it('turns a malformed body into MalformedResponseError: retried when cut off, not when mis-shaped', async () => {
    const blob = sim.truth.blobs({ tenantId: TENANT, contentType: 'Audit.Exchange' })[3]!;
    sim.faults.add({
      route: 'blob',
      times: Infinity,
      action: { kind: 'malformed', body: '[{"Id": "abc", "Crea' },
    });
    const c = client();
    const cut = await c.fetchContent(blob.contentUri).catch((e: unknown) => e);
    expect(cut).toBeInstanceOf(MalformedResponseError);
    expect((cut as Error).message).toContain('cut-off body');
    expect(c.stats.retries).toBe(4);

    sim.faults.clear();
    sim.faults.add({
      route: 'content',
      times: Infinity,
      action: { kind: 'malformed', body: '{"value": []}' },
    });
    const c2 = client();
    const listing = c2.listContent('Audit.Exchange', at('2026-11-20T00:00:00Z'), at('2026-11-20T01:00:00Z'));
    const shape = await listing.next().catch((e: unknown) => e);
    expect(shape).toBeInstanceOf(MalformedResponseError);
    expect((shape as Error).message).toContain('expected a JSON array of content blobs');
    expect(c2.stats.retries).toBe(0);
  });

  it('aborts promptly while backing off', async () => {
    const blob = sim.truth.blobs({ tenantId: TENANT, contentType: 'Audit.Exchange' })[4]!;
    sim.faults.add({
      route: 'blob',
      times: Infinity,
      action: { kind: 'throttle', shape: '429', retryAfterSeconds: 60 },
    });
    const controller = new AbortController();
    const c = client({ retry: { maxRetries: 4, maxRetryAfterMs: 120_000 } });
    setTimeout(() => controller.abort(), 100);
    const started = Date.now();
    await expect(c.fetchContent(blob.contentUri, { signal: controller.signal })).rejects.toBeInstanceOf(
      AbortedError,
    );
    expect(Date.now() - started).toBeLessThan(2000);
  });
});

describe('token confinement', () => {
  // A rogue "API" on one loopback port hands out links to a second server, which records what it receives.
  let foreignHits: http.IncomingHttpHeaders[] = [];
  let foreign: http.Server;
  let rogue: http.Server;
  let foreignOrigin: string;
  let rogueOrigin: string;

  const listen = async (handler: http.RequestListener): Promise<[http.Server, string]> => {
    const server = http.createServer(handler);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return [server, `http://127.0.0.1:${(server.address() as AddressInfo).port}`];
  };

  beforeAll(async () => {
    [foreign, foreignOrigin] = await listen((req, res) => {
      foreignHits.push(req.headers);
      res.writeHead(200, { 'content-type': 'application/json' }).end('[]');
    });
    [rogue, rogueOrigin] = await listen((req, res) => {
      const item = {
        contentType: 'Audit.Exchange',
        contentId: 'x',
        contentUri: `${foreignOrigin}/api/v1.0/${TENANT}/activity/feed/audit/x`,
        contentCreated: '2026-11-20T00:00:00.000Z',
        contentExpiration: '2026-11-27T00:00:00.000Z',
      };
      res.writeHead(200, {
        'content-type': 'application/json',
        NextPageUri: `${foreignOrigin}/api/v1.0/${TENANT}/activity/feed/subscriptions/content?nextPage=2`,
      });
      res.end(JSON.stringify([item]));
    });
  });

  afterAll(async () => {
    await Promise.all([foreign, rogue].map((s) => new Promise((r) => s.close(r))));
  });

  const tokenCredential = {
    getToken: () => Promise.resolve({ token: 'secret-token', expiresOnTimestamp: Date.now() + 3_600_000 }),
  };

  it('refuses a foreign contentUri or NextPageUri without sending the token', async () => {
    foreignHits = [];
    const c = new ManagementActivityClient({
      tenantId: TENANT,
      apiOrigin: rogueOrigin,
      credential: tokenCredential,
    });
    try {
      const pages = c.listContent('Audit.Exchange', at('2026-11-20T00:00:00Z'), at('2026-11-20T01:00:00Z'));
      const first = await pages.next();
      expect(first.done).toBe(false);
      const item = first.value!.items[0]!;
      await expect(c.fetchContent(item.contentUri)).rejects.toBeInstanceOf(UntrustedUrlError);
      await expect(pages.next()).rejects.toThrow(/not on the configured Management API host/);
      await expect(c.fetchContent(`${rogueOrigin.replace('http:', 'https:')}/x`)).rejects.toBeInstanceOf(
        UntrustedUrlError,
      );
      await expect(c.fetchContent(`http://user:pw@${rogueOrigin.slice(7)}/x`)).rejects.toBeInstanceOf(
        UntrustedUrlError,
      );
      expect(foreignHits).toEqual([]);
    } finally {
      c.close();
    }
  });
});
