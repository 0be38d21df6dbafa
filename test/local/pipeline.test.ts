import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { AuditfeedConfig } from '../../shared/config';
import { readHostSettings, type HostSettings } from '../../shared/hostSettings';
import { startLocalStack, type LocalStack } from '../../scripts/local/localStack';
import { Pipeline } from '../../scripts/local/pipeline';
import { stopAll } from '../../scripts/local/services';
import { RunStats } from '../../scripts/local/stats';
import { silentLogger } from '../../shared/logging';

/**
 * The runner's trigger loop in-process, with host.json's queue settings shortened so the poison path
 * runs in seconds instead of maxDequeueCount × 2 minutes.
 */
/** A one-pass pipeline whose failed messages come back at once and poison on the second failure. */
function quickRetryPipeline(
  config: AuditfeedConfig,
  collectorWorkers?: number,
): { pipeline: Pipeline; stats: RunStats } {
  const real = readHostSettings();
  const host: HostSettings = {
    ...real,
    queues: { ...real.queues, visibilityTimeoutSeconds: 0, maxDequeueCount: 2, maxPollingIntervalMs: 500 },
  };
  const stats = new RunStats(config.contentTypes);
  const pipeline = new Pipeline({
    config,
    host,
    stats,
    logger: silentLogger,
    mode: 'once',
    ...(collectorWorkers !== undefined ? { collectorWorkers } : {}),
  });
  return { pipeline, stats };
}

describe('local pipeline (Functions trigger semantics)', () => {
  let dir: string;
  let stack: LocalStack;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'auditfeed-pipeline-test-'));
    stack = await startLocalStack({ scenario: 'small', stateDir: dir, persist: false, env: {} });
  }, 180_000);

  afterAll(async () => {
    await stack?.stop();
    await stopAll();
    rmSync(dir, { recursive: true, force: true });
  });

  it('collects and writes the backlog, and poisons a message that fails maxDequeueCount times', async () => {
    const { pipeline, stats } = quickRetryPipeline(stack.config);
    // A message from a "newer collector": the writer refuses it on every delivery.
    await pipeline.queue.createIfNotExists();
    const { messageId } = await pipeline.queue.sendMessage(
      JSON.stringify({ v: 99, batchId: 'from-the-future' }),
    );
    try {
      await pipeline.start();
      await expect(pipeline.untilCaughtUp()).resolves.toBe('caught-up');
    } finally {
      await pipeline.stop();
      pipeline.close();
    }
    expect(stats.poisoned).toEqual([messageId]);
    expect(stats.failedDeliveries).toBe(2);
    const { receivedMessageItems } = await pipeline.poisonQueue.receiveMessages({ numberOfMessages: 5 });
    expect(receivedMessageItems.map((m) => JSON.parse(m.messageText) as unknown)).toEqual([
      { v: 99, batchId: 'from-the-future' },
    ]);
    expect((await pipeline.queue.getProperties()).approximateMessagesCount).toBe(0);

    expect(stats.lastRun?.contentTypes.every((c) => c.outcome === 'complete')).toBe(true);
    expect(stats.messagesWritten).toBe(stats.messagesEnqueued);
    for (const [, t] of stats.types) {
      expect(t.collected).toBeGreaterThan(0);
      expect(t.written).toBeGreaterThan(0);
      expect(t.cursor).toBeDefined();
    }
    expect(stats.maxLagSeconds()).toBeLessThan(600);
  }, 180_000);
});

describe('local pipeline, fanned out (npm start -- --workers)', () => {
  let dir: string;
  let stack: LocalStack;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'auditfeed-pipeline-fanout-'));
    stack = await startLocalStack({
      scenario: 'small',
      stateDir: dir,
      persist: false,
      env: { AUDITFEED_COLLECT_MODE: 'fanout' },
    });
  }, 180_000);

  afterAll(async () => {
    await stack?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('the timer dispatches tasks, several workers run them, every record is written; a bad task is poisoned', async () => {
    const { pipeline, stats } = quickRetryPipeline(stack.config, 3);
    expect(pipeline.fanout).toBe(true);
    await pipeline.workQueue.createIfNotExists();
    const { messageId } = await pipeline.workQueue.sendMessage('{"v":1,"kind":"collect"}');
    try {
      await pipeline.start();
      await expect(pipeline.untilCaughtUp()).resolves.toBe('caught-up');
    } finally {
      await pipeline.stop();
      pipeline.close();
    }
    const { receivedMessageItems } = await pipeline.workPoisonQueue.receiveMessages({ numberOfMessages: 5 });
    expect(receivedMessageItems.map((m) => m.messageText)).toEqual(['{"v":1,"kind":"collect"}']);
    expect(messageId).toBeDefined();
    // Every content type ran as a task of its own and its claim says done.
    const tenantId = stack.config.tenants[0]!.tenantId;
    for (const ct of stack.config.contentTypes) {
      const { claim } = await pipeline.collectorRuntime.claims.load(tenantId, ct);
      expect(claim).toMatchObject({ state: 'done', outcome: 'complete' });
    }
    expect(stats.lastRun?.contentTypes.map((c) => c.contentType).sort()).toEqual(
      [...stack.config.contentTypes].sort(),
    );
    expect(stats.messagesWritten).toBe(stats.messagesEnqueued);
    // The simulator's clock runs: what was available when the last (complete) run began must be stored,
    // once; nothing may be stored that is not available by now.
    const owed = stack.sim!.truth.recordIds({ availableBy: new Date(stats.lastRun!.startedAt) });
    const available = stack.sim!.truth.recordIds({ availableBy: stack.sim!.clock.now() });
    const container = await pipeline.writerRuntime.ensureResources();
    const { resources } = await container.items.query<string>('SELECT VALUE c.Id FROM c').fetchAll();
    expect(owed.size).toBeGreaterThan(1000);
    expect(new Set(resources).size).toBe(resources.length);
    for (const id of owed) expect(resources).toContain(id);
    expect(resources.filter((id) => !available.has(id))).toEqual([]);
  }, 180_000);
});
