import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadScenarioFile, startSimulator } from '../../scripts/simulator';
import type { ScenarioSpec, Simulator } from '../../scripts/simulator';
import { OTHER_TENANT, TENANT, api, http, tokenFor, withSim } from './helpers';
import type { ContentItem } from './helpers';

const NOW = '2026-11-20T12:00:00.000Z';
const HOUR = 3_600_000;

const base: ScenarioSpec = {
  seed: 'content',
  tenants: [
    { tenantId: TENANT, users: 10 },
    { tenantId: OTHER_TENANT, users: 5 },
  ],
  contentTypes: ['Audit.Exchange', 'Audit.AzureActiveDirectory'],
  activity: {
    start: '2026-11-19T00:00:00Z',
    end: '2026-11-20T10:00:00Z',
    recordsPerHour: { 'Audit.Exchange': 30 },
  },
  blobs: { recordsPerBlob: [2, 8] },
  subscriptions: { preStarted: true },
  tokenLifetimeSeconds: 86_400,
};

async function blobText(sim: Simulator, token: string, tenantId: string, contentId: string): Promise<string> {
  const res = await http.get<string>(sim.contentUri(tenantId, contentId), {
    headers: { Authorization: `Bearer ${token}` },
    responseType: 'text',
  });
  expect(res.status).toBe(200);
  return res.data;
}

