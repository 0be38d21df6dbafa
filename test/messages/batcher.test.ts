import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Rng } from '../../scripts/simulator/rng';
import { Batcher, type BatchSink } from '../../shared/messages/batcher';
import {
  BadMessageError,
  decodeEnvelope,
  QUEUE_MESSAGE_LIMIT_BYTES,
  unpackBatch,
  type Compression,
  type Envelope,
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

  /** Every record, in order, with the contentIds of its message. */
  unpack(): { records: Record<string, unknown>[]; contentIds: string[][] } {
    const records: Record<string, unknown>[] = [];
    const contentIds: string[][] = [];
    for (const text of this.messages) {
      const envelope = decodeEnvelope(text);
      const compressed = envelope.blob
        ? this.blobs.get(envelope.blob.name)!
        : Buffer.from(envelope.data!, 'base64');
      const batch = unpackBatch(compressed, envelope.enc, envelope.batchId);
      expect(batch.records).toHaveLength(envelope.count);
      records.push(...batch.records);
      contentIds.push(batch.contentIds);
    }
    return { records, contentIds };
  }
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
