import type { CertificateExpiry } from './auth/certificateExpiry';
import { ManagementCredentials } from './auth/credentials';
import { Collector, type CollectorOptions } from './collector/collector';
import { Planner, type PlannerOptions } from './collector/planner';
import { HARD_STOP_GRACE_SECONDS, type AuditfeedConfig } from './config';
import type { ContentType } from './contentTypes';
import type { Logger } from './logging';
import { ManagementActivityClient } from './managementApi/client';
import { RequestPacer } from './managementApi/pacer';
import { NcrontabSchedule } from './ncrontab';
import type { RetryOptions } from './managementApi/retryPolicy';
import type { QueueClient } from '@azure/storage-queue';
import { QueueBatchSink } from './storage/batchSink';
import { CONTAINERS, createStorageClients, type StorageClients } from './storage/clients';
import { BlobSeenStore } from './storage/seenStore';
import { TaskClaimStore } from './storage/taskClaimStore';
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
  readonly claims: TaskClaimStore;
  readonly workQueue: QueueClient;
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
    this.claims = new TaskClaimStore(watermarks);
    this.workQueue = this.storage.queues.getQueueClient(config.workQueueName);
    this.sink = new QueueBatchSink(
      this.storage.queues.getQueueClient(config.queueName),
      this.storage.blobs.getContainerClient(CONTAINERS.batches),
    );
  }

  /**
   * One client (one pacer, one token cache) for the life of the process: per tenant inline, where one run
   * holds all of a tenant's content types and they share its budget; per tenant × content type in fanout
   * mode, each paced at the tenant's budget over its content types, so that however the units of one
   * tenant are spread over instances, together they stay under the tenant's quota.
   */
  clientFor(tenantId: string, contentType: ContentType): ManagementActivityClient {
    const perUnit = this.config.collectMode === 'fanout';
    const key = perUnit ? `${tenantId}/${contentType}` : tenantId;
    let client = this.clients.get(key);
    if (!client) {
      const tenant = this.config.tenants.find((t) => t.tenantId === tenantId);
      const { http, endpoints, contentTypes } = this.config;
      // A unit's pacer spaces its requests evenly (no burst), so any 60 s holds at most its rate + 1: one
      // less than its share keeps all of a tenant's units together within the budget.
      const requestsPerMinute = perUnit
        ? Math.max(1, Math.floor(http.maxRequestsPerMinute / contentTypes.length) - 1)
        : http.maxRequestsPerMinute;
      client = new ManagementActivityClient({
        tenantId,
        apiOrigin: endpoints.apiOrigin,
        credential: this.credentials.forTenant(tenantId),
        publisherId: tenant?.publisherId ?? tenantId,
        pacer: new RequestPacer({ requestsPerMinute, ...(perUnit ? { burst: 1 } : {}) }),
        retry: { maxRetries: http.maxRetries, ...this.retryDelays },
        timeoutMs: http.timeoutMs,
        ...(endpoints.tlsCaPem !== undefined ? { tlsCaPem: endpoints.tlsCaPem } : {}),
        logger: this.logger,
      });
      this.clients.set(key, client);
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
      this.workQueue.createIfNotExists(),
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
      clientFor: (tenantId, contentType) => this.clientFor(tenantId, contentType),
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

  /** The timer's fan-out (collect mode fanout): claims due units and sends their tasks. */
  planner(overrides: Partial<PlannerOptions> = {}): Planner {
    const c = this.config;
    return new Planner({
      tenants: c.tenants,
      contentTypes: c.contentTypes,
      claims: this.claims,
      queue: {
        send: async (text) => {
          const { messageId, popReceipt } = await this.workQueue.sendMessage(text);
          return { messageId, popReceipt };
        },
        stillWaiting: async (m) => {
          try {
            // Visible again at once (it is), with a new receipt; fails once a dequeue changed the receipt.
            const r = await this.workQueue.updateMessage(m.messageId, m.popReceipt, undefined, 0);
            return { messageId: m.messageId, popReceipt: r.popReceipt! };
          } catch (e) {
            const status = (e as { statusCode?: number }).statusCode;
            if (status === 404 || status === 400) return undefined;
            throw e;
          }
        },
      },
      intervalMs: scheduleIntervalMs(c.collectSchedule),
      runDeadlineMs: c.runDeadlineMs,
      hardStopGraceMs: HARD_STOP_GRACE_SECONDS * 1000,
      slots: c.collectSlots,
      logger: this.logger,
      ...overrides,
    });
  }

  close(): void {
    for (const client of this.clients.values()) client.close();
    this.clients.clear();
  }
}

/** The time between two occurrences of the schedule (the next two after now). */
export function scheduleIntervalMs(schedule: string, now: Date = new Date()): number {
  const s = NcrontabSchedule.parse(schedule);
  const first = s.next(now);
  return s.next(first).getTime() - first.getTime();
}
