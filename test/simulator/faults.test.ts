import { request } from 'node:http';
import { startSimulator } from '../../scripts/simulator';
import type { FaultAction, ScenarioSpec, Simulator } from '../../scripts/simulator';
import { PUBLISHER, TENANT, api, errorCode, http, tokenFor } from './helpers';

const NOW = '2026-11-20T12:00:00Z';
const records = (n: number, tag: string) =>
  Array.from({ length: n }, (_, i) => ({
    Id: `${tag}-${i}`,
    CreationTime: '2026-11-20T09:00:00',
    Operation: 'X',
  }));

const SCENARIO: ScenarioSpec = {
  seed: 'faults',
  tenants: [{ tenantId: TENANT }],
  contentTypes: ['Audit.General'],
  activity: { start: NOW, end: NOW },
  subscriptions: { preStarted: true },
  explicit: [
    {
      tenantId: TENANT,
      contentType: 'Audit.General',
      contentCreated: '2026-11-20T10:00:00Z',
      contentId: 'blob$one',
      records: records(40, 'one'),
    },
    {
      tenantId: TENANT,
      contentType: 'Audit.General',
      contentCreated: '2026-11-20T10:05:00Z',
      contentId: 'blob$two',
      records: records(3, 'two'),
    },
    {
      tenantId: TENANT,
      contentType: 'Audit.General',
      contentCreated: '2026-11-20T10:10:00Z',
      contentId: 'blob$three',
      records: records(5, 'three'),
    },
  ],
};

interface RawResult {
  status?: number;
  headers?: Record<string, string | string[] | undefined>;
  bytes: number;
  error?: string;
}

/** A bare node:http GET that reports what arrived before the connection ended, however it ended. */
function rawGet(url: string, token: string): Promise<RawResult> {
  return new Promise((resolve) => {
    const out: RawResult = { bytes: 0 };
    const req = request(url, { headers: { Authorization: `Bearer ${token}` }, agent: false }, (res) => {
      out.status = res.statusCode;
      out.headers = res.headers;
      res.on('data', (c: Buffer) => (out.bytes += c.length));
      res.on('end', () => resolve(out));
      res.on('error', (e) => resolve({ ...out, error: e.message }));
    });
    req.on('error', (e) => resolve({ ...out, error: (e as NodeJS.ErrnoException).code ?? e.message }));
    req.end();
  });
}

