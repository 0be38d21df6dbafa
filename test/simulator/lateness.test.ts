import { startSimulator } from '../../scripts/simulator';
import type { ScenarioSpec, Simulator, TruthBlob } from '../../scripts/simulator';
import { TENANT, errorCode, http, listAll, tokenFor, withSim } from './helpers';

const NOW = '2026-11-20T12:00:00.000Z';
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

const iso = (ms: number): string => new Date(ms).toISOString().slice(0, 19);

/** Every blob the listing shows now, over the whole retention (8 windows of up to 24 h). */
async function listRetention(sim: Simulator, contentType: string): Promise<string[]> {
  const token = await tokenFor(sim);
  const now = sim.clock.now().getTime();
  const ids: string[] = [];
  for (let start = now - 7 * DAY; start < now + HOUR; start += DAY) {
    const end = Math.min(start + DAY, now + HOUR);
    const { items } = await listAll(sim, token, { contentType, startTime: iso(start), endTime: iso(end) });
    ids.push(...items.map((i) => i.contentId));
  }
  return ids;
}

async function getBlob(sim: Simulator, blob: TruthBlob): Promise<{ status: number; code?: string }> {
  const res = await http.get(blob.contentUri, {
    headers: { Authorization: `Bearer ${await tokenFor(sim)}` },
  });
  const code = errorCode(res);
  return code === undefined ? { status: res.status } : { status: res.status, code };
}

