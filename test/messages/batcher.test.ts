import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Rng } from '../../scripts/simulator/rng';
import {
  Batcher,
  RecordNotSerialisableError,
  RecordTooLargeError,
  type BatchSink,
} from '../../shared/messages/batcher';
import {
  BadMessageError,
  decodeEnvelope,
  MAX_BATCH_JSON_BYTES,
  QUEUE_MESSAGE_LIMIT_BYTES,
  unpackBatch,
  type Compression,
  type Envelope,
  type UnpackedBatch,
} from '../../shared/messages/envelope';

/** Keeps what the batcher hands over, as the queue and blob store would. */
class RecordingSink implements BatchSink {
  readonly messages: string[] = [];
  readonly blobs = new Map<string, Buffer>();

  enqueue(text: string): Promise<void> {
    this.messages.push(text);
    return Promise.resolve();
  }

  storeClaimCheck(envelope: Omit<Envelope, 'data' | 'blob'>, compressed: Buffer) {
    const name = `${envelope.tenantId}/${envelope.batchId}`;
    this.blobs.set(name, compressed);
    return Promise.resolve({ container: 'batches', name, bytes: compressed.length });
  }

  /** Every message's batch, in the order the messages were sent. */
  batches(): UnpackedBatch[] {
    return this.messages.map((text) => {
      const envelope = decodeEnvelope(text);
      const compressed = envelope.blob
        ? this.blobs.get(envelope.blob.name)!
        : Buffer.from(envelope.data!, 'base64');
      const batch = unpackBatch(compressed, envelope.enc, envelope.batchId);
      expect(batch.records).toHaveLength(envelope.count);
      return batch;
    });
  }

  /** Every record, in order, with the contentIds of its message. */
  unpack(): { records: Record<string, unknown>[]; contentIds: string[][] } {
    const batches = this.batches();
    return { records: batches.flatMap((b) => b.records), contentIds: batches.map((b) => b.contentIds) };
  }
}

/**
 * A sink whose every call first waits a seeded-random number of event-loop turns, so concurrent callers
 * interleave with sends in flight (no wall-clock timing involved). `failCalls` are sink call numbers
 * (1-based, enqueue and storeClaimCheck counted together) that reject without storing anything.
 */
class InterleavingSink extends RecordingSink {
  calls = 0;
  readonly failures: Error[] = [];

  constructor(
    private readonly rng: Rng,
    private readonly failCalls: ReadonlySet<number> = new Set(),
  ) {
    super();
  }

  override async enqueue(text: string): Promise<void> {
    await this.turn();
    return super.enqueue(text);
  }

  override async storeClaimCheck(envelope: Omit<Envelope, 'data' | 'blob'>, compressed: Buffer) {
    await this.turn();
    return super.storeClaimCheck(envelope, compressed);
  }

  private async turn(): Promise<void> {
    const call = ++this.calls;
    for (let i = this.rng.int(0, 4); i > 0; i--) await new Promise((resolve) => setImmediate(resolve));
    if (this.failCalls.has(call)) {
      const error = new Error(`sink call ${call} failed`);
      this.failures.push(error);
      throw error;
    }
  }
}

function ids(records: Record<string, unknown>[]): string[] {
  return records.map((r) => r.Id as string);
}

function realisticRecord(rng: Rng, i: number): Record<string, unknown> {
  return {
    CreationTime: `2026-11-20T10:${String(i % 60).padStart(2, '0')}:00`,
    Id: rng.uuid(),
    Operation: rng.pick(['MailItemsAccessed', 'UserLoggedIn', 'FileDownloaded', 'New-InboxRule']),
    OrganizationId: '6f1d2c3b-4a59-4e68-9d7c-8b9a0f1e2d3c',
    RecordType: rng.pick([2, 15, 6, 50]),
    UserId: `user${rng.int(1, 500)}@contoso.com`,
    ClientIP: `${rng.int(1, 223)}.${rng.int(0, 255)}.${rng.int(0, 255)}.${rng.int(1, 254)}`,
    Workload: 'Exchange',
    // Varying free text so the batch does not compress unrealistically well.
    Detail: rng.hex(rng.int(100, 1200)),
    Folders: [{ Path: '\\Inbox', FolderItems: [{ InternetMessageId: `<${rng.hex(24)}@contoso.com>` }] }],
  };
}