describe('simulator: fault injection', () => {
  let sim: Simulator;
  let token: string;
  let one: string;
  let two: string;

  beforeAll(async () => {
    sim = await startSimulator({ scenario: SCENARIO, clock: { start: NOW, frozen: true } });
    token = await tokenFor(sim);
    one = sim.contentUri(TENANT, 'blob$one');
    two = sim.contentUri(TENANT, 'blob$two');
  });

  afterAll(() => sim.stop());

  beforeEach(() => sim.faults.clear());

  const get = (url: string, timeout = 5000) =>
    http.get(url, {
      headers: { Authorization: `Bearer ${token}` },
      params: { PublisherIdentifier: PUBLISHER },
      timeout,
    });

  it('throttle 403-AF429: the service shape, no Retry-After, once by default', async () => {
    const fault = sim.faults.add({ route: 'blob', action: { kind: 'throttle', shape: '403-AF429' } });
    const res = await get(one);
    expect(res.status).toBe(403);
    expect(res.headers['retry-after']).toBeUndefined();
    expect(res.data).toEqual({
      error: { code: 'AF429', message: `Too many requests. Method=GetBlob, PublisherId=${PUBLISHER}` },
    });
    expect(fault.hits).toBe(1);
    expect((await get(one)).status).toBe(200);
    expect(fault.hits).toBe(1);
  });

  it('throttle 429 with Retry-After', async () => {
    sim.faults.add({ route: 'content', action: { kind: 'throttle', shape: '429', retryAfterSeconds: 7 } });
    const res = await api(sim, token).get('subscriptions/content', { contentType: 'Audit.General' });
    expect(res.status).toBe(429);
    expect(res.headers['retry-after']).toBe('7');
    expect(res.data).toEqual({
      error: { code: 'AF429', message: `Too many requests. Method=GetContents, PublisherId=${PUBLISHER}` },
    });
  });

  it('error: 5xx defaults to AF50000, AF codes take the table message, token errors look like Entra', async () => {
    sim.faults.add({ route: 'blob', action: { kind: 'error', status: 503 } });
    const res = await get(one);
    expect(res.status).toBe(503);
    expect(res.data).toEqual({
      error: { code: 'AF50000', message: 'An internal error occurred. Retry the request.' },
    });

    sim.faults.add({
      route: 'blob',
      contentId: 'blob$two',
      action: { kind: 'error', status: 400, code: 'AF20051' },
    });
    expect((await get(one)).status).toBe(200); // filtered by contentId
    const expired = await get(two);
    expect(expired.status).toBe(400);
    expect(String((expired.data as { error: { message: string } }).error.message)).toMatch(/already expired/);

    sim.faults.add({ route: 'token', action: { kind: 'error', status: 500 } });
    await expect(tokenFor(sim)).rejects.toThrow(/"error":"server_error".*AADSTS50000/);
  });

  it('delay: slow, then the normal answer', async () => {
    sim.faults.add({ route: 'blob', action: { kind: 'delay', ms: 300 } });
    const started = Date.now();
    const res = await get(two);
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    expect(res.status).toBe(200);
    expect(res.data).toHaveLength(3);
  });

  it('hang: no answer until the client gives up; the next request is fine', async () => {
    const fault = sim.faults.add({ route: 'blob', action: { kind: 'hang' } });
    const started = Date.now();
    await expect(get(two, 300)).rejects.toMatchObject({ code: 'ECONNABORTED' });
    expect(Date.now() - started).toBeLessThan(2000);
    expect(fault.hits).toBe(1);
    expect((await get(two)).status).toBe(200);
    const entry = sim.truth.requests.filter((r) => r.route === 'blob' && r.fault === 'hang').at(-1);
    expect(entry).toMatchObject({ status: 0, contentId: 'blob$two' });
  });

  it('truncate: full Content-Length, half the body, dead socket; not counted as served', async () => {
    const full = await rawGet(one, token);
    const length = Number(full.headers?.['content-length']);
    expect(full.bytes).toBe(length);

    sim.faults.add({ route: 'blob', contentId: 'blob$three', action: { kind: 'truncate' } });
    sim.faults.add({ route: 'blob', contentId: 'blob$one', action: { kind: 'truncate' } });
    const cut = await rawGet(one, token);
    expect(cut.status).toBe(200);
    expect(Number(cut.headers?.['content-length'])).toBe(length);
    expect(cut.bytes).toBe(Math.floor(length / 2));
    expect(cut.error).toBeDefined();
    const three = sim.contentUri(TENANT, 'blob$three');
    await expect(get(three)).rejects.toThrow();
    expect(sim.truth.servedContentIds().has('blob$three')).toBe(false);
    expect(sim.truth.servedRecordIds().has('three-0')).toBe(false);
    expect((await get(three)).data).toHaveLength(5);
    expect(sim.truth.servedContentIds().has('blob$three')).toBe(true);
    expect(sim.truth.servedRecordIds().has('three-0')).toBe(true);
  });

  it('reset: the socket is destroyed without an answer', async () => {
    sim.faults.add({ route: 'list', action: { kind: 'reset' } });
    const res = await rawGet(`${sim.apiRoot(TENANT)}/subscriptions/list`, token);
    expect(res.status).toBeUndefined();
    expect(res.error).toMatch(/ECONNRESET|socket hang up/);
  });

  it('malformed: 200 with invalid JSON by default, or the given body', async () => {
    sim.faults.add({ route: 'blob', action: { kind: 'malformed' } });
    const res = await http.get<string>(one, {
      headers: { Authorization: `Bearer ${token}` },
      responseType: 'text',
    });
    expect(res.status).toBe(200);
    expect(() => JSON.parse(res.data) as unknown).toThrow();
    sim.faults.add({ route: 'content', action: { kind: 'malformed', body: '{"value": []}' } });
    const shaped = await api(sim, token).get('subscriptions/content', { contentType: 'Audit.General' });
    expect(shaped.data).toEqual({ value: [] });
  });

  it('after / times / probability decide which matching requests fail', async () => {
    const h = sim.faults.add({ route: 'blob', after: 1, times: 2, action: { kind: 'error', status: 500 } });
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await get(two)).status);
    expect(statuses).toEqual([200, 500, 500, 200, 200]);
    expect(h.hits).toBe(2);

    sim.faults.clear();
    const p = sim.faults.add({
      route: 'blob',
      times: Infinity,
      probability: 0.5,
      action: { kind: 'error', status: 502 },
    });
    let failed = 0;
    for (let i = 0; i < 40; i++) if ((await get(two)).status === 502) failed++;
    expect(failed).toBe(p.hits);
    expect(failed).toBeGreaterThan(5);
    expect(failed).toBeLessThan(35);

    sim.faults.clear();
    const other = sim.faults.add({
      route: 'blob',
      tenantId: '99999999-9999-4999-8999-999999999999',
      action: { kind: 'reset' },
    });
    expect((await get(two)).status).toBe(200);
    expect(other.hits).toBe(0);
    const removed = sim.faults.add({ route: ['blob', 'list'], action: { kind: 'error', status: 500 } });
    removed.remove();
    expect((await get(two)).status).toBe(200);
  });

  it('is controllable over HTTP under /_sim/faults (no token), including times: "Infinity"', async () => {
    const add = await http.post<{ id: string }>(`${sim.baseUrl}/_sim/faults`, {
      route: 'blob',
      times: 'Infinity',
      action: { kind: 'error', status: 500, code: 'AF50005' },
    });
    expect(add.status).toBe(201);
    expect(errorCode(await get(two))).toBe('AF50005');
    expect(errorCode(await get(two))).toBe('AF50005');
    const list = await http.get<Array<{ id: string; hits: number }>>(`${sim.baseUrl}/_sim/faults`);
    expect(list.data).toEqual([expect.objectContaining({ id: add.data.id, hits: 2 })]);
    const bad = await http.post(`${sim.baseUrl}/_sim/faults`, {
      route: 'nowhere',
      action: { kind: 'reset' },
    });
    expect(bad.status).toBe(400);
    expect((await http.delete(`${sim.baseUrl}/_sim/faults`)).status).toBe(200);
    expect((await get(two)).status).toBe(200);
  });
});

