import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSimulator, type Simulator } from '../../scripts/simulator';
import { ManagementCredentials } from '../../shared/auth/credentials';
import { CLOUD_ENDPOINTS, CLOUDS } from '../../shared/clouds';
import { loadConfig, type AuditfeedConfig } from '../../shared/config';
import { AbortedError, ApiRequestError, ConfigError, UntrustedUrlError } from '../../shared/errors';
import { GraphAuditClient, graphAuditClientFromConfig } from '../../shared/graphAudit/client';
import {
  AUDIT_QUERY_PERMISSION,
  GraphAuditError,
  GraphAuditUnavailableError,
  GraphMalformedResponseError,
  GraphPermissionError,
  GraphThrottledError,
} from '../../shared/graphAudit/errors';
import type { AuditLogQuery } from '../../shared/graphAudit/types';

const TENANT = '6f1d2c3b-4a59-4e68-9d7c-8b9a0f1e2d3c';
const APP = { clientId: 'c0ffee00-0000-4000-8000-0000000000b1', clientSecret: 'very~secret~value' };
const NO_GRAPH_APP = {
  clientId: 'c0ffee00-0000-4000-8000-0000000000b2',
  clientSecret: 'other~secret~value',
  permissions: ['ActivityFeed.Read'],
};
/** The function's identity path: a managed identity whose assertion the app's federated credential accepts. */
const MI = {
  clientId: 'c0ffee00-0000-4000-8000-0000000000c1',
  principalId: 'c0ffee00-0000-4000-8000-0000000000c2',
};
const FEDERATED_APP = {
  clientId: 'c0ffee00-0000-4000-8000-0000000000b3',
  federated: { subject: MI.principalId },
};
const NOW = '2026-11-20T12:00:00.000Z';
const DAY = 86_400_000;

/** Every error text a test produced, checked at the end for secrets and query strings. */
const messages: string[] = [];

async function expectError<E extends Error>(p: Promise<unknown>, type: new (...a: never[]) => E): Promise<E> {
  const e = await p.then(
    () => undefined,
    (x: unknown) => x,
  );
  expect(e).toBeInstanceOf(type);
  messages.push((e as Error).message);
  return e as E;
}