describe.each<Compression>(['br', 'gzip'])('Batcher (%s)', (compression) => {
  it('packs records into messages that never exceed 64 KiB and lose nothing', async () => {
    const rng = new Rng(`batcher-${compression}`);
    const sink = new RecordingSink();
    const batcher = new Batcher({ tenantId: 't1', contentType: 'Audit.Exchange', sink, compression });
    const sent: Record<string, unknown>[] = [];
    for (let blob = 0; blob < 20; blob++) {
      for (let i = 0; i < 75; i++) {
        const record = realisticRecord(rng, i);
        sent.push(record);
        await batcher.add(record, `blob-${blob}`);
      }
    }
    await batcher.flush();

    for (const text of sink.messages)
      expect(Buffer.byteLength(text)).toBeLessThanOrEqual(QUEUE_MESSAGE_LIMIT_BYTES);
    const { records, contentIds } = sink.unpack();
    expect(records).toEqual(sent);
    expect(new Set(contentIds.flat())).toEqual(new Set(Array.from({ length: 20 }, (_, i) => `blob-${i}`)));
    // Messages are filled close to the limit, except the last.
    const sizes = sink.messages.slice(0, -1).map((t) => Buffer.byteLength(t));
    expect(Math.min(...sizes)).toBeGreaterThan(QUEUE_MESSAGE_LIMIT_BYTES * 0.85);
    expect(batcher.stats).toMatchObject({ records: 1500, messages: sink.messages.length, claimChecks: 0 });
  });

  it('sends a record that cannot fit in a message by claim check, intact', async () => {
    const rng = new Rng('claim');
    const sink = new RecordingSink();
    const batcher = new Batcher({
      tenantId: 't1',
      contentType: 'Audit.AzureActiveDirectory',
      sink,
      compression,
    });
    const huge = {
      Id: 'huge',
      CreationTime: '2026-11-20T10:00:00',
      Blob: randomBytes(150_000).toString('base64'),
    };
    const before = realisticRecord(rng, 1);
    const after = realisticRecord(rng, 2);
    await batcher.add(before, 'a');
    await batcher.add(huge, 'b');
    await batcher.add(after, 'c');
    await batcher.flush();

    expect(batcher.stats.claimChecks).toBe(1);
    const envelopes = sink.messages.map((t) => decodeEnvelope(t));
    const pointer = envelopes.find((e) => e.blob)!;
    expect(pointer.count).toBe(1);
    expect(pointer.data).toBeUndefined();
    expect(sink.unpack().records).toEqual([before, huge, after]);
  });

  it.each([
    ['create', 'create'],
    ['default (upsert)', undefined],
  ] as const)(
    'write mode %s: every message and claim check carries it; the default leaves the field out',
    async (_name, write) => {
      const sink = new RecordingSink();
      const batcher = new Batcher({
        tenantId: 't1',
        contentType: 'Audit.Exchange',
        sink,
        compression,
        maxMessageBytes: 4096,
        ...(write ? { write } : {}),
      });
      const rng = new Rng('write-mode');
      const huge = {
        Id: 'huge',
        CreationTime: '2026-11-20T10:00:00',
        Blob: randomBytes(8000).toString('base64'),
      };
      const records = [...Array.from({ length: 60 }, (_, i) => realisticRecord(rng, i)), huge];
      for (const r of records) await batcher.add(r, 'c');
      await batcher.flush();

      expect(sink.messages.length).toBeGreaterThan(2);
      expect(batcher.stats.claimChecks).toBe(1);
      for (const text of sink.messages) {
        expect(Buffer.byteLength(text)).toBeLessThanOrEqual(4096);
        expect((JSON.parse(text) as { write?: unknown }).write).toBe(write);
        expect(decodeEnvelope(text).write).toBe(write);
      }
      expect(sink.unpack().records).toEqual(records);
    },
  );

  it('splits a batch that turns out over the limit instead of sending it, and loses nothing', async () => {
    const rng = new Rng('overshoot');
    const sink = new RecordingSink();
    const batcher = new Batcher({ tenantId: 't1', contentType: 'Audit.General', sink, compression });
    const sent: Record<string, unknown>[] = [];
    // Records that compress very well teach the batcher a high ratio…
    for (let i = 0; i < 400; i++) {
      const record = { Id: `same-${i}`, CreationTime: '2026-11-20T10:00:00', Text: 'a'.repeat(2_000) };
      sent.push(record);
      await batcher.add(record, 'compressible');
    }
    // …then incompressible ones overshoot what it expected before it compresses again.
    for (let i = 0; i < 60; i++) {
      const record = { Id: `random-${i}`, CreationTime: '2026-11-20T10:00:00', Text: rng.hex(3_000) };
      sent.push(record);
      await batcher.add(record, 'random');
    }
    await batcher.flush();

    for (const text of sink.messages)
      expect(Buffer.byteLength(text)).toBeLessThanOrEqual(QUEUE_MESSAGE_LIMIT_BYTES);
    expect(sink.unpack().records).toEqual(sent);
    expect(batcher.stats.claimChecks).toBe(0);
    expect(sink.messages.length).toBeGreaterThan(2);
  });

  it('honours a smaller limit', async () => {
    const rng = new Rng('small');
    const sink = new RecordingSink();
    const batcher = new Batcher({
      tenantId: 't',
      contentType: 'DLP.All',
      sink,
      compression,
      maxMessageBytes: 8000,
    });
    for (let i = 0; i < 500; i++) await batcher.add(realisticRecord(rng, i), 'x');
    await batcher.flush();
    expect(sink.messages.length).toBeGreaterThan(10);
    for (const text of sink.messages) expect(Buffer.byteLength(text)).toBeLessThanOrEqual(8000);
    expect(sink.unpack().records).toHaveLength(500);
  });
});