describe('simulator: randomized faults', () => {
  async function run(seed: number, rate: number): Promise<number[]> {
    const sim = await startSimulator({ scenario: SCENARIO, clock: { start: NOW, frozen: true } });
    try {
      const token = await tokenFor(sim);
      const actions: FaultAction[] = [
        { kind: 'error', status: 500 },
        { kind: 'throttle', shape: '429', retryAfterSeconds: 1 },
        { kind: 'throttle', shape: '403-AF429' },
      ];
      const h = sim.faults.randomize({ seed, rate, actions, routes: ['blob'] });
      const statuses: number[] = [];
      for (let i = 0; i < 30; i++) {
        const res = await http.get(sim.contentUri(TENANT, 'blob$two'), {
          headers: { Authorization: `Bearer ${token}` },
        });
        statuses.push(res.status);
      }
      expect(h.hits).toBe(statuses.filter((s) => s !== 200).length);
      return statuses;
    } finally {
      await sim.stop();
    }
  }

  it('replays the same fault schedule from the same seed', async () => {
    const a = await run(7, 0.4);
    const b = await run(7, 0.4);
    const c = await run(8, 0.4);
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
    expect(new Set(a)).toEqual(new Set([200, 500, 429, 403]));
    expect(await run(7, 0)).toEqual(Array(30).fill(200));
  });
});

describe('simulator: stop()', () => {
  it('returns promptly while a request hangs and another is delayed', async () => {
    const sim = await startSimulator({ scenario: SCENARIO, clock: { start: NOW, frozen: true } });
    const token = await tokenFor(sim);
    sim.faults.add({ route: 'blob', contentId: 'blob$one', action: { kind: 'hang' } });
    sim.faults.add({ route: 'blob', contentId: 'blob$two', action: { kind: 'delay', ms: 60_000 } });
    const hung = rawGet(sim.contentUri(TENANT, 'blob$one'), token);
    const slow = rawGet(sim.contentUri(TENANT, 'blob$two'), token);
    await new Promise((r) => setTimeout(r, 100));
    const started = Date.now();
    await sim.stop();
    expect(Date.now() - started).toBeLessThan(1000);
    const [h, s] = await Promise.all([hung, slow]);
    expect(h.status).toBeUndefined();
    expect(h.error).toBeDefined();
    expect(s.status).toBeUndefined();
    await expect(http.get(`${sim.baseUrl}/_sim/info`, { timeout: 1000 })).rejects.toThrow();
  });
});
