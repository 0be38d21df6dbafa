/**
 * Queue-message compatibility across upgrades (docs/upgrade.md): the current writer writes every frozen
 * message of every envelope version under test/fixtures/envelopes/ (made by scripts/fixtures/envelopes.ts
 * with the collector's real Batcher and QueueBatchSink) into the Cosmos DB stand-in, exactly once, through
 * the real write path. A writer of version N+1 must therefore keep reading version N. A message of a
 * version no decoder exists for fails with EnvelopeVersionError, writes nothing, and its last attempt is
 * archived for the poison replay.
 */
import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { EnvelopeFixture } from '../../scripts/fixtures/envelopes';
import { write } from '../../shared/handlers/write';
import {
  BadMessageError,
  decodeEnvelope,
  ENVELOPE_VERSION,
  EnvelopeVersionError,
  READABLE_ENVELOPE_VERSIONS,
} from '../../shared/messages/envelope';
import { WRITTEN_MARKER_PREFIX } from '../../shared/writer/claimChecks';
import {
  containerOf,
  countAll,
  expectExactlyOnce,
  RecordingLogger,
  startWriterStack,
  type WriterStack,
} from '../writer/helpers';

const ROOT = path.join(__dirname, '..', 'fixtures', 'envelopes');

function versionDirs(): number[] {
  return readdirSync(ROOT)
    .filter((d) => /^v\d+$/.test(d))
    .map((d) => Number(d.slice(1)))
    .sort((a, b) => a - b);
}

function fixtures(version: number): EnvelopeFixture[] {
  const dir = path.join(ROOT, `v${version}`);
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => JSON.parse(readFileSync(path.join(dir, f), 'utf8')) as EnvelopeFixture);
}

const ALL = versionDirs().flatMap((v) => fixtures(v).map((f) => [`v${v}/${f.name}`, f] as const));

let stack: WriterStack;

beforeAll(async () => {
  stack = await startWriterStack();
});

afterAll(async () => {
  await stack?.stop();
});

/** Puts a fixture's claim-check blobs where its messages point (the collector stored them before sending). */
async function restoreClaimChecks(f: EnvelopeFixture): Promise<void> {
  for (const m of f.messages) {
    if (!m.claimCheck) continue;
    const container = stack.storage.blobs.getContainerClient(m.claimCheck.container);
    await container.createIfNotExists();
    const bytes = Buffer.from(m.claimCheck.base64, 'base64');
    await container.getBlockBlobClient(m.claimCheck.name).uploadData(bytes);
  }
}

describe('frozen fixtures', () => {
  it('exist for the current envelope version and only for versions this writer reads', () => {
    const versions = versionDirs();
    expect(versions).toContain(ENVELOPE_VERSION);
    // Dropping a version's decoder is a breaking change: its fixtures must be removed on purpose.
    expect(versions).toEqual([...READABLE_ENVELOPE_VERSIONS]);
  });

  it.each(versionDirs())('v%i covers inline and claim-check messages, brotli and gzip', (version) => {
    const shapes = fixtures(version).map((f) => `${f.shape}/${f.compression}`);
    expect(new Set(shapes)).toEqual(
      new Set(['inline/br', 'inline/gzip', 'claim-check/br', 'claim-check/gzip']),
    );
    for (const f of fixtures(version)) {
      expect(f.envelopeVersion).toBe(version);
      for (const m of f.messages) {
        const raw = JSON.parse(m.text) as { v: unknown; blob?: unknown; data?: unknown };
        expect(raw.v).toBe(version);
        expect(raw.blob !== undefined).toBe(m.claimCheck !== undefined);
        expect(decodeEnvelope(m.text).tenantId).toBe(f.tenantId);
      }
    }
  });
});

