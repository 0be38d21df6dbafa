/**
 * "Live wins": what the backfill and `auditfeed import` send (RecordSender → queue → the real writer) is
 * created, never upserted, so a document the live feed stored keeps its content, `_etag`, `_ts` (the TTL
 * clock) and produces no change-feed event; the live feed's own upserts still replace what a backfill stored.
 */
import { randomBytes } from 'node:crypto';
import type { Container } from '@azure/cosmos';
import { RecordSender } from '../../shared/backfill/recordSender';
import type { AuditRecord } from '../../shared/contentTypes';
import { write, type WriteResult } from '../../shared/handlers/write';
import { decodeEnvelope } from '../../shared/messages/envelope';
import type { WriterRuntime } from '../../shared/writerRuntime';
import {
  buildMessages,
  containerOf,
  exchangeRecord,
  expectExactlyOnce,
  RecordingLogger,
  sentMessages,
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

/** The message texts a RecordSender puts on a real queue for these records, taken off it in order. */
async function backfillMessages(records: AuditRecord[], maxMessageBytes?: number): Promise<string[]> {
  return sentMessages(stack.storage, async (sink) => {
    const sender = new RecordSender({
      tenantId: TENANT,
      sink,
      source: 'graph:q-live-wins',
      ...(maxMessageBytes ? { maxMessageBytes } : {}),
    });
    for (const record of records) await sender.add(record, 'Audit.Exchange');
    await sender.flush();
    return sender.stats.messages;
  });
}

/** Writes each message through the real write handler; returns the results, in order. */
async function writeAll(
  runtime: WriterRuntime,
  texts: string[],
  logger: RecordingLogger,
  tag: string,
  dequeueCount = 1,
): Promise<WriteResult[]> {
  const results: WriteResult[] = [];
  for (const [i, text] of texts.entries()) {
    results.push(await write(runtime, text, { messageId: `${tag}-${i}`, dequeueCount }, logger));
  }
  return results;
}

function total(results: WriteResult[], key: 'written' | 'alreadyStored' | 'oversize'): number {
  return results.reduce((n, r) => n + r[key], 0);
}

/** The one document holding this record, system fields (`_etag`, `_ts`, …) included. */
async function storedDocument(container: Container, record: AuditRecord): Promise<Record<string, unknown>> {
  const { resources } = await container.items
    .query<Record<string, unknown>>({
      query: 'SELECT * FROM c WHERE c.Id = @id',
      parameters: [{ name: '@id', value: record.Id as string }],
    })
    .fetchAll();
  expect(resources).toHaveLength(1);
  return resources[0]!;
}

async function downloadJson(pointer: { container: string; name: string }): Promise<unknown> {
  const bytes = await stack.storage.blobs
    .getContainerClient(pointer.container)
    .getBlobClient(pointer.name)
    .downloadToBuffer();
  return JSON.parse(bytes.toString('utf8'));
}

/** The same record as the Graph audit log query returns it: same Id, time and user, other details. */
function graphCopy(record: AuditRecord, extra: Record<string, unknown> = {}): AuditRecord {
  const { LiveOnly: _liveOnly, ...rest } = record as AuditRecord & { LiveOnly?: unknown };
  return { ...rest, Operation: 'FromGraphQuery', ResultStatus: 'Graph', ...extra };
}

describe('backfilled records never overwrite what the live feed stored', () => {
  it('leaves the live document untouched and counts it as already stored; a new record of the same batch is created', async () => {
    const logger = new RecordingLogger();
    const runtime = stack.runtime({}, {}, logger);
    const container = containerOf(stack, runtime);
    const live = exchangeRecord(1, { LiveOnly: 'management-activity-api' });
    const fresh = exchangeRecord(2);

    const [liveMessage] = await buildMessages(stack.storage, [live]);
    expect(decodeEnvelope(liveMessage).write).toBeUndefined();
    const [liveResult] = await writeAll(runtime, [liveMessage!], logger, 'live');
    expect(liveResult).toMatchObject({ written: 1, alreadyStored: 0 });
    const before = await storedDocument(container, live);

    const texts = await backfillMessages([graphCopy(live), fresh]);
    expect(texts.map((t) => decodeEnvelope(t).write)).toEqual(['create']);
    const results = await writeAll(runtime, texts, logger, 'backfill');

    expect(results).toEqual([expect.objectContaining({ records: 2, written: 1, alreadyStored: 1 })]);
    // Same _etag and _ts: not rewritten (no TTL reset, no change-feed event), and the live-only field kept.
    expect(await storedDocument(container, live)).toEqual(before);
    expect(before).toMatchObject({ LiveOnly: 'management-activity-api', Operation: live.Operation });
    expect(await storedDocument(container, fresh)).toMatchObject({ Operation: fresh.Operation });
    await expectExactlyOnce(container, [live, fresh]);

    const written = logger.lines.filter((l) => l.message === 'Batch written').map((l) => l.properties);
    expect(written).toEqual([
      expect.objectContaining({ write: 'upsert', written: 1, alreadyStored: 0 }),
      expect.objectContaining({ write: 'create', written: 1, alreadyStored: 1 }),
    ]);
    expect(logger.at('error')).toEqual([]);
  });

  it('counts every record of a re-delivered backfill message as already stored and changes nothing', async () => {
    const logger = new RecordingLogger();
    const runtime = stack.runtime({}, {}, logger);
    const container = containerOf(stack, runtime);
    // Random text does not compress: at a small message limit they take several messages, as a large backfill does.
    const records = Array.from({ length: 40 }, (_, i) =>
      exchangeRecord(100 + i, { Noise: randomBytes(300).toString('base64') }),
    );
    const texts = await backfillMessages(records, 4096);
    expect(texts.length).toBeGreaterThan(1);

    const first = await writeAll(runtime, texts, logger, 'bf');
    expect(total(first, 'written')).toBe(40);
    expect(total(first, 'alreadyStored')).toBe(0);
    const snapshot = await Promise.all(records.map((r) => storedDocument(container, r)));

    const again = await writeAll(runtime, texts, logger, 'bf', 2);
    expect(again.map((r) => [r.written, r.alreadyStored])).toEqual(first.map((r) => [0, r.records]));
    expect(await Promise.all(records.map((r) => storedDocument(container, r)))).toEqual(snapshot);
    await expectExactlyOnce(container, records);
    expect(logger.at('error')).toEqual([]);
  });

  it('leaves an oversize live record (stub and blob) as it is, and stores a new oversize record as blob + stub', async () => {
    const logger = new RecordingLogger();
    const runtime = stack.runtime({}, { oversizeThresholdBytes: 20_000 }, logger);
    const container = containerOf(stack, runtime);
    const live = exchangeRecord(30, { Payload: 'L'.repeat(30_000), LiveOnly: 'management-activity-api' });
    const fresh = exchangeRecord(31, { Payload: 'N'.repeat(30_000) });

    const liveResults = await writeAll(runtime, await buildMessages(stack.storage, [live]), logger, 'live');
    expect(liveResults).toEqual([expect.objectContaining({ written: 1, oversize: 1 })]);
    const stubBefore = await storedDocument(container, live);
    const pointer = stubBefore.oversizeBlob as { container: string; name: string };
    expect(await downloadJson(pointer)).toEqual(live);

    const texts = await backfillMessages([graphCopy(live, { Payload: 'G'.repeat(40_000) }), fresh]);
    const results = await writeAll(runtime, texts, logger, 'backfill');

    expect(total(results, 'alreadyStored')).toBe(1);
    expect(total(results, 'written')).toBe(1);
    expect(total(results, 'oversize')).toBe(1);
    expect(await storedDocument(container, live)).toEqual(stubBefore);
    // The blob the live stub points at still holds the live record: the backfill did not overwrite it.
    expect(await downloadJson(pointer)).toEqual(live);
    const freshStub = await storedDocument(container, fresh);
    expect(freshStub.Payload).toBeUndefined();
    expect(await downloadJson(freshStub.oversizeBlob as { container: string; name: string })).toEqual(fresh);
    const savedBlobs = logger.lines
      .filter((l) => l.message === 'Record too large for a Cosmos DB item; stored whole in a blob')
      .map((l) => l.properties?.id);
    expect(savedBlobs).toEqual([stubBefore.id, freshStub.id]);
    await expectExactlyOnce(container, [live, fresh]);
  });

  it('keeps an oversize blob the live feed stored before its stub (a race, or a live writer that died between)', async () => {
    const logger = new RecordingLogger();
    const runtime = stack.runtime({}, { oversizeThresholdBytes: 20_000 }, logger);
    const container = containerOf(stack, runtime);
    const live = exchangeRecord(32, { Payload: 'L'.repeat(30_000), LiveOnly: 'management-activity-api' });
    // Where the writer keeps this record whole: the live feed's copy is already there, its stub is not.
    await writeAll(runtime, await buildMessages(stack.storage, [live]), logger, 'live');
    const stub = await storedDocument(container, live);
    const pointer = stub.oversizeBlob as { container: string; name: string };
    await container.item(stub.id as string, stub.pk as string).delete();

    const results = await writeAll(
      runtime,
      await backfillMessages([graphCopy(live, { Payload: 'G'.repeat(40_000) })]),
      logger,
      'backfill',
    );
    expect(total(results, 'written')).toBe(1);
    // The stub now stored points at the live copy, which the backfill did not overwrite.
    const created = await storedDocument(container, live);
    expect(created.oversizeBlob).toMatchObject(pointer);
    expect(await downloadJson(pointer)).toEqual(live);
  });

  it('a live upsert after a backfill still replaces the document: the live record is authoritative', async () => {
    const logger = new RecordingLogger();
    const runtime = stack.runtime({}, {}, logger);
    const container = containerOf(stack, runtime);
    const live = exchangeRecord(50, { LiveOnly: 'management-activity-api' });

    const backfilled = await writeAll(runtime, await backfillMessages([graphCopy(live)]), logger, 'bf');
    expect(backfilled).toEqual([expect.objectContaining({ written: 1, alreadyStored: 0 })]);
    const before = await storedDocument(container, live);
    expect(before).toMatchObject({ Operation: 'FromGraphQuery' });
    expect(before.LiveOnly).toBeUndefined();

    const results = await writeAll(runtime, await buildMessages(stack.storage, [live]), logger, 'live');

    expect(results).toEqual([expect.objectContaining({ written: 1, alreadyStored: 0 })]);
    const after = await storedDocument(container, live);
    expect(after).toMatchObject({ LiveOnly: 'management-activity-api', Operation: live.Operation });
    expect(after._etag).not.toBe(before._etag);
    await expectExactlyOnce(container, [live]);
  });
});
