import { randomUUID } from 'node:crypto';
import { QueueServiceClient, type QueueClient } from '@azure/storage-queue';
import { drainQueue } from '../../scripts/local/queueTrigger';
import { startAzurite, stopAll, type AzuriteHandle } from '../../scripts/local/services';

/**
 * The host's refill rule (host.json newBatchThreshold): the next batch is fetched once in-flight messages
 * drop to the threshold, so one slow message does not hold its batch's slots idle, and no more than
 * batchSize + newBatchThreshold run at once.
 */

let azurite: AzuriteHandle;
let service: QueueServiceClient;

beforeAll(async () => {
  azurite = await startAzurite({ inMemory: true });
  service = QueueServiceClient.fromConnectionString(azurite.connectionString);
}, 120_000);

afterAll(async () => {
  await azurite?.stop();
  await stopAll();
});

async function queueWith(texts: string[]): Promise<{ queue: QueueClient; poison: QueueClient }> {
  const name = `q${randomUUID().replace(/-/g, '').slice(0, 20)}`;
  const queue = service.getQueueClient(name);
  await queue.create();
  for (const t of texts) await queue.sendMessage(t);
  return { queue, poison: service.getQueueClient(`${name}-poison`) };
}

/** Drains 13 messages, the first one held until the twelve others have finished or `holdMs` passed. */
async function drainWithOneSlow(newBatchThreshold: number | undefined, holdMs = 60_000) {
  const { queue, poison } = await queueWith(['slow', ...Array.from({ length: 12 }, (_, i) => `fast-${i}`)]);
  let release!: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));
  const timer = setTimeout(() => release(), holdMs);
  const finished: string[] = [];
  let running = 0;
  let peak = 0;
  const result = await drainQueue({
    queue,
    poisonQueue: poison,
    batchSize: 4,
    newBatchThreshold,
    pollIntervalMs: 20,
    timeoutMs: 5_000,
    handler: async (m) => {
      running++;
      peak = Math.max(peak, running);
      try {
        if (m.text === 'slow') await held;
        finished.push(m.text);
        if (finished.length === 12) release();
      } finally {
        running--;
      }
    },
  });
  clearTimeout(timer);
  return { result, finished, peak };
}

describe('queue trigger refill (newBatchThreshold)', () => {
  it('keeps taking messages while a slow one runs, never more than batchSize + threshold at once', async () => {
    const { result, finished, peak } = await drainWithOneSlow(2);
    expect(result).toMatchObject({ drained: true, succeeded: 13, failed: 0 });
    // All twelve fast messages finished while the slow one was still held; it finished last.
    expect(finished.indexOf('slow')).toBe(12);
    expect(peak).toBeGreaterThan(1);
    expect(peak).toBeLessThanOrEqual(4 + 2);
  });

  it('without a threshold, the next batch waits for the whole batch in hand', async () => {
    const { result, finished, peak } = await drainWithOneSlow(undefined, 1_000);
    // The slow message's three batch-mates finish, then nothing more is taken until it is let go.
    expect(result).toMatchObject({ drained: true, succeeded: 13 });
    expect(finished.indexOf('slow')).toBe(3);
    expect(peak).toBeLessThanOrEqual(4);
  }, 20_000);

  it('a failed message goes back to the queue while the rest carry on', async () => {
    const { queue, poison } = await queueWith(['bad', 'ok-1', 'ok-2', 'ok-3', 'ok-4', 'ok-5']);
    let badTries = 0;
    const result = await drainQueue({
      queue,
      poisonQueue: poison,
      batchSize: 2,
      newBatchThreshold: 1,
      pollIntervalMs: 20,
      timeoutMs: 10_000,
      handler: (m) =>
        m.text === 'bad' && ++badTries < 3 ? Promise.reject(new Error('transient')) : Promise.resolve(),
    });
    expect(result).toMatchObject({ drained: true, succeeded: 6, failed: 2, poisoned: [] });
  }, 20_000);
});
