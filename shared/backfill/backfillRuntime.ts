import type { QueueClient } from '@azure/storage-queue';
import { ManagementCredentials } from '../auth/credentials';
import type { AuditfeedConfig } from '../config';
import { graphAuditClientFromConfig, type GraphAuditClientOptions } from '../graphAudit/client';
import type { AuditLogQueryApi } from '../graphAudit/types';
import type { BackfillDeps } from '../handlers/backfill';
import { QueueBatchSink } from '../storage/batchSink';
import { CONTAINERS, createStorageClients, type StorageClients } from '../storage/clients';
import { RejectedRecordStore } from '../writer/rejectedRecords';
import type { BackfillRunOptions } from './backfillRun';
import { BackfillProgressStore } from './progressStore';

/** Throttle waits inside one Graph call, at most (the engine's open claim is renewed between calls). */
const MAX_CLIENT_THROTTLE_WAIT_MS = 60_000;

/**
 * Composition root of the backfill (CLI and function alike): the progress store beside the watermarks, the
 * live feed's batch queue and claim checks (so the writer stores what the backfill sends), its rejected
 * container (records the backfill refuses), the backfill
 * queue, and the Graph audit log query client.
 */
export class BackfillRuntime implements BackfillDeps {
  readonly storage: StorageClients;
  readonly store: BackfillProgressStore;
  readonly sink: QueueBatchSink;
  readonly rejects: RejectedRecordStore;
  readonly queue: QueueClient;
  readonly settings: AuditfeedConfig['backfill'];
  readonly runDeadlineMs: number;
  private ready: Promise<void> | undefined;

  readonly api: AuditLogQueryApi;

  constructor(
    readonly config: AuditfeedConfig,
    /** Client options for tests (a virtual clock's sleep); the credential is the Management API's, any scope. */
    client: Partial<GraphAuditClientOptions> = {},
    storage?: StorageClients,
  ) {
    this.api = graphAuditClientFromConfig(
      config,
      new ManagementCredentials(config.auth, config.endpoints),
      // Throttling is waited out by the engine, in pieces that renew its claim; one client call waits a minute at most.
      { ...client, retry: { maxThrottleWaitMs: MAX_CLIENT_THROTTLE_WAIT_MS, ...client.retry } },
    );
    this.storage = storage ?? createStorageClients(config.storage);
    this.store = new BackfillProgressStore(this.storage.blobs.getContainerClient(CONTAINERS.watermarks));
    this.sink = new QueueBatchSink(
      this.storage.queues.getQueueClient(config.queueName),
      this.storage.blobs.getContainerClient(CONTAINERS.batches),
    );
    this.rejects = new RejectedRecordStore(this.storage.blobs);
    this.queue = this.storage.queues.getQueueClient(config.backfill.queueName);
    this.settings = config.backfill;
    this.runDeadlineMs = config.runDeadlineMs;
  }

  /** What a backfill run works with (its options api, store, sink and rejects). */
  engineParts(): Pick<BackfillRunOptions, 'api' | 'store' | 'sink' | 'rejects'> {
    return { api: this.api, store: this.store, sink: this.sink, rejects: this.rejects };
  }

  /** Creates the containers and queues if missing, once per process. */
  ensureResources(): Promise<void> {
    this.ready ??= Promise.all([
      this.store.ensureContainer(),
      this.sink.ensureResources(),
      this.rejects.ensureContainer(),
      this.queue.createIfNotExists(),
    ]).then(
      () => undefined,
      (e: unknown) => {
        this.ready = undefined;
        throw e;
      },
    );
    return this.ready;
  }
}