describe('Batcher with concurrent callers', () => {
  /** `callers` loops adding `perCaller` records each, some through addSerialised, with flushes in between. */
  async function addConcurrently(
    batcher: Batcher,
    rng: Rng,
    callers: number,
    perCaller: number,
  ): Promise<{
    byCaller: string[][];
    accepted: Set<string>;
    rejected: Map<string, unknown>;
    flushes: number;
  }> {
    const byCaller: string[][] = [];
    const accepted = new Set<string>();
    const rejected = new Map<string, unknown>();
    const flushes: Promise<void>[] = [];
    await Promise.all(
      Array.from({ length: callers }, async (_, caller) => {
        const r = rng.fork(`caller-${caller}`);
        const mine: string[] = (byCaller[caller] = []);
        for (let i = 0; i < perCaller; i++) {
          // Each caller streams its own blobs, 25 records each.
          const contentId = `blob-${caller}-${Math.floor(i / 25)}`;
          const record = { ...realisticRecord(r, i), Id: `${caller}-${i}`, Source: contentId };
          mine.push(record.Id);
          try {
            if (caller % 3 === 0) await batcher.addSerialised(JSON.stringify(record), contentId);
            else await batcher.add(record, contentId);
            accepted.add(record.Id);
          } catch (e) {
            rejected.set(record.Id, e);
          }
          // A flush now and then, not awaited before this caller's next add.
          if (r.chance(0.03))
            flushes.push(batcher.flush().catch((e: unknown) => void rejected.set('flush', e)));
        }
      }),
    );
    await Promise.all(flushes);
    return { byCaller, accepted, rejected, flushes: flushes.length };
  }

  it('sends every record exactly once, in each caller’s order, with its own contentIds', async () => {
    const rng = new Rng('concurrent');
    const sink = new InterleavingSink(rng.fork('sink'));
    const batcher = new Batcher({ tenantId: 't1', contentType: 'Audit.Exchange', sink });
    const { byCaller, rejected, flushes } = await addConcurrently(batcher, rng, 40, 100);
    await batcher.flush();

    expect(rejected.size).toBe(0);
    expect(flushes).toBeGreaterThan(20);
    const batches = sink.batches();
    const delivered = ids(batches.flatMap((b) => b.records));
    expect(delivered).toHaveLength(4000);
    expect(new Set(delivered).size).toBe(4000);
    byCaller.forEach((mine, caller) =>
      expect(delivered.filter((id) => id.startsWith(`${caller}-`))).toEqual(mine),
    );
    // A message names exactly the blobs its records came from.
    for (const batch of batches)
      expect([...batch.contentIds].sort()).toEqual([...new Set(batch.records.map((r) => r.Source))].sort());
    for (const text of sink.messages)
      expect(Buffer.byteLength(text)).toBeLessThanOrEqual(QUEUE_MESSAGE_LIMIT_BYTES);
    // Every record fits in a message, so none goes by claim check.
    expect(sink.blobs.size).toBe(0);
    expect(batcher.stats).toMatchObject({ records: 4000, messages: sink.messages.length, claimChecks: 0 });
    expect(batcher.pendingRecords).toBe(0);
  });

  // Contract: the operation whose send failed rejects with the sink's error, and only it; a rejected add
  // did not accept its record; the failed batch stays pending, so once a later flush resolves, every
  // record whose add resolved has been sent exactly once and no other record has.
  it('rejects only the operation whose send failed, and a later flush sends every accepted record once', async () => {
    const rng = new Rng('concurrent-failure');
    const sink = new InterleavingSink(rng.fork('sink'), new Set([7]));
    const batcher = new Batcher({ tenantId: 't1', contentType: 'Audit.Exchange', sink });
    const { accepted, rejected } = await addConcurrently(batcher, rng, 20, 100);
    await batcher.flush();

    expect(sink.failures).toHaveLength(1);
    expect([...rejected.values()]).toEqual(sink.failures);
    expect(accepted.size + rejected.size).toBe(2000 + (rejected.has('flush') ? 1 : 0));
    const delivered = ids(sink.unpack().records);
    expect(delivered).toHaveLength(accepted.size);
    expect(new Set(delivered)).toEqual(accepted);
    expect(batcher.stats.records).toBe(accepted.size);
    expect(batcher.pendingRecords).toBe(0);
  });

  it('keeps the failed batch pending and does not accept the record of the add that failed', async () => {
    const rng = new Rng('add-failure');
    const sink = new InterleavingSink(rng.fork('sink'), new Set([3]));
    const batcher = new Batcher({
      tenantId: 't1',
      contentType: 'Audit.Exchange',
      sink,
      maxMessageBytes: 8000,
    });
    const sent: string[] = [];
    let failedAt = -1;
    for (let i = 0; i < 200; i++) {
      const record = { ...realisticRecord(rng, i), Id: `r-${i}` };
      const before = batcher.pendingRecords;
      try {
        await batcher.add(record, 'blob');
        sent.push(record.Id);
      } catch (e) {
        expect(e).toBe(sink.failures[0]);
        expect(batcher.pendingRecords).toBe(before);
        failedAt = i;
      }
    }
    await batcher.flush();

    expect(failedAt).toBeGreaterThan(0);
    expect(ids(sink.unpack().records)).toEqual(sent);
    expect(sent).toHaveLength(199);
  });

  it.each(['storeClaimCheck', 'enqueue'])(
    'keeps a batch pending when its claim check fails at %s, and the next flush sends it once',
    async (failing) => {
      const sink = new InterleavingSink(
        new Rng('claim-failure'),
        new Set([failing === 'storeClaimCheck' ? 2 : 3]),
      );
      const batcher = new Batcher({ tenantId: 't1', contentType: 'Audit.Exchange', sink });
      const small = { Id: 'small', Text: 'x' };
      const huge = { Id: 'huge', Blob: randomBytes(150_000).toString('base64') };
      await batcher.add(small, 'a');
      await batcher.add(huge, 'b');
      // Flush splits them: call 1 sends `small`, call 2 stores the claim check, call 3 enqueues its pointer.
      const error = await batcher.flush().catch((e: unknown) => e);
      expect(error).toBe(sink.failures[0]);
      expect(batcher.pendingRecords).toBe(1);
      await batcher.flush();

      expect(ids(sink.unpack().records)).toEqual(['small', 'huge']);
      expect(batcher.stats.claimChecks).toBe(1);
      expect(batcher.pendingRecords).toBe(0);
    },
  );
});

