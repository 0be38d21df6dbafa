import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CosmosClient } from '@azure/cosmos';
import { startSimulator, type Simulator } from '../../scripts/simulator';
import type { TruthRecord } from '../../scripts/simulator/truth';
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
  /** Record ids the store must hold: every record of every blob listable when a complete run started. */
  expected: number;
  stored: number;
  missing: string[];
  duplicates: number;
  /** Stored ids no listable blob carries. */
  unexpected: string[];
  /** contentIds the schedule made expire (AF20051), and the ones recorded as gaps. */
  expiredBlobs: string[];
  gapBlobs: string[];
  /** Gaps and quarantined blobs the schedule gave no reason for; range gaps (no contentId). */
  unexplainedGaps: string[];
  unexplainedQuarantine: string[];
  /** Records the collector had to refuse (not objects, too deep) without a copy in rejected/. */
  rejectsNotKept: string[];
  counts: {
    lateFound: number;
    maxLatenessHours: number;
    quarantined: number;
    quarantineGaps: number;
    rejected: number;
    unreadableBlobs: number;
    hostileRecords: number;
  };
  faults: Record<string, number>;
  passes: number;
}

class Crash extends Error {}

/** The schedule starts here; its content reaches back over the API's whole retention. */
const DAY = 24 * 60 * MINUTE;

