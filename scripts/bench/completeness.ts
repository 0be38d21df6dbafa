import { BlobServiceClient } from '@azure/storage-blob';
import { runCollector, type PhaseOptions } from './phases';
import { benchScenario, writeScenario } from './scenario';
import { startBenchSimulator, type BenchSimulator } from './simulatorClient';
import { startStores, type BenchStores } from './stack';

/**
 * What completeness costs (issue 10): the requests of a full-retention re-listing and the size of the set
 * of collected blobs, measured on the bench's backlog; and the collector's peak memory with a 150 MB
 * content blob among ordinary ones.
 */

export interface SweepMeasure {
  /** Blobs the backlog holds (all collected before the sweep). */
  blobs: number;
  /** Listing requests of one full sweep over them, and blob fetches it needed (none: all collected). */
  listRequests: number;
  blobFetches: number;
  /** Bytes of the collected-blob set in storage, and per blob. */
  seenBytes: number;
  seenBytesPerBlob: number;
}

/** Catches the backlog up, then runs one pass that must re-list the whole retention. */
export async function sweepPhase(sim: BenchSimulator, blobs: number, o: PhaseOptions): Promise<SweepMeasure> {
  const stores = await startStores(sim);
  try {
    o.log('  catching up');
    await runCollector(stores, o);
    o.log('  one pass with a full sweep');
    const since = await sim.requestCount();
    await runCollector(stores, {
      ...o,
      collectorSettings: {
        ...o.collectorSettings,
        AUDITFEED_SWEEP_INTERVAL_MINUTES: '0',
        COLLECTOR_MAX_PASSES: '1',
      },
    });
    const requests = await sim.requestsSince(since);
    const seenBytes = await seenSetBytes(stores);
    return {
      blobs,
      listRequests: requests.content ?? 0,
      blobFetches: requests.blob ?? 0,
      seenBytes,
      seenBytesPerBlob: seenBytes / Math.max(1, blobs),
    };
  } finally {
    await stores.stop();
  }
}

async function seenSetBytes(stores: BenchStores): Promise<number> {
  const container = BlobServiceClient.fromConnectionString(
    stores.azurite.connectionString,
  ).getContainerClient('watermarks');
  let bytes = 0;
  for await (const blob of container.listBlobsFlat()) {
    if (blob.name.includes('/seen/')) bytes += blob.properties.contentLength ?? 0;
  }
  return bytes;
}

export interface BulkyMeasure {
  /** Size of the one large blob, and the records the collector enqueued in all. */
  blobBytes: number;
  records: number;
  seconds: number;
  maxRssBytes: number;
}

/** The collector alone, V8 defaults, on a small backlog plus one very large blob. */
export async function bulkyPhase(
  o: PhaseOptions & { workDir: string; seed: string; bytes: number; pageSize: number },
): Promise<BulkyMeasure> {
  const spec = benchScenario({ records: 20_000, seed: `${o.seed}-bulky`, pageSize: o.pageSize, users: 500 });
  spec.blobs = { ...spec.blobs, bulky: { count: 1, bytes: o.bytes } };
  const sim = await startBenchSimulator(writeScenario(o.workDir, 'bulky', spec));
  try {
    const stores = await startStores(sim);
    try {
      const run = await runCollector(stores, { ...o, oldSpaceMb: undefined });
      return { blobBytes: o.bytes, records: run.records, seconds: run.seconds, maxRssBytes: run.maxRssBytes };
    } finally {
      await stores.stop();
    }
  } finally {
    await sim.stop();
  }
}
