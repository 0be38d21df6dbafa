/**
 * The backfill's windows and its persisted progress: how a range is split into queries, how a window over
 * the record limit is halved down to the floor, how many queries run at once, and the ETag guard on the
 * progress blob (against Azurite).
 */
import { startAzurite, type AzuriteHandle } from '../../scripts/local/services';
import {
  BackfillProgressStore,
  countProgress,
  pendingWindow,
  progressBlobName,
  ProgressConflictError,
  ProgressFormatError,
  type BackfillProgress,
} from '../../shared/backfill/progressStore';
import {
  BackfillRangeError,
  DAY_MS,
  halve,
  HOUR_MS,
  MINUTE_MS,
  queryDisplayName,
  runLimited,
  splitRange,
  windowMs,
  type QueryWindow,
} from '../../shared/backfill/windows';
import { CONTENT_TYPES } from '../../shared/contentTypes';
import { Secret } from '../../shared/secret';
import { createStorageClients } from '../../shared/storage/clients';

const TENANT = '6f1d2c3b-4a59-4e68-9d7c-8b9a0f1e2d3c';

describe('splitRange', () => {
  it('splits into UTC days aligned to midnight, half-open, covering the range exactly', () => {
    const w = splitRange(new Date('2026-08-01T06:30:00Z'), new Date('2026-08-04T12:00:00Z'));
    expect(w).toEqual([
      { start: '2026-08-01T06:30:00.000Z', end: '2026-08-02T00:00:00.000Z' },
      { start: '2026-08-02T00:00:00.000Z', end: '2026-08-03T00:00:00.000Z' },
      { start: '2026-08-03T00:00:00.000Z', end: '2026-08-04T00:00:00.000Z' },
      { start: '2026-08-04T00:00:00.000Z', end: '2026-08-04T12:00:00.000Z' },
    ]);
  });

  it('takes a configured window length, and a 90-day range is 90 queries by default', () => {
    expect(
      splitRange(new Date('2026-08-01T00:00:00Z'), new Date('2026-08-01T12:00:00Z'), 4 * HOUR_MS),
    ).toHaveLength(3);
    const ninety = splitRange(
      new Date('2026-06-01T00:00:00Z'),
      new Date(Date.parse('2026-06-01T00:00:00Z') + 90 * DAY_MS),
    );
    expect(ninety).toHaveLength(90);
    expect(ninety.every((w) => windowMs(w) === DAY_MS)).toBe(true);
  });

  it('refuses an empty or reversed range', () => {
    expect(() => splitRange(new Date('2026-08-02T00:00:00Z'), new Date('2026-08-01T00:00:00Z'))).toThrow(
      BackfillRangeError,
    );
    expect(() => splitRange(new Date('2026-08-01T00:00:00Z'), new Date('2026-08-01T00:00:00Z'))).toThrow(
      /is empty/,
    );
  });
});

describe('halve', () => {
  it('halves a day down to the 60-minute floor and then stops (the window is reported partial)', () => {
    let w: QueryWindow = { start: '2026-08-01T00:00:00.000Z', end: '2026-08-02T00:00:00.000Z' };
    const sizes: number[] = [];
    for (;;) {
      const h = halve(w);
      if (!h) break;
      expect(h[0].end).toBe(h[1].start);
      expect(h[0].start).toBe(w.start);
      expect(h[1].end).toBe(w.end);
      sizes.push(windowMs(h[0]) / MINUTE_MS);
      w = h[0];
    }
    expect(sizes).toEqual([720, 360, 180, 90, 60]);
    expect(windowMs(w)).toBe(60 * MINUTE_MS);
    expect(halve(w)).toBeUndefined();
  });

  it('never makes a first half shorter than the floor; a 90-minute window becomes 60 + 30', () => {
    const h = halve({ start: '2026-08-01T00:00:00.000Z', end: '2026-08-01T01:30:00.000Z' })!;
    expect(h.map((x) => windowMs(x) / MINUTE_MS)).toEqual([60, 30]);
    expect(halve({ start: '2026-08-01T00:00:00.000Z', end: '2026-08-01T00:30:00.000Z' })).toBeUndefined();
  });

  it('names each query after auditfeed and its window', () => {
    expect(queryDisplayName({ start: '2026-08-01T00:00:00.000Z', end: '2026-08-02T00:00:00.000Z' })).toBe(
      'auditfeed backfill 2026-08-01T00:00:00.000Z to 2026-08-02T00:00:00.000Z',
    );
  });
});

