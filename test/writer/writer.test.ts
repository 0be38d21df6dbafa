import { randomBytes, randomUUID } from 'node:crypto';
import { drainQueue } from '../../scripts/local/queueTrigger';
import { createCosmosClient } from '../../scripts/local/services';
import { write } from '../../shared/handlers/write';
import {
  BadMessageError,
  decodeEnvelope,
  encodeEnvelope,
  packBatch,
  type Compression,
  type Envelope,
} from '../../shared/messages/envelope';
import { CONTAINERS } from '../../shared/storage/clients';
import { WRITTEN_MARKER_PREFIX } from '../../shared/writer/claimChecks';
import { INDEXED_PATHS, PARTITION_KEY_PATH } from '../../shared/writer/cosmosContainer';
import { RESERVED_NAME_FIELDS, toDocument } from '../../shared/writer/documents';
import {
  ClaimCheckMissingError,
  ContainerMismatchError,
  CosmosProvisioningError,
  CosmosWriteError,
} from '../../shared/writer/errors';
import { FailedMessageArchive, type ArchivedMessage } from '../../shared/writer/failedMessages';
import { poisonQueueName } from '../../shared/writer/poisonReplay';
import { REJECTED_CONTAINER, RejectedRecordStore } from '../../shared/writer/rejectedRecords';
import { brotliBomb, gzipBomb } from '../messages/bombs';
import { CosmosFaultProxy } from './cosmosFaultProxy';
import {
  buildMessages,
  containerOf,
  countAll,
  countInPartition,
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

/** A runtime whose Cosmos traffic goes through the fault proxy. */
function proxiedRuntime(container: string, logger = new RecordingLogger()) {
  return stack.runtime(
    { container },
    { cosmosClient: createCosmosClient({ endpoint: proxy.endpoint, key: stack.cosmos.key }) },
    logger,
  );
}

describe('container bootstrap', () => {
  it('creates the container with partition key /pk, the retention TTL and the narrow indexing policy', async () => {
    const runtime = stack.runtime({ retentionDays: 30 });
    await runtime.ensureResources();
    const { resource } = await containerOf(stack, runtime).read();
    expect(resource?.partitionKey).toEqual({ paths: [PARTITION_KEY_PATH], kind: 'Hash', version: 2 });
    expect(resource?.defaultTtl).toBe(30 * 86_400);
    expect(resource?.indexingPolicy?.includedPaths?.map((p) => p.path).sort()).toEqual(
      [...INDEXED_PATHS].sort(),
    );
    expect(resource?.indexingPolicy?.excludedPaths?.map((p) => p.path)).toEqual(['/*']);
    for (const path of [
      '/CreationTime/?',
      '/Operation/?',
      '/UserId/?',
      '/ClientIP/?',
      '/clientIp/?',
      '/ObjectId/?',
    ]) {
      expect(INDEXED_PATHS).toContain(path);
    }
    const blobContainers = [];
    for await (const c of stack.storage.blobs.listContainers()) blobContainers.push(c.name);
    expect(blobContainers).toEqual(expect.arrayContaining([CONTAINERS.oversize, REJECTED_CONTAINER]));
  });

  it('refuses a container with another partition key, naming it, never replaces it, and writes nothing', async () => {
    const name = 'wrong-key';
    const { database } = await stack.cosmosClient.databases.createIfNotExists({ id: 'auditfeed' });
    await database.containers.createIfNotExists({ id: name, partitionKey: { paths: ['/tenantId'] } });
    const logger = new RecordingLogger();
    const runtime = proxiedRuntime(name, logger);
    const [message] = await buildMessages(stack.storage, [exchangeRecord(1)]);

    const failure = write(runtime, message, { messageId: 'msg-wrong-key', dequeueCount: 1 }, logger);
    await expect(failure).rejects.toBeInstanceOf(ContainerMismatchError);
    await expect(failure).rejects.toThrow(/"auditfeed\/wrong-key" has partition key \/tenantId.*needs \/pk/);
    expect(logger.at('error')[0]?.properties).toMatchObject({
      messageId: 'msg-wrong-key',
      error: 'CosmosContainerMismatch',
    });
    expect(await countAll(database.container(name))).toBe(0);
    const { resource } = await database.container(name).read();
    expect(resource?.partitionKey?.paths).toEqual(['/tenantId']);
    // Only reads reached the container definition: no PUT (replace) and no document writes.
    expect(
      proxy.stats.requests.filter((r) => r.method !== 'GET' && r.path.includes('/colls/wrong-key')),
    ).toEqual([]);
  });

  it('only warns about a different default TTL (the infrastructure owns it) and writes', async () => {
    const name = 'other-ttl';
    const { database } = await stack.cosmosClient.databases.createIfNotExists({ id: 'auditfeed' });
    await database.containers.createIfNotExists({
      id: name,
      partitionKey: { paths: ['/pk'] },
      defaultTtl: 3600,
    });
    const logger = new RecordingLogger();
    const runtime = stack.runtime({ container: name }, {}, logger);
    const records = [exchangeRecord(1), exchangeRecord(2)];
    const [message] = await buildMessages(stack.storage, records);
    await write(runtime, message, { messageId: 'm', dequeueCount: 1 }, logger);
    expect(logger.at('warn').map((l) => l.message)).toEqual(
      expect.arrayContaining([expect.stringMatching(/default TTL differs/)]),
    );
    expect(logger.at('warn').find((l) => /default TTL/.test(l.message))?.properties).toMatchObject({
      defaultTtlSeconds: 3600,
      expectedSeconds: 180 * 86_400,
    });
    await expectExactlyOnce(database.container(name), records);
  });

  it('explains a 403 on create: the infrastructure should have created the container', async () => {
    // Data-plane RBAC: reads work, creating a container is forbidden.
    proxy.plan = (r) =>
      r.method === 'POST' && /\/dbs\/[^/]+\/colls\/?$/.test(r.path)
        ? {
            kind: 'status',
            status: 403,
            message: 'Request blocked by Auth: cannot perform sqlDatabases/containers/write',
          }
        : undefined;
    const runtime = proxiedRuntime('never-created');
    const failure = runtime.ensureResources();
    await expect(failure).rejects.toBeInstanceOf(CosmosProvisioningError);
    await expect(failure).rejects.toThrow(
      /"auditfeed\/never-created" does not exist.*infrastructure should have created it/,
    );
  });
});

describe('idempotent writes', () => {
  it('stores each record once: a message delivered twice, and overlapping messages', async () => {
    const runtime = stack.runtime();
    const container = containerOf(stack, runtime);
    const first = Array.from({ length: 10 }, (_, i) => exchangeRecord(i));
    // The service repeats records across blobs, sometimes with numbers spelled as strings.
    const second = Array.from({ length: 10 }, (_, i) =>
      exchangeRecord(i + 5, i + 5 < 10 ? { RecordType: '2' } : {}),
    );
    const [a] = await buildMessages(stack.storage, first);
    const [b] = await buildMessages(stack.storage, second);
    const logger = new RecordingLogger();

    const r1 = await write(runtime, a, { messageId: 'a', dequeueCount: 1 }, logger);
    const r2 = await write(runtime, a, { messageId: 'a', dequeueCount: 2 }, logger);
    // The trigger may hand over an already-parsed object when the text is JSON.
    const r3 = await write(runtime, JSON.parse(b!) as unknown, { messageId: 'b', dequeueCount: 1 }, logger);
    expect([r1.written, r2.written, r3.written]).toEqual([10, 10, 10]);

    const all = [...first, ...second];
    await expectExactlyOnce(container, all);
    const pks = new Set(
      all.map((r) => {
        const mapped = toDocument(r, { tenantId: TENANT, contentType: 'Audit.Exchange', ingestedAt: '' });
        if (!mapped.ok) throw new Error(mapped.reason);
        return mapped.document.pk;
      }),
    );
    const perPartition = await Promise.all([...pks].map((pk) => countInPartition(container, pk)));
    expect(perPartition.reduce((s, n) => s + n, 0)).toBe(15);
  });

  it('writes a repeated record inside one batch once', async () => {
    const runtime = stack.runtime();
    const [message] = await buildMessages(stack.storage, [
      exchangeRecord(1),
      exchangeRecord(2),
      exchangeRecord(1),
    ]);
    const result = await write(
      runtime,
      message,
      { messageId: 'dup', dequeueCount: 1 },
      new RecordingLogger(),
    );
    expect(result).toMatchObject({ records: 3, written: 2, duplicates: 1 });
    await expectExactlyOnce(containerOf(stack, runtime), [exchangeRecord(1), exchangeRecord(2)]);
  });
});

describe('retention', () => {
  it('gives documents of a content type with its own retention a per-document ttl, others none', async () => {
    const runtime = stack.runtime({ contentTypeRetentionDays: { 'Audit.Exchange': 365 } });
    const [exchange] = await buildMessages(stack.storage, [exchangeRecord(1)]);
    const [general] = await buildMessages(stack.storage, [exchangeRecord(2, { RecordType: 25 })], {
      contentType: 'Audit.General',
    });
    for (const [id, message] of [
      ['exchange', exchange],
      ['general', general],
    ] as const) {
      await write(runtime, message, { messageId: id, dequeueCount: 1 }, new RecordingLogger());
    }
    const { resources } = await containerOf(stack, runtime)
      .items.query<{ contentType: string; ttl?: number }>('SELECT c.contentType, c.ttl FROM c')
      .fetchAll();
    expect(resources.sort((a, b) => a.contentType.localeCompare(b.contentType))).toEqual([
      { contentType: 'Audit.Exchange', ttl: 365 * 86_400 },
      { contentType: 'Audit.General' },
    ]);
  });
});

describe('bad input', () => {
  it('an undecodable message is logged with its id, dequeue count and problem, then thrown', async () => {
    const logger = new RecordingLogger();
    const runtime = stack.runtime({}, {}, logger);
    await expect(
      write(runtime, 'not json at all', { messageId: 'msg-123', dequeueCount: 3 }, logger),
    ).rejects.toBeInstanceOf(BadMessageError);
    const [line] = logger.at('error');
    expect(line?.message).toMatch(/message msg-123: Message is not JSON/);
    expect(line?.properties).toMatchObject({ messageId: 'msg-123', dequeueCount: 3, error: 'BadMessage' });
  });

  it('an unknown envelope version fails clearly', async () => {
    const logger = new RecordingLogger();
    const runtime = stack.runtime({}, {}, logger);
    const [text] = await buildMessages(stack.storage, [exchangeRecord(1)]);
    const future = JSON.stringify({ ...(JSON.parse(text!) as object), v: 2 });
    await expect(write(runtime, future, { messageId: 'msg-v2', dequeueCount: 1 }, logger)).rejects.toThrow(
      /envelope version 2; this writer reads version 1/,
    );
    expect(logger.at('error')[0]?.properties).toMatchObject({ messageId: 'msg-v2', dequeueCount: 1 });
    expect(await countAll(containerOf(stack, runtime))).toBe(0);
  });

  it('keeps refused records in blobs, logs message, batch, index and Id, and writes the valid ones', async () => {
    const logger = new RecordingLogger();
    const runtime = stack.runtime({}, {}, logger);
    const good = [exchangeRecord(1), exchangeRecord(2), exchangeRecord(3)];
    const { Id: _id, ...noId } = exchangeRecord(4);
    const { CreationTime: _t, ...noTime } = exchangeRecord(5);
    const badTime = exchangeRecord(6, { CreationTime: '9/15/2025 11:05:00 PM' });
    const records = [good[0]!, noId, good[1]!, noTime, badTime, good[2]!];
    const [message] = await buildMessages(stack.storage, records);
    const { batchId } = decodeEnvelope(message);

    const result = await write(runtime, message, { messageId: 'mixed', dequeueCount: 1 }, logger);
    expect(result).toMatchObject({ records: 6, written: 3, rejected: 3 });
    await expectExactlyOnce(containerOf(stack, runtime), good);

    const rejectedBlobs = stack.storage.blobs.getContainerClient(REJECTED_CONTAINER);
    for (const [index, record, reason] of [
      [1, noId, /no usable Id/],
      [3, noTime, /no parseable CreationTime \(missing\)/],
      [4, badTime, /no parseable CreationTime/],
    ] as const) {
      const name = RejectedRecordStore.blobName(TENANT, 'Audit.Exchange', batchId, index);
      expect(name).toBe(`${TENANT}/Audit.Exchange/${batchId}-${index}.json`);
      const saved = JSON.parse((await rejectedBlobs.getBlobClient(name).downloadToBuffer()).toString()) as {
        record: unknown;
        reason: string;
        index: number;
      };
      expect(saved.record).toEqual(record);
      expect(saved.reason).toMatch(reason);
      const line = logger
        .at('error')
        .find((l) => l.message === `Record ${index} of batch ${batchId} rejected: ${saved.reason}`);
      // Which message, which record in it, and the record's Id when it has one.
      expect(line?.properties).toMatchObject({ messageId: 'mixed', batchId, index });
      expect(line?.properties?.recordId).toBe((record as { Id?: string }).Id);
    }
  });

  it('refuses a claim-check pointer outside the claim-check container and touches nothing there', async () => {
    const runtime = stack.runtime();
    const watermarks = stack.storage.blobs.getContainerClient(CONTAINERS.watermarks);
    await watermarks.createIfNotExists();
    await watermarks.getBlockBlobClient('t/Audit.Exchange.json').upload('{}', 2);
    const [text] = await buildMessages(stack.storage, [exchangeRecord(1)]);
    const { data: _d, ...envelope } = decodeEnvelope(text);
    const evil = encodeEnvelope({
      ...envelope,
      blob: { container: CONTAINERS.watermarks, name: 't/Audit.Exchange.json', bytes: 2 },
    });
    await expect(
      write(runtime, evil, { messageId: 'evil', dequeueCount: 1 }, new RecordingLogger()),
    ).rejects.toThrow(/only reads claim checks from "batches"/);
    expect(await watermarks.getBlobClient('t/Audit.Exchange.json').exists()).toBe(true);
  });
});

describe('oversize records and claim checks', () => {
  it('stores a 3 MB record whole in a blob and a searchable stub in Cosmos DB', async () => {
    const runtime = stack.runtime();
    const container = containerOf(stack, runtime);
    const big = exchangeRecord(7, {
      Operation: 'New-InboxRule',
      Parameters: [
        { Name: 'Name', Value: 'Huge' },
        { Name: 'ForwardTo', Value: 'drop@example.net' },
      ],
      Payload: randomBytes(1_500_000).toString('hex'),
    });
    const small = exchangeRecord(8);
    const texts = await buildMessages(stack.storage, [small, big]);
    for (const [i, text] of texts.entries()) {
      await write(runtime, text, { messageId: `big-${i}`, dequeueCount: 1 }, new RecordingLogger());
    }
    await expectExactlyOnce(container, [small, big]);

    const { resources } = await container.items
      .query({
        query: 'SELECT * FROM c WHERE c.Id = @id',
        parameters: [{ name: '@id', value: big.Id as string }],
      })
      .fetchAll();
    const stub = resources[0] as Record<string, unknown>;
    const pointer = stub.oversizeBlob as { container: string; name: string; bytes: number };
    expect(pointer.container).toBe(CONTAINERS.oversize);
    expect(pointer.name).toBe(`${TENANT}/Audit.Exchange/2026-11-20/${String(big.Id)}.json`);
    expect(stub).toMatchObject({
      Operation: 'New-InboxRule',
      inboxRuleName: 'Huge',
      forwardTo: 'drop@example.net',
    });
    expect(stub.Payload).toBeUndefined();
    const blob = await stack.storage.blobs
      .getContainerClient(pointer.container)
      .getBlobClient(pointer.name)
      .downloadToBuffer();
    expect(blob.length).toBe(pointer.bytes);
    expect(JSON.parse(blob.toString('utf8'))).toEqual(big);
  });

  it('moves a document Cosmos DB refuses as too large (413) to the oversize path', async () => {
    const runtime = proxiedRuntime('refused-413');
    const records = [exchangeRecord(60), exchangeRecord(61), exchangeRecord(62)];
    const [message] = await buildMessages(stack.storage, records);
    await runtime.ensureResources();
    proxy.plan = (r) =>
      r.isBulk && r.bulkSeq === 1
        ? { kind: 'refuseOps', pick: (i) => i === 1, status: 413, message: 'Request size is too large' }
        : undefined;

    const result = await write(
      runtime,
      message,
      { messageId: 'm413', dequeueCount: 1 },
      new RecordingLogger(),
    );

    expect(proxy.stats.refusedOps).toBe(1);
    expect(result).toMatchObject({ records: 3, written: 3, oversize: 1 });
    const container = containerOf(stack, runtime);
    await expectExactlyOnce(container, records);
    const { resources } = await container.items
      .query({ query: 'SELECT * FROM c WHERE IS_DEFINED(c.oversizeBlob)' })
      .fetchAll();
    expect(resources).toHaveLength(1);
    const pointer = (resources[0] as { oversizeBlob: { container: string; name: string } }).oversizeBlob;
    const blob = await stack.storage.blobs
      .getContainerClient(pointer.container)
      .getBlobClient(pointer.name)
      .downloadToBuffer();
    expect(records.map((r) => JSON.stringify(r))).toContain(blob.toString('utf8'));
  });

  it('follows a claim check, deletes it only after success, and recognises a finished one', async () => {
    const logger = new RecordingLogger();
    const runtime = proxiedRuntime('claim-checks', logger);
    const container = containerOf(stack, runtime);
    const records = Array.from({ length: 3 }, (_, i) =>
      exchangeRecord(40 + i, { Detail: randomBytes(600).toString('hex') }),
    );
    // A small message limit turns each record into its own claim check, as a huge record would.
    const texts = await buildMessages(stack.storage, records, { maxMessageBytes: 1000 });
    const claimChecked = texts.map((t) => decodeEnvelope(t)).filter((e) => e.blob);
    expect(claimChecked.length).toBeGreaterThan(0);
    const text = texts.find((t) => decodeEnvelope(t).blob)!;
    const envelope = decodeEnvelope(text);
    const blobs = stack.storage.blobs.getContainerClient(CONTAINERS.batches);
    expect(await blobs.getBlobClient(envelope.blob!.name).exists()).toBe(true);

    // Cosmos DB fails mid-way: the invocation fails and the claim check stays.
    proxy.plan = (r) => (r.isBulk ? { kind: 'status', status: 503 } : undefined);
    await expect(write(runtime, text, { messageId: 'cc', dequeueCount: 1 }, logger)).rejects.toBeInstanceOf(
      CosmosWriteError,
    );
    expect(await blobs.getBlobClient(envelope.blob!.name).exists()).toBe(true);

    proxy.plan = () => undefined;
    const ok = await write(runtime, text, { messageId: 'cc', dequeueCount: 2 }, logger);
    expect(ok.claimCheck).toBe('deleted');
    expect(await blobs.getBlobClient(envelope.blob!.name).exists()).toBe(false);
    expect(ok.written).toBe(envelope.count);

    // The queue delete failed (or the message came back from poison): the marker says it is done.
    const again = await write(runtime, text, { messageId: 'cc', dequeueCount: 3 }, logger);
    expect(again).toMatchObject({ claimCheck: 'alreadyWritten', written: 0 });

    // Gone without our marker: not ours to skip; fail loudly (→ poison).
    await blobs.getBlobClient(`${WRITTEN_MARKER_PREFIX}${envelope.blob!.name}`).delete();
    await expect(write(runtime, text, { messageId: 'cc', dequeueCount: 4 }, logger)).rejects.toBeInstanceOf(
      ClaimCheckMissingError,
    );

    for (const other of texts.filter((t) => t !== text)) {
      await write(runtime, other, { messageId: 'rest', dequeueCount: 1 }, logger);
    }
    await expectExactlyOnce(container, records);
    for (const e of claimChecked) expect(await blobs.getBlobClient(e.blob!.name).exists()).toBe(false);
  });
});

/** A message as the collector writes it, from record texts (so a test can send what JSON.stringify cannot). */
function messageOf(recordTexts: string[], enc: Compression = 'br'): { text: string; envelope: Envelope } {
  const envelope: Envelope = {
    v: 1,
    batchId: `b-${randomUUID().slice(0, 8)}`,
    tenantId: TENANT,
    contentType: 'Audit.Exchange',
    count: recordTexts.length,
    enc,
    data: packBatch(['content-1'], recordTexts, enc).toString('base64'),
  };
  return { text: encodeEnvelope(envelope), envelope };
}

describe('hostile batches', () => {
  const MiB = 1024 * 1024;

  it('refuses a brotli bomb (300 MiB in a message of under 1 KB): bounded retries, then archive and poison', async () => {
    const logger = new RecordingLogger();
    const runtime = stack.runtime({}, {}, logger);
    const { envelope } = messageOf([JSON.stringify(exchangeRecord(1))]);
    const text = encodeEnvelope({ ...envelope, data: (await brotliBomb(300 * MiB)).toString('base64') });
    expect(text.length).toBeLessThan(1024);
    const name = `bomb-${randomUUID().slice(0, 8)}`;
    const queue = stack.storage.queues.getQueueClient(name);
    await queue.create();
    await queue.sendMessage(text);

    const result = await drainQueue({
      queue,
      poisonQueue: stack.storage.queues.getQueueClient(poisonQueueName(name)),
      handler: (m) => write(runtime, m.text, { messageId: m.id, dequeueCount: m.dequeueCount }, logger),
      visibilityTimeoutSeconds: 0,
      maxDequeueCount: 5,
    });

    expect(result).toMatchObject({ drained: true, invocations: 5, failed: 5, succeeded: 0 });
    expect(result.poisoned).toHaveLength(1);
    const failures = logger.at('error').filter((l) => l.properties?.error === 'BadMessage');
    expect(failures).toHaveLength(5);
    expect(failures[0]?.message).toMatch(
      new RegExp(
        `Batch ${envelope.batchId}: the br-compressed batch \\(\\d+ bytes\\) inflates beyond MAX_BATCH_JSON_BYTES`,
      ),
    );
    const archived = JSON.parse(
      (
        await runtime.failedMessages.container
          .getBlobClient(FailedMessageArchive.blobName(text))
          .downloadToBuffer()
      ).toString('utf8'),
    ) as ArchivedMessage;
    expect(archived).toMatchObject({ text, dequeueCount: 5 });
    expect(archived.error).toMatch(/decompression bomb/);
    expect(await countAll(containerOf(stack, runtime))).toBe(0);
  });

  it('refuses a gzip bomb behind a claim check and leaves the claim check for an operator', async () => {
    const logger = new RecordingLogger();
    const runtime = stack.runtime({}, {}, logger);
    const bomb = gzipBomb(300 * MiB);
    const blobName = `bombs/${randomUUID()}.gz`;
    const blobs = stack.storage.blobs.getContainerClient(CONTAINERS.batches);
    await blobs.getBlockBlobClient(blobName).upload(bomb, bomb.length);
    const { envelope } = messageOf([], 'gzip');
    const { data: _d, ...rest } = envelope;
    const text = encodeEnvelope({
      ...rest,
      count: 1,
      blob: { container: CONTAINERS.batches, name: blobName, bytes: bomb.length },
    });

    const error = await write(runtime, text, { messageId: 'gz-bomb', dequeueCount: 5 }, logger).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(BadMessageError);
    expect((error as Error).message).toMatch(
      /gzip-compressed batch \(\d+ bytes\) inflates beyond MAX_BATCH_JSON_BYTES/,
    );
    expect(await blobs.getBlobClient(blobName).exists()).toBe(true);
    expect(
      await runtime.failedMessages.container.getBlobClient(FailedMessageArchive.blobName(text)).exists(),
    ).toBe(true);
    expect(await countAll(containerOf(stack, runtime))).toBe(0);
  });
});

describe('hostile records', () => {
  const deepText = (i: number, levels: number): string =>
    JSON.stringify(exchangeRecord(i)).replace(/}$/, `,"Deep":${'['.repeat(levels)}1${']'.repeat(levels)}}`);

  it("rejects records nested past Cosmos DB's limit (200 and 6,000 deep) with the reason, and writes the rest", async () => {
    const logger = new RecordingLogger();
    const runtime = stack.runtime({}, {}, logger);
    const good = [exchangeRecord(70), exchangeRecord(73)];
    const deep200 = deepText(71, 200);
    const deep6000 = deepText(72, 6_000);
    const { text, envelope } = messageOf([
      JSON.stringify(good[0]),
      deep200,
      deep6000,
      JSON.stringify(good[1]),
    ]);

    const result = await write(runtime, text, { messageId: 'deep', dequeueCount: 1 }, logger);

    expect(result).toMatchObject({ records: 4, written: 2, rejected: 2 });
    await expectExactlyOnce(containerOf(stack, runtime), good);
    const rejected = stack.storage.blobs.getContainerClient(REJECTED_CONTAINER);
    const saved = async (index: number) =>
      JSON.parse(
        (
          await rejected
            .getBlobClient(RejectedRecordStore.blobName(TENANT, 'Audit.Exchange', envelope.batchId, index))
            .downloadToBuffer()
        ).toString('utf8'),
      ) as { record: unknown; reason: string };

    const at200 = await saved(1);
    expect(at200.record).toEqual(JSON.parse(deep200));
    expect(at200.reason).toMatch(
      /nests objects\/arrays over 128 levels deep.*per-item nesting limit of 128$/,
    );
    // Too deep for JSON.stringify: kept, losslessly, as its JSON text.
    const at6000 = await saved(2);
    expect(at6000.record).toBe(deep6000);
    expect(at6000.reason).toMatch(
      /over 128 levels deep.*; it nests over 1000 levels, so "record" holds its JSON text$/,
    );
    const line = logger.at('error').find((l) => l.properties?.index === 2);
    expect(line?.properties).toMatchObject({ messageId: 'deep', recordId: exchangeRecord(72).Id });
  });

  it('stores a record field named __proto__ and a Parameters entry of that name, in Cosmos DB and in an oversize blob', async () => {
    const runtime = stack.runtime();
    const container = containerOf(stack, runtime);
    const withProto = (i: number, extra = ''): string =>
      JSON.stringify(exchangeRecord(i, { Operation: 'New-InboxRule' })).replace(
        /}$/,
        `,"__proto__":{"x":1},"Parameters":[{"Name":"__proto__","Value":"p"},{"Name":"ForwardTo","Value":"drop@example.net"}]${extra}}`,
      );
    const small = withProto(80);
    const big = withProto(81, `,"Payload":"${'z'.repeat(2_100_000)}"`);
    const { text } = messageOf([small, big]);

    expect(
      await write(runtime, text, { messageId: 'proto', dequeueCount: 1 }, new RecordingLogger()),
    ).toMatchObject({
      written: 2,
      oversize: 1,
    });

    // Point reads: the stand-in's query engine drops `__proto__` keys from results (real Cosmos DB and the
    // SDK's bulk upsert and point read keep them).
    const read = async (text: string) => {
      const { document } = toDocument(JSON.parse(text), {
        tenantId: TENANT,
        contentType: 'Audit.Exchange',
        ingestedAt: '',
      }) as { document: { id: string; pk: string } };
      const { resource } = await container.item(document.id, document.pk).read<Record<string, unknown>>();
      return resource!;
    };
    const doc = await read(small);
    const reserved = doc[RESERVED_NAME_FIELDS] as object;
    expect(Object.getOwnPropertyDescriptor(reserved, '__proto__')?.value).toEqual({ x: 1 });
    expect(doc.Parameters).toEqual((JSON.parse(small) as { Parameters: unknown }).Parameters);
    expect(doc.forwardTo).toBe('drop@example.net');

    const stub = await read(big);
    expect(stub.forwardTo).toBe('drop@example.net');
    const pointer = stub.oversizeBlob as { container: string; name: string };
    const blob = await stack.storage.blobs
      .getContainerClient(pointer.container)
      .getBlobClient(pointer.name)
      .downloadToBuffer();
    expect(blob.toString('utf8')).toBe(big);
    expect(({} as Record<string, unknown>).x).toBeUndefined();
  });
});
