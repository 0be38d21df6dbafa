import { join } from 'node:path';
import { QueueServiceClient } from '@azure/storage-queue';
import { cosmosClientFor } from '../../shared/writer/cosmosClient';
import { Secret } from '../../shared/secret';
import { createCosmosClient } from '../local/services';
import { bulkCeiling, captureSample, enqueueCeiling, type RateResult, type Sample } from './ceiling';
import { startJsonLineChild } from './childProcess';
import { cpuMeter } from './cpu';
import type { CollectorRun, WriterRun } from './report';
import type { BenchSimulator } from './simulatorClient';
import { CONTAINER, DATABASE, QUEUE, startStores, type BenchStores } from './stack';

const COLLECTOR = join(__dirname, 'collectorProcess.js');
const WRITER = join(__dirname, 'writerProcess.js');

export interface PhaseOptions {
  /** AUDITFEED_* settings added for the collector (pacing). */
  collectorSettings: Record<string, string>;
  writerBatchSize: number;
  /** `--max-old-space-size` for both children; undefined = V8 defaults. */
  oldSpaceMb?: number;
  /** Write a V8 CPU profile of each child here (`--cpu-prof`). */
  profileDir?: string;
  log: (line: string) => void;
}

let profiles = 0;

function nodeArgs(o: PhaseOptions, who: 'collector' | 'writer'): string[] {
  const args = o.oldSpaceMb === undefined ? [] : [`--max-old-space-size=${o.oldSpaceMb}`];
  if (o.profileDir !== undefined) {
    profiles++;
    args.push(
      '--cpu-prof',
      `--cpu-prof-dir=${o.profileDir}`,
      `--cpu-prof-name=${profiles}-${who}.cpuprofile`,
    );
  }
  return args;
}

function progress(o: PhaseOptions, who: string): (line: Record<string, unknown>) => boolean {
  return (line) => {
    if (typeof line.pass === 'number') o.log(`  ${who}: pass ${line.pass}, ${String(line.records)} records`);
    return line.done === true;
  };
}

export async function runCollector(stores: BenchStores, o: PhaseOptions): Promise<CollectorRun> {
  const child = startJsonLineChild(COLLECTOR, [], {
    env: { ...stores.env, ...o.collectorSettings },
    nodeArgs: nodeArgs(o, 'collector'),
  });
  const done = await child.waitFor(progress(o, 'collector'));
  await child.exited;
  return done as unknown as CollectorRun;
}

export async function runWriter(stores: BenchStores, o: PhaseOptions): Promise<WriterRun> {
  const child = startJsonLineChild(WRITER, [], {
    env: { ...stores.env, WRITER_BATCH_SIZE: String(o.writerBatchSize) },
    nodeArgs: nodeArgs(o, 'writer'),
  });
  const done = await child.waitFor((l) => l.done === true);
  await child.exited;
  return done as unknown as WriterRun;
}

export interface PipelineResult {
  collector: CollectorRun;
  writer: WriterRun;
  requests: Record<string, number>;
  storedDocuments: number;
  /** CPU ms the servers used during the run (Linux only): what shares the machine with the pipeline. */
  serverCpuMs: Record<string, number>;
}

/**
 * End to end: collector and writer run at once, as in Azure (the writer follows the queue while the
 * collector fills it), on fresh storage. Ends when the writer has drained everything the collector sent.
 */
export async function pipelinePhase(sim: BenchSimulator, o: PhaseOptions): Promise<PipelineResult> {
  const stores = await startStores(sim);
  try {
    const since = await sim.requestCount();
    const servers = cpuMeter({
      simulator: sim.pid,
      azurite: stores.azurite.pid,
      cosmos: stores.cosmos.pid,
    });
    const writer = startJsonLineChild(WRITER, [], {
      env: { ...stores.env, WRITER_BATCH_SIZE: String(o.writerBatchSize), WRITER_FOLLOW: '1' },
      nodeArgs: nodeArgs(o, 'writer'),
    });
    const collector = await runCollector(stores, o);
    writer.send('done');
    const written = (await writer.waitFor((l) => l.done === true)) as unknown as WriterRun;
    const serverCpuMs = servers.stop();
    await writer.exited;
    const requests = await sim.requestsSince(since);
    const storedDocuments = await countDocuments(stores);
    return { collector, writer: written, requests, storedDocuments, serverCpuMs };
  } finally {
    await stores.stop();
  }
}

export interface StagesResult {
  collector: CollectorRun;
  writer: WriterRun;
  requests: Record<string, number>;
  sample: Sample;
  bulk: RateResult[];
  enqueue: RateResult;
}

/**
 * Each half on its own, on fresh storage: the collector fills the queue, a sample of its messages is
 * taken for the ceilings, the writer drains the queue; then the ceilings run against the same Azurite
 * and Cosmos stand-in (which now hold what the pipeline wrote, as they would at the end of a real run).
 */
export async function stagesPhase(
  sim: BenchSimulator,
  o: PhaseOptions & { ceilingRecords: number; enqueueMessages: number },
): Promise<StagesResult> {
  const stores = await startStores(sim);
  try {
    const since = await sim.requestCount();
    o.log('  collector alone');
    const collector = await runCollector(stores, o);
    const requests = await sim.requestsSince(since);
    const queues = QueueServiceClient.fromConnectionString(stores.azurite.connectionString);
    const sample = await captureSample(queues.getQueueClient(QUEUE), o.ceilingRecords);
    o.log('  writer alone');
    const writer = await runWriter(stores, o);
    o.log('  ceilings');
    // The writer's own client construction, so client options match.
    const client = cosmosClientFor({
      endpoint: stores.cosmos.endpoint,
      key: new Secret(stores.cosmos.key),
      identity: { kind: 'developer' },
      database: DATABASE,
      container: CONTAINER,
    });
    const bulk: RateResult[] = [];
    try {
      for (const mode of ['perMessage', 'largeCalls', 'requests100'] as const) {
        bulk.push(await bulkCeiling(client, DATABASE, sample, mode, o.writerBatchSize, stores.cosmos.pid));
      }
    } finally {
      client.dispose();
    }
    // Five senders: one batcher per content type, each waiting for its previous send.
    const enqueue = await enqueueCeiling(
      (name) => queues.getQueueClient(name),
      sample.texts,
      o.enqueueMessages,
      5,
    );
    return { collector, writer, requests, sample, bulk, enqueue };
  } finally {
    await stores.stop();
  }
}

async function countDocuments(stores: BenchStores): Promise<number> {
  const client = createCosmosClient(stores.cosmos);
  try {
    const { resources } = await client
      .database(DATABASE)
      .container(CONTAINER)
      .items.query<number>('SELECT VALUE COUNT(1) FROM c')
      .fetchAll();
    return resources[0] ?? 0;
  } finally {
    client.dispose();
  }
}
