import { performance } from 'node:perf_hooks';
import { resolveScenario, startSimulator } from '../../scripts/simulator';
import type { RequestLogEntry, ScenarioSpec, Simulator } from '../../scripts/simulator';
import { parseArgs, scenarioFor } from '../../scripts/simulator/cli';
import { latencyFor } from '../../scripts/simulator/latency';
import { RateLimiter } from '../../scripts/simulator/ratelimit';
import type { TenantRateStats } from '../../scripts/simulator/ratelimit';
import { OTHER_TENANT, TENANT, api, errorCode, http, tokenFor, withSim } from './helpers';

const NOW = '2026-11-20T12:00:00.000Z';
/**
 * Small ranges, and lower bounds only: a busy 2-core machine makes requests slower, never faster. A timer
 * may fire a millisecond before a clock read outside it says it is due, hence the slack.
 */
const MIN = 150;
const MAX = 200;
const SLACK = 5;

function scenario(overrides: Partial<ScenarioSpec> = {}): ScenarioSpec {
  return {
    seed: 'latency',
    tenants: [{ tenantId: TENANT }],
    contentTypes: ['Audit.Exchange'],
    activity: {
      start: '2026-11-20T00:00:00Z',
      end: '2026-11-20T10:00:00Z',
      recordsPerHour: { 'Audit.Exchange': 40 },
    },
    blobs: { recordsPerBlob: [1, 5], latencyMinutes: [1, 10], lateFraction: 0, duplicateFraction: 0 },
    subscriptions: { preStarted: true },
    tokenLifetimeSeconds: 86_400,
    ...overrides,
  };
}

async function timed<T>(fn: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const t0 = performance.now();
  const value = await fn();
  return { value, ms: performance.now() - t0 };
}

/** Blob URIs available at NOW. */
function blobUris(sim: Simulator, n: number): string[] {
  const uris = sim.truth
    .blobs({ tenantId: TENANT, availableBy: new Date(NOW), notExpiredAt: new Date(NOW) })
    .slice(0, n)
    .map((b) => b.contentUri);
  expect(uris).toHaveLength(n);
  return uris;
}

function lastEntry(sim: Simulator, route: string): RequestLogEntry {
  const e = sim.truth.requests.filter((r) => r.route === route).at(-1);
  if (!e) throw new Error(`no ${route} request logged`);
  return e;
}

