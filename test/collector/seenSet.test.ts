import { contentIdHash, SeenSet } from '../../shared/collector/seenSet';
import { Watermark } from '../../shared/collector/watermark';
import { BlobSeenStore } from '../../shared/storage/seenStore';
import { startAzurite, type AzuriteHandle } from '../../scripts/local/services';
import { BlobServiceClient, type ContainerClient } from '@azure/storage-blob';
import { createHash } from 'node:crypto';

/** The 7-day set of collected blobs, on Azurite: persistence, lookups, bounds, pruning, migration. */

const TENANT = '0c3d5e7f-1a2b-4c6d-8e9f-a0b1c2d3e4f5';
const CT = 'Audit.Exchange';

describe('the collected-blob set', () => {
  let azurite: AzuriteHandle;
  let container: ContainerClient;

  beforeAll(async () => {
    azurite = await startAzurite({ inMemory: true });
    container = BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient(
      'watermarks',
    );
    await container.createIfNotExists();
  });
  afterAll(async () => azurite?.stop());

  it('answers for blobs added in earlier processes, across days, and only after a flush made them durable', async () => {
    const store = new BlobSeenStore(container);
    const a = new SeenSet(store, TENANT, CT);
    const ids = Array.from({ length: 3000 }, (_, i) => ({
      id: `blob-${i}$audit_exchange`,
      created: new Date(Date.parse('2026-11-14T00:00:00Z') + i * 200_000).toISOString(),
    }));
    await a.prepare(ids.map((b) => b.created));
    for (const b of ids.slice(0, 2000)) a.add(b.id, b.created);
    expect(ids.slice(0, 2000).every((b) => a.has(b.id, b.created))).toBe(true);

    // Not flushed: a new process does not know them (a repeat fetch, never a loss).
    const before = new SeenSet(new BlobSeenStore(container), TENANT, CT);
    await before.prepare(ids.map((b) => b.created));
    expect(ids.filter((b) => before.has(b.id, b.created))).toEqual([]);

    await a.flush();
    const b = new SeenSet(new BlobSeenStore(container), TENANT, CT);
    await b.prepare(ids.map((x) => x.created));
    expect(ids.slice(0, 2000).every((x) => b.has(x.id, x.created))).toBe(true);
    expect(ids.slice(2000).some((x) => b.has(x.id, x.created))).toBe(false);
    // 8 bytes a blob in storage.
    let stored = 0;
    for await (const blob of container.listBlobsFlat({ prefix: `${TENANT}/${CT}/seen/` })) {
      stored += blob.properties.contentLength ?? 0;
    }
    expect(stored).toBe(2000 * 8);
  });

  it('keeps in memory only the days a listing is in', async () => {
    const set = new SeenSet(new BlobSeenStore(container), TENANT, CT);
    await set.prepare(['2026-11-14T10:00:00Z', '2026-11-15T10:00:00Z', '2026-11-16T10:00:00Z']);
    expect(set.loadedDays).toEqual(['2026-11-14', '2026-11-15', '2026-11-16']);
    set.retainOnly(Date.parse('2026-11-15T23:00:00Z'), Date.parse('2026-11-16T01:00:00Z'));
    expect(set.loadedDays).toEqual(['2026-11-15', '2026-11-16']);
    expect(() => set.has('x', '2026-11-14T10:00:00Z')).toThrow(/not prepared/);
  });

  it('moves on to a new part before an append blob runs out of blocks, and reads all parts back', async () => {
    const store = new BlobSeenStore(container, 3);
    const set = new SeenSet(store, TENANT, 'DLP.All');
    const created = '2026-11-17T08:00:00Z';
    await set.prepare([created]);
    for (let round = 0; round < 8; round++) {
      set.add(`dlp-${round}`, created);
      await set.flush();
    }
    const parts: string[] = [];
    for await (const blob of container.listBlobsFlat({ prefix: `${TENANT}/DLP.All/seen/2026-11-17/` })) {
      parts.push(blob.name.split('/').pop()!);
    }
    expect(parts.sort()).toEqual(['0.bin', '1.bin', '2.bin']);
    const again = new SeenSet(new BlobSeenStore(container, 3), TENANT, 'DLP.All');
    await again.prepare([created]);
    for (let round = 0; round < 8; round++) expect(again.has(`dlp-${round}`, created)).toBe(true);
  });

  it('deletes the days no listing can reach any more', async () => {
    const store = new BlobSeenStore(container);
    const set = new SeenSet(store, TENANT, 'Audit.General');
    for (const day of ['2026-11-10', '2026-11-11', '2026-11-12']) {
      set.add(`g-${day}`, `${day}T12:00:00Z`);
    }
    await set.flush();
    expect(await set.prune(Date.parse('2026-11-12T05:00:00Z'))).toBe(2);
    const left: string[] = [];
    for await (const blob of container.listBlobsFlat({ prefix: `${TENANT}/Audit.General/seen/` }))
      left.push(blob.name);
    expect(left).toEqual([`${TENANT}/Audit.General/seen/2026-11-12/0.bin`]);
  });

  it('reads a version 1 watermark and carries its recently-seen blobs into the set', async () => {
    const id = '20261120093000123456789$20261120093000123456789$audit_exchange$Audit_Exchange';
    const hex = createHash('sha256').update(id).digest('hex').slice(0, 16);
    const v1 = JSON.stringify({
      version: 1,
      tenantId: TENANT,
      contentType: CT,
      cursor: '2026-11-20T10:00:00.000Z',
      seen: { '2026-11-20T09:30:00Z': [hex] },
      subscription: { enabled: true, confirmedAt: '2026-11-01T00:00:00.000Z' },
      gaps: [],
      gapCount: 0,
      lastRun: null,
      updatedAt: '2026-11-20T10:00:00.000Z',
    });
    const w = Watermark.parse(v1, 'test', TENANT, CT);
    expect(w.cursor?.toISOString()).toBe('2026-11-20T10:00:00.000Z');
    expect(w.legacySeen).toEqual([[hex, '2026-11-20T09:30:00Z']]);
    const set = new SeenSet(new BlobSeenStore(container), TENANT, CT);
    for (const [h, at] of w.legacySeen) set.addLegacy(h, at);
    await set.flush();
    const fresh = new SeenSet(new BlobSeenStore(container), TENANT, CT);
    await fresh.prepare(['2026-11-20T09:30:00Z']);
    expect(fresh.has(id, '2026-11-20T09:30:00Z')).toBe(true);
    expect(contentIdHash(id)).toBe(Buffer.from(hex, 'hex').readBigUInt64LE(0));
  });
});
