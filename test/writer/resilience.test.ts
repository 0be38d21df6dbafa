import { randomUUID } from 'node:crypto';
import type { QueueClient } from '@azure/storage-queue';
import { drainQueue, type QueueDelivery } from '../../scripts/local/queueTrigger';
import { createCosmosClient } from '../../scripts/local/services';
import { main as replayPoisonCli } from '../../scripts/replay-poison';
import type { AuditRecord } from '../../shared/contentTypes';
import { write } from '../../shared/handlers/write';
import { CosmosThrottledError } from '../../shared/writer/errors';
import { FailedMessageArchive } from '../../shared/writer/failedMessages';
import { poisonQueueName } from '../../shared/writer/poisonReplay';
import type { WriterRuntime } from '../../shared/writerRuntime';
import { CosmosFaultProxy } from './cosmosFaultProxy';
import {
  buildMessages,
  containerOf,
  countAll,
  exchangeRecord,
  expectExactlyOnce,
  RecordingLogger,
  startWriterStack,
  TENANT,
  type WriterStack,
} from './helpers';

let stack: WriterStack;
let proxy: CosmosFaultProxy;

beforeAll(async () => {
  stack = await startWriterStack();
  proxy = await CosmosFaultProxy.start(stack.cosmos.endpoint);
});

afterAll(async () => {
  await proxy?.close();
  await stack?.stop();
});

beforeEach(() => {
  proxy.reset();
});

/** A writer whose Cosmos traffic goes through the fault proxy; SDK retries optional, ours always on. */
function proxiedRuntime(
  sdkThrottleRetries: number | undefined,
  logger: RecordingLogger,
  options: { oversizeThresholdBytes?: number } = {},
): WriterRuntime {
  return stack.runtime(
    {},
    {
      ...options,
      cosmosClient: createCosmosClient(
        { endpoint: proxy.endpoint, key: stack.cosmos.key },
        sdkThrottleRetries === undefined
          ? {}
          : { connectionPolicy: { retryOptions: { maxRetryAttemptCount: sdkThrottleRetries } } },
      ),
      throttle: { maxRounds: 4, defaultWaitMs: 20 },
    },
    logger,
  );
}

async function newQueues(): Promise<{ queue: QueueClient; poison: QueueClient; name: string }> {
  const name = `writer-${randomUUID().slice(0, 8)}`;
  const queue = stack.storage.queues.getQueueClient(name);
  await queue.create();
  return { queue, poison: stack.storage.queues.getQueueClient(poisonQueueName(name)), name };
}

function handlerFor(runtime: WriterRuntime, logger: RecordingLogger) {
  return (m: QueueDelivery) =>
    write(runtime, m.text, { messageId: m.id, dequeueCount: m.dequeueCount }, logger);
}

