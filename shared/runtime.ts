import type { CertificateExpiry } from './auth/certificateExpiry';
import { ManagementCredentials } from './auth/credentials';
import { Collector, type CollectorOptions } from './collector/collector';
import type { AuditfeedConfig } from './config';
import type { Logger } from './logging';
import { ManagementActivityClient } from './managementApi/client';
import { RequestPacer } from './managementApi/pacer';
import type { RetryOptions } from './managementApi/retryPolicy';
import { QueueBatchSink } from './storage/batchSink';
import { CONTAINERS, createStorageClients, type StorageClients } from './storage/clients';
import { BlobSeenStore } from './storage/seenStore';
import { WatermarkStore } from './storage/watermarkStore';
import { RejectedRecordStore } from './writer/rejectedRecords';

/**
 * Composition root: builds the collector's collaborators from validated configuration. The Functions
 * bindings and the local runner both start here, so they run the same code.
 */
export class CollectorRuntime {
  readonly storage: StorageClients;
  readonly watermarks: WatermarkStore;
  readonly seen: BlobSeenStore;
  readonly rejects: RejectedRecordStore;
  readonly sink: QueueBatchSink;
  private readonly credentials: ManagementCredentials;
  private readonly clients = new Map<string, ManagementActivityClient>();
  private resourcesReady: Promise<void> | undefined;

  constructor(
    readonly config: AuditfeedConfig,
    private readonly logger: Logger,
    /** Backoff steps of the Management API client (tests shorten them); defaults from retryPolicy.ts. */
    private readonly retryDelays: Pick<RetryOptions, 'baseDelayMs' | 'maxDelayMs'> = {},
  ) {
    this.credentials = new ManagementCredentials(config.auth, config.endpoints);
    this.storage = createStorageClients(config.storage);
    const watermarks = this.storage.blobs.getContainerClient(CONTAINERS.watermarks);
    this.watermarks = new WatermarkStore(watermarks);
    this.seen = new BlobSeenStore(watermarks);
    this.rejects = new RejectedRecordStore(this.storage.blobs);
    this.sink = new QueueBatchSink(
      this.storage.queues.getQueueClient(config.queueName),
      this.storage.blobs.getContainerClient(CONTAINERS.batches),
    );
  }

  /** One client (and one pacer, one token cache) per tenant for the life of the process. */
  clientFor(tenantId: string): ManagementActivityClient {
    let client = this.clients.get(tenantId);
    if (!client) {
      const tenant = this.config.tenants.find((t) => t.tenantId === tenantId);
      const { http, endpoints } = this.config;
      client = new ManagementActivityClient({
        tenantId,
        apiOrigin: endpoints.apiOrigin,
        credential: this.credentials.forTenant(tenantId),
        publisherId: tenant?.publisherId ?? tenantId,
        pacer: new RequestPacer({ requestsPerMinute: http.maxRequestsPerMinute }),
        retry: { maxRetries: http.maxRetries, ...this.retryDelays },
        timeoutMs: http.timeoutMs,
        ...(endpoints.tlsCaPem !== undefined ? { tlsCaPem: endpoints.tlsCaPem } : {}),
        logger: this.logger,
      });
      this.clients.set(tenantId, client);
    }
    return client;
  }

  /** The Management API client certificate's expiry (auth mode certificate only). */
  certificateExpiry(now: Date): Promise<CertificateExpiry | undefined> {
    return this.credentials.certificateExpiry(now);
  }

  /** Creates the queue and containers if missing, once per process. */
  ensureResources(): Promise<void> {
    this.resourcesReady ??= Promise.all([
      this.watermarks.ensureContainer(),
      this.rejects.ensureContainer(),
      this.sink.ensureResources(),
    ]).then(
      () => undefined,
      (e: unknown) => {
        this.resourcesReady = undefined;
        throw e;
      },
    );
    return this.resourcesReady;
  }

  collector(overrides: Partial<CollectorOptions> = {}): Collector {
    const c = this.config;
    return new Collector({
      tenants: c.tenants,
      contentTypes: c.contentTypes,
      clientFor: (tenantId) => this.clientFor(tenantId),
      watermarks: this.watermarks,
      seen: this.seen,
      rejects: this.rejects,
      sink: this.sink,
      overlapMs: c.overlapMs,
      initialLookbackHours: c.initialLookbackHours,
      sweepIntervalMs: c.sweepIntervalMs,
      deadlineMs: c.runDeadlineMs,
      concurrency: c.concurrency,
      logger: this.logger,
      ...overrides,
    });
  }

  close(): void {
    for (const client of this.clients.values()) client.close();
    this.clients.clear();
  }
}
