import { startSimulator } from '../../scripts/simulator';
import type { ScenarioSpec, Simulator } from '../../scripts/simulator';
import { OTHER_TENANT, TENANT, api, http, tokenFor, withSim } from './helpers';
import type { ContentItem } from './helpers';

const NOW = '2026-11-20T12:00:00.000Z';
const STORY_START = '2026-11-19T21:13:00Z';

const base: ScenarioSpec = {
  seed: 'stories',
  tenants: [
    { tenantId: TENANT, users: 12 },
    { tenantId: OTHER_TENANT, users: 5 },
  ],
  activity: { start: '2026-11-19T00:00:00Z', end: '2026-11-20T10:00:00Z' },
  subscriptions: { preStarted: true },
  tokenLifetimeSeconds: 86_400,
};

const withStory: ScenarioSpec = { ...base, stories: [{ kind: 'bec', tenantId: TENANT, start: STORY_START }] };

/** Every record served for one content type of TENANT over the listing window, fetched as a client would. */
async function servedRecords(sim: Simulator, contentType: string): Promise<Array<Record<string, unknown>>> {
  const token = await tokenFor(sim);
  const listing = await api(sim, token).get<ContentItem[]>('subscriptions/content', {
    contentType,
    startTime: '2026-11-19T18:00:00',
    endTime: '2026-11-20T12:00:00',
  });
  expect(listing.status).toBe(200);
  const records: Array<Record<string, unknown>> = [];
  let items = listing.data;
  let next = listing.headers.nextpageuri as string | undefined;
  for (;;) {
    for (const item of items) {
      const res = await http.get<Array<Record<string, unknown>>>(item.contentUri, {
        headers: { Authorization: `Bearer ${token}` },
      });
      expect(res.status).toBe(200);
      records.push(...res.data);
    }
    if (next === undefined) break;
    const page = await http.get<ContentItem[]>(next, { headers: { Authorization: `Bearer ${token}` } });
    items = page.data;
    next = page.headers.nextpageuri as string | undefined;
  }
  return records;
}

describe('simulator: scripted stories', () => {
  it('serves a BEC story in ordinary blobs and keeps it in the ground truth', async () => {
    await withSim(withStory, async (sim) => {
      const [story, ...others] = sim.truth.stories();
      expect(others).toHaveLength(0);
      expect(story?.kind).toBe('bec');
      expect(story?.tenantId).toBe(TENANT);
      const records = story!.records;
      expect(records.length).toBeGreaterThan(30);
      expect(records[0]?.creationTime).toBe(STORY_START.slice(0, 19));
      expect(new Set(records.map((r) => r.contentType))).toEqual(
        new Set(['Audit.AzureActiveDirectory', 'Audit.Exchange', 'Audit.SharePoint']),
      );
      for (const r of records) {
        expect(r.record.UserId).toBe(story!.victim.upn);
        expect(Date.parse(r.availableAt)).toBeLessThanOrEqual(Date.parse(NOW));
      }
      // Part of the tenant's ground truth, and of no other tenant's.
      const ids = sim.truth.recordIds({ tenantId: TENANT });
      for (const r of records) expect(ids.has(r.id)).toBe(true);
      expect(sim.truth.recordIds({ tenantId: OTHER_TENANT }).has(records[0]!.id)).toBe(false);

      // Blobs carrying the story are marked, hold nothing else, and are listed like the rest.
      const storyBlobs = sim.truth.blobs({ tenantId: TENANT }).filter((b) => b.story === 0);
      expect(new Set(storyBlobs.map((b) => b.contentId))).toEqual(new Set(records.map((r) => r.contentId)));
      expect(storyBlobs.reduce((n, b) => n + b.recordCount, 0)).toBe(records.length);
      expect(storyBlobs.every((b) => !b.explicit)).toBe(true);

      for (const contentType of ['Audit.AzureActiveDirectory', 'Audit.Exchange', 'Audit.SharePoint']) {
        const served = await servedRecords(sim, contentType);
        const byId = new Map(served.map((r) => [String(r.Id), r]));
        for (const r of records.filter((x) => x.contentType === contentType)) {
          expect(JSON.stringify(byId.get(r.id))).toBe(JSON.stringify(r.record));
        }
        // Mixed in with ordinary activity.
        expect(served.length).toBeGreaterThan(records.filter((x) => x.contentType === contentType).length);
      }
      const stepIds = Object.values(story!.steps).flat();
      expect(new Set(stepIds)).toEqual(new Set(records.map((r) => r.id)));
    });
  });

  it('is deterministic and leaves the rest of the tenant as it was', async () => {
    const summary = (sim: Simulator) => ({
      stories: sim.truth.stories().map((s) => [s.victim.upn, s.attackerIp, s.records.map((r) => r.id)]),
      blobs: sim.truth
        .blobs()
        .filter((b) => b.story === undefined)
        .map((b) => [b.contentId, b.recordCount]),
    });
    const a = await withSim(withStory, (sim) => Promise.resolve(summary(sim)));
    const b = await withSim(withStory, (sim) => Promise.resolve(summary(sim)));
    const plain = await withSim(base, (sim) => Promise.resolve(summary(sim)));
    expect(b).toEqual(a);
    expect(plain.stories).toEqual([]);
    expect(plain.blobs).toEqual(a.blobs);
  });

  it('rejects a story for an unknown tenant or kind', async () => {
    await expect(
      startSimulator({
        scenario: {
          ...base,
          stories: [{ kind: 'bec', tenantId: '1b2c3d4e-0000-4000-8000-000000000000', start: NOW }],
        },
      }),
    ).rejects.toThrow(/stories\[0\] names unknown tenant/);
    await expect(
      startSimulator({
        scenario: { ...base, stories: [{ kind: 'phish' as 'bec', tenantId: TENANT, start: NOW }] },
      }),
    ).rejects.toThrow(/stories\[0\]\.kind must be 'bec'/);
  });
});