describe('simulator: latency', () => {
  it('delays content listing and blob requests by a draw from [min, max]', async () => {
    await withSim(scenario({ latencyMs: [MIN, MAX] }), async (sim) => {
      expect(sim.scenario.latencyMs).toEqual({ content: [MIN, MAX], blob: [MIN, MAX] });
      const token = await tokenFor(sim);
      const a = api(sim, token);
      const listing = await timed(() => a.get('subscriptions/content', { contentType: 'Audit.Exchange' }));
      expect(listing.value.status).toBe(200);
      const listed = lastEntry(sim, 'content');
      expect(listed.status).toBe(200);
      expect(listed.latencyMs).toBeGreaterThanOrEqual(MIN);
      expect(listed.latencyMs).toBeLessThanOrEqual(MAX);
      expect(listing.ms).toBeGreaterThanOrEqual((listed.latencyMs as number) - SLACK);

      for (const uri of blobUris(sim, 3)) {
        const res = await timed(() => http.get(uri, { headers: { Authorization: `Bearer ${token}` } }));
        expect(res.value.status).toBe(200);
        const served = lastEntry(sim, 'blob');
        expect(served.latencyMs).toBeGreaterThanOrEqual(MIN);
        expect(served.latencyMs).toBeLessThanOrEqual(MAX);
        expect(res.ms).toBeGreaterThanOrEqual((served.latencyMs as number) - SLACK);
      }
      // Errors take the round trip too: a blob that does not exist answers after the latency.
      const missing = await timed(() =>
        http.get(sim.contentUri(TENANT, 'no-such-blob'), { headers: { Authorization: `Bearer ${token}` } }),
      );
      expect(errorCode(missing.value)).toBe('AF20050');
      expect(missing.ms).toBeGreaterThanOrEqual(MIN - SLACK);

      // Nothing else was delayed: the token, and requests on other routes.
      await a.get('subscriptions/list');
      await a.post('subscriptions/start', { contentType: 'Audit.Exchange' });
      const others = sim.truth.requests.filter((r) => r.route !== 'content' && r.route !== 'blob');
      expect(others.map((r) => r.route)).toEqual(['token', 'list', 'start']);
      for (const r of others) expect(r.latencyMs).toBeUndefined();
      // Latency is wall time: the frozen simulator clock did not move.
      expect(sim.clock.now().toISOString()).toBe(NOW);
    });
  });

  it('does not hold up requests on other routes while one waits', async () => {
    await withSim(scenario({ latencyMs: { content: [1500, 1600] } }), async (sim) => {
      const a = api(sim, await tokenFor(sim));
      const order: string[] = [];
      const slow = a.get('subscriptions/content', { contentType: 'Audit.Exchange' }).then((r) => {
        order.push('content');
        return r;
      });
      const fast = await a.get('subscriptions/list');
      order.push('list');
      expect(fast.status).toBe(200);
      expect((await slow).status).toBe(200);
      expect(order).toEqual(['list', 'content']);
      expect(lastEntry(sim, 'list').latencyMs).toBeUndefined();
    });
  });

  it('delays parallel requests concurrently: N take about the longest, not the sum', async () => {
    await withSim(scenario({ latencyMs: [MIN, MAX] }), async (sim) => {
      const token = await tokenFor(sim);
      const n = 8;
      const uris = blobUris(sim, n);
      const all = await timed(() =>
        Promise.all(uris.map((u) => http.get(u, { headers: { Authorization: `Bearer ${token}` } }))),
      );
      expect(all.value.map((r) => r.status)).toEqual(Array(n).fill(200));
      expect(all.ms).toBeGreaterThanOrEqual(MIN - SLACK);
      expect(all.ms).toBeLessThan(n * MIN);
      const entries = sim.truth.requests.filter((r) => r.route === 'blob');
      expect(entries).toHaveLength(n);
      for (const e of entries) {
        expect(e.latencyMs).toBeGreaterThanOrEqual(MIN);
        expect(e.latencyMs).toBeLessThanOrEqual(MAX);
      }
    });
  });

  it('draws each request latency from the seed and the request: reproducible, spread over the range', async () => {
    const draws = (seed: string): number[] =>
      Array.from({ length: 2000 }, (_, i) =>
        latencyFor({ blob: [100, 300] }, seed, 'blob', `GET /api/v1.0/t/activity/feed/audit/id-${i}`),
      );
    const a = draws('s');
    expect(draws('s')).toEqual(a);
    expect(draws('other')).not.toEqual(a);
    expect(Math.min(...a)).toBeGreaterThanOrEqual(100);
    expect(Math.max(...a)).toBeLessThanOrEqual(300);
    const mean = a.reduce((s, x) => s + x, 0) / a.length;
    expect(mean).toBeGreaterThan(190);
    expect(mean).toBeLessThan(210);
    // Quarters of the range each get about a quarter of the draws (uniform).
    for (let q = 0; q < 4; q++) {
      const inQuarter = a.filter((x) => x >= 100 + q * 50 && x < 150 + q * 50).length;
      expect(inQuarter).toBeGreaterThan(400);
      expect(inQuarter).toBeLessThan(600);
    }
    expect(latencyFor({ blob: [100, 300] }, 's', 'content', 'GET /x')).toBe(0);
    expect(latencyFor({ blob: [120, 120] }, 's', 'blob', 'GET /x')).toBe(120);

    // Two simulators of the same seed wait the same for the same requests, whatever their order.
    const waits = async (reverse: boolean): Promise<Map<string, number | undefined>> =>
      withSim(scenario({ latencyMs: { blob: [1, 40] } }), async (sim) => {
        const token = await tokenFor(sim);
        const uris = blobUris(sim, 4);
        for (const u of reverse ? [...uris].reverse() : uris) {
          await http.get(u, { headers: { Authorization: `Bearer ${token}` } });
        }
        return new Map(
          sim.truth.requests.filter((r) => r.route === 'blob').map((r) => [r.path, r.latencyMs]),
        );
      });
    const first = await waits(false);
    expect(await waits(true)).toEqual(first);
    expect(new Set(first.values()).size).toBeGreaterThan(1);
  });

  it('sets per-route ranges, and changes them at run time in-process and over /_sim/latency', async () => {
    await withSim(scenario({ latencyMs: { token: [MIN, MAX] } }), async (sim) => {
      const token = await timed(() => tokenFor(sim));
      expect(token.ms).toBeGreaterThanOrEqual(MIN - SLACK);
      expect(lastEntry(sim, 'token').latencyMs).toBeGreaterThanOrEqual(MIN);
      const a = api(sim, token.value);
      const [blobUri] = blobUris(sim, 1);
      const getBlob = (): Promise<unknown> =>
        http.get(blobUri as string, { headers: { Authorization: `Bearer ${token.value}` } });

      await getBlob();
      expect(lastEntry(sim, 'blob').latencyMs).toBeUndefined();

      expect(sim.latency.set({ blob: [MIN, MAX] })).toEqual({ blob: [MIN, MAX] });
      const slowBlob = await timed(getBlob);
      expect(slowBlob.ms).toBeGreaterThanOrEqual(MIN - SLACK);
      expect(lastEntry(sim, 'blob').latencyMs).toBeGreaterThanOrEqual(MIN);
      await a.get('subscriptions/content', { contentType: 'Audit.Exchange' });
      expect(lastEntry(sim, 'content').latencyMs).toBeUndefined();

      // Over HTTP: one range means content listing and blobs; the body is rejected whole when bad.
      const set = await http.post<{ latencyMs: unknown }>(`${sim.baseUrl}/_sim/latency`, {
        latencyMs: [MIN, MAX],
      });
      expect(set.status).toBe(200);
      expect(set.data.latencyMs).toEqual({ content: [MIN, MAX], blob: [MIN, MAX] });
      const listing = await timed(() => a.get('subscriptions/content', { contentType: 'Audit.Exchange' }));
      expect(listing.ms).toBeGreaterThanOrEqual(MIN - SLACK);
      expect(lastEntry(sim, 'content').latencyMs).toBeGreaterThanOrEqual(MIN);

      const bad = await http.post<{ error: string }>(`${sim.baseUrl}/_sim/latency`, {
        latencyMs: { blob: [300, 100] },
      });
      expect(bad.status).toBe(400);
      expect(bad.data.error).toBe(
        'latencyMs.blob must be [min, max] milliseconds with 0 <= min <= max, got [300,100] (min is above max)',
      );
      const unknown = await http.post<{ error: string }>(`${sim.baseUrl}/_sim/latency`, {
        latencyMs: { listing: [1, 2] },
      });
      expect(unknown.status).toBe(400);
      expect(unknown.data.error).toMatch(/unknown route 'listing'.*content is the content listing/);
      expect((await http.post(`${sim.baseUrl}/_sim/latency`, {})).status).toBe(400);
      const got = await http.get<{ latencyMs: unknown }>(`${sim.baseUrl}/_sim/latency`);
      expect(got.data.latencyMs).toEqual({ content: [MIN, MAX], blob: [MIN, MAX] });

      const cleared = await http.delete<{ latencyMs: unknown }>(`${sim.baseUrl}/_sim/latency`);
      expect(cleared.data.latencyMs).toEqual({});
      expect(sim.latency.get()).toEqual({});
      await getBlob();
      await a.get('subscriptions/content', { contentType: 'Audit.Exchange' });
      expect(lastEntry(sim, 'blob').latencyMs).toBeUndefined();
      expect(lastEntry(sim, 'content').latencyMs).toBeUndefined();
      // The scenario as resolved at start is left as it was.
      expect(sim.scenario.latencyMs).toEqual({ token: [MIN, MAX] });
    });
  });

  it('stops promptly with requests still waiting out their latency', async () => {
    const sim = await startSimulator({
      scenario: scenario({ latencyMs: [20_000, 20_000] }),
      clock: { start: NOW, frozen: true },
    });
    let stopped = false;
    try {
      const a = api(sim, await tokenFor(sim));
      const pending = a
        .get('subscriptions/content', { contentType: 'Audit.Exchange' })
        .catch((e: Error) => e);
      await new Promise((r) => setTimeout(r, 200));
      const stop = await timed(() => sim.stop());
      stopped = true;
      expect(stop.ms).toBeLessThan(10_000);
      expect(await pending).toBeInstanceOf(Error);
    } finally {
      if (!stopped) await sim.stop();
    }
  });

  it('refuses bad ranges with clear messages', () => {
    const at = new Date(NOW);
    const resolve = (latencyMs: unknown): unknown =>
      resolveScenario(scenario({ latencyMs: latencyMs as ScenarioSpec['latencyMs'] }), at).latencyMs;
    const msg = (got: string, why: string): string =>
      `scenario: latencyMs must be [min, max] milliseconds with 0 <= min <= max, got ${got} (${why})`;
    expect(() => resolve([-1, 5])).toThrow(msg('[-1,5]', 'min is negative'));
    expect(() => resolve([200, 150])).toThrow(msg('[200,150]', 'min is above max'));
    expect(() => resolve(['150', 200])).toThrow(msg('["150",200]', 'not finite numbers'));
    expect(() => resolve([NaN, 200])).toThrow(msg('[null,200]', 'not finite numbers'));
    expect(() => resolve([0, Infinity])).toThrow(msg('[0,null]', 'not finite numbers'));
    expect(() => resolve([150])).toThrow(msg('[150]', 'not a list of two numbers'));
    expect(() => resolve([1, 2, 3])).toThrow(msg('[1,2,3]', 'not a list of two numbers'));
    expect(() => resolve([0, 3_000_000_000])).toThrow(/max is above 2147483647/);
    expect(() => resolve({ blob: [5, -1] })).toThrow(
      'scenario: latencyMs.blob must be [min, max] milliseconds with 0 <= min <= max, got [5,-1] (min is above max)',
    );
    expect(() => resolve({ content: 100 })).toThrow(/^scenario: latencyMs\.content must be .*not a list/);
    expect(() => resolve({ listing: [1, 2] })).toThrow(
      "scenario: latencyMs has unknown route 'listing'; routes are token, start, stop, list, content, blob, msi",
    );
    expect(() => resolve(150)).toThrow(
      'scenario: latencyMs must be [min, max] milliseconds or an object of them per route, got 150',
    );
    // Good ones, and none by default.
    expect(resolve(undefined)).toEqual({});
    expect(resolve([0, 0])).toEqual({ content: [0, 0], blob: [0, 0] });
    expect(resolve({ content: [1.5, 2], msi: [3, 3] })).toEqual({ content: [1.5, 2], msi: [3, 3] });
  });

  it('is set from the CLI with --latency-ms MIN[,MAX]', () => {
    expect(parseArgs(['--latency-ms', '150,200']).latencyMs).toEqual([150, 200]);
    expect(parseArgs(['--latency-ms', '80']).latencyMs).toEqual([80, 80]);
    expect(scenarioFor(parseArgs(['--latency-ms', '150,200', '--seed', 'x'])).latencyMs).toEqual([150, 200]);
    expect(scenarioFor(parseArgs([])).latencyMs).toBeUndefined();
    expect(() => parseArgs(['--latency-ms', '200,150'])).toThrow(
      '--latency-ms must be MIN[,MAX] milliseconds, 0 <= MIN <= MAX, got 200,150 (min is above max)',
    );
    expect(() => parseArgs(['--latency-ms', '-5,10'])).toThrow(/got -5,10 \(min is negative\)/);
    expect(() => parseArgs(['--latency-ms', 'fast'])).toThrow(/got fast \(not finite numbers\)/);
    expect(() => parseArgs(['--latency-ms', '1,2,3'])).toThrow(/not a list of two numbers/);
    expect(() => parseArgs(['--latency-ms'])).toThrow('--latency-ms needs a value');
  });
});

