import { randomBytes, randomUUID } from 'node:crypto';
import type { QueueClient } from '@azure/storage-queue';
import { drainQueue } from '../../scripts/local/queueTrigger';
import { RecordSender, RecordSenderFlushError } from '../../shared/backfill/recordSender';
import type { AuditRecord, ContentType } from '../../shared/contentTypes';
import { decodeEnvelope, unpackBatch, type Envelope } from '../../shared/messages/envelope';
import { QueueBatchSink } from '../../shared/storage/batchSink';
import { CONTAINERS } from '../../shared/storage/clients';
import { write } from '../../shared/handlers/write';
import { poisonQueueName } from '../../shared/writer/poisonReplay';
import {
  containerOf,
  exchangeRecord,
  expectExactlyOnce,
  RecordingLogger,
  startWriterStack,
  TENANT,
  type WriterStack,
} from '../writer/helpers';

let stack: WriterStack;

beforeAll(async () => {
  stack = await startWriterStack();
});

afterAll(async () => {
  await stack?.stop();
});

async function newSink(): Promise<{ queue: QueueClient; sink: QueueBatchSink }> {
  const queue = stack.storage.queues.getQueueClient(`backfill-${randomUUID().slice(0, 8)}`);
  const sink = new QueueBatchSink(queue, stack.storage.blobs.getContainerClient(CONTAINERS.batches));
  await sink.ensureResources();
  return { queue, sink };
}

/** Every message on the queue (peeked, left in place), decoded, with its batch unpacked from data or blob. */
async function readQueue(
  queue: QueueClient,
): Promise<Array<{ envelope: Envelope; contentIds: string[]; records: AuditRecord[] }>> {
  const out = [];
  const seen = new Set<string>();
  for (;;) {
    const { receivedMessageItems } = await queue.receiveMessages({
      numberOfMessages: 32,
      visibilityTimeout: 60,
    });
    if (receivedMessageItems.length === 0) break;
    for (const m of receivedMessageItems) {
      if (seen.has(m.messageId)) continue;
      seen.add(m.messageId);
      const envelope = decodeEnvelope(m.messageText);
      const compressed = envelope.blob
        ? await stack.storage.blobs
            .getContainerClient(envelope.blob.container)
            .getBlockBlobClient(envelope.blob.name)
            .downloadToBuffer()
        : Buffer.from(envelope.data!, 'base64');
      const batch = unpackBatch(compressed, envelope.enc, envelope.batchId);
      out.push({ envelope, contentIds: batch.contentIds, records: batch.records });
    }
  }
  return out;
}

const sharePoint = (i: number): AuditRecord => ({
  CreationTime: `2026-11-21T08:00:${String(i % 60).padStart(2, '0')}`,
  Id: `5a${String(i).padStart(6, '0')}-1111-4222-8333-944455556666`,
  Operation: 'FileAccessed',
  OrganizationId: TENANT,
  RecordType: 6,
  UserId: `user${i % 3}@contoso.com`,
  Workload: 'SharePoint',
});