describe('simulator: generated content', () => {
  it('is deterministic: the same seed gives the same blobs and byte-identical records', async () => {
    const run = (seed: string) =>
      withSim({ ...base, seed }, async (sim) => {
        const token = await tokenFor(sim);
        const blobs = sim.truth.blobs({
          tenantId: TENANT,
          contentType: 'Audit.Exchange',
          availableBy: new Date(NOW),
        });
        const picks = [blobs[0]!, blobs[Math.floor(blobs.length / 2)]!, blobs.at(-1)!];
        const bodies: string[] = [];
        for (const b of picks) bodies.push(await blobText(sim, token, TENANT, b.contentId));
        // Served twice, still the same bytes.
        expect(await blobText(sim, token, TENANT, picks[0]!.contentId)).toBe(bodies[0]);
        return {
          meta: blobs.map((b) => [b.contentId, b.contentCreated, b.availableAt, b.recordCount]),
          bodies,
        };
      });
    const a = await run('same');
    const b = await run('same');
    const c = await run('different');
    expect(a.meta.length).toBeGreaterThan(50);
    expect(b).toEqual(a);
    expect(c.meta).not.toEqual(a.meta);
    const records = JSON.parse(a.bodies[0]!) as Array<Record<string, unknown>>;
    expect(typeof records[0]?.Id).toBe('string');
    expect(records[0]?.CreationTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$/);
  });

  it('keeps ground truth consistent with what is served: ids, times, tenants, content types', async () => {
    await withSim(base, async (sim) => {
      const token = await tokenFor(sim, OTHER_TENANT);
      const blob = sim.truth.blobs({ tenantId: OTHER_TENANT, contentType: 'Audit.AzureActiveDirectory' })[3]!;
      const served = JSON.parse(await blobText(sim, token, OTHER_TENANT, blob.contentId)) as Array<
        Record<string, unknown>
      >;
      const truth = [...sim.truth.records({ tenantId: OTHER_TENANT })].filter(
        (r) => r.contentId === blob.contentId,
      );
      expect(truth.map((r) => [r.id, r.creationTime])).toEqual(served.map((r) => [r.Id, r.CreationTime]));
      expect(new Set(truth.map((r) => `${r.tenantId}|${r.contentType}`))).toEqual(
        new Set([`${OTHER_TENANT}|Audit.AzureActiveDirectory`]),
      );
      expect(served).toHaveLength(blob.recordCount);
      const created = Date.parse(blob.contentCreated);
      for (const r of served) expect(Date.parse(`${String(r.CreationTime)}Z`)).toBeLessThan(created);
      const all = sim.truth.blobs();
      expect(
        all.every((b) => Date.parse(b.contentExpiration) - Date.parse(b.contentCreated) === 7 * 24 * HOUR),
      ).toBe(true);
      expect(sim.truth.servedRecordIds()).toEqual(new Set(served.map((r) => r.Id)));
    });
  });

  it('makes late blobs appear in an old window when the clock reaches them', async () => {
    const scenario: ScenarioSpec = {
      ...base,
      blobs: { recordsPerBlob: [2, 8], lateFraction: 0.3, lateHours: [3, 5] },
    };
    await withSim(scenario, async (sim) => {
      const late = sim.truth
        .blobs({ tenantId: TENANT, contentType: 'Audit.Exchange' })
        .find((b) => b.late && b.availableAt > NOW && b.contentCreated < NOW);
      expect(late).toBeDefined();
      const created = Date.parse(late!.contentCreated);
      const window = {
        contentType: 'Audit.Exchange',
        startTime: new Date(created - HOUR).toISOString().slice(0, 19),
        endTime: new Date(created + HOUR).toISOString().slice(0, 19),
      };
      const token = await tokenFor(sim);
      const before = await api(sim, token).get<ContentItem[]>('subscriptions/content', window);
      expect(before.data.map((i) => i.contentId)).not.toContain(late!.contentId);
      sim.clock.set(late!.availableAt);
      const after = await api(sim, token).get<ContentItem[]>('subscriptions/content', window);
      expect(after.data.map((i) => i.contentId)).toContain(late!.contentId);
      // Listed after the blobs that were already there: availability order, not contentCreated order.
      expect(after.data.at(-1)?.contentId).toBe(late!.contentId);
      expect(after.data.length).toBeGreaterThan(before.data.length);
    });
  });

  it('repeats records of earlier blobs with the same Id and identical content', async () => {
    const scenario: ScenarioSpec = { ...base, blobs: { recordsPerBlob: [2, 8], duplicateFraction: 0.5 } };
    await withSim(scenario, async (sim) => {
      const token = await tokenFor(sim);
      const blobs = sim.truth.blobs({ tenantId: TENANT, contentType: 'Audit.Exchange' });
      const dup = blobs.find((b) => b.duplicateOf !== undefined)!;
      expect(dup).toBeDefined();
      const dupRecords = JSON.parse(await blobText(sim, token, TENANT, dup.contentId)) as Array<
        Record<string, unknown>
      >;
      const srcRecords = JSON.parse(await blobText(sim, token, TENANT, dup.duplicateOf!)) as Array<
        Record<string, unknown>
      >;
      const byId = new Map(srcRecords.map((r) => [r.Id, r]));
      const repeated = dupRecords.filter((r) => byId.has(r.Id));
      expect(repeated.length).toBe(dup.duplicateCount);
      for (const r of repeated) expect(JSON.stringify(r)).toBe(JSON.stringify(byId.get(r.Id)));
      const occurrences = blobs.reduce((n, b) => n + b.recordCount, 0);
      const distinct = sim.truth.recordIds({ tenantId: TENANT, contentType: 'Audit.Exchange' }).size;
      expect(distinct).toBe(occurrences - blobs.reduce((n, b) => n + (b.duplicateCount ?? 0), 0));
      expect(distinct).toBeLessThan(occurrences);
    });
  });

  it('puts one very large record in every Nth blob', async () => {
    const scenario: ScenarioSpec = {
      ...base,
      blobs: { recordsPerBlob: [2, 4], largeRecordEvery: 5, largeRecordBytes: 200_000, duplicateFraction: 0 },
    };
    await withSim(scenario, async (sim) => {
      const token = await tokenFor(sim);
      const all = sim.truth.blobs();
      const large = all.filter((b) => b.hasLargeRecord);
      expect(large.length).toBe(Math.floor(all.length / 5));
      const b = large.find((x) => x.tenantId === TENANT && x.availableAt <= NOW)!;
      const records = JSON.parse(await blobText(sim, token, TENANT, b.contentId)) as unknown[];
      const sizes = records.map((r) => JSON.stringify(r).length).sort((x, y) => y - x);
      expect(sizes[0]).toBeGreaterThan(100_000);
      expect(sizes[1] ?? 0).toBeLessThan(100_000);
    });
  });

  it('costs little to start at a million records and counts their ids right', async () => {
    const scenario: ScenarioSpec = {
      seed: 'scale',
      tenants: [{ tenantId: TENANT }],
      contentTypes: ['Audit.SharePoint'],
      activity: {
        start: '2026-11-17T00:00:00Z',
        end: '2026-11-20T00:00:00Z',
        recordsPerHour: { 'Audit.SharePoint': 1_000_000 / 72 },
      },
      blobs: { recordsPerBlob: [300, 700], duplicateFraction: 0 },
    };
    const heapBefore = process.memoryUsage().heapUsed;
    const started = Date.now();
    const sim = await startSimulator({ scenario, clock: { start: NOW, frozen: true } });
    try {
      expect(Date.now() - started).toBeLessThan(2000);
      expect(process.memoryUsage().heapUsed - heapBefore).toBeLessThan(64 * 1024 * 1024);
      const blobs = sim.truth.blobs();
      const total = blobs.reduce((n, b) => n + b.recordCount, 0);
      expect(total).toBeGreaterThan(950_000);
      expect(total).toBeLessThan(1_050_000);
      const ids = sim.truth.recordIds();
      expect(ids.size).toBe(total);
      const token = await tokenFor(sim);
      const body = JSON.parse(await blobText(sim, token, TENANT, blobs[100]!.contentId)) as Array<{
        Id: string;
      }>;
      expect(body).toHaveLength(blobs[100]!.recordCount);
      expect(body.every((r) => ids.has(r.Id))).toBe(true);
    } finally {
      await sim.stop();
    }
  }, 180_000);

  it('loads a scenario from a JSON file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sim-scenario-'));
    try {
      const file = join(dir, 'scenario.json');
      writeFileSync(file, JSON.stringify(base));
      const spec = loadScenarioFile(file);
      expect(spec).toEqual(base);
      const fromFile = await withSim(spec, (sim) =>
        Promise.resolve(sim.truth.blobs().map((b) => b.contentId)),
      );
      const inline = await withSim(base, (sim) => Promise.resolve(sim.truth.blobs().map((b) => b.contentId)));
      expect(fromFile).toEqual(inline);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses scenarios that cannot work, saying what is wrong', async () => {
    await expect(
      startSimulator({ scenario: { seed: 1, tenants: [{ tenantId: 'contoso' }] } }),
    ).rejects.toThrow(/tenantId must be a GUID/);
    await expect(
      startSimulator({ scenario: { ...base, blobs: { recordsPerBlob: [5, 2] } } }),
    ).rejects.toThrow(/recordsPerBlob/);
  });
});