describe('simulator: rate-limit stats', () => {
  it('counts, per tenant, requests, those throttled by the limit, and the peak in any 60 s', () => {
    let now = 1_000_000;
    const limiter = new RateLimiter(
      (t) => (t === 'a' ? 5 : undefined),
      () => now,
    );
    const at = (ms: number, n = 1): boolean[] => {
      now = 1_000_000 + ms;
      return Array.from({ length: n }, () => limiter.take('a'));
    };
    expect(at(0, 3)).toEqual([true, true, true]);
    expect(at(30_000, 2)).toEqual([true, true]);
    // 59.999 s: six in the window (0, 59.999], one over the limit of 5.
    expect(at(59_999)).toEqual([false]);
    // 60 s: the three at 0 left the window (it is half open, as the limit's), so it admits again.
    expect(at(60_000)).toEqual([true]);
    expect(at(119_999)).toEqual([true]);
    for (let i = 0; i < 4; i++) limiter.take('b');
    const [a, b, c] = limiter.stats(['a', 'b', 'c']) as [TenantRateStats, TenantRateStats, TenantRateStats];
    expect(a).toEqual({
      tenantId: 'a',
      limitPerMinute: 5,
      requests: 8,
      throttled: 1,
      peakPerMinute: 6,
      peakWindowEnd: new Date(1_000_000 + 59_999).toISOString(),
    });
    expect(b).toMatchObject({ limitPerMinute: null, requests: 4, throttled: 0, peakPerMinute: 4 });
    expect(c).toEqual({
      tenantId: 'c',
      limitPerMinute: null,
      requests: 0,
      throttled: 0,
      peakPerMinute: 0,
      peakWindowEnd: null,
    });
    limiter.resetStats();
    expect(limiter.stats(['a'])[0]).toMatchObject({ requests: 0, throttled: 0, peakPerMinute: 0 });
    // The limit kept its window through the reset: the request at 119.999 s is still in it, so four fill it.
    expect(at(120_000, 5)).toEqual([true, true, true, true, false]);
    expect(limiter.stats(['a'])[0]).toMatchObject({ requests: 5, throttled: 1, peakPerMinute: 5 });
  });

  it('reports them over GET /_sim/rate-limits, for several clients of one tenant together', async () => {
    const spec = scenario({
      tenants: [{ tenantId: TENANT, rateLimitPerMinute: 6 }, { tenantId: OTHER_TENANT }],
    });
    await withSim(spec, async (sim) => {
      // Three "collector processes", each with its own token, share the tenant's quota.
      const workers = await Promise.all([1, 2, 3].map(async () => api(sim, await tokenFor(sim))));
      const statuses = await Promise.all(
        workers.flatMap((w) => [1, 2, 3].map(() => w.get('subscriptions/list'))),
      );
      expect(statuses.filter((r) => r.status === 200)).toHaveLength(6);
      expect(statuses.filter((r) => errorCode(r) === 'AF429')).toHaveLength(3);
      const other = api(sim, await tokenFor(sim, OTHER_TENANT), OTHER_TENANT);
      for (let i = 0; i < 2; i++) expect((await other.get('subscriptions/list')).status).toBe(200);
      // Neither a request without a token nor a fault's throttling counts against the limit.
      expect((await http.get(`${sim.apiRoot(TENANT)}/subscriptions/list`)).status).toBe(401);
      sim.faults.add({ route: 'list', tenantId: OTHER_TENANT, action: { kind: 'throttle', shape: '429' } });
      expect((await other.get('subscriptions/list')).status).toBe(429);

      type Stats = { windowMs: number; requests: number; throttled: number; tenants: TenantRateStats[] };
      const res = await http.get<Stats>(`${sim.baseUrl}/_sim/rate-limits`);
      expect(res.status).toBe(200);
      expect(res.data).toMatchObject({ windowMs: 60_000, requests: 11, throttled: 3 });
      expect(res.data.tenants).toEqual([
        {
          tenantId: TENANT,
          limitPerMinute: 6,
          requests: 9,
          throttled: 3,
          peakPerMinute: 9,
          peakWindowEnd: expect.any(String) as string,
        },
        {
          tenantId: OTHER_TENANT,
          limitPerMinute: null,
          requests: 2,
          throttled: 0,
          peakPerMinute: 2,
          peakWindowEnd: expect.any(String) as string,
        },
      ]);
      expect(res.data.tenants).toEqual(sim.rateLimits.stats());
      const one = await http.get<Stats>(`${sim.baseUrl}/_sim/rate-limits`, {
        params: { tenantId: OTHER_TENANT.toUpperCase() },
      });
      expect(one.data.tenants.map((t) => t.tenantId)).toEqual([OTHER_TENANT]);
      expect(one.data.requests).toBe(2);
      const unknown = await http.get<{ error: string }>(`${sim.baseUrl}/_sim/rate-limits`, {
        params: { tenantId: 'nobody' },
      });
      expect(unknown.status).toBe(400);
      expect(unknown.data.error).toMatch(/unknown tenant nobody/);

      expect((await http.delete(`${sim.baseUrl}/_sim/rate-limits`)).status).toBe(200);
      expect(sim.rateLimits.stats(TENANT)[0]).toMatchObject({ requests: 0, throttled: 0, peakPerMinute: 0 });
      // The limit itself did not refill: the tenant is still at 6 of 6 this minute.
      expect(errorCode(await workers[0]!.get('subscriptions/list'))).toBe('AF429');
      expect(sim.rateLimits.stats(TENANT)[0]).toMatchObject({ requests: 1, throttled: 1, peakPerMinute: 1 });
    });
  });
});
