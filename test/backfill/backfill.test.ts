/**
 * Issue 14 acceptance: a backfill of a simulated 90-day history, with the live feed (the collector) running
 * at the same time, stores every record exactly once through the real queue, writer and Cosmos DB stand-in;
 * running it again adds nothing. Time is the simulator's (the engine's waits move its clock).
 */
import { countProgress } from '../../shared/backfill/progressStore';
import {
  DAY,
  expectExactlyOnce,
  iso,
  NOW,
  startBackfillStack,
  TENANT,
  type BackfillStack,
} from './backfillStack';

let stack: BackfillStack;

beforeAll(async () => {
  stack = await startBackfillStack();
}, 60_000);

afterAll(async () => {
  await stack?.stop();
});

it('stores every record of 90 days exactly once with the live feed running, and a re-run adds nothing', async () => {
  const sim = stack.collector.sim;
  const writer = stack.writer();
  const collector = stack.collector.runtime();
  // Midnight to midnight: 90 day-long windows.
  const to = `${NOW.slice(0, 10)}T00:00:00.000Z`;
  const from = iso(Date.parse(to) - 90 * DAY);

  // The live feed has been running: its first run takes the API's 7 days.
  await stack.collector.collect(collector);
  await stack.writeAll(writer);

  // The live feed keeps collecting and the writer keeps writing while the backfill runs.
  let backfilling = true;
  const live = (async () => {
    let runs = 0;
    while (backfilling) {
      const summary = await stack.collector.collect(collector);
      expect(summary.contentTypes.map((c) => c.error ?? c.outcome)).not.toContain('failed');
      await stack.writeAll(writer);
      runs++;
      await new Promise((r) => setTimeout(r, 20));
    }
    return runs;
  })();
  const progressSeen: number[] = [];
  const summary = await stack
    .backfill(
      { from, to, createdBy: 'acceptance' },
      { onProgress: (p) => progressSeen.push(countProgress(p).finishedMs) },
    )
    .finally(() => (backfilling = false));
  const liveRuns = await live;

  expect(summary).toMatchObject({
    outcome: 'complete',
    windows: { total: 90, done: 90, partial: 0, failed: 0 },
  });
  expect(summary.run.queriesCreated).toBe(90);
  expect(summary.run.refused).toEqual({});
  expect(liveRuns).toBeGreaterThan(0);
  // Progress only ever moves forward (the progress bar's ETA is computed from it).
  expect(progressSeen).toEqual([...progressSeen].sort((a, b) => a - b));

  // Whatever the live feed collected after the range plus the 90 days, each record exactly once.
  await stack.collector.collect(collector);
  await stack.writeAll(writer);
  const stored = await stack.stored(writer);
  const backfilled = stack.truth(from, to);
  expect(backfilled.size).toBeGreaterThan(2500);
  const everything = stack.truth(from, sim.clock.now().toISOString());
  expectExactlyOnce(stored, everything);
  // The summary's records are the ground truth's (each content type sent, none refused).
  const sent = Object.values(summary.run.sent).reduce((a, b) => a + b, 0);
  expect(sent + summary.run.skipped).toBe(summary.run.records);
  expect(summary.run.records).toBe(backfilled.size);
  expect(Object.keys(summary.run.sent).sort()).toEqual(
    ['Audit.AzureActiveDirectory', 'Audit.Exchange', 'Audit.General', 'Audit.SharePoint', 'DLP.All'].sort(),
  );
  // About a page per window here: create, a few polls and the pages, far under a request per record.
  expect(summary.run.requestsPer1000Records).not.toBeNull();
  expect(summary.run.requestsPer1000Records!).toBeLessThan(200);

  // The same command again: the progress says done, no query is created, nothing is sent.
  const again = await stack.backfill({ from, to, createdBy: 'acceptance' });
  expect(again).toMatchObject({ outcome: 'complete', run: { queriesCreated: 0, records: 0, requests: 0 } });
  expect(await stack.writeAll(writer)).toBe(0);
  expectExactlyOnce(await stack.stored(writer), everything);

  // Only the requested content types are stored: a second backfill of Exchange into a fresh container.
  const exchangeOnly = stack.writer();
  const exFrom = iso(Date.parse(NOW) - 10 * DAY);
  const exTo = iso(Date.parse(NOW) - 8 * DAY);
  const ex = await stack.backfill({ from: exFrom, to: exTo, contentTypes: ['Audit.Exchange'] });
  expect(ex.outcome).toBe('complete');
  expect(Object.keys(ex.run.sent)).toEqual(['Audit.Exchange']);
  expect(ex.run.skipped).toBeGreaterThan(0);
  await stack.writeAll(exchangeOnly);
  // The ground truth's Exchange records of the range (the Management API's Audit.Exchange content), each once.
  const exchangeIds = sim.truth.recordIds({ tenantId: TENANT, contentType: 'Audit.Exchange' });
  const exTruth = new Set([...stack.truth(exFrom, exTo)].filter((id) => exchangeIds.has(id)));
  expect(exTruth.size).toBeGreaterThan(0);
  expectExactlyOnce(await stack.stored(exchangeOnly), exTruth);
  expect(ex.run.sent['Audit.Exchange']).toBe(exTruth.size);
  const container = stack.cosmosClient.database('auditfeed').container(exchangeOnly.config.cosmos.container);
  const { resources } = await container.items
    .query<{ contentType: string }>('SELECT c.contentType FROM c')
    .fetchAll();
  expect(new Set(resources.map((r) => r.contentType))).toEqual(new Set(['Audit.Exchange']));
  expect(TENANT).toBe(stack.collector.sim.tenants[0]);
}, 120_000);