describe('RecordSender', () => {
  it('sends each content type in its own messages, under the source as contentId, through the real queue sink', async () => {
    const { queue, sink } = await newSink();
    const sender = new RecordSender({ tenantId: TENANT, sink, source: 'import:audit.csv' });
    const exchange = Array.from({ length: 25 }, (_, i) => exchangeRecord(i));
    const sp = Array.from({ length: 10 }, (_, i) => sharePoint(i));
    // Interleaved, as a query's pages or an export's rows arrive.
    for (let i = 0; i < 25; i++) {
      await sender.add(exchange[i]!, 'Audit.Exchange');
      if (i < 10) await sender.add(sp[i]!, 'Audit.SharePoint');
    }
    expect(sender.pendingRecords).toBe(35);
    await sender.flush();
    expect(sender.pendingRecords).toBe(0);

    const messages = await readQueue(queue);
    expect(sender.stats).toEqual({
      records: {
        'Audit.AzureActiveDirectory': 0,
        'Audit.Exchange': 25,
        'Audit.SharePoint': 10,
        'Audit.General': 0,
        'DLP.All': 0,
      },
      messages: messages.length,
      claimChecks: 0,
    });
    const byType = (t: ContentType) => messages.filter((m) => m.envelope.contentType === t);
    expect(byType('Audit.Exchange').flatMap((m) => m.records)).toEqual(exchange);
    expect(byType('Audit.SharePoint').flatMap((m) => m.records)).toEqual(sp);
    for (const m of messages) {
      expect(m.envelope.tenantId).toBe(TENANT);
      expect(m.contentIds).toEqual(['import:audit.csv']);
      // Create-only: the writer never overwrites what the live feed stored (test/backfill/liveWins).
      expect(m.envelope.write).toBe('create');
    }
  });

  it('splits into many messages and claim checks when small limits force it, losing nothing', async () => {
    const { queue, sink } = await newSink();
    const sender = new RecordSender({
      tenantId: TENANT,
      sink,
      source: 'graph:q-1',
      maxMessageBytes: 2048,
      compression: 'gzip',
    });
    const records = Array.from({ length: 40 }, (_, i) =>
      // Random text does not compress: each big record needs a claim check at this limit.
      exchangeRecord(i, i % 10 === 0 ? { Blob: randomBytes(3000).toString('base64') } : {}),
    );
    for (const r of records) await sender.add(r, 'Audit.Exchange');
    await sender.flush();
    const messages = await readQueue(queue);
    expect(messages.length).toBe(sender.stats.messages);
    expect(sender.stats.messages).toBeGreaterThan(4);
    expect(sender.stats.claimChecks).toBe(4);
    expect(messages.filter((m) => m.envelope.blob)).toHaveLength(4);
    expect(messages.map((m) => m.envelope.write)).toEqual(messages.map(() => 'create'));
    expect(messages.flatMap((m) => m.records)).toEqual(records);
  });

  it('what it sends the real writer stores once per record; sending it all again adds nothing', async () => {
    const logger = new RecordingLogger();
    const name = `auditfeed-batches-${randomUUID().slice(0, 8)}`;
    const runtime = stack.runtime({ queueName: name }, {}, logger);
    await runtime.ensureResources();
    const queue = stack.storage.queues.getQueueClient(name);
    const sink = new QueueBatchSink(queue, stack.storage.blobs.getContainerClient(CONTAINERS.batches));
    await sink.ensureResources();
    const records = [
      ...Array.from({ length: 30 }, (_, i) => exchangeRecord(i)),
      ...Array.from({ length: 12 }, (_, i) => sharePoint(i)),
    ];
    const drain = () =>
      drainQueue({
        queue,
        poisonQueue: stack.storage.queues.getQueueClient(poisonQueueName(name)),
        handler: (m) => write(runtime, m.text, { messageId: m.id, dequeueCount: m.dequeueCount }, logger),
      });
    for (let pass = 0; pass < 2; pass++) {
      const sender = new RecordSender({ tenantId: TENANT, sink, source: `import:pass-${pass}` });
      for (const r of records) {
        await sender.add(r, r.Workload === 'SharePoint' ? 'Audit.SharePoint' : 'Audit.Exchange');
      }
      await sender.flush();
      const result = await drain();
      expect(result).toMatchObject({ drained: true, failed: 0, poisoned: [] });
      await expectExactlyOnce(containerOf(stack, runtime), records);
    }
    expect(logger.at('error')).toEqual([]);
  });

  it('refuses a record too large for any batch without changing what is pending', async () => {
    const { queue, sink } = await newSink();
    const sender = new RecordSender({ tenantId: TENANT, sink, source: 'import:x' });
    await sender.add(exchangeRecord(1), 'Audit.Exchange');
    await expect(
      sender.add(exchangeRecord(2, { Huge: 'x'.repeat(17 * 1024 * 1024) }), 'Audit.Exchange'),
    ).rejects.toMatchObject({ code: 'RecordTooLarge' });
    await sender.add(exchangeRecord(3), 'Audit.Exchange');
    await sender.flush();
    const messages = await readQueue(queue);
    expect(messages.flatMap((m) => m.records)).toEqual([exchangeRecord(1), exchangeRecord(3)]);
    expect(sender.stats.records['Audit.Exchange']).toBe(2);
  });

  it('flushes every content type even when some fail, then throws naming each; the next flush sends the rest', async () => {
    const queue = stack.storage.queues.getQueueClient(`backfill-${randomUUID().slice(0, 8)}`);
    await queue.create();
    // A claim-check container that does not exist yet: only content types needing a claim check fail.
    const claimChecks = stack.storage.blobs.getContainerClient(`claims-${randomUUID().slice(0, 8)}`);
    const sink = new QueueBatchSink(queue, claimChecks);
    const sender = new RecordSender({ tenantId: TENANT, sink, source: 'graph:q-2', maxMessageBytes: 2048 });
    // Random text does not compress: each of these needs a claim check at this limit.
    const big = (i: number) => ({ ...sharePoint(i), Blob: randomBytes(3000).toString('base64') });
    const general = { ...big(1), Workload: 'AzureActiveDirectory' };
    // The failing types come first, so the old sequential flush would never have reached Exchange.
    const sp = big(0);
    await sender.add(sp, 'Audit.SharePoint');
    await sender.add(general, 'Audit.General');
    const exchange = Array.from({ length: 5 }, (_, i) => exchangeRecord(i));
    for (const r of exchange) await sender.add(r, 'Audit.Exchange');

    const failure = sender.flush();
    await expect(failure).rejects.toBeInstanceOf(RecordSenderFlushError);
    const error = (await failure.catch((e: unknown) => e)) as RecordSenderFlushError;
    expect(error.code).toBe('RecordSenderFlushFailed');
    expect(error.failures.map((f) => f.contentType)).toEqual(['Audit.SharePoint', 'Audit.General']);
    expect(error.message).toMatch(
      /^Sending pending records failed for 2 content types: ContainerNotFound: The specified container does not exist\. \(Audit\.SharePoint, Audit\.General\)\. /,
    );
    expect(error.cause).toBe(error.failures[0]!.error);
    // Exchange went out; the two that failed are still pending.
    expect(sender.pendingRecords).toBe(2);
    expect((await readQueue(queue)).flatMap((m) => m.records)).toEqual(exchange);

    // One type failing alone throws its own error, unwrapped, after the others were sent.
    const solo = new RecordSender({ tenantId: TENANT, sink, source: 'graph:q-3', maxMessageBytes: 2048 });
    await solo.add(big(2), 'Audit.SharePoint');
    await solo.add(exchangeRecord(9), 'Audit.Exchange');
    const single = solo.flush();
    await expect(single).rejects.not.toBeInstanceOf(RecordSenderFlushError);
    await expect(single).rejects.toMatchObject({ statusCode: 404 });
    expect(solo.pendingRecords).toBe(1);
    expect((await readQueue(queue)).flatMap((m) => m.records)).toEqual([exchangeRecord(9)]);

    await claimChecks.create();
    await sender.flush();
    expect(sender.pendingRecords).toBe(0);
    const rest = await readQueue(queue);
    expect(rest.flatMap((m) => m.records)).toEqual(expect.arrayContaining([sp, general]));
    expect(rest.filter((m) => m.envelope.blob)).toHaveLength(2);
  });
});
