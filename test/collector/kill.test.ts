import { startJsonLineChild } from '../../scripts/bench/childProcess';
import { dist } from '../helpers/childProcesses';
import { countIds, startCollectorStack, type CollectorStack } from '../helpers/stack';

/**
 * A real crash: the collector in a process of its own, killed with SIGKILL in the middle of a run (no
 * finally, no flush), then a new process. Nothing may be missing; only the pages in flight come twice.
 */

const TENANT = '7e3c1b9a-2d4f-4a6e-8b1c-5d9e0f2a3b4c';
const HOUR = 3_600_000;
const PAGE_SIZE = 10;
const MAX_RECORDS_PER_BLOB = 5;
const CONTENT_TYPES = ['Audit.Exchange', 'Audit.General'] as const;

describe('collector killed with SIGKILL mid-run', () => {
  let stack: CollectorStack;
  afterAll(async () => stack?.stop());

  it('loses nothing, and the next process re-enqueues at most the pages that were in flight', async () => {
    const now = Date.now();
    stack = await startCollectorStack({
      scenario: {
        seed: 'sigkill',
        tenants: [{ tenantId: TENANT, users: 15 }],
        contentTypes: [...CONTENT_TYPES],
        activity: {
          start: new Date(now - 6 * HOUR).toISOString(),
          end: new Date(now - HOUR).toISOString(),
          recordsPerHour: { 'Audit.Exchange': 240, 'Audit.General': 120 },
        },
        blobs: {
          recordsPerBlob: [1, MAX_RECORDS_PER_BLOB],
          aggregationMinutes: 5,
          latencyMinutes: [1, 10],
          lateFraction: 0,
          duplicateFraction: 0,
        },
        listing: { pageSize: PAGE_SIZE },
        tokenLifetimeSeconds: 3599,
      },
    });
    // Slow blobs, so the run is still going when it is killed.
    stack.sim.faults.add({ route: 'blob', times: Infinity, action: { kind: 'delay', ms: 15 } });
    const env = {
      ...stack.env,
      AUDITFEED_CONTENT_TYPES: CONTENT_TYPES.join(','),
      AUDITFEED_INITIAL_LOOKBACK_HOURS: '24',
    };
    const queue = stack.queue();
    await queue.createIfNotExists();

    const first = startJsonLineChild(dist('scripts/bench/collectorProcess.js'), [], { env });
    for (;;) {
      const { approximateMessagesCount = 0 } = await queue.getProperties();
      if (approximateMessagesCount >= 6) break;
      expect(first.child.exitCode).toBeNull();
      await new Promise((r) => setTimeout(r, 20));
    }
    first.child.kill('SIGKILL');
    await first.exited.catch(() => undefined);
    expect(first.child.signalCode).toBe('SIGKILL');
    expect(first.lines.some((l) => l.done === true)).toBe(false);

    const second = startJsonLineChild(dist('scripts/bench/collectorProcess.js'), [], { env });
    await second.waitFor((l) => l.done === true, 150_000);
    await second.exited;
    expect(second.child.exitCode).toBe(0);

    const received = countIds(await stack.drain());
    const expected = new Set(
      CONTENT_TYPES.flatMap((ct) => [
        ...stack.sim.truth.recordIds({ contentType: ct, availableBy: new Date() }),
      ]),
    );
    expect(expected.size).toBeGreaterThan(500);
    expect(new Set(received.keys())).toEqual(expected);
    const repeated = [...received.values()].reduce((n, c) => n + c - 1, 0);
    expect(repeated).toBeLessThanOrEqual(CONTENT_TYPES.length * PAGE_SIZE * MAX_RECORDS_PER_BLOB);
  });
});
