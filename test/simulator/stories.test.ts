import { attackOf, startSimulator } from '../../scripts/simulator';
import type { ScenarioSpec, Simulator, TruthAttack } from '../../scripts/simulator';
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
      for (const r of records) expect(Date.parse(r.availableAt)).toBeLessThanOrEqual(Date.parse(NOW));
      // Every scripted record is the attacker's (with its phase) or a look-alike's, never both.
      const attackerIds = new Set(story!.attackerRecordIds);
      expect(attackerIds.size).toBe(story!.attackerRecordIds.length);
      expect(new Set(Object.values(story!.attack).flat())).toEqual(attackerIds);
      for (const r of records) {
        expect(r.phase === undefined).toBe(r.lookAlike !== undefined);
        expect(attackerIds.has(r.id)).toBe(r.phase !== undefined);
        if (r.phase) expect(story!.attack[r.phase]).toContain(r.id);
      }
      expect(story!.compromisedUsers).toEqual([story!.victim.upn, story!.consent.victim.upn]);
      expect(story!.sprayedUsers.length).toBeGreaterThanOrEqual(8);
      expect(story!.lookAlikeUsers).toHaveLength(3);
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

  it("names every attacker record of the tenant's feed, and no look-alike user has one", async () => {
    await withSim(withStory, async (sim) => {
      const [story] = sim.truth.stories();
      const attackerIds = new Set(story!.attackerRecordIds);
      const lookAlikeUsers = new Set(story!.lookAlikeUsers);
      const text = (v: unknown): string => (typeof v === 'string' ? v : '');
      const address = (r: Record<string, unknown>): string =>
        text(r.ClientIPAddress ?? r.ClientIP)
          .replace(/^\[([^\]]+)\](?::\d+)?$/, '$1')
          .replace(/^(\d+\.\d+\.\d+\.\d+):\d+$/, '$1');
      const seen = new Set<string>();
      for (const contentType of ['Audit.AzureActiveDirectory', 'Audit.Exchange', 'Audit.SharePoint']) {
        for (const r of await servedRecords(sim, contentType)) {
          const id = String(r.Id);
          // Whatever comes from the attacker's address is an attacker record of the ground truth...
          if (address(r) === story!.attackerIp) expect(attackerIds.has(id)).toBe(true);
          if (!attackerIds.has(id)) continue;
          seen.add(id);
          // ...and no attacker record is about a look-alike user.
          expect(lookAlikeUsers.has(String(r.UserId))).toBe(false);
          expect(lookAlikeUsers.has(text(r.MailboxOwnerUPN))).toBe(false);
        }
      }
      expect(seen).toEqual(attackerIds);
      // Look-alike users are neither compromised nor sprayed.
      for (const u of [...story!.compromisedUsers, ...story!.sprayedUsers])
        expect(lookAlikeUsers.has(u)).toBe(false);

      // The same over HTTP, without record bodies, for tests in another process.
      const res = await http.get<TruthAttack[]>(`${sim.baseUrl}/_sim/truth/attack`, {
        params: { tenantId: TENANT.toUpperCase() },
      });
      expect(res.status).toBe(200);
      expect(res.data).toHaveLength(1);
      const [attack] = res.data;
      expect(attack).toEqual(JSON.parse(JSON.stringify(attackOf(story!))));
      expect(attack).toMatchObject({
        victim: story!.victim.upn,
        attackerIp: story!.attackerIp,
        attackerRecordIds: story!.attackerRecordIds,
        lookAlikeUsers: story!.lookAlikeUsers,
        consent: { victim: story!.consent.victim.upn, appId: story!.consent.appId },
      });
      expect(Object.keys(attack!.attack)).toEqual(['spraying', 'compromise', 'consent']);
      const other = await http.get<TruthAttack[]>(`${sim.baseUrl}/_sim/truth/attack`, {
        params: { tenantId: OTHER_TENANT },
      });
      expect(other.data).toEqual([]);
    });
  });

  it('is deterministic and leaves the rest of the tenant as it was', async () => {
    const summary = (sim: Simulator) => ({
      stories: sim.truth
        .stories()
        .map((s) => [
          s.victim.upn,
          s.attackerIp,
          s.records.map((r) => r.id),
          s.attackerRecordIds,
          s.lookAlikeUsers,
        ]),
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
