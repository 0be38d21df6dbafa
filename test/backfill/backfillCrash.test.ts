/**
 * A crash at every step of the backfill (after a query is created, after its id is saved, after a poll,
 * after a page is read, after it is sent but before its progress is saved, after the save) resumes without
 * losing or duplicating a record. Crashes are injected deterministically at the Nth time a step is reached;
 * the crashed run saves nothing more and keeps its claim, as a dead process would.
 */
import type { BackfillStep } from '../../shared/backfill/backfillRun';
import {
  DAY,
  expectExactlyOnce,
  iso,
  MIDNIGHT,
  NOW,
  scenario,
  startBackfillStack,
  type BackfillStack,
} from './backfillStack';

let stack: BackfillStack;

beforeAll(async () => {
  stack = await startBackfillStack({
    // Small pages: a window takes several, so a crash can land mid-paging.
    scenario: scenario({ graphAudit: { pageSize: 10, startDelaySeconds: 5, runSeconds: [10, 40] } }),
    clock: { start: NOW, frozen: true },
  });
}, 60_000);

afterAll(async () => {
  await stack?.stop();
});

/** Progress saved every 2 pages, and batches small enough that full ones go out between saves. */
const GROUPED = { commitEvery: { pages: 2 }, maxMessageBytes: 1_500 };

const STEPS: Array<[BackfillStep, number]> = [
  ['query-created', 2],
  ['query-saved', 2],
  ['polled', 3],
  ['page-read', 4],
  ['page-sent', 3],
  ['page-saved', 3],
];

it.each(STEPS.map(([step, n], i) => [step, n, i] as const))(
  'a crash at %s (its occurrence %i) resumes without loss or duplicates',
  async (step, n, i) => {
    const sim = stack.collector.sim;
    const writer = stack.writer();
    // A 3-day range of its own per case, so the cases do not share progress.
    const to = iso(MIDNIGHT - (10 + 4 * i) * DAY);
    const from = iso(Date.parse(to) - 3 * DAY);
    const expected = stack.truth(from, to);
    expect(expected.size).toBeGreaterThan(60);

    let seen = 0;
    const crashed = await stack.backfill(
      { from, to },
      {
        ...GROUPED,
        maxQueriesInFlight: 2,
        onStep: (s) => {
          if (s === step && ++seen === n) throw new Error(`simulated crash at ${s}`);
        },
      },
    );
    expect(crashed).toMatchObject({ outcome: 'failed', error: `simulated crash at ${step}` });

    // The dead run's claim still holds: a run started at once is refused, names the owner's expiry.
    const busy = await stack.backfill({ from, to });
    expect(busy.outcome).toBe('busy');
    expect(busy.error).toMatch(/being run by another process until/);

    // Once the claim has expired, the same backfill continues and finishes.
    sim.clock.advance(6 * 60_000);
    const resumed = await stack.backfill({ from, to }, GROUPED);
    expect(resumed).toMatchObject({ outcome: 'complete', windows: { total: 3, done: 3 } });

    const written = await stack.writeAll(writer);
    expectExactlyOnce(await stack.stored(writer), expected);

    // What was redone: a query created but not saved is created again (one wasted submission); pages
    // read or sent since the last save are sent again — at most a save's worth (2 pages of 10), and
    // harmless: the writer stores each record once. Nothing else.
    const created = crashed.run.queriesCreated + resumed.run.queriesCreated;
    expect(created).toBe(step === 'query-created' ? 4 : 3);
    const resent = written - expected.size;
    expect(resent).toBeGreaterThanOrEqual(0);
    expect(resent).toBeLessThanOrEqual(step === 'page-sent' || step === 'page-read' ? 20 : 0);
    if (step === 'page-sent') expect(resent).toBeGreaterThan(0);
  },
  60_000,
);

it('saves progress every few pages, not every page, and sends full messages in between', async () => {
  const to = iso(MIDNIGHT - 40 * DAY);
  const from = iso(Date.parse(to) - DAY);
  const writer = stack.writer();
  const steps: Record<string, number> = {};
  let sentBeforeFirstSave = 0;
  const queue = stack.runtime.storage.queues.getQueueClient(stack.config.queueName);
  const s = await stack.backfill(
    { from, to },
    {
      ...GROUPED,
      commitEvery: { pages: 3 },
      onStep: async (step) => {
        steps[step] = (steps[step] ?? 0) + 1;
        if (step === 'page-read' && steps[step] === 3 && !steps['page-saved'])
          sentBeforeFirstSave = (await queue.getProperties()).approximateMessagesCount ?? 0;
      },
    },
  );
  expect(s.outcome).toBe('complete');
  const pages = steps['page-read']!;
  expect(pages).toBeGreaterThanOrEqual(4);
  // One save for every 3 pages (the last group may be shorter), each after its flush.
  expect(steps['page-saved']).toBe(Math.ceil(pages / 3));
  expect(steps['page-sent']).toBe(steps['page-saved']);
  // Full messages left before the first save: records do not wait for it.
  expect(sentBeforeFirstSave).toBeGreaterThan(0);
  await stack.writeAll(writer);
  expectExactlyOnce(await stack.stored(writer), stack.truth(from, to));
});
