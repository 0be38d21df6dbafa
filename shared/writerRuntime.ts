import type { Container, CosmosClient } from '@azure/cosmos';
import type { AuditfeedConfig } from './config';
import type { Logger } from './logging';
import { createStorageClients, type StorageClients } from './storage/clients';
import { BatchWriter } from './writer/batchWriter';
import type { ThrottleOptions } from './writer/bulkUpsert';
import { ClaimCheckStore } from './writer/claimChecks';
import { cosmosClientFor } from './writer/cosmosClient';
import { ensureCosmosContainer } from './writer/cosmosContainer';
import { FailedMessageArchive } from './writer/failedMessages';
import { OversizeStore } from './writer/oversizeStore';
import { RejectedRecordStore } from './writer/rejectedRecords';

/** The part of the configuration the writer reads. */
export type WriterConfig = Pick<
  AuditfeedConfig,
  'cosmos' | 'storage' | 'retentionDays' | 'contentTypeRetentionDays' | 'queueName' | 'maxDequeueCount'
>;

export interface WriterRuntimeOptions {
  /** Use this client instead of one built from config (tests: other retry options, a fault proxy). */
  cosmosClient?: CosmosClient;
  storage?: StorageClients;
  now?: () => Date;
  oversizeThresholdBytes?: number;
  throttle?: Partial<ThrottleOptions>;
}

/**
 * Composition root of the writer, in the spirit of CollectorRuntime: clients live as long as the worker
 * process; the container check runs once per process (and again after a failure).
 */
export class WriterRuntime {
  readonly cosmos: CosmosClient;
  readonly storage: StorageClients;
  readonly claimChecks: ClaimCheckStore;
  readonly oversize: OversizeStore;
  readonly rejects: RejectedRecordStore;
  readonly failedMessages: FailedMessageArchive;
  /** host.json's maxDequeueCount: the attempt after which the host poisons a message. */
  readonly maxDequeueCount: number;
  private ready: Promise<Container> | undefined;

  constructor(
    readonly config: WriterConfig,
    private readonly logger: Logger,
    private readonly options: WriterRuntimeOptions = {},
  ) {
    this.cosmos = options.cosmosClient ?? cosmosClientFor(config.cosmos);
    this.storage = options.storage ?? createStorageClients(config.storage);
    this.claimChecks = new ClaimCheckStore(this.storage.blobs);
    this.oversize = new OversizeStore(this.storage.blobs);
    this.rejects = new RejectedRecordStore(this.storage.blobs);
    this.failedMessages = new FailedMessageArchive(this.storage.blobs);
    this.maxDequeueCount = config.maxDequeueCount;
  }

  /** Checks (or, locally, creates) the Cosmos DB container and the writer's blob containers. */
  ensureResources(): Promise<Container> {
    this.ready ??= Promise.all([
      ensureCosmosContainer(
        this.cosmos,
        {
          database: this.config.cosmos.database,
          container: this.config.cosmos.container,
          retentionDays: this.config.retentionDays,
        },
        this.logger,
      ),
      this.oversize.ensureContainer(),
      this.rejects.ensureContainer(),
      this.failedMessages.ensureContainer(),
    ]).then(
      ([container]) => container,
      (e: unknown) => {
        this.ready = undefined;
        throw e;
      },
    );
    return this.ready;
  }

  async writer(logger: Logger): Promise<BatchWriter> {
    const container = await this.ensureResources();
    const o = this.options;
    return new BatchWriter({
      container,
      claimChecks: this.claimChecks,
      oversize: this.oversize,
      rejects: this.rejects,
      contentTypeRetentionDays: this.config.contentTypeRetentionDays,
      logger,
      ...(o.now ? { now: o.now } : {}),
      ...(o.oversizeThresholdBytes !== undefined ? { oversizeThresholdBytes: o.oversizeThresholdBytes } : {}),
      ...(o.throttle ? { throttle: o.throttle } : {}),
    });
  }

  close(): void {
    this.cosmos.dispose();
  }
}
