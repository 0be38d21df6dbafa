import { randomUUID } from 'node:crypto';
import type { Container, CosmosClient } from '@azure/cosmos';
import type { ScenarioSpec, SimulatorOptions } from '../../scripts/simulator';
import { createCosmosClient, startCosmos, type CosmosHandle } from '../../scripts/local/services';
import {
  runBackfill,
  type BackfillRunOptions,
  type BackfillSummary,
} from '../../shared/backfill/backfillRun';
import { BackfillRuntime } from '../../shared/backfill/backfillRuntime';
import { loadConfig, type AuditfeedConfig } from '../../shared/config';
import { CONTENT_TYPES, type ContentType } from '../../shared/contentTypes';
import { write } from '../../shared/handlers/write';
import { silentLogger } from '../../shared/logging';
import { WriterRuntime } from '../../shared/writerRuntime';
import { startCollectorStack, type CollectorStack } from '../helpers/stack';

/**
 * A backfill's real surroundings: the simulator (Management API and Graph audit log queries from one ground
 * truth), Azurite, the Cosmos DB stand-in and the real writer, configured through the settings a user sets.
 * Time is the simulator's: the engine's and the Graph client's waits move its clock instead of waiting.
 */
export interface BackfillStack {
  collector: CollectorStack;
  cosmos: CosmosHandle;
  cosmosClient: CosmosClient;
  env: Record<string, string>;
  config: AuditfeedConfig;
  /** A backfill runtime (Graph client, progress store, batch sink) on the simulator's clock. */
  runtime: BackfillRuntime;
  /** The writer into `container` (a fresh one per call unless named). */
  writer(container?: string): WriterRuntime;
  /** Waits on the simulator's clock: concurrent waits of one moment end together, so time is not multiplied. */
  sleep: (ms: number) => Promise<void>;
  /** Runs a backfill with the stack's runtime, clock and sleep. */
  backfill(
    request: Partial<BackfillRunOptions['request']>,
    extra?: Partial<BackfillRunOptions>,
  ): Promise<BackfillSummary>;
  /** Writes every message now on the batch queue through the real writer; returns records written or already stored. */
  writeAll(writer: WriterRuntime): Promise<number>;
  /** Record Id → documents holding it, in the writer's container. */
  stored(writer: WriterRuntime): Promise<Map<string, number>>;
  /** Ids the audit log holds for [start, end) now, by the simulator's ground truth. */
  truth(start: string, end: string): Set<string>;
  stop(): Promise<void>;
}

export const TENANT = '6f1d2c3b-4a59-4e68-9d7c-8b9a0f1e2d3c';
export const NOW = '2026-11-20T12:00:00.000Z';
export const DAY = 86_400_000;

/** Midnight (UTC) of the simulated today: backfill windows are day-aligned. */
export const MIDNIGHT = Date.parse(`${NOW.slice(0, 10)}T00:00:00.000Z`);

/**
 * Day-aligned ranges, each of its own (progress blobs are per range, so tests sharing a stack must not share
 * one), going back from `firstDaysAgo` days before MIDNIGHT with a day between them.
 */
export function dayRanges(firstDaysAgo: number): (days: number) => { from: number; to: number } {
  let next = firstDaysAgo;
  return (days) => {
    const to = MIDNIGHT - next * DAY;
    next += days + 1;
    return { from: to - days * DAY, to };
  };
}

export function iso(ms: number): string {
  return new Date(ms).toISOString();
}

export function scenario(extra: Partial<ScenarioSpec> = {}): ScenarioSpec {
  return {
    seed: 'backfill',
    tenants: [{ tenantId: TENANT, users: 25 }],
    activity: {
      start: iso(Date.parse(NOW) - 95 * DAY),
      end: iso(Date.parse(NOW) + 2 * DAY),
      recordsPerHour: {
        'Audit.Exchange': 0.5,
        'Audit.AzureActiveDirectory': 0.4,
        'Audit.SharePoint': 0.3,
        'Audit.General': 0.2,
        'DLP.All': 0.1,
      },
    },
    blobs: {
      recordsPerBlob: [2, 10],
      aggregationMinutes: 10,
      latencyMinutes: [1, 20],
      lateFraction: 0.1,
      lateHours: [1, 3],
      duplicateFraction: 0.05,
    },
    // The clock moves by days; MSAL caches tokens by wall time.
    tokenLifetimeSeconds: 30 * 24 * 3600,
    graphAudit: { pageSize: 100, startDelaySeconds: 5, runSeconds: [10, 40] },
    ...extra,
  };
}