export async function runSchedule(services: ChaosServices, seed: number): Promise<ScheduleResult> {
  const rng = new Rng(`chaos:${seed}`);
  const tenantId = rng.uuid();
  const faults: Record<string, number> = {};
  const count = (what: string): void => {
    faults[what] = (faults[what] ?? 0) + 1;
  };

  // Two or three content types, a trickle each, from six and a half days back: late blobs (log-uniform,
  // hours to days late) land anywhere in the retention, and the oldest content expires mid-schedule.
  const busy = new Set(
    CONTENT_TYPES.map((ct) => [rng.next(), ct] as const)
      .sort((a, b) => a[0] - b[0])
      .slice(0, rng.int(2, 3))
      .map(([, ct]) => ct),
  );
  const sim: Simulator = await startSimulator({
    tls: true,
    clock: { start: new Date(NOW), frozen: true },
    scenario: {
      seed: `chaos-${seed}`,
      tenants: [{ tenantId, users: 12 }],
      activity: {
        start: new Date(NOW - 6.5 * DAY).toISOString(),
        end: new Date(NOW + 60 * MINUTE).toISOString(),
        recordsPerHour: Object.fromEntries(CONTENT_TYPES.map((ct) => [ct, busy.has(ct) ? rng.int(1, 3) : 0])),
      },
      blobs: {
        recordsPerBlob: [1, rng.int(3, 8)],
        aggregationMinutes: rng.pick([30, 60, 120]),
        latencyMinutes: [1, 15],
        lateFraction: rng.pick([0.05, 0.15, 0.3]),
        lateDistribution: 'logUniform',
        lateHours: [1, 160],
        duplicateFraction: rng.pick([0, 0.1, 0.3]),
        largeRecordEvery: rng.pick([0, 0, 25]),
        largeRecordBytes: 120_000,
        unreadable: {
          fraction: rng.pick([0, 0.02, 0.05]),
          recoverAfterHours: [1, 30],
          permanentFraction: 0.3,
        },
        hostileRecords: { fraction: rng.pick([0, 0.03, 0.06]) },
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
    // Every run re-lists the whole retention, so every pass sees every listable blob.
    AUDITFEED_SWEEP_INTERVAL_MINUTES: '0',
  };
  const config = loadConfig(env);
  // Short backoff steps: the schedule is about what fails, not how long the client waits between tries.
  const collector = new CollectorRuntime(config, silentLogger, { baseDelayMs: 20, maxDelayMs: 200 });
  const writer = new WriterRuntime(config, silentLogger, {
    throttle: { maxRounds: 3, maxWaitMs: 50, defaultWaitMs: 20 },
  });
  const queue = writer.storage.queues.getQueueClient(queueName);
  const poison = writer.storage.queues.getQueueClient(`${queueName}-poison`);

  // API faults, from the simulator's seeded randomizer; some blobs expire before they are fetched.
  sim.faults.randomize({ seed: `api-${seed}`, rate: rng.pick([0.01, 0.03, 0.06]) });
  const expiredBlobs: string[] = [];
  if (rng.chance(0.3)) {
    const victim = rng.pick(sim.truth.blobs({ listableBy: new Date(NOW), notExpiredAt: new Date(NOW) }));
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
  // The clock moves 4 hours a pass for a day, then 10 minutes a pass until everything is quiet.
  const end = NOW + DAY;
  /** Start times of the runs that completed every content type: what they listed is owed. */
  const completeRuns: number[] = [];
  let lateFound = 0;
  let maxLateness = 0;

  let passes = 0;
  try {
    for (;;) {
      passes++;
      if (passes > 40) throw new Error(`schedule ${seed} did not quiesce in 40 passes`);
      const t0 = Date.now();
      const requestsBefore = sim.truth.requests.length;
      await collector.ensureResources();
      const crashAtStep = rng.chance(crashChance) ? rng.int(1, 60) : 0;
      let steps = 0;
      const startedAt = sim.clock.now().getTime();
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
      if (run.contentTypes.every((c) => c.outcome === 'complete')) completeRuns.push(startedAt);
      lateFound += run.totals.lateBlobs;
      maxLateness = Math.max(maxLateness, run.maxLatenessSeconds ?? 0);

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
          `pass ${passes}: collect ${t1 - t0} ms, drain ${Date.now() - t1} ms, ${drained.invocations} invocations, outcomes ${run.contentTypes.map((c) => c.outcome).join(',')}, API requests ${sim.truth.requests.length - requestsBefore} (faulted ${sim.truth.requests
            .slice(requestsBefore)
            .filter((r) => r.fault)
            .map((r) => r.fault)
            .join(',')})\n`,
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

      const quiet =
        sim.clock.now().getTime() >= end &&
        run.contentTypes.every((c) => c.outcome === 'complete') &&
        drained.drained &&
        drained.poisoned.length === 0;
      if (quiet) break;
      // Passes jump hours to cover the retention in a few runs; but a content type that did not finish
      // near the retention edge gets its next run five minutes later, as the timer would give it (a jump
      // there would expire content no real deployment would lose).
      const now = sim.clock.now().getTime();
      const nearEdge = run.contentTypes.some(
        (c) =>
          c.outcome !== 'complete' &&
          c.cursor !== null &&
          Date.parse(c.cursor) < now - 7 * DAY + 6 * 60 * MINUTE,
      );
      sim.clock.advance(now < end && !nearEdge ? 4 * 60 * MINUTE : 5 * MINUTE);
    }

    return await compare(sim, services, collector, config, {
      seed,
      tenantId,
      completeRuns,
      expiredBlobs,
      faults,
      passes,
      lateFound,
      maxLateness,
    });
  } finally {
    services.proxy.plan = () => undefined;
    collector.close();
    writer.close();
    await sim.stop();
  }
}

/** The store, the watermarks and the rejected container against the simulator's ground truth. */
async function compare(
  sim: Simulator,
  services: ChaosServices,
  collector: CollectorRuntime,
  config: ReturnType<typeof loadConfig>,
  run: {
    seed: number;
    tenantId: string;
    completeRuns: number[];
    expiredBlobs: string[];
    faults: Record<string, number>;
    passes: number;
    lateFound: number;
    maxLateness: number;
  },
): Promise<ScheduleResult> {
  const { tenantId } = run;
  const blobs = sim.truth.blobs();
  // A blob is owed when a run that completed started while the service listed it.
  const owed = blobs.filter((b) => {
    const from = Date.parse(b.availableAt);
    const to = Date.parse(b.contentExpiration);
    return run.completeRuns.some((t) => from <= t && t < to);
  });

  const gapBlobs: string[] = [];
  const rangeGaps: string[] = [];
  const quarantined: string[] = [];
  let quarantineGaps = 0;
  for (const ct of CONTENT_TYPES) {
    const { watermark } = await collector.watermarks.load(tenantId, ct);
    for (const g of watermark.gaps) {
      if (g.contentId) gapBlobs.push(g.contentId);
      else rangeGaps.push(`${ct} ${g.start}..${g.end} ${g.reason}`);
      if (g.reason === 'quarantined-until-expired') quarantineGaps++;
    }
    quarantined.push(...watermark.quarantine.keys());
  }

  // Why a blob may be a gap or in quarantine: the scenario made it unreadable or expire, or the
  // randomized faults answered the last read the collector tried.
  const lastRead = new Map<string, boolean>();
  for (const r of sim.truth.requests) {
    if (r.route === 'blob' && r.contentId) lastRead.set(r.contentId, r.status === 200 && !r.fault);
  }
  const unreadable = new Set(blobs.filter((b) => b.unreadableKind).map((b) => b.contentId));
  const explained = (id: string): boolean =>
    unreadable.has(id) || run.expiredBlobs.includes(id) || lastRead.get(id) === false;
  const excused = new Set([...gapBlobs, ...quarantined]);

  const expectedIds = new Set<string>();
  const possibleIds = new Set<string>();
  let hostileRecords = 0;
  const rejectsNotKept: string[] = [];
  const rejected = collector.storage.blobs.getContainerClient('rejected');
  const keptRejects = new Set<string>();
  for await (const b of rejected.listBlobsFlat({ prefix: `${tenantId}/` })) keptRejects.add(b.name);
  const byBlob = new Map<string, TruthRecord[]>();
  for (const r of sim.truth.records({ tenantId })) {
    let list = byBlob.get(r.contentId);
    if (!list) byBlob.set(r.contentId, (list = []));
    list.push(r);
    if (r.outcome === 'store' && r.id !== undefined) possibleIds.add(r.id);
  }
  for (const blob of owed) {
    if (excused.has(blob.contentId)) continue;
    for (const r of byBlob.get(blob.contentId) ?? []) {
      if (r.hostile) hostileRecords++;
      if (r.outcome === 'store' && r.id !== undefined && r.creationTime !== undefined) expectedIds.add(r.id);
      // Refused by the collector (the writer refuses records without an Id under its own names).
      if (r.outcome === 'reject' && (r.hostile === 'deep' || r.hostile === 'not-object')) {
        const hash = createHash('sha256').update(blob.contentId).digest('hex').slice(0, 16);
        const name = `${tenantId}/${blob.contentType}/blob-${hash}-${r.position}.json`;
        if (!keptRejects.has(name)) rejectsNotKept.push(name);
      }
    }
  }

  const { resources } = await services.cosmosClient
    .database(config.cosmos.database)
    .container(config.cosmos.container)
    .items.query<{ Id: string }>('SELECT c.Id FROM c')
    .fetchAll();
  const storedIds = resources.map((d) => d.Id);
  const distinct = new Set(storedIds);
  return {
    seed: run.seed,
    expected: expectedIds.size,
    stored: storedIds.length,
    missing: [...expectedIds].filter((id) => !distinct.has(id)),
    duplicates: storedIds.length - distinct.size,
    unexpected: [...distinct].filter((id) => !possibleIds.has(id)),
    expiredBlobs: run.expiredBlobs,
    gapBlobs,
    unexplainedGaps: [...gapBlobs.filter((id) => !explained(id)), ...rangeGaps],
    unexplainedQuarantine: quarantined.filter((id) => !explained(id)),
    rejectsNotKept,
    counts: {
      lateFound: run.lateFound,
      maxLatenessHours: Math.round(run.maxLateness / 3600),
      quarantined: quarantined.length,
      quarantineGaps,
      rejected: keptRejects.size,
      unreadableBlobs: unreadable.size,
      hostileRecords,
    },
    faults: run.faults,
    passes: run.passes,
  };
}