describe('simulator: lateness across the 7-day retention', () => {
  it('by default, late blobs are mostly hours late and some days late', async () => {
    const scenario: ScenarioSpec = {
      seed: 'late-default',
      tenants: [{ tenantId: TENANT }],
      subscriptions: { preStarted: true },
      tokenLifetimeSeconds: 30 * 86_400,
    };
    await withSim(scenario, async (sim) => {
      expect(sim.scenario.blobs.lateHours).toEqual([2, 160]);
      expect(sim.scenario.blobs.lateDistribution).toBe('logUniform');
      const late = sim.truth.blobs().filter((b) => b.late);
      const hours = late.map((b) => b.latenessHours).sort((a, b) => a - b);
      expect(late.length).toBeGreaterThan(60);
      expect(hours[0]).toBeGreaterThanOrEqual(2);
      expect(hours.at(-1)).toBeLessThanOrEqual(160);
      // Log-uniform over [2, 160]: the median is ~18 h; ~43% are over a day, ~12% over four days.
      const median = hours[Math.floor(hours.length / 2)] as number;
      expect(median).toBeGreaterThan(6);
      expect(median).toBeLessThan(48);
      expect(hours.filter((h) => h > 24).length).toBeGreaterThan(hours.length * 0.25);
      expect(hours.filter((h) => h > 96).length).toBeGreaterThan(2);
      for (const b of sim.truth.blobs().filter((x) => !x.late)) expect(b.latenessHours).toBe(0);

      // A days-late blob really is listed in its old window only once it arrives.
      const token = await tokenFor(sim);
      const daysLate = late.find((b) => b.latenessHours > 48 && b.availableAt > NOW)!;
      const created = Date.parse(daysLate.contentCreated);
      const window = {
        contentType: daysLate.contentType,
        startTime: iso(created - HOUR),
        endTime: iso(created + HOUR),
      };
      const listed = async (t: string): Promise<string[]> => {
        sim.clock.set(t);
        return (await listAll(sim, token, window)).items.map((i) => i.contentId);
      };
      expect(await listed(new Date(Date.parse(daysLate.availableAt) - 1).toISOString())).not.toContain(
        daysLate.contentId,
      );
      expect(await listed(daysLate.availableAt)).toContain(daysLate.contentId);
    });
  });

  it('keeps explicit lateHours uniform unless the scenario asks otherwise, and the same seed gives the same plan', async () => {
    const spec = (extra: object): ScenarioSpec => ({
      seed: 'late-dist',
      tenants: [{ tenantId: TENANT }],
      contentTypes: ['Audit.Exchange'],
      blobs: { lateFraction: 0.5, lateHours: [3, 5], ...extra },
    });
    const uniform = await withSim(spec({}), (sim) => {
      expect(sim.scenario.blobs.lateDistribution).toBe('uniform');
      return Promise.resolve(sim.truth.blobs().map((b) => [b.contentId, b.availableAt]));
    });
    const again = await withSim(spec({}), (sim) =>
      Promise.resolve(sim.truth.blobs().map((b) => [b.contentId, b.availableAt])),
    );
    expect(again).toEqual(uniform);
    const logUniform = await withSim(spec({ lateDistribution: 'logUniform' }), (sim) => {
      const hours = sim.truth
        .blobs()
        .filter((b) => b.late)
        .map((b) => b.latenessHours);
      expect(Math.min(...hours)).toBeGreaterThanOrEqual(3);
      expect(Math.max(...hours)).toBeLessThanOrEqual(5);
      return Promise.resolve(sim.truth.blobs().map((b) => [b.contentId, b.availableAt]));
    });
    // Same blobs (one draw either way), different arrival times.
    expect(new Set(logUniform.map(([id]) => id))).toEqual(new Set(uniform.map(([id]) => id)));
    expect(logUniform).not.toEqual(uniform);
    await expect(
      startSimulator({ scenario: spec({ lateHours: [0, 5], lateDistribution: 'logUniform' }) }),
    ).rejects.toThrow(/above 0/);
  });

  it('lists a blob late by almost 7 days only in its short window, and never one that arrives after expiry', async () => {
    const scenario: ScenarioSpec = {
      seed: 'late-edge',
      tenants: [{ tenantId: TENANT }],
      contentTypes: ['Audit.General'],
      activity: { start: '2026-11-19T00:00:00Z', end: '2026-11-20T00:00:00Z' },
      blobs: { lateFraction: 1, lateHours: [165, 171], aggregationMinutes: 60 },
      subscriptions: { preStarted: true },
      tokenLifetimeSeconds: 30 * 86_400,
    };
    await withSim(scenario, async (sim) => {
      const blobs = sim.truth.blobs();
      const edge = blobs.find((b) => b.latenessHours > 166 && b.latenessHours < 167.5)!;
      const never = blobs.find((b) => b.latenessHours >= 168.5)!;
      expect(edge).toBeDefined();
      expect(never).toBeDefined();
      const listedAt = async (t: number, b: TruthBlob): Promise<boolean> => {
        sim.clock.set(new Date(t));
        return (await listRetention(sim, 'Audit.General')).includes(b.contentId);
      };
      const avail = Date.parse(edge.availableAt);
      const expiry = Date.parse(edge.contentExpiration);
      expect(expiry - avail).toBeLessThan(2 * HOUR);
      expect(await listedAt(avail - 1, edge)).toBe(false);
      expect((await getBlob(sim, edge)).code).toBe('AF20050');
      expect(await listedAt(avail, edge)).toBe(true);
      expect((await getBlob(sim, edge)).status).toBe(200);
      expect(await listedAt(expiry - 1, edge)).toBe(true);
      expect(await listedAt(expiry, edge)).toBe(false);
      expect((await getBlob(sim, edge)).code).toBe('AF20051');

      // Arrives after it expired: never listed, and "does not exist" before, between and after.
      const nAvail = Date.parse(never.availableAt);
      const nExpiry = Date.parse(never.contentExpiration);
      for (const t of [nExpiry - HOUR, nExpiry, nAvail, nAvail + HOUR]) {
        expect(await listedAt(t, never)).toBe(false);
        expect((await getBlob(sim, never)).code).toBe('AF20050');
      }
      const end = new Date(nAvail + DAY);
      const ids = (f: object): string[] => sim.truth.blobs(f).map((b) => b.contentId);
      expect(ids({ availableBy: end })).toContain(never.contentId);
      expect(ids({ listableBy: end })).not.toContain(never.contentId);
      expect(ids({ listableBy: end })).toContain(edge.contentId);
      expect(ids({ listableBy: new Date(avail - 1) })).not.toContain(edge.contentId);
    });
  });

  it('listableBy agrees with what the listing shows as the clock moves through the retention', async () => {
    const scenario: ScenarioSpec = {
      seed: 'late-sweep',
      tenants: [{ tenantId: TENANT }],
      contentTypes: ['Audit.General'],
      activity: {
        start: '2026-11-13T12:00:00Z',
        end: '2026-11-20T12:00:00Z',
        recordsPerHour: { 'Audit.General': 20 },
      },
      blobs: {
        recordsPerBlob: [10, 30],
        aggregationMinutes: 60,
        lateFraction: 0.5,
        lateHours: [2, 220],
        lateDistribution: 'logUniform',
      },
      subscriptions: { preStarted: true },
      tokenLifetimeSeconds: 30 * 86_400,
    };
    await withSim(scenario, async (sim) => {
      const all = sim.truth.blobs();
      expect(all.some((b) => b.latenessHours >= 168)).toBe(true);
      const everListed = new Set<string>();
      const samples: number[] = [];
      for (
        let t = Date.parse('2026-11-14T00:00:00Z');
        t <= Date.parse('2026-11-28T00:00:00Z');
        t += 12 * HOUR
      ) {
        sim.clock.set(new Date(t));
        samples.push(t);
        const listed = await listRetention(sim, 'Audit.General');
        // Listable now = listable by now and not expired yet, exactly.
        const now = new Date(t);
        const expected = sim.truth.blobs({ listableBy: now, notExpiredAt: now }).map((b) => b.contentId);
        expect(new Set(listed)).toEqual(new Set(expected));
        for (const id of listed) everListed.add(id);
        // Listed at some moment so far is within listableBy.
        const listableBy = new Set(sim.truth.blobs({ listableBy: now }).map((b) => b.contentId));
        for (const id of everListed) expect(listableBy.has(id)).toBe(true);
      }
      // What listableBy has and no sample saw had its whole listable window between two samples.
      const end = new Date(samples.at(-1)!);
      for (const b of sim.truth.blobs({ listableBy: end })) {
        if (everListed.has(b.contentId)) continue;
        const [from, to] = [Date.parse(b.availableAt), Date.parse(b.contentExpiration)];
        expect(samples.some((t) => t >= from && t < to)).toBe(false);
      }
      expect(everListed.size).toBeGreaterThan(all.length * 0.8);

      // The same over HTTP.
      const q = `listableBy=${encodeURIComponent(end.toISOString())}`;
      const res = await http.get<TruthBlob[]>(`${sim.baseUrl}/_sim/truth/blobs?${q}`);
      expect(res.data.map((b) => b.contentId)).toEqual(
        sim.truth.blobs({ listableBy: end }).map((b) => b.contentId),
      );
      expect(res.data.every((b) => typeof b.latenessHours === 'number')).toBe(true);
      const ids = await http.get<{ count: number }>(`${sim.baseUrl}/_sim/truth/record-ids?${q}`);
      expect(ids.data.count).toBe(sim.truth.recordIds({ listableBy: end }).size);
      expect(ids.data.count).toBeLessThan(sim.truth.recordIds({ availableBy: end }).size);
      const bad = await http.get(`${sim.baseUrl}/_sim/truth/blobs?listableBy=yesterday`);
      expect(bad.status).toBe(400);
    });
  }, 180_000);
});