describe('runLimited', () => {
  it('keeps at most `limit` in flight, runs items added while running, and waits for all', async () => {
    const queue = [1, 2, 3, 4, 5, 6];
    let inFlight = 0;
    let peak = 0;
    const done: number[] = [];
    await runLimited(
      () => queue.shift(),
      3,
      async (n) => {
        inFlight++;
        peak = Math.max(peak, inFlight);
        await new Promise((r) => setImmediate(r));
        // The last item "splits": two more arrive while the others may have run dry.
        if (n === 6) queue.push(61, 62);
        done.push(n);
        inFlight--;
      },
    );
    expect(peak).toBe(3);
    expect(done.sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 61, 62]);
  });

  it('lets items in flight finish after a failure, starts no more, and re-throws it', async () => {
    const queue = [1, 2, 3, 4, 5];
    const finished: number[] = [];
    await expect(
      runLimited(
        () => queue.shift(),
        2,
        async (n) => {
          await new Promise((r) => setImmediate(r));
          if (n === 1) throw new Error('boom');
          finished.push(n);
        },
      ),
    ).rejects.toThrow('boom');
    expect(finished).toEqual([2]);
    expect(queue).toEqual([3, 4, 5]);
  });
});

describe('BackfillProgressStore', () => {
  let azurite: AzuriteHandle;
  let store: BackfillProgressStore;

  beforeAll(async () => {
    azurite = await startAzurite({ inMemory: true });
    const { blobs } = createStorageClients({
      kind: 'connectionString',
      connectionString: new Secret(azurite.connectionString),
    });
    store = new BackfillProgressStore(blobs.getContainerClient('watermarks'));
    await store.ensureContainer();
  });

  afterAll(async () => {
    await azurite?.stop();
  });

  function progress(): BackfillProgress {
    const from = '2026-08-01T00:00:00.000Z';
    const to = '2026-08-03T00:00:00.000Z';
    return {
      version: 1,
      request: {
        tenantId: TENANT,
        from,
        to,
        contentTypes: [...CONTENT_TYPES],
        createdAt: '2026-12-01T00:00:00.000Z',
        createdBy: 'test',
        windowMs: DAY_MS,
        floorMs: HOUR_MS,
      },
      windows: splitRange(new Date(from), new Date(to)).map(pendingWindow),
      recentQueries: [],
      requests: 0,
      updatedAt: '',
    };
  }

  it('names the blob by tenant and range beside the watermarks, and by content types when not all', () => {
    const from = '2026-08-01T00:00:00.000Z';
    const to = '2026-08-03T00:00:00.000Z';
    expect(progressBlobName(TENANT, from, to, CONTENT_TYPES)).toBe(
      `${TENANT}/backfill/20260801T000000Z_20260803T000000Z.json`,
    );
    const some = progressBlobName(TENANT, from, to, ['Audit.Exchange', 'DLP.All']);
    expect(some).toMatch(
      new RegExp(`^${TENANT}/backfill/20260801T000000Z_20260803T000000Z\\.[0-9a-f]{8}\\.json$`),
    );
    // Order of the flag's values does not make another backfill.
    expect(progressBlobName(TENANT, from, to, ['DLP.All', 'Audit.Exchange'])).toBe(some);
  });

  it('saves with If-None-Match then If-Match; a stale save loses and leaves the winner in place', async () => {
    const p = progress();
    const name = store.blobName(p.request);
    const first = await store.save(name, p, undefined, new Date('2026-12-01T00:00:00Z'));
    const loaded = await store.load(name);
    expect(loaded.etag).toBe(first);
    expect(loaded.progress?.windows).toHaveLength(2);

    // Run A saves; run B, still holding the first ETag, loses and must re-read.
    const a = structuredClone(loaded.progress!);
    a.windows[0]!.state = 'done';
    await store.save(name, a, first, new Date('2026-12-01T00:01:00Z'));
    const b = structuredClone(loaded.progress!);
    b.windows[0]!.state = 'created';
    await expect(store.save(name, b, first, new Date('2026-12-01T00:01:00Z'))).rejects.toBeInstanceOf(
      ProgressConflictError,
    );
    // And a second creation of the same backfill loses too.
    await expect(store.save(name, progress(), undefined, new Date())).rejects.toBeInstanceOf(
      ProgressConflictError,
    );
    expect((await store.load(name)).progress!.windows[0]!.state).toBe('done');
    expect((await store.list(TENANT)).map((x) => x.name)).toContain(name);
  });

  it('reports an unreadable blob with the fix, and counts windows for the summary', async () => {
    const name = `${TENANT}/backfill/broken.json`;
    await store.container.getBlockBlobClient(name).upload('{"version":7}', 13);
    await expect(store.load(name)).rejects.toThrow(ProgressFormatError);
    await expect(store.load(name)).rejects.toThrow(/version 7.*Delete the blob/);

    const p = progress();
    p.windows[0]!.state = 'done';
    p.windows[0]!.sent = { 'Audit.Exchange': 3 };
    p.windows[1]!.state = 'split';
    p.windows.push({
      ...pendingWindow({ start: p.windows[1]!.start, end: '2026-08-02T12:00:00.000Z' }),
      state: 'partial',
    });
    p.windows.push(pendingWindow({ start: '2026-08-02T12:00:00.000Z', end: p.windows[1]!.end }));
    const c = countProgress(p);
    expect(c).toMatchObject({ windows: 3, done: 1, partial: 1, open: 1, sent: { 'Audit.Exchange': 3 } });
    expect(c.finishedMs).toBe(DAY_MS + 12 * HOUR_MS);
  });
});