describe('GraphAuditClient against the simulator', () => {
  let sim: Simulator;
  let config: AuditfeedConfig;
  let env: Record<string, string>;
  const clients: GraphAuditClient[] = [];
  /** Waits the client asked for, in ms; each also moves the simulator's clock (nothing waits). */
  let slept: number[] = [];

  beforeAll(async () => {
    sim = await startSimulator({
      tls: true,
      scenario: {
        seed: 'graph-client',
        tenants: [{ tenantId: TENANT }],
        apps: [APP, NO_GRAPH_APP, FEDERATED_APP],
        managedIdentities: [MI],
        activity: {
          start: new Date(Date.parse(NOW) - 20 * DAY).toISOString(),
          end: NOW,
          recordsPerHour: {
            'Audit.AzureActiveDirectory': 2,
            'Audit.Exchange': 3,
            'Audit.SharePoint': 2,
            'Audit.General': 1,
            'DLP.All': 0.1,
          },
        },
        blobs: { aggregationMinutes: 60 },
        graphAudit: { pageSize: 25, startDelaySeconds: 5, runSeconds: [30, 30] },
      },
      clock: { start: NOW, frozen: true },
    });
    const dir = mkdtempSync(join(tmpdir(), 'auditfeed-graph-'));
    const caFile = join(dir, 'simulator-ca.pem');
    writeFileSync(caFile, sim.caPem!);
    env = {
      AUDITFEED_TENANT_IDS: TENANT,
      AUDITFEED_AUTH_MODE: 'secret',
      AUDITFEED_CLIENT_ID: APP.clientId,
      AUDITFEED_CLIENT_SECRET: APP.clientSecret,
      AUDITFEED_API_ENDPOINT: sim.baseUrl,
      AUDITFEED_LOGIN_ENDPOINT: sim.baseUrl,
      AUDITFEED_GRAPH_ENDPOINT: sim.graphAudit.baseUrl,
      AUDITFEED_TLS_CA_FILE: caFile,
      AUDITFEED_STORAGE: 'UseDevelopmentStorage=true',
      AUDITFEED_COSMOS__accountEndpoint: 'http://127.0.0.1:1',
      AUDITFEED_COSMOS__accountKey: 'bm90LXVzZWQ=',
      AUDITFEED_MAX_RETRIES: '3',
    };
    config = loadConfig(env);
  });

  afterAll(async () => {
    for (const c of clients) c.close();
    await sim.stop();
  });

  beforeEach(() => {
    sim.faults.clear();
    sim.clock.set(NOW);
    sim.graphAudit.reset();
    sim.truth.clearRequests();
    slept = [];
  });

  /** The production path: settings → ManagementCredentials (@azure/identity) → client. */
  function fromConfig(extraEnv: Record<string, string> = {}): GraphAuditClient {
    const cfg = Object.keys(extraEnv).length ? loadConfig({ ...env, ...extraEnv }) : config;
    const client = graphAuditClientFromConfig(cfg, new ManagementCredentials(cfg.auth, cfg.endpoints), {
      sleep: (ms) => {
        slept.push(ms);
        sim.clock.advance(ms);
        return Promise.resolve();
      },
      retry: { maxRetries: 3, random: () => 0 },
    });
    clients.push(client);
    return client;
  }

  /** A client over the project's credentials for `app`, recording each token request's scope. */
  function withHelperCredential(app: { clientId: string; clientSecret: string } = APP) {
    const cfg = loadConfig({
      ...env,
      AUDITFEED_CLIENT_ID: app.clientId,
      AUDITFEED_CLIENT_SECRET: app.clientSecret,
    });
    const inner = new ManagementCredentials(cfg.auth, cfg.endpoints).forTenant(TENANT);
    const credential = {
      scopes: [] as string[],
      getToken(scopes: string | string[]) {
        credential.scopes.push(Array.isArray(scopes) ? scopes.join(' ') : scopes);
        return inner.getToken(scopes);
      },
    };
    const client = graphAuditClientFromConfig(
      cfg,
      { forTenant: () => credential },
      {
        sleep: (ms) => {
          slept.push(ms);
          sim.clock.advance(ms);
          return Promise.resolve();
        },
        retry: { maxRetries: 3, random: () => 0 },
        consent: { loginHost: sim.baseUrl, clientId: app.clientId },
      },
    );
    clients.push(client);
    return { client, credential };
  }

  const range = {
    displayName: 'auditfeed test',
    filterStartDateTime: new Date(Date.parse(NOW) - 15 * DAY).toISOString(),
    filterEndDateTime: new Date(Date.parse(NOW) - 14 * DAY).toISOString(),
  };

  async function pollUntilDone(client: GraphAuditClient, q: AuditLogQuery): Promise<AuditLogQuery> {
    let cur = q;
    const seen = [cur.status];
    while (cur.status === 'notStarted' || cur.status === 'running') {
      sim.clock.advance(10_000);
      cur = await client.getQuery(TENANT, q.id);
      seen.push(cur.status);
    }
    expect(seen[0]).toBe('notStarted');
    expect(seen).toContain('running');
    return cur;
  }

  it('creates a query, polls it to succeeded and pages every record once, through the configured settings', async () => {
    expect(config.endpoints.graphOrigin).toBe(sim.baseUrl);
    const client = fromConfig();
    const created = await client.createQuery(TENANT, range);
    expect(created).toMatchObject({
      status: 'notStarted',
      displayName: 'auditfeed test',
      filterStartDateTime: range.filterStartDateTime,
    });
    const done = await pollUntilDone(client, created);
    expect(done).toMatchObject({ status: 'succeeded', isRecordCountLimitExceeded: false });

    const ids: string[] = [];
    let pages = 0;
    let next: string | undefined;
    do {
      const page = await client.listRecords(TENANT, created.id, next);
      pages++;
      for (const r of page.records) ids.push((r as { id: string }).id);
      next = page.nextLink;
    } while (next !== undefined);
    expect(pages).toBeGreaterThan(2);
    expect(ids).toEqual(
      sim.graphAudit.recordIds({
        tenantId: TENANT,
        start: new Date(range.filterStartDateTime),
        end: new Date(range.filterEndDateTime),
      }),
    );
    expect(done.approximateReturnedRecordCount).toBe(ids.length);
    expect(client.tokenAcquisitions).toBe(1);
    const graphRequests = sim.truth.requests.filter((r) => r.route.startsWith('graph'));
    expect(client.stats).toEqual({ requests: graphRequests.length, retries: 0, throttled: 0 });
    expect(graphRequests.every((r) => r.status === 200 || r.status === 201)).toBe(true);
  });

  it('asks for the Graph scope and takes a fresh token once when one is refused', async () => {
    const { client, credential } = withHelperCredential();
    const q = await client.createQuery(TENANT, range);
    expect(credential.scopes).toEqual(['https://graph.microsoft.com/.default']);
    // Two hours on the simulator's clock: the token has expired there, not on the client's (wall) clock,
    // so the credential (MSAL's cache) hands back the same token: one fresh attempt, then a typed error.
    sim.clock.advance(2 * 3_600_000);
    const e = await expectError(client.getQuery(TENANT, q.id), GraphAuditError);
    expect(e).toMatchObject({ status: 401, serviceCode: 'InvalidAuthenticationToken', retryable: false });
    expect(credential.scopes).toEqual(Array(2).fill('https://graph.microsoft.com/.default'));
    expect(sim.truth.requests.filter((r) => r.route === 'graphQuery')).toHaveLength(2);
    expect(slept).toEqual([]);
  });

  it('works through the federated credential (managed identity assertion) as the Management API does', async () => {
    const saved = {
      IDENTITY_ENDPOINT: process.env.IDENTITY_ENDPOINT,
      IDENTITY_HEADER: process.env.IDENTITY_HEADER,
    };
    Object.assign(process.env, sim.managedIdentity.env());
    try {
      const cfg = loadConfig({
        ...env,
        AUDITFEED_AUTH_MODE: 'federated',
        AUDITFEED_CLIENT_ID: FEDERATED_APP.clientId,
        AUDITFEED_MANAGED_IDENTITY_CLIENT_ID: MI.clientId,
        AUDITFEED_CLIENT_SECRET: '',
      });
      // The managed identity endpoint is the simulator's, over its self-signed TLS.
      const credentials = new ManagementCredentials(cfg.auth, cfg.endpoints, {
        tlsOptions: { ca: sim.caPem! },
      });
      const client = graphAuditClientFromConfig(cfg, credentials);
      clients.push(client);
      const q = await client.createQuery(TENANT, range);
      expect(q.status).toBe('notStarted');
      const msi = sim.truth.requests.filter((r) => r.route === 'msi');
      expect(msi.length).toBeGreaterThan(0);
      expect(msi.every((r) => r.query.includes(MI.clientId))).toBe(true);
    } finally {
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  });

  it('waits out 429 Retry-After on the virtual clock, and hands a long Retry-After to the caller', async () => {
    const { client } = withHelperCredential();
    sim.faults.add({
      route: 'graphQueries',
      times: 2,
      action: { kind: 'throttle', shape: '429', retryAfterSeconds: 30 },
    });
    const q = await client.createQuery(TENANT, range);
    expect(q.status).toBe('notStarted');
    expect(slept).toEqual([30_000, 30_000]);
    expect(client.stats).toMatchObject({ throttled: 2, retries: 2 });

    // A daily limit's Retry-After is hours: not waited for here, the backfill decides.
    sim.faults.add({
      route: 'graphQueries',
      action: { kind: 'throttle', shape: '429', retryAfterSeconds: 7200 },
    });
    slept = [];
    const e = await expectError(client.createQuery(TENANT, range), GraphThrottledError);
    expect(e.retryAfterMs).toBe(7_200_000);
    expect(e.status).toBe(429);
    expect(e.serviceCode).toBe('TooManyRequests');
    expect(slept).toEqual([]);

    // 503 with Retry-After is honoured the same way.
    sim.faults.add({ route: 'graphQuery', action: { kind: 'error', status: 503, retryAfterSeconds: 4 } });
    expect((await client.getQuery(TENANT, q.id)).id).toBe(q.id);
    expect(slept).toEqual([4_000]);
  });

  it('hands the caller a Retry-After past maxRetryAfterMs, and throttling past maxThrottleWaitMs, unwaited', async () => {
    // As the backfill would set them, over the configured settings (AUDITFEED_MAX_RETRIES=3 above).
    const client = graphAuditClientFromConfig(
      config,
      new ManagementCredentials(config.auth, config.endpoints),
      {
        sleep: (ms) => {
          slept.push(ms);
          sim.clock.advance(ms);
          return Promise.resolve();
        },
        retry: { maxRetryAfterMs: 60_000, maxThrottleWaitMs: 100_000, random: () => 0 },
      },
    );
    clients.push(client);
    const creates = (): number => sim.truth.requests.filter((r) => r.route === 'graphQueries').length;

    // 10 minutes: more than the client may wait in one go, so the caller gets it at once.
    sim.faults.add({
      route: 'graphQueries',
      action: { kind: 'throttle', shape: '429', retryAfterSeconds: 600 },
    });
    const long = await expectError(client.createQuery(TENANT, range), GraphThrottledError);
    expect(long).toBeInstanceOf(ApiRequestError);
    expect(long).toMatchObject({
      status: 429,
      retryAfterMs: 600_000,
      throttled: true,
      code: 'GraphThrottled',
    });
    expect(slept).toEqual([]);
    expect(creates()).toBe(1);

    // 40 s each: waited twice (80 s), the third would pass the 100 s budget of the call.
    sim.faults.add({
      route: 'graphQueries',
      times: 3,
      action: { kind: 'throttle', shape: '429', retryAfterSeconds: 40 },
    });
    const spent = await expectError(client.createQuery(TENANT, range), GraphThrottledError);
    expect(spent.retryAfterMs).toBe(40_000);
    expect(slept).toEqual([40_000, 40_000]);
    expect(creates()).toBe(4);

    // The budget is per call: the next call waits again, and gets through.
    sim.faults.add({
      route: 'graphQueries',
      action: { kind: 'throttle', shape: '429', retryAfterSeconds: 40 },
    });
    slept = [];
    expect((await client.createQuery(TENANT, range)).status).toBe('notStarted');
    expect(slept).toEqual([40_000]);

    // A retry setting passed in keeps the configured maxRetries (3), not the client's default 6.
    slept = [];
    sim.faults.add({ route: 'graphQueries', times: Infinity, action: { kind: 'error', status: 500 } });
    await expectError(client.createQuery(TENANT, range), GraphAuditError);
    expect(slept).toEqual([500, 1000, 2000]);
  });

  it('throttles for real: the simulator’s concurrent-query limit answers 429 and the client waits for the slot', async () => {
    const s = await startSimulator({
      tls: true,
      scenario: {
        seed: 'graph-client-limit',
        tenants: [{ tenantId: TENANT }],
        apps: [APP],
        activity: { start: new Date(Date.parse(NOW) - DAY).toISOString(), end: NOW },
        graphAudit: { runSeconds: [60, 60], maxConcurrentQueries: 1 },
      },
      clock: { start: NOW, frozen: true },
    });
    try {
      const dir = mkdtempSync(join(tmpdir(), 'auditfeed-graph-'));
      writeFileSync(join(dir, 'ca.pem'), s.caPem!);
      const cfg = loadConfig({
        ...env,
        AUDITFEED_LOGIN_ENDPOINT: s.baseUrl,
        AUDITFEED_API_ENDPOINT: s.baseUrl,
        AUDITFEED_TLS_CA_FILE: join(dir, 'ca.pem'),
      });
      const waits: number[] = [];
      const client = new GraphAuditClient({
        graphOrigin: s.graphAudit.baseUrl,
        scope: s.graphAudit.scope,
        credentials: new ManagementCredentials(cfg.auth, cfg.endpoints),
        tlsCaPem: s.caPem!,
        sleep: (ms) => {
          waits.push(ms);
          s.clock.advance(ms);
          return Promise.resolve();
        },
      });
      clients.push(client);
      await client.createQuery(TENANT, range);
      s.clock.advance(20_000);
      await client.createQuery(TENANT, range);
      expect(waits).toEqual([40_000]);
      expect(s.graphAudit.stats()).toMatchObject({ created: 2, throttledConcurrent: 1 });
    } finally {
      await s.stop();
    }
  });

  it('stops waiting out a Retry-After when the caller aborts', async () => {
    const cfg = loadConfig(env);
    const client = graphAuditClientFromConfig(cfg, new ManagementCredentials(cfg.auth, cfg.endpoints));
    clients.push(client);
    sim.faults.add({
      route: 'graphQueries',
      action: { kind: 'throttle', shape: '429', retryAfterSeconds: 60 },
    });
    const abort = new AbortController();
    const pending = client.createQuery(TENANT, range, { abortSignal: abort.signal });
    // Aborted once the throttled answer is in and the client is waiting (real timers, 60 s it never waits).
    while (sim.truth.requests.filter((r) => r.route === 'graphQueries').length === 0) {
      await new Promise((r) => setTimeout(r, 10));
    }
    setTimeout(() => abort.abort(), 50);
    await expectError(pending, AbortedError);
    // One request: no retry went out after the abort.
    expect(client.stats.requests).toBe(1);
    expect(sim.truth.requests.filter((r) => r.route === 'graphQueries')).toHaveLength(1);
  });

  it('retries 5xx with backoff, and gives up after maxRetries with a typed, retryable error', async () => {
    const { client } = withHelperCredential();
    const q = await client.createQuery(TENANT, range);
    sim.faults.add({ route: 'graphQuery', times: 2, action: { kind: 'error', status: 500 } });
    expect((await client.getQuery(TENANT, q.id)).id).toBe(q.id);
    expect(slept).toEqual([500, 1000]); // equal jitter with random() = 0: half of 1 s, 2 s
    slept = [];
    sim.faults.add({ route: 'graphQuery', times: Infinity, action: { kind: 'error', status: 502 } });
    const e = await expectError(client.getQuery(TENANT, q.id), GraphAuditError);
    expect(e).toMatchObject({ status: 502, retryable: true, code: 'GraphAuditError' });
    expect(slept).toHaveLength(3);
  });

  it('retries a cut-off JSON page, refuses a page of the wrong shape at once', async () => {
    const { client } = withHelperCredential();
    const q = await client.createQuery(TENANT, range);
    sim.clock.advance(60_000);
    sim.faults.add({ route: 'graphRecords', times: 1, action: { kind: 'malformed' } });
    const page = await client.listRecords(TENANT, q.id);
    expect(page.records.length).toBe(25);
    expect(slept).toHaveLength(1);

    slept = [];
    sim.faults.add({ route: 'graphRecords', times: Infinity, action: { kind: 'malformed' } });
    const cut = await expectError(client.listRecords(TENANT, q.id), GraphMalformedResponseError);
    expect(cut.message).toContain('not valid JSON');
    expect(slept).toHaveLength(3);

    sim.faults.clear();
    slept = [];
    sim.faults.add({ route: 'graphQuery', action: { kind: 'malformed', body: '{"value":[]}' } });
    const shape = await expectError(client.getQuery(TENANT, q.id), GraphMalformedResponseError);
    expect(shape.message).toContain('no id');
    expect(slept).toEqual([]);
  });

  it('refuses an @odata.nextLink to another host without sending the token, on arrival and when asked', async () => {
    const { client, credential } = withHelperCredential();
    const q = await client.createQuery(TENANT, range);
    sim.clock.advance(60_000);
    const tokensBefore = credential.scopes.length;
    const before = sim.truth.requests.length;
    const foreign =
      'https://graph.example.net/v1.0/security/auditLog/queries/x/records?$skiptoken=abc&sig=secret1';
    const e = await expectError(client.listRecords(TENANT, q.id, foreign), UntrustedUrlError);
    expect(e.message).toContain('Microsoft Graph host');
    expect(e.message).not.toContain('secret1');
    expect(sim.truth.requests.length).toBe(before);
    expect(credential.scopes.length).toBe(tokensBefore);

    // A page that points elsewhere: the link is refused before the caller can store or follow it.
    sim.faults.add({
      route: 'graphRecords',
      action: {
        kind: 'malformed',
        body: JSON.stringify({
          value: [],
          '@odata.nextLink': foreign.replace('graph.example.net', 'localhost:1'),
        }),
      },
    });
    await expectError(client.listRecords(TENANT, q.id), UntrustedUrlError);
  });

  it('names AuditLogsQuery.Read.All and admin consent when the permission is missing', async () => {
    const { client } = withHelperCredential(NO_GRAPH_APP);
    const e = await expectError(client.createQuery(TENANT, range), GraphPermissionError);
    expect(e).toMatchObject({
      status: 403,
      serviceCode: 'Forbidden',
      retryable: false,
      code: 'GraphPermissionMissing',
    });
    expect(e.message).toContain(AUDIT_QUERY_PERMISSION);
    expect(e.message).toContain('admin consent');
    expect(e.message).toContain(`${sim.baseUrl}/${TENANT}/adminconsent?client_id=${NO_GRAPH_APP.clientId}`);
    expect(slept).toEqual([]);
  });

  it('keeps query strings out of error messages', async () => {
    const { client } = withHelperCredential();
    const q = await client.createQuery(TENANT, range);
    sim.clock.advance(60_000);
    const first = await client.listRecords(TENANT, q.id);
    expect(first.nextLink).toContain('skiptoken=');
    sim.faults.add({
      route: 'graphRecords',
      times: Infinity,
      action: { kind: 'error', status: 400, message: 'nope' },
    });
    const e = await expectError(client.listRecords(TENANT, q.id, first.nextLink), GraphAuditError);
    expect(e.request).toMatch(/^GET \/v1\.0\/security\/auditLog\/queries\/[^?]+\/records\?…$/);
    expect(e.message).not.toContain('skiptoken');
  });

  it('says the API is not offered outside the global service, before any request, and points to import', async () => {
    const before = sim.truth.requests.length;
    const client = fromConfig({ AUDITFEED_CLOUD: 'GCCHigh' });
    const e = await expectError(client.createQuery(TENANT, range), GraphAuditUnavailableError);
    expect(e.message).toContain('GCCHigh');
    expect(e.message).toContain('auditfeed import');
    expect(sim.truth.requests.length).toBe(before);

    // GCC runs on the global Graph; a "not here" answer turns into the same advice.
    const gcc = fromConfig({ AUDITFEED_CLOUD: 'GCC' });
    sim.faults.add({ route: 'graphQueries', action: { kind: 'error', status: 404, code: 'NotFound' } });
    await expectError(gcc.createQuery(TENANT, range), GraphAuditUnavailableError);
    expect((await gcc.createQuery(TENANT, range)).status).toBe('notStarted');
  });

  // Runs last (tests run in order): every error the tests above provoked.
  it('never puts a secret or a query string in an error message', () => {
    expect(messages.length).toBeGreaterThan(8);
    for (const m of messages) {
      expect(m).not.toContain(APP.clientSecret);
      expect(m).not.toContain(NO_GRAPH_APP.clientSecret);
      expect(m).not.toMatch(/skiptoken=|secret=|sig=/i);
    }
  });
});

describe('Graph settings', () => {
  const base = {
    AUDITFEED_TENANT_IDS: TENANT,
    AUDITFEED_CLIENT_ID: APP.clientId,
    AUDITFEED_MANAGED_IDENTITY_CLIENT_ID: '5b8e2f14-9a3c-4e6d-b1f0-7c2a9e4d8b63',
    AUDITFEED_STORAGE: 'UseDevelopmentStorage=true',
    AUDITFEED_COSMOS__accountEndpoint: 'http://127.0.0.1:8081',
    AUDITFEED_COSMOS__accountKey: 'a2V5',
  };

  it('takes each cloud’s Graph host, documented for the global service only', () => {
    for (const cloud of CLOUDS) {
      const c = loadConfig({ ...base, AUDITFEED_CLOUD: cloud });
      expect(c.endpoints.graphOrigin).toBe(CLOUD_ENDPOINTS[cloud].graphOrigin);
      expect(c.endpoints.auditLogQuery).toBe(CLOUD_ENDPOINTS[cloud].auditLogQuery);
    }
    expect(CLOUD_ENDPOINTS.GCC.graphOrigin).toBe(CLOUD_ENDPOINTS.Enterprise.graphOrigin);
    expect(CLOUDS.filter((c) => CLOUD_ENDPOINTS[c].auditLogQuery === 'documented')).toEqual(['Enterprise']);
  });

  it('accepts AUDITFEED_GRAPH_ENDPOINT on loopback only', () => {
    const c = loadConfig({ ...base, AUDITFEED_GRAPH_ENDPOINT: 'https://127.0.0.1:7443' });
    expect(c.endpoints).toMatchObject({ graphOrigin: 'https://127.0.0.1:7443', overridden: true });
    expect(c.endpoints.apiOrigin).toBe('https://manage.office.com');
    let err: unknown;
    try {
      loadConfig({ ...base, AUDITFEED_GRAPH_ENDPOINT: 'https://graph.microsoft.com' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const problems = (err as ConfigError).problems;
    expect(problems.map((p) => p.setting)).toEqual(['AUDITFEED_GRAPH_ENDPOINT']);
    expect(problems[0]?.problem).toContain('loopback');
  });
});