describe('Batcher record checks', () => {
  it('rejects a record JSON.stringify cannot serialise without changing the batcher', async () => {
    const sink = new RecordingSink();
    const batcher = new Batcher({ tenantId: 't1', contentType: 'Audit.General', sink });
    await batcher.add({ Id: 'first' }, 'a');
    let deep: Record<string, unknown> = { Id: 'leaf' };
    for (let i = 0; i < 6000; i++) deep = { Nested: deep };
    const cyclic: Record<string, unknown> = { Id: 'cyclic' };
    cyclic.Self = cyclic;

    const error = await batcher.add(deep, 'a').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RecordNotSerialisableError);
    expect(error).toMatchObject({ code: 'RecordNotSerialisable' });
    expect((error as Error).cause).toBeInstanceOf(RangeError);
    await expect(batcher.add(cyclic, 'a')).rejects.toMatchObject({ code: 'RecordNotSerialisable' });
    await expect(batcher.add({ Id: 'big', N: 1n }, 'a')).rejects.toBeInstanceOf(RecordNotSerialisableError);
    expect(batcher.pendingRecords).toBe(1);
    expect(batcher.stats.records).toBe(1);

    await batcher.add({ Id: 'next' }, 'a');
    await batcher.flush();
    expect(ids(sink.unpack().records)).toEqual(['first', 'next']);
  });

  it('rejects a record that cannot fit in a batch on its own, and accepts one exactly at the bound', async () => {
    const sink = new RecordingSink();
    const bound = 2000;
    const batcher = new Batcher({
      tenantId: 't1',
      contentType: 'Audit.General',
      sink,
      maxBatchJsonBytes: bound,
    });
    // Alone in a batch: {"contentIds":["c"],"records":[RECORD]} is 33 bytes plus the record.
    const record = (bytes: number) => `{"Id":"${'é'.repeat((bytes - 9) / 2)}"}`;
    await batcher.addSerialised('{"Id":"before"}', 'c');

    const error = await batcher.addSerialised(record(bound - 33 + 2), 'c').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RecordTooLargeError);
    expect(error).toMatchObject({ code: 'RecordTooLarge', bytes: bound - 33 + 2, limitBytes: bound });
    expect(batcher.pendingRecords).toBe(1);

    await batcher.addSerialised(record(bound - 33), 'c');
    await batcher.flush();
    const batches = sink.batches();
    expect(batches.map((b) => b.records.length)).toEqual([1, 1]);
    expect(batches[1]!.jsonBytes).toBe(bound);
  });

  it('rejects a record over MAX_BATCH_JSON_BYTES by default', async () => {
    const batcher = new Batcher({ tenantId: 't1', contentType: 'Audit.General', sink: new RecordingSink() });
    const json = `{"Text":"${'a'.repeat(MAX_BATCH_JSON_BYTES)}"}`;
    await expect(batcher.addSerialised(json, 'c')).rejects.toMatchObject({
      code: 'RecordTooLarge',
      bytes: json.length,
      limitBytes: MAX_BATCH_JSON_BYTES,
    });
    // Nor can the bound be raised above what the writer accepts.
    const raised = new Batcher({
      tenantId: 't1',
      contentType: 'Audit.General',
      sink: new RecordingSink(),
      maxBatchJsonBytes: 2 * MAX_BATCH_JSON_BYTES,
    });
    await expect(raised.addSerialised(json, 'c')).rejects.toBeInstanceOf(RecordTooLargeError);
    expect(batcher.pendingRecords + raised.pendingRecords).toBe(0);
  });

  it.each<Compression>(['br', 'gzip'])(
    'keeps every batch’s JSON under the bound however well it compresses (%s)',
    async (compression) => {
      const sink = new RecordingSink();
      const bound = 100_000;
      const batcher = new Batcher({
        tenantId: 't1',
        contentType: 'Audit.General',
        sink,
        compression,
        maxBatchJsonBytes: bound,
      });
      const sent: string[] = [];
      for (let i = 0; i < 300; i++) {
        // Two-byte characters: the bound is in bytes, not characters.
        const record = { Id: `r-${i}`, Text: 'é'.repeat(2_000) };
        sent.push(record.Id);
        await batcher.add(record, `blob-ü-${i % 4}`);
      }
      await batcher.flush();

      const batches = sink.batches();
      expect(ids(batches.flatMap((b) => b.records))).toEqual(sent);
      const recordBytes = Buffer.byteLength(JSON.stringify({ Id: 'r-100', Text: 'é'.repeat(2_000) }));
      for (const batch of batches) expect(batch.jsonBytes).toBeLessThanOrEqual(bound);
      // Filled up to the bound (all but the last), while compression alone would have allowed far more.
      for (const batch of batches.slice(0, -1))
        expect(batch.jsonBytes).toBeGreaterThan(bound - recordBytes - 1);
      for (const text of sink.messages)
        expect(Buffer.byteLength(text)).toBeLessThan(QUEUE_MESSAGE_LIMIT_BYTES / 4);
      expect(batcher.stats.claimChecks).toBe(0);
    },
  );
});

describe('decodeEnvelope', () => {
  it('names what is wrong with a message', () => {
    expect(() => decodeEnvelope('not json')).toThrow(
      new BadMessageError('Message is not JSON (starts with "not json").'),
    );
    expect(() => decodeEnvelope({ v: 2 })).toThrow(/envelope version 2; this writer reads version 1/);
    expect(() =>
      decodeEnvelope({ v: 1, batchId: 'b', tenantId: 't', contentType: 'Audit.Teams', count: 1, enc: 'br' }),
    ).toThrow('Message envelope is missing or has invalid: contentType, exactly one of data or blob.');
  });

  it('matches the messageEncoding that host.json gives the queue trigger', () => {
    const host = JSON.parse(readFileSync(join(__dirname, '../../host.json'), 'utf8')) as {
      extensions?: { queues?: { messageEncoding?: string } };
    };
    // The batcher writes the envelope JSON as the message text, which is what "none" delivers.
    expect(host.extensions?.queues?.messageEncoding).toBe('none');
  });
});