export async function startBackfillStack(
  simulator: SimulatorOptions = { scenario: scenario(), clock: { start: NOW, frozen: true } },
  settings: Record<string, string> = {},
): Promise<BackfillStack> {
  const [collector, cosmos] = await Promise.all([startCollectorStack(simulator), startCosmos()]);
  const sim = collector.sim;
  const env: Record<string, string> = {
    ...collector.env,
    AUDITFEED_GRAPH_ENDPOINT: sim.graphAudit.baseUrl,
    AUDITFEED_COSMOS__accountEndpoint: cosmos.endpoint,
    AUDITFEED_COSMOS__accountKey: cosmos.key,
    AUDITFEED_MAX_RETRIES: '3',
    ...settings,
  };
  const config = loadConfig(env);
  const cosmosClient = createCosmosClient(cosmos);
  const writers: WriterRuntime[] = [];

  const sleep = async (ms: number): Promise<void> => {
    // Concurrent waits: the clock moves to the latest end asked for, never by their sum.
    const target = sim.clock.now().getTime() + ms;
    await new Promise((r) => setImmediate(r));
    const now = sim.clock.now().getTime();
    if (now < target) sim.clock.advance(target - now);
  };
  const runtime = new BackfillRuntime(config, { sleep, now: () => sim.clock.now().getTime() });
  await runtime.ensureResources();

  const stack: BackfillStack = {
    collector,
    cosmos,
    cosmosClient,
    env,
    config,
    runtime,
    sleep,
    writer(container = `records-${randomUUID().slice(0, 8)}`) {
      const w = new WriterRuntime(
        {
          ...config,
          cosmos: { ...config.cosmos, container },
        },
        silentLogger,
      );
      writers.push(w);
      return w;
    },
    backfill(request, extra = {}) {
      return runBackfill({
        ...runtime.engineParts(),
        request: {
          tenantId: TENANT,
          from: iso(Date.parse(NOW) - 3 * DAY),
          to: NOW,
          contentTypes: [...CONTENT_TYPES] as ContentType[],
          createdBy: 'test',
          ...request,
        },
        logger: silentLogger,
        now: () => sim.clock.now(),
        sleep,
        ...extra,
      });
    },
    async writeAll(writer) {
      const queue = runtime.storage.queues.getQueueClient(config.queueName);
      let written = 0;
      for (;;) {
        const { receivedMessageItems: items } = await queue.receiveMessages({
          numberOfMessages: 32,
          visibilityTimeout: 300,
        });
        if (items.length === 0) return written;
        for (const m of items) {
          const r = await write(
            writer,
            m.messageText,
            { messageId: m.messageId, dequeueCount: 1 },
            silentLogger,
          );
          // Create-only: a record sent again counts as already stored, not written.
          written += r.written + r.alreadyStored;
          await queue.deleteMessage(m.messageId, m.popReceipt);
        }
      }
    },
    async stored(writer) {
      await writer.ensureResources();
      const container: Container = cosmosClient
        .database(writer.config.cosmos.database)
        .container(writer.config.cosmos.container);
      const { resources } = await container.items.query<{ Id: string }>('SELECT c.Id FROM c').fetchAll();
      const ids = new Map<string, number>();
      for (const r of resources) ids.set(r.Id, (ids.get(r.Id) ?? 0) + 1);
      return ids;
    },
    truth(start, end) {
      return new Set(
        sim.graphAudit.recordIds({ tenantId: TENANT, start: new Date(start), end: new Date(end) }),
      );
    },
    async stop() {
      for (const w of writers) w.close();
      cosmosClient.dispose();
      await Promise.all([collector.stop(), cosmos.stop()]);
    },
  };
  return stack;
}

/** Every id exactly once: the map of stored ids is the expected set, each with count 1. */
export function expectExactlyOnce(stored: Map<string, number>, expected: Set<string>): void {
  const extra = [...stored.keys()].filter((id) => !expected.has(id));
  const missing = [...expected].filter((id) => !stored.has(id));
  const twice = [...stored].filter(([, n]) => n !== 1);
  expect({ missing: missing.length, extra: extra.length, twice: twice.length }).toEqual({
    missing: 0,
    extra: 0,
    twice: 0,
  });
}