describe('Cosmos DB throttling', () => {
  it("re-sends only throttled operations after the service's retry-after, until all are stored once", async () => {
    const logger = new RecordingLogger();
    // SDK retries off, so the writer's own per-operation handling is what gets exercised.
    const runtime = proxiedRuntime(0, logger);
    const records = Array.from({ length: 12 }, (_, i) => exchangeRecord(100 + i));
    const [message] = await buildMessages(stack.storage, records);
    proxy.plan = (r) => {
      if (!r.isBulk) return undefined;
      if (r.bulkSeq === 1) return { kind: 'throttleOps', pick: (i) => i % 3 === 0, retryAfterMs: 40 };
      if (r.bulkSeq === 2) return { kind: 'status', status: 429, substatus: 3200, retryAfterMs: 30 };
      return undefined;
    };

    const result = await write(runtime, message, { messageId: 'throttled', dequeueCount: 1 }, logger);

    expect(proxy.stats.throttledOps).toBe(4);
    // Round 1: 12 sent, 4 throttled; round 2: those 4, all throttled (429 on the request); round 3: stored.
    expect(proxy.stats.requests.filter((r) => r.isBulk).map((r) => r.ops)).toEqual([12, 4, 4]);
    expect(result).toMatchObject({ written: 12, throttledRetries: 8 });
    expect(
      logger
        .at('warn')
        .filter((l) => /throttled/.test(l.message))
        .map((l) => l.properties?.waitMs),
    ).toEqual([40, 30]);
    await expectExactlyOnce(containerOf(stack, runtime), records);
  });

  it.each([
    ['429', { kind: 'status', status: 429, substatus: 3200, retryAfterMs: 30 }],
    ['503', { kind: 'status', status: 503 }],
  ] as const)(
    'sends the operations of a first request that failed as a whole (%s) again, in the same delivery',
    async (_name, fault) => {
      const logger = new RecordingLogger();
      const runtime = proxiedRuntime(0, logger);
      const records = Array.from({ length: 5 }, (_, i) => exchangeRecord(300 + i));
      const [message] = await buildMessages(stack.storage, records);
      proxy.plan = (r) => (r.isBulk && r.bulkSeq === 1 ? { ...fault } : undefined);

      const result = await write(runtime, message, { messageId: 'whole', dequeueCount: 1 }, logger);

      expect(proxy.stats.requests.filter((r) => r.isBulk).map((r) => r.ops)).toEqual([5, 5]);
      expect(result).toMatchObject({ written: 5 });
      expect(logger.at('warn').map((l) => l.message)).toContain(
        'A Cosmos DB bulk request failed as a whole; sending its operations again',
      );
      await expectExactlyOnce(containerOf(stack, runtime), records);
    },
  );

  it('gives up after its cap so the message is retried later by the queue', async () => {
    const logger = new RecordingLogger();
    const runtime = proxiedRuntime(0, logger);
    const [message] = await buildMessages(stack.storage, [exchangeRecord(200), exchangeRecord(201)]);
    await runtime.ensureResources();
    proxy.plan = (r) => (r.isBulk ? { kind: 'throttleOps', pick: () => true, retryAfterMs: 5 } : undefined);
    await expect(
      write(runtime, message, { messageId: 'hot', dequeueCount: 1 }, logger),
    ).rejects.toBeInstanceOf(CosmosThrottledError);
    expect(proxy.stats.requests.filter((r) => r.isBulk)).toHaveLength(4);
    expect(logger.at('error')[0]?.properties).toMatchObject({ messageId: 'hot', error: 'CosmosThrottled' });
    expect(await countAll(containerOf(stack, runtime))).toBe(0);
  });
});

/** The one document holding this record, system fields included. */
async function storedDocument(runtime: WriterRuntime, record: AuditRecord): Promise<Record<string, unknown>> {
  const { resources } = await containerOf(stack, runtime)
    .items.query<Record<string, unknown>>({
      query: 'SELECT * FROM c WHERE c.Id = @id',
      parameters: [{ name: '@id', value: record.Id as string }],
    })
    .fetchAll();
  expect(resources).toHaveLength(1);
  return resources[0]!;
}

