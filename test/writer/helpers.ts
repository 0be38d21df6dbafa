import { randomUUID } from 'node:crypto';
import type { Container, CosmosClient } from '@azure/cosmos';
import {
  createCosmosClient,
  startAzurite,
  startCosmos,
  stopAll,
  type AzuriteHandle,
  type CosmosHandle,
} from '../../scripts/local/services';
import type { AuditRecord, ContentType } from '../../shared/contentTypes';
import type { Logger } from '../../shared/logging';
import { Batcher } from '../../shared/messages/batcher';
import type { WriteMode } from '../../shared/messages/envelope';
import { Secret } from '../../shared/secret';
import { QueueBatchSink } from '../../shared/storage/batchSink';
import { CONTAINERS, createStorageClients, type StorageClients } from '../../shared/storage/clients';
import { WriterRuntime, type WriterConfig, type WriterRuntimeOptions } from '../../shared/writerRuntime';

export const TENANT = '6f1d2c3b-4a59-4e68-9d7c-8b9a0f1e2d3c';

/** Azurite and the Cosmos stand-in on loopback, with clients. */
export interface WriterStack {
  azurite: AzuriteHandle;
  cosmos: CosmosHandle;
  storage: StorageClients;
  /** A direct client to the stand-in, for assertions (never through a fault proxy). */
  cosmosClient: CosmosClient;
  config(overrides?: Partial<WriterConfig> & { container?: string; endpoint?: string }): WriterConfig;
  runtime(
    overrides?: Partial<WriterConfig> & { container?: string; endpoint?: string },
    options?: WriterRuntimeOptions,
    logger?: Logger,
  ): WriterRuntime;
  stop(): Promise<void>;
}

export async function startWriterStack(): Promise<WriterStack> {
  const [azurite, cosmos] = await Promise.all([startAzurite({ inMemory: true }), startCosmos()]);
  const storage = createStorageClients({
    kind: 'connectionString',
    connectionString: new Secret(azurite.connectionString),
  });
  await storage.blobs.getContainerClient(CONTAINERS.batches).createIfNotExists();
  const cosmosClient = createCosmosClient(cosmos);
  const runtimes: WriterRuntime[] = [];
  const config = (
    overrides: Partial<WriterConfig> & { container?: string; endpoint?: string } = {},
  ): WriterConfig => {
    const { container, endpoint, ...rest } = overrides;
    return {
      cosmos: {
        endpoint: endpoint ?? cosmos.endpoint,
        key: new Secret(cosmos.key),
        identity: { kind: 'developer' },
        database: 'auditfeed',
        container: container ?? `records-${randomUUID().slice(0, 8)}`,
      },
      storage: { kind: 'connectionString', connectionString: new Secret(azurite.connectionString) },
      retentionDays: 180,
      contentTypeRetentionDays: {},
      queueName: 'auditfeed-batches',
      maxDequeueCount: 5,
      ...rest,
    };
  };
  return {
    azurite,
    cosmos,
    storage,
    cosmosClient,
    config,
    runtime(overrides = {}, options = {}, logger = new RecordingLogger()) {
      const r = new WriterRuntime(config(overrides), logger, { storage, ...options });
      runtimes.push(r);
      return r;
    },
    async stop() {
      for (const r of runtimes) r.close();
      cosmosClient.dispose();
      await stopAll();
    },
  };
}

export interface LogLine {
  level: 'info' | 'warn' | 'error';
  message: string;
  properties: Record<string, unknown> | undefined;
}

/** Keeps log lines so tests can check what an operator would see. */
export class RecordingLogger implements Logger {
  readonly lines: LogLine[] = [];
  info(message: string, properties?: Record<string, unknown>): void {
    this.lines.push({ level: 'info', message, properties });
  }
  warn(message: string, properties?: Record<string, unknown>): void {
    this.lines.push({ level: 'warn', message, properties });
  }
  error(message: string, properties?: Record<string, unknown>): void {
    this.lines.push({ level: 'error', message, properties });
  }
  at(level: LogLine['level']): LogLine[] {
    return this.lines.filter((l) => l.level === level);
  }
}

