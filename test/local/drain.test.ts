import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ContentType } from '../../shared/contentTypes';
import { readHostSettings } from '../../shared/hostSettings';
import { silentLogger } from '../../shared/logging';
import { startLocalStack, type LocalStack } from '../../scripts/local/localStack';
import { Pipeline } from '../../scripts/local/pipeline';
import { stopAll } from '../../scripts/local/services';
import { RunStats } from '../../scripts/local/stats';
import { verifyStore } from '../../scripts/local/verify';

/**
 * Pipeline.stop() while the collector is enqueuing: its run stops at the next safe point, as at its
 * deadline (the clock jumps there), instead of being abandoned to the services going away — and that point
 * is safe: a later run on the same stores catches up with nothing missing or duplicated.
 */

/** Calls `onFirst` the first time the collector enqueues a batch: proof that a run is in flight. */
class WatchedStats extends RunStats {
  constructor(
    contentTypes: readonly ContentType[],
    private onFirst: (() => void) | undefined,
  ) {
    super(contentTypes);
  }

  override enqueued(ct: ContentType, records: number): void {
    super.enqueued(ct, records);
    const first = this.onFirst;
    this.onFirst = undefined;
    first?.();
  }
}

describe('stopping the local pipeline', () => {
  let dir: string;
  let stack: LocalStack;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'auditfeed-drain-test-'));
    stack = await startLocalStack({ scenario: 'small', stateDir: dir, persist: false, env: {} });
  }, 180_000);

  afterAll(async () => {
    await stack?.stop();
    await stopAll();
    rmSync(dir, { recursive: true, force: true });
  });

  it('lets a collector run in flight reach a safe point, and the next run completes exactly once', async () => {
    const host = readHostSettings();
    const { config } = stack;
    let stopping: ReturnType<Pipeline['stop']> | undefined;
    const stats = new WatchedStats(config.contentTypes, () => {
      stopping = pipeline.stop();
    });
    const pipeline = new Pipeline({ config, host, stats, logger: silentLogger, mode: 'once' });
    await pipeline.start();
    await expect(pipeline.untilCaughtUp()).resolves.toBe('stopped');
    expect(stopping).toBeDefined();
    const result = await stopping!;
    pipeline.close();

    expect(result.inFlight.collectorRun).toBe(true);
    // Reached on its own, well inside the drain timeout: nothing abandoned.
    expect(result).toMatchObject({ drained: true, abandoned: { writerBatches: 0, collectorRun: false } });
    expect(stats.collectorRunning).toBe(false);
    expect(stats.finishedRuns).toBe(1);
    const outcomes = stats.lastRun!.contentTypes.map((c) => c.outcome);
    // Stopped as at a deadline, with backlog left; nothing failed.
    expect(outcomes).toContain('deadline');
    expect(outcomes.every((o) => o === 'deadline' || o === 'complete')).toBe(true);
    expect(stats.errors).toBe(0);

    // The same stores again: the next run resumes from the saved watermarks and catches up.
    const again = new RunStats(config.contentTypes);
    const next = new Pipeline({ config, host, stats: again, logger: silentLogger, mode: 'once' });
    try {
      await next.start();
      await expect(next.untilCaughtUp()).resolves.toBe('caught-up');
    } finally {
      await next.stop();
      next.close();
    }
    const run = again.lastCompleteRun!;
    const check = await verifyStore({
      container: await next.writerRuntime.ensureResources(),
      tenantIds: config.tenants.map((t) => t.tenantId),
      truth: stack.sim!.truth,
      mustHaveBy: new Date(Date.parse(run.startedAt) - 1000),
      mayHaveBy: new Date(),
    });
    expect(check.truth?.expected).toBeGreaterThan(500);
    expect(check.truth).toMatchObject({ missing: 0, duplicated: 0, unexpected: 0 });
  }, 180_000);
});