describe('create-only batches (backfill, import) under faults', () => {
  it('re-sends throttled Create operations; those already stored come back 409 and are counted, not failed', async () => {
    const logger = new RecordingLogger();
    const runtime = proxiedRuntime(0, logger);
    const records = Array.from({ length: 8 }, (_, i) => exchangeRecord(500 + i));
    const [live] = await buildMessages(stack.storage, records.slice(0, 4));
    await write(runtime, live, { messageId: 'live', dequeueCount: 1 }, logger);
    const before = await Promise.all(records.slice(0, 4).map((r) => storedDocument(runtime, r)));
    const [backfill] = await buildMessages(stack.storage, records, { write: 'create' });
    const seqBefore = proxy.stats.requests.filter((r) => r.isBulk).length;
    // Every other operation throttled: stored and new ones alike go to the re-send (executeBulkOperations).
    proxy.plan = (r) =>
      r.isBulk && r.bulkSeq === seqBefore + 1
        ? { kind: 'throttleOps', pick: (i) => i % 2 === 0, retryAfterMs: 10 }
        : undefined;

    const result = await write(runtime, backfill, { messageId: 'bf', dequeueCount: 1 }, logger);

    expect(proxy.stats.throttledOps).toBe(4);
    expect(result).toMatchObject({ written: 4, alreadyStored: 4, throttledRetries: 4 });
    expect(await Promise.all(records.slice(0, 4).map((r) => storedDocument(runtime, r)))).toEqual(before);
    await expectExactlyOnce(containerOf(stack, runtime), records);
    expect(logger.at('error')).toEqual([]);
  });

  it('a Create the service applied but whose answer was lost comes back 409 on the re-send: no failure', async () => {
    const logger = new RecordingLogger();
    const runtime = proxiedRuntime(0, logger);
    await runtime.ensureResources();
    const records = Array.from({ length: 5 }, (_, i) => exchangeRecord(520 + i));
    const [message] = await buildMessages(stack.storage, records, { write: 'create' });
    proxy.plan = (r) => (r.isBulk && r.bulkSeq === 1 ? { kind: 'forwardThenReset' } : undefined);

    const result = await write(runtime, message, { messageId: 'lost', dequeueCount: 1 }, logger);

    expect(proxy.stats.forwardedThenReset).toBe(1);
    // This message created them; the re-send cannot tell, so they count as already stored.
    expect(result).toMatchObject({ written: 0, alreadyStored: 5 });
    await expectExactlyOnce(containerOf(stack, runtime), records);
    expect(logger.at('error')).toEqual([]);
  });

  it('a Create refused as too large (413) whose document is already stored is left as it is, no blob saved', async () => {
    const logger = new RecordingLogger();
    const runtime = proxiedRuntime(0, logger);
    const records = [exchangeRecord(540), exchangeRecord(541)];
    const [live] = await buildMessages(stack.storage, records);
    await write(runtime, live, { messageId: 'live', dequeueCount: 1 }, logger);
    const before = await storedDocument(runtime, records[1]!);
    const [backfill] = await buildMessages(stack.storage, records, { write: 'create' });
    const seqBefore = proxy.stats.requests.filter((r) => r.isBulk).length;
    proxy.plan = (r) =>
      r.isBulk && r.bulkSeq === seqBefore + 1
        ? { kind: 'refuseOps', pick: (i) => i === 1, status: 413, message: 'Request size is too large' }
        : undefined;

    const result = await write(runtime, backfill, { messageId: 'bf413', dequeueCount: 1 }, logger);

    expect(proxy.stats.refusedOps).toBe(1);
    expect(result).toMatchObject({ written: 0, alreadyStored: 2, oversize: 0 });
    expect(await storedDocument(runtime, records[1]!)).toEqual(before);
    expect(logger.lines.map((l) => l.message)).not.toContain(
      'Record too large for a Cosmos DB item; stored whole in a blob',
    );
  });

  it('an oversize stub whose document appeared after the check is not overwritten and counts as already stored', async () => {
    const logger = new RecordingLogger();
    const runtime = proxiedRuntime(0, logger, { oversizeThresholdBytes: 20_000 });
    const live = exchangeRecord(560, { Payload: 'L'.repeat(30_000) });
    const [liveMessage] = await buildMessages(stack.storage, [live]);
    await write(runtime, liveMessage, { messageId: 'live', dequeueCount: 1 }, logger);
    const stub = await storedDocument(runtime, live);
    expect(stub.oversizeBlob).toBeDefined();
    const [backfill] = await buildMessages(stack.storage, [{ ...live, Payload: 'G'.repeat(30_000) }], {
      write: 'create',
    });
    // The writer's point read finds nothing, as when the live writer stores the stub just after it.
    proxy.plan = (r) =>
      r.method === 'GET' && /\/docs\/[^/]+$/.test(r.path) ? { kind: 'status', status: 404 } : undefined;

    const result = await write(runtime, backfill, { messageId: 'race', dequeueCount: 1 }, logger);

    expect(proxy.stats.statuses).toBe(1);
    expect(result).toMatchObject({ written: 0, alreadyStored: 1 });
    expect(await storedDocument(runtime, live)).toEqual(stub);
    expect(logger.at('error')).toEqual([]);
  });
});

describe('Cosmos DB outage mid-batch, with the queue trigger semantics', () => {
  it('retries failed messages and ends complete and duplicate-free', async () => {
    const logger = new RecordingLogger();
    const runtime = proxiedRuntime(undefined, logger);
    await runtime.ensureResources();
    const { queue, poison } = await newQueues();
    // Overlapping batches, as the collector's re-read overlap produces.
    const batches = [
      Array.from({ length: 8 }, (_, i) => exchangeRecord(300 + i)),
      Array.from({ length: 8 }, (_, i) => exchangeRecord(304 + i)),
      Array.from({ length: 8 }, (_, i) => exchangeRecord(308 + i)),
    ];
    for (const batch of batches) {
      for (const text of await buildMessages(stack.storage, batch)) await queue.sendMessage(text);
    }
    // An outage long enough to outlast the writer's own re-send of a failed request: each message's first
    // request and its re-send fail, so every message fails its first delivery and the queue retries it.
    const outage = [
      { kind: 'status', status: 503, message: 'Service is currently unavailable.' },
      { kind: 'reset' },
      // The service applied the writes, but the answer never arrived.
      { kind: 'forwardThenReset' },
    ] as const;
    proxy.plan = (r) => (r.isBulk && r.bulkSeq <= 6 ? { ...outage[(r.bulkSeq - 1) % 3]! } : undefined);

    const result = await drainQueue({
      queue,
      poisonQueue: poison,
      handler: handlerFor(runtime, logger),
      batchSize: 4,
      visibilityTimeoutSeconds: 0,
      maxDequeueCount: 5,
    });

    expect(proxy.stats).toMatchObject({ statuses: 2, resets: 2, forwardedThenReset: 2 });
    expect(result).toMatchObject({ drained: true, failed: 3, succeeded: 3, poisoned: [] });
    expect(logger.at('error').map((l) => l.properties?.dequeueCount)).toEqual([1, 1, 1]);
    await expectExactlyOnce(containerOf(stack, runtime), batches.flat());
  });
});