/** A record shaped like an Exchange mailbox audit record; `i` picks Id, user and time. */
export function exchangeRecord(i: number, extra: Record<string, unknown> = {}): AuditRecord {
  return {
    CreationTime: `2026-11-20T10:${String(i % 60).padStart(2, '0')}:${String(i % 7).padStart(2, '0')}`,
    Id: `0c6f${String(i).padStart(4, '0')}-8d2e-4a1b-9c3d-5e6f7a8b9c0d`,
    Operation: i % 2 === 0 ? 'MailItemsAccessed' : 'Send',
    OrganizationId: TENANT,
    RecordType: 2,
    ResultStatus: 'Succeeded',
    UserId: `user${i % 5}@contoso.com`,
    UserKey: `1003200${i % 5}`,
    Workload: 'Exchange',
    ClientIP: `198.51.100.${i % 250}:${40000 + i}`,
    OperationProperties: [{ Name: 'MailAccessType', Value: 'Bind' }],
    ...extra,
  };
}

/**
 * Builds real queue messages with the collector's Batcher and QueueBatchSink into Azurite (claim checks
 * land in the `batches` container), then takes them off the queue and returns their texts in order.
 * `write: 'create'` builds them as the backfill's RecordSender does.
 */
export async function buildMessages(
  storage: StorageClients,
  records: AuditRecord[],
  options: { contentType?: ContentType; maxMessageBytes?: number; tenantId?: string; write?: WriteMode } = {},
): Promise<string[]> {
  return sentMessages(storage, async (sink) => {
    const batcher = new Batcher({
      tenantId: options.tenantId ?? TENANT,
      contentType: options.contentType ?? 'Audit.Exchange',
      sink,
      ...(options.maxMessageBytes !== undefined ? { maxMessageBytes: options.maxMessageBytes } : {}),
      ...(options.write ? { write: options.write } : {}),
    });
    for (const record of records) await batcher.add(record, 'content-1');
    await batcher.flush();
    return batcher.stats.messages;
  });
}

/**
 * The message texts `send` puts on a fresh real queue through a QueueBatchSink (claim checks included),
 * taken off it in order; `send` returns how many messages it sent, which must all be there.
 */
export async function sentMessages(
  storage: StorageClients,
  send: (sink: QueueBatchSink) => Promise<number>,
): Promise<string[]> {
  const queue = storage.queues.getQueueClient(`build-${randomUUID().slice(0, 8)}`);
  const sink = new QueueBatchSink(queue, storage.blobs.getContainerClient(CONTAINERS.batches));
  await sink.ensureResources();
  const sent = await send(sink);
  const texts: string[] = [];
  for (;;) {
    const { receivedMessageItems } = await queue.receiveMessages({ numberOfMessages: 32 });
    if (receivedMessageItems.length === 0) break;
    for (const m of receivedMessageItems) {
      texts.push(m.messageText);
      await queue.deleteMessage(m.messageId, m.popReceipt);
    }
  }
  await queue.delete();
  expect(texts).toHaveLength(sent);
  return texts;
}

/** How many documents hold this record Id (any partition): exactly 1 when nothing was lost or duplicated. */
export async function countByRecordId(container: Container, recordId: string): Promise<number> {
  const { resources } = await container.items
    .query<number>({
      query: 'SELECT VALUE COUNT(1) FROM c WHERE c.Id = @id',
      parameters: [{ name: '@id', value: recordId }],
    })
    .fetchAll();
  return resources[0] ?? 0;
}

/** Documents in one partition (filter in WHERE: the stand-in ignores the partitionKey option). */
export async function countInPartition(container: Container, pk: string): Promise<number> {
  const { resources } = await container.items
    .query<number>({
      query: 'SELECT VALUE COUNT(1) FROM c WHERE c.pk = @pk',
      parameters: [{ name: '@pk', value: pk }],
    })
    .fetchAll();
  return resources[0] ?? 0;
}

export async function countAll(container: Container): Promise<number> {
  const { resources } = await container.items.query<number>('SELECT VALUE COUNT(1) FROM c').fetchAll();
  return resources[0] ?? 0;
}

/** Asserts every record is stored exactly once, and nothing else is in the container. */
export async function expectExactlyOnce(container: Container, records: AuditRecord[]): Promise<void> {
  const ids = [...new Set(records.map((r) => String(r.Id)))];
  const counts = await Promise.all(ids.map((id) => countByRecordId(container, id)));
  expect(Object.fromEntries(ids.map((id, i) => [id, counts[i]]))).toEqual(
    Object.fromEntries(ids.map((id) => [id, 1])),
  );
  expect(await countAll(container)).toBe(ids.length);
}

export function containerOf(stack: WriterStack, runtime: WriterRuntime): Container {
  return stack.cosmosClient
    .database(runtime.config.cosmos.database)
    .container(runtime.config.cosmos.container);
}
