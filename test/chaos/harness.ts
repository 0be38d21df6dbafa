import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CosmosClient } from '@azure/cosmos';
import { startSimulator, type Simulator } from '../../scripts/simulator';
import { Rng } from '../../scripts/simulator/rng';
import { drainQueue } from '../../scripts/local/queueTrigger';
import {
  createCosmosClient,
  startAzurite,
  startCosmos,
  type AzuriteHandle,
  type CosmosHandle,
} from '../../scripts/local/services';
import type { CollectorStep } from '../../shared/collector/collector';
import { loadConfig } from '../../shared/config';
import { CONTENT_TYPES } from '../../shared/contentTypes';
import { write } from '../../shared/handlers/write';
import { silentLogger } from '../../shared/logging';
import { CollectorRuntime } from '../../shared/runtime';
import { FailedMessageArchive } from '../../shared/writer/failedMessages';
import { replayPoison } from '../../shared/writer/poisonReplay';
import { WriterRuntime } from '../../shared/writerRuntime';
import { CosmosFaultProxy } from '../writer/cosmosFaultProxy';

/**
 * One randomized, seeded fault schedule over the whole pipeline (issue 5): API faults, late and repeated
 * content, collector crashes at random steps, Cosmos throttling/outages/lost answers, Azurite and Cosmos
 * process restarts, and duplicate queue deliveries. The pipeline then runs to quiescence and the store is
 * compared with the simulator's ground truth.
 */

const NOW = Date.parse('2026-11-20T12:00:00Z');
const MINUTE = 60_000;

export interface ChaosServices {
  azurite: AzuriteHandle;
  cosmos: CosmosHandle;
  proxy: CosmosFaultProxy;
  cosmosClient: CosmosClient;
  stop(): Promise<void>;
}

/** Persistent Azurite and Cosmos (so restarts keep acknowledged data) behind a fault proxy. */
export async function startChaosServices(): Promise<ChaosServices> {
  const dir = mkdtempSync(join(tmpdir(), 'auditfeed-chaos-'));
  const [azurite, cosmos] = await Promise.all([
    startAzurite({ location: join(dir, 'azurite') }),
    startCosmos({ statePath: join(dir, 'cosmos.jsonl') }),
  ]);
  const proxy = await CosmosFaultProxy.start(cosmos.endpoint);
  const cosmosClient = createCosmosClient(cosmos);
  return {
    azurite,
    cosmos,
    proxy,
    cosmosClient,
    async stop() {
      cosmosClient.dispose();
      await proxy.close();
      await Promise.all([azurite.stop(), cosmos.stop()]);
    },
  };
}

export interface ScheduleResult {
  seed: number;
  expected: number;
  stored: number;
  missing: string[];
  duplicates: number;
  /** contentIds the schedule made expire, and the ones the collector recorded as gaps. */
  expiredBlobs: string[];
  gapBlobs: string[];
  faults: Record<string, number>;
  passes: number;
}

class Crash extends Error {}