/** The settings replay-poison reads, as the function app has them. */
function replayEnv(queueName: string): Record<string, string> {
  return {
    AUDITFEED_TENANT_IDS: TENANT,
    AUDITFEED_AUTH_MODE: 'secret',
    AUDITFEED_CLIENT_ID: '0f3a9c27-5e4b-4d1a-8c6f-2b7e9d0a1c35',
    AUDITFEED_CLIENT_SECRET: 'not-used-by-replay',
    AUDITFEED_STORAGE: stack.azurite.connectionString,
    AUDITFEED_COSMOS__accountEndpoint: stack.cosmos.endpoint,
    AUDITFEED_COSMOS__accountKey: stack.cosmos.key,
    AUDITFEED_QUEUE_NAME: queueName,
  };
}

describe('poison queue and replay', () => {
  it('poisons a message after 5 failed deliveries, and replay-poison brings it back to success', async () => {
    const logger = new RecordingLogger();
    const runtime = proxiedRuntime(undefined, logger);
    await runtime.ensureResources();
    const { queue, poison, name } = await newQueues();
    const records = Array.from({ length: 5 }, (_, i) => exchangeRecord(400 + i));
    const [text] = await buildMessages(stack.storage, records);
    await queue.sendMessage(text!);

    proxy.plan = (r) => (r.isBulk ? { kind: 'status', status: 503 } : undefined);
    const failing = await drainQueue({
      queue,
      poisonQueue: poison,
      handler: handlerFor(runtime, logger),
      visibilityTimeoutSeconds: 0,
      maxDequeueCount: 5,
    });
    expect(failing).toMatchObject({ drained: true, invocations: 5, failed: 5, succeeded: 0 });
    expect(failing.poisoned).toHaveLength(1);
    expect(logger.at('error').map((l) => l.properties?.dequeueCount)).toEqual([1, 2, 3, 4, 5]);
    const parked = await poison.peekMessages({ numberOfMessages: 32 });
    expect(parked.peekedMessageItems.map((m) => m.messageText)).toEqual([text]);
    // Poison messages expire after 7 days; the last attempt kept a copy that does not.
    const copy = runtime.failedMessages.container.getBlockBlobClient(FailedMessageArchive.blobName(text!));
    expect(await copy.exists()).toBe(true);

    const env = replayEnv(name);
    const out: string[] = [];
    expect(await replayPoisonCli(['--dry-run'], env, (l) => out.push(l))).toBe(0);
    expect(out).toContain(
      `Dry run: 1 message(s) in ${name}-poison; nothing moved. Message ids: ${parked.peekedMessageItems[0]!.messageId}.`,
    );
    out.length = 0;
    expect((await poison.getProperties()).approximateMessagesCount).toBe(1);

    expect(await replayPoisonCli(['--max', '10'], env, (l) => out.push(l))).toBe(0);
    expect(out[0]).toMatch(new RegExp(`^Moved 1 message\\(s\\) from ${name}-poison to ${name}\\.`));
    expect((await poison.getProperties()).approximateMessagesCount).toBe(0);
    expect(await copy.exists()).toBe(false);

    proxy.plan = () => undefined;
    const recovered = await drainQueue({ queue, poisonQueue: poison, handler: handlerFor(runtime, logger) });
    expect(recovered).toMatchObject({ drained: true, invocations: 1, succeeded: 1, poisoned: [] });
    await expectExactlyOnce(containerOf(stack, runtime), records);
  });

  it('keeps a poisoned message past the poison queue expiry; replay-poison --archive brings it back', async () => {
    const logger = new RecordingLogger();
    const runtime = proxiedRuntime(undefined, logger);
    await runtime.ensureResources();
    const { queue, poison, name } = await newQueues();
    const records = Array.from({ length: 3 }, (_, i) => exchangeRecord(450 + i));
    const [text] = await buildMessages(stack.storage, records);
    await queue.sendMessage(text!);
    proxy.plan = (r) => (r.isBulk ? { kind: 'status', status: 503 } : undefined);
    const failing = await drainQueue({
      queue,
      poisonQueue: poison,
      handler: handlerFor(runtime, logger),
      visibilityTimeoutSeconds: 0,
      maxDequeueCount: 5,
    });
    expect(failing.poisoned).toHaveLength(1);
    // Seven days later the host's poison copy has expired.
    await poison.clearMessages();

    const env = replayEnv(name);
    const out: string[] = [];
    expect(await replayPoisonCli([], env, (l) => out.push(l))).toBe(0);
    expect(out[1]).toMatch(
      /archived copy\(ies\) of poisoned messages remain in poison-archive; add --archive/,
    );
    out.length = 0;
    expect(await replayPoisonCli(['--archive'], env, (l) => out.push(l))).toBe(0);
    expect(out[1]).toBe(`Re-enqueued 1 archived message(s) from poison-archive to ${name}.`);

    proxy.plan = () => undefined;
    const recovered = await drainQueue({ queue, poisonQueue: poison, handler: handlerFor(runtime, logger) });
    expect(recovered).toMatchObject({ drained: true, succeeded: 1, poisoned: [] });
    await expectExactlyOnce(containerOf(stack, runtime), records);
  });

  it('replay-poison validates its arguments and moves at most --max messages', async () => {
    const { queue, poison, name } = await newQueues();
    await poison.create();
    for (let i = 0; i < 3; i++) await poison.sendMessage(`{"n":${i}}`);
    const env = {
      AUDITFEED_TENANT_IDS: TENANT,
      AUDITFEED_AUTH_MODE: 'secret',
      AUDITFEED_CLIENT_ID: '0f3a9c27-5e4b-4d1a-8c6f-2b7e9d0a1c35',
      AUDITFEED_CLIENT_SECRET: 'x',
      AUDITFEED_STORAGE: stack.azurite.connectionString,
      AUDITFEED_COSMOS__accountEndpoint: stack.cosmos.endpoint,
      AUDITFEED_QUEUE_NAME: name,
    };
    const out: string[] = [];
    expect(await replayPoisonCli(['--max', '0'], env, (l) => out.push(l))).toBe(2);
    expect(out.pop()).toMatch(/--max needs a whole number of at least 1/);
    expect(await replayPoisonCli([], { ...env, AUDITFEED_STORAGE: '' }, (l) => out.push(l))).toBe(2);
    expect(out.pop()).toMatch(/AUDITFEED_STORAGE/);

    expect(await replayPoisonCli(['--max', '2'], env, (l) => out.push(l))).toBe(0);
    expect(out.pop()).toMatch(/^Moved 2 message/);
    expect((await queue.getProperties()).approximateMessagesCount).toBe(2);
    expect((await poison.getProperties()).approximateMessagesCount).toBe(1);
    const moved = await queue.receiveMessages({ numberOfMessages: 32 });
    expect(moved.receivedMessageItems.map((m) => m.messageText).sort()).toEqual(['{"n":0}', '{"n":1}']);
  });

  it('drainQueue poisons a message whose earlier handlers crashed past maxDequeueCount, without invoking', async () => {
    const { queue, poison } = await newQueues();
    const { messageId } = await queue.sendMessage('{"crashed":true}');
    // Five deliveries whose handler never finished (the message simply became visible again).
    for (let i = 0; i < 5; i++) {
      const { receivedMessageItems } = await queue.receiveMessages({ numberOfMessages: 1 });
      const [m] = receivedMessageItems;
      await queue.updateMessage(m!.messageId, m!.popReceipt, undefined, 0);
    }
    let invoked = 0;
    const result = await drainQueue({
      queue,
      poisonQueue: poison,
      handler: () => Promise.resolve(invoked++),
      maxDequeueCount: 5,
    });
    expect(invoked).toBe(0);
    expect(result).toMatchObject({ drained: true, invocations: 0, poisoned: [messageId] });
    const parked = await poison.peekMessages();
    expect(parked.peekedMessageItems.map((m) => m.messageText)).toEqual(['{"crashed":true}']);
  });
});