describe('the current writer writes every frozen message', () => {
  it.each(ALL)('%s: every record exactly once, with the envelope’s tenant and content type', async (_, f) => {
    const logger = new RecordingLogger();
    const runtime = stack.runtime({ container: `compat-${randomUUID().slice(0, 8)}` }, {}, logger);
    await restoreClaimChecks(f);

    let written = 0;
    for (const [i, m] of f.messages.entries()) {
      const result = await write(runtime, m.text, { messageId: `${f.name}-${i}`, dequeueCount: 1 }, logger);
      expect(result).toMatchObject({ tenantId: f.tenantId, contentType: f.contentType, rejected: 0 });
      expect(result.claimCheck).toBe(m.claimCheck ? 'deleted' : 'none');
      written += result.written;
    }
    expect(written).toBe(f.records.length);
    expect(logger.at('error')).toEqual([]);

    const container = containerOf(stack, runtime);
    await expectExactlyOnce(container, f.records);
    for (const record of f.records) {
      const { resources } = await container.items
        .query<Record<string, unknown>>({
          query: 'SELECT * FROM c WHERE c.Id = @id',
          parameters: [{ name: '@id', value: record.Id as string }],
        })
        .fetchAll();
      const doc = resources[0]!;
      expect(doc).toMatchObject({ tenantId: f.tenantId, contentType: f.contentType });
      for (const key of ['CreationTime', 'Operation', 'UserId', 'Workload', 'RecordType'] as const) {
        expect(doc[key]).toEqual(record[key]);
      }
    }

    // Claim checks are retired: the batch blob is gone and its "written" marker is left.
    for (const m of f.messages) {
      if (!m.claimCheck) continue;
      const blobs = stack.storage.blobs.getContainerClient(m.claimCheck.container);
      expect(await blobs.getBlobClient(m.claimCheck.name).exists()).toBe(false);
      expect(await blobs.getBlobClient(`${WRITTEN_MARKER_PREFIX}${m.claimCheck.name}`).exists()).toBe(true);
    }
  });

  it.each(ALL)(
    '%s: a second delivery (in flight across a deploy, or replayed) changes nothing',
    async (_, f) => {
      const logger = new RecordingLogger();
      const runtime = stack.runtime({ container: `again-${randomUUID().slice(0, 8)}` }, {}, logger);
      await restoreClaimChecks(f);
      for (const [i, m] of f.messages.entries()) {
        await write(runtime, m.text, { messageId: `${f.name}-${i}`, dequeueCount: 1 }, logger);
        const again = await write(runtime, m.text, { messageId: `${f.name}-${i}`, dequeueCount: 2 }, logger);
        expect(again.claimCheck).toBe(m.claimCheck ? 'alreadyWritten' : 'none');
      }
      await expectExactlyOnce(containerOf(stack, runtime), f.records);
    },
  );
});