export async function runSchedule(services: ChaosServices, seed: number): Promise<ScheduleResult> {
  const rng = new Rng(`chaos:${seed}`);
  const tenantId = rng.uuid();
  const faults: Record<string, number> = {};
  const count = (what: string): void => {
    faults[what] = (faults[what] ?? 0) + 1;
  };

  const sim: Simulator = await startSimulator({
    tls: true,
    clock: { start: new Date(NOW), frozen: true },
    scenario: {
      seed: `chaos-${seed}`,
      tenants: [{ tenantId, users: 12 }],
      activity: {
        start: new Date(NOW - 6 * 60 * MINUTE).toISOString(),
        end: new Date(NOW + 60 * MINUTE).toISOString(),
        recordsPerHour: Object.fromEntries(CONTENT_TYPES.map((ct) => [ct, rng.int(5, 30)])),
      },
      blobs: {
        recordsPerBlob: [1, rng.int(3, 10)],
        aggregationMinutes: rng.pick([5, 10, 20]),
        latencyMinutes: [1, 15],
        lateFraction: rng.pick([0, 0.1, 0.3]),
        lateHours: [1, 2],
        duplicateFraction: rng.pick([0, 0.1, 0.3]),
        largeRecordEvery: rng.pick([0, 0, 25]),
        largeRecordBytes: 120_000,
      },
      listing: { pageSize: rng.int(5, 40), nextPageHeader: 'alternate' },
      tokenLifetimeSeconds: 30 * 24 * 3600,
    },
  });

  const dir = mkdtempSync(join(tmpdir(), 'auditfeed-chaos-ca-'));
  writeFileSync(join(dir, 'ca.pem'), sim.caPem!);
  const queueName = `chaos-${seed}`;
  const env = {
    AUDITFEED_TENANT_IDS: tenantId,
    AUDITFEED_AUTH_MODE: 'secret',
    AUDITFEED_CLIENT_ID: sim.apps[0]!.clientId,
    AUDITFEED_CLIENT_SECRET: sim.apps[0]!.clientSecret!,
    AUDITFEED_API_ENDPOINT: sim.baseUrl,
    AUDITFEED_LOGIN_ENDPOINT: sim.baseUrl,
    AUDITFEED_TLS_CA_FILE: join(dir, 'ca.pem'),
    AUDITFEED_STORAGE: services.azurite.connectionString,
    AUDITFEED_COSMOS__accountEndpoint: services.proxy.endpoint,
    AUDITFEED_COSMOS__accountKey: services.cosmos.key,
    AUDITFEED_COSMOS_CONTAINER: `chaos-${seed}`,
    AUDITFEED_QUEUE_NAME: queueName,
    AUDITFEED_MAX_REQUESTS_PER_MINUTE: '60000',
    AUDITFEED_HTTP_TIMEOUT_SECONDS: '2',
    AUDITFEED_MAX_RETRIES: '3',
  };
  const config = loadConfig(env);
  const collector = new CollectorRuntime(config, silentLogger);
  const writer = new WriterRuntime(config, silentLogger, {
    throttle: { maxRounds: 3, maxWaitMs: 50, defaultWaitMs: 20 },
  });
  const queue = writer.storage.queues.getQueueClient(queueName);
  const poison = writer.storage.queues.getQueueClient(`${queueName}-poison`);

  // API faults, from the simulator's seeded randomizer; some blobs expire before they are fetched.
  sim.faults.randomize({ seed: `api-${seed}`, rate: rng.pick([0.01, 0.03, 0.06]) });
  const expiredBlobs: string[] = [];
  if (rng.chance(0.3)) {
    const victim = rng.pick(sim.truth.blobs({ availableBy: new Date(NOW) }));
    expiredBlobs.push(victim.contentId);
    sim.faults.add({
      route: 'blob',
      contentId: victim.contentId,
      times: Infinity,
      action: { kind: 'error', status: 400, code: 'AF20051' },
    });
  }

  // Writer-side faults: Cosmos throttling, outages and answers lost after the writes were applied.
  const cosmosRate = rng.pick([0, 0.1, 0.25]);
  services.proxy.plan = (r) => {
    if (!r.isBulk || !rng.chance(cosmosRate)) return undefined;
    const kind = rng.pick(['throttle', 'unavailable', 'reset', 'lostAnswer'] as const);
    count(`cosmos-${kind}`);
    if (kind === 'throttle') return { kind: 'throttleOps', pick: () => rng.chance(0.5), retryAfterMs: 10 };
    if (kind === 'unavailable') return { kind: 'status', status: 503 };
    if (kind === 'reset') return { kind: 'reset' };
    return { kind: 'forwardThenReset' };
  };

  // Per collector pass: the chance that the process "dies" at some step, and how far into the pass.
  const crashChance = rng.pick([0, 0.3, 0.6]);
  const duplicateRate = rng.pick([0, 0.05, 0.2]);
  const restartAt = rng.chance(0.3) ? rng.int(1, 4) : -1;
  const restartWhat = rng.pick(['azurite', 'cosmos'] as const);
  const lastAvailable = Math.max(...sim.truth.blobs().map((b) => Date.parse(b.availableAt)));

  let passes = 0;
  try {
    for (;;) {
      passes++;
      if (passes > 40) throw new Error(`schedule ${seed} did not quiesce in 40 passes`);
      const t0 = Date.now();
      await collector.ensureResources();
      const crashAtStep = rng.chance(crashChance) ? rng.int(1, 60) : 0;
      let steps = 0;
      const run = await collector
        .collector({
          now: () => sim.clock.now(),
          onStep: (step: CollectorStep) => {
            if (++steps === crashAtStep) {
              count(`crash-${step}`);
              throw new Crash(`crash at ${step}`);
            }
          },
        })
        .run();

      if (passes === restartAt) {
        count(`restart-${restartWhat}`);
        await (restartWhat === 'azurite' ? services.azurite.restart() : services.cosmos.restart());
      }

      const t1 = Date.now();
      const drained = await drainQueue({
        queue,
        poisonQueue: poison,
        // More than host.json's 8 at once: each bulk call costs the SDK's fixed 1 s, and the rounds add up.
        batchSize: 32,
        visibilityTimeoutSeconds: 0,
        maxDequeueCount: 5,
        timeoutMs: 120_000,
        handler: async (m) => {
          const result = await write(
            writer,
            m.text,
            { messageId: m.id, dequeueCount: m.dequeueCount },
            silentLogger,
          );
          // At-least-once delivery: the same message now and then arrives again.
          if (rng.chance(duplicateRate)) {
            count('duplicate-delivery');
            await queue.sendMessage(m.text, { messageTimeToLive: -1 });
          }
          return result;
        },
      });
      if (process.env.CHAOS_DEBUG) {
        process.stderr.write(
          `pass ${passes}: collect ${t1 - t0} ms, drain ${Date.now() - t1} ms, ${drained.invocations} invocations, outcomes ${run.contentTypes.map((c) => c.outcome).join(',')}\n`,
        );
      }
      if (drained.poisoned.length > 0) {
        // The operator's recovery: replay poison once the faults are over.
        count('poisoned');
        services.proxy.plan = () => undefined;
        await replayPoison({
          queue,
          poisonQueue: poison,
          archive: new FailedMessageArchive(writer.storage.blobs),
        });
      }

      const caughtUp =
        sim.clock.now().getTime() >= lastAvailable &&
        run.contentTypes.every((c) => c.outcome === 'complete') &&
        drained.drained &&
        drained.poisoned.length === 0;
      if (caughtUp) break;
      if (sim.clock.now().getTime() < lastAvailable) sim.clock.advance(60 * MINUTE);
    }

    // Compare the store with the ground truth.
    const expectedIds = new Set<string>();
    for (const r of sim.truth.records({ availableBy: sim.clock.now() })) {
      if (r.id !== undefined && r.creationTime !== undefined && !expiredBlobs.includes(r.contentId))
        expectedIds.add(r.id);
    }
    // A record repeated in an expired blob is still expected if another blob carried it.
    const { resources } = await services.cosmosClient
      .database(config.cosmos.database)
      .container(config.cosmos.container)
      .items.query<{ Id: string }>('SELECT c.Id FROM c')
      .fetchAll();
    const storedIds = resources.map((d) => d.Id);
    const distinct = new Set(storedIds);
    const gapBlobs: string[] = [];
    for (const ct of CONTENT_TYPES) {
      const { watermark } = await collector.watermarks.load(tenantId, ct);
      for (const g of watermark.gaps) if (g.contentId) gapBlobs.push(g.contentId);
    }
    return {
      seed,
      expected: expectedIds.size,
      stored: storedIds.length,
      missing: [...expectedIds].filter((id) => !distinct.has(id)),
      duplicates: storedIds.length - distinct.size,
      expiredBlobs,
      gapBlobs,
      faults,
      passes,
    };
  } finally {
    services.proxy.plan = () => undefined;
    collector.close();
    writer.close();
    await sim.stop();
  }
}