describe('the optional write mode (added within envelope version 1)', () => {
  const [, inline] = ALL.find(([, f]) => f.shape === 'inline' && f.envelopeVersion === ENVELOPE_VERSION)!;
  const withWrite = (text: string, write: unknown) =>
    JSON.stringify({ ...(JSON.parse(text) as object), write });

  async function etags(runtime: ReturnType<WriterStack['runtime']>): Promise<string[]> {
    const { resources } = await containerOf(stack, runtime)
      .items.query<string>('SELECT VALUE c._etag FROM c ORDER BY c.id')
      .fetchAll();
    return resources;
  }

  it('absent (every frozen message, and old collectors) still upserts; `create` leaves stored documents as they are', async () => {
    const logger = new RecordingLogger();
    const runtime = stack.runtime({ container: `mode-${randomUUID().slice(0, 8)}` }, {}, logger);
    expect(inline.messages).toHaveLength(1);
    const [message] = inline.messages;
    expect((JSON.parse(message!.text) as { write?: unknown }).write).toBeUndefined();
    const delivery = (n: number) => ({ messageId: `mode-${n}`, dequeueCount: 1 });

    await write(runtime, message!.text, delivery(1), logger);
    const first = await etags(runtime);
    const upserted = await write(runtime, message!.text, delivery(2), logger);
    expect(upserted).toMatchObject({ written: inline.records.length, alreadyStored: 0 });
    const second = await etags(runtime);
    expect(second.every((etag, i) => etag !== first[i])).toBe(true);

    const created = await write(runtime, withWrite(message!.text, 'create'), delivery(3), logger);
    expect(created).toMatchObject({ written: 0, alreadyStored: inline.records.length });
    expect(await etags(runtime)).toEqual(second);
    await expectExactlyOnce(containerOf(stack, runtime), inline.records);
    expect(logger.at('error')).toEqual([]);
  });

  it('an unknown mode is a bad message (it may come from a newer collector), and nothing is written', async () => {
    const logger = new RecordingLogger();
    const runtime = stack.runtime({}, {}, logger);
    const text = withWrite(inline.messages[0]!.text, 'merge');
    const failure = write(runtime, text, { messageId: 'mode-x', dequeueCount: 1 }, logger);
    await expect(failure).rejects.toBeInstanceOf(BadMessageError);
    await expect(failure).rejects.toThrow('Message envelope is missing or has invalid: write.');
    await runtime.ensureResources();
    expect(await countAll(containerOf(stack, runtime))).toBe(0);
  });
});

describe('a message of a version this writer cannot read', () => {
  const [, sample] = ALL.find(([, f]) => f.shape === 'inline' && f.envelopeVersion === ENVELOPE_VERSION)!;
  const future = JSON.stringify({
    ...(JSON.parse(sample.messages[0]!.text) as object),
    v: ENVELOPE_VERSION + 1,
  });

  it('fails with the typed EnvelopeVersionError, naming both versions, and writes nothing', async () => {
    const logger = new RecordingLogger();
    const runtime = stack.runtime({}, {}, logger);
    const failure = write(runtime, future, { messageId: 'msg-future', dequeueCount: 1 }, logger);
    await expect(failure).rejects.toBeInstanceOf(EnvelopeVersionError);
    await expect(failure).rejects.toBeInstanceOf(BadMessageError);
    await expect(failure).rejects.toMatchObject({ code: 'EnvelopeVersion', version: ENVELOPE_VERSION + 1 });
    await expect(failure).rejects.toThrow(
      new RegExp(
        `envelope version ${ENVELOPE_VERSION + 1}; this writer reads versions? ${READABLE_ENVELOPE_VERSIONS.join(', ')}\\..*replay-poison`,
      ),
    );
    expect(logger.at('error')[0]?.properties).toMatchObject({
      messageId: 'msg-future',
      error: 'EnvelopeVersion',
    });
    await runtime.ensureResources();
    expect(await countAll(containerOf(stack, runtime))).toBe(0);
  });

  it('is archived on its last attempt, and the archive replays it unchanged once a reader is deployed', async () => {
    const logger = new RecordingLogger();
    const runtime = stack.runtime({}, {}, logger);
    const archive = runtime.failedMessages;
    await archive.ensureContainer();
    const before = await archive.count();
    await expect(
      write(runtime, future, { messageId: 'msg-last', dequeueCount: runtime.maxDequeueCount }, logger),
    ).rejects.toBeInstanceOf(EnvelopeVersionError);
    expect(await archive.count()).toBe(before + 1);
    expect(logger.lines.map((l) => l.message)).toContain(
      'Message failed its last attempt and goes to the poison queue; a copy is kept',
    );

    const queue = stack.storage.queues.getQueueClient(`replay-${randomUUID().slice(0, 8)}`);
    await queue.create();
    expect(await archive.replay(queue)).toBeGreaterThanOrEqual(1);
    const { receivedMessageItems } = await queue.receiveMessages({ numberOfMessages: 32 });
    expect(receivedMessageItems.map((m) => m.messageText)).toContain(future);
  });
});
