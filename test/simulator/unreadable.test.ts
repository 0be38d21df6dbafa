import { HOSTILE_BLOB_DEFAULTS, startSimulator } from '../../scripts/simulator';
import type { ScenarioSpec, Simulator, TruthBlob, UnreadableKind } from '../../scripts/simulator';
import { TENANT, http, tokenFor } from './helpers';

const NOW = '2026-11-20T12:00:00.000Z';
const HOUR = 3_600_000;
const KINDS: UnreadableKind[] = ['wrong-shape', 'not-json', 'truncated', 'server-error'];

function scenario(unreadable: NonNullable<ScenarioSpec['blobs']>['unreadable']): ScenarioSpec {
  return {
    seed: 'unreadable',
    tenants: [{ tenantId: TENANT }],
    contentTypes: ['Audit.Exchange'],
    activity: { start: '2026-11-19T00:00:00Z', end: '2026-11-20T10:00:00Z' },
    blobs: { recordsPerBlob: [2, 20], lateFraction: 0, duplicateFraction: 0.2, unreadable },
    subscriptions: { preStarted: true },
    tokenLifetimeSeconds: 30 * 86_400,
  };
}

interface Raw {
  status: number;
  contentType: string | undefined;
  contentLength: number | undefined;
  text: string;
}

async function fetchRaw(sim: Simulator, blob: TruthBlob): Promise<Raw> {
  const res = await http.get<string>(blob.contentUri, {
    headers: { Authorization: `Bearer ${await tokenFor(sim)}` },
    responseType: 'text',
    transformResponse: (x: string) => x,
  });
  const length = res.headers['content-length'] as string | undefined;
  return {
    status: res.status,
    contentType: res.headers['content-type'] as string | undefined,
    contentLength: length === undefined ? undefined : Number(length),
    text: res.data,
  };
}

const parses = (text: string): boolean => {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
};

/** The blob's record ids as ground truth has them, in served order. */
const truthIds = (sim: Simulator, b: TruthBlob): Array<string | undefined> =>
  [...sim.truth.records({ contentType: b.contentType })]
    .filter((r) => r.contentId === b.contentId)
    .map((r) => r.id);

describe('simulator: unreadable blobs', () => {
  let sim: Simulator;

  beforeAll(async () => {
    sim = await startSimulator({
      scenario: scenario({ fraction: 0.5, recoverAfterHours: [2, 4] }),
      clock: { start: NOW, frozen: true },
    });
  });
  afterAll(() => sim.stop());
  beforeEach(() => sim.clock.set(NOW));

  /** A listed blob of each kind, unreadable now, that recovers before it expires. */
  const pick = (kind: UnreadableKind): TruthBlob => {
    const b = sim.truth
      .blobs({ listableBy: new Date(NOW) })
      .find((x) => x.unreadableKind === kind && x.unreadableUntil !== 'expiry' && x.unreadableUntil! > NOW);
    if (!b) throw new Error(`no ${kind} blob`);
    return b;
  };

  it('chooses about the configured share, every kind, each recovering within recoverAfterHours', () => {
    const all = sim.truth.blobs();
    const bad = all.filter((b) => b.unreadableKind !== undefined);
    expect(bad.length / all.length).toBeGreaterThan(0.4);
    expect(bad.length / all.length).toBeLessThan(0.6);
    expect(new Set(bad.map((b) => b.unreadableKind))).toEqual(new Set(KINDS));
    for (const b of bad) {
      const after = (Date.parse(b.unreadableUntil!) - Date.parse(b.availableAt)) / HOUR;
      expect(after).toBeGreaterThanOrEqual(2);
      expect(after).toBeLessThanOrEqual(4);
    }
  });

  it('wrong-shape: 200 with a JSON object, not an array; then its records', async () => {
    const shapes = new Set<string>();
    for (const b of sim.truth
      .blobs({ listableBy: new Date(NOW) })
      .filter((x) => x.unreadableKind === 'wrong-shape')) {
      if (b.unreadableUntil! <= NOW) continue;
      const r = await fetchRaw(sim, b);
      expect(r.status).toBe(200);
      expect(r.contentType).toBe('application/json; charset=utf-8');
      const body = JSON.parse(r.text) as Record<string, unknown>;
      expect(Array.isArray(body)).toBe(false);
      shapes.add(Object.keys(body).join(','));
      if ('value' in body) {
        expect((body.value as Array<{ Id: string }>).map((x) => x.Id)).toEqual(truthIds(sim, b));
      }
      if (shapes.size === 2) break;
    }
    expect(shapes).toEqual(new Set(['value', 'error']));
    const b = pick('wrong-shape');
    sim.clock.set(b.unreadableUntil!);
    const ok = await fetchRaw(sim, b);
    expect((JSON.parse(ok.text) as Array<{ Id: string }>).map((x) => x.Id)).toEqual(truthIds(sim, b));
  });

  it('not-json: 200 with an HTML error page until it recovers', async () => {
    const b = pick('not-json');
    const r = await fetchRaw(sim, b);
    expect(r.status).toBe(200);
    expect(r.text).toMatch(/^<!DOCTYPE html>/);
    expect(parses(r.text)).toBe(false);
    sim.clock.set(new Date(Date.parse(b.unreadableUntil!) - 1));
    expect((await fetchRaw(sim, b)).text).toBe(r.text);
    sim.clock.set(b.unreadableUntil!);
    const ok = await fetchRaw(sim, b);
    expect(ok.status).toBe(200);
    expect((JSON.parse(ok.text) as unknown[]).length).toBe(b.recordCount);
  });

  it('truncated: 200 with the JSON cut off, Content-Length of the cut body; then the whole body', async () => {
    const b = pick('truncated');
    const cut = await fetchRaw(sim, b);
    expect(cut.status).toBe(200);
    expect(cut.contentLength).toBe(Buffer.byteLength(cut.text));
    expect(parses(cut.text)).toBe(false);
    sim.clock.set(b.unreadableUntil!);
    const whole = await fetchRaw(sim, b);
    expect(whole.text.startsWith(cut.text)).toBe(true);
    expect(whole.text.length).toBeGreaterThan(cut.text.length);
    expect((JSON.parse(whole.text) as Array<{ Id: string }>).map((x) => x.Id)).toEqual(truthIds(sim, b));
  });

  it('server-error: 500 AF50000 every time until it recovers; only full answers count as served', async () => {
    const b = pick('server-error');
    for (let i = 0; i < 3; i++) {
      const r = await fetchRaw(sim, b);
      expect(r.status).toBe(500);
      expect(JSON.parse(r.text)).toEqual({
        error: { code: 'AF50000', message: 'An internal error occurred. Retry the request.' },
      });
    }
    expect(sim.truth.servedContentIds().has(b.contentId)).toBe(false);
    sim.clock.set(b.unreadableUntil!);
    expect((await fetchRaw(sim, b)).status).toBe(200);
    expect(sim.truth.servedContentIds().has(b.contentId)).toBe(true);
  });

  it('readableBy: listed blobs whose records can be had by then, also over HTTP', async () => {
    const b = pick('server-error');
    const until = Date.parse(b.unreadableUntil!);
    const ids = (t: number): string[] => sim.truth.blobs({ readableBy: new Date(t) }).map((x) => x.contentId);
    expect(ids(until - 1)).not.toContain(b.contentId);
    expect(ids(until)).toContain(b.contentId);
    const readable = sim.truth.blobs({ readableBy: new Date(NOW) });
    expect(readable.every((x) => x.unreadableUntil === undefined || x.unreadableUntil <= NOW)).toBe(true);
    const q = `readableBy=${encodeURIComponent(b.unreadableUntil!)}`;
    const res = await http.get<TruthBlob[]>(`${sim.baseUrl}/_sim/truth/blobs?${q}`);
    expect(res.data.map((x) => x.contentId)).toEqual(ids(until));
    const recordIds = await http.get<{ ids: string[] }>(`${sim.baseUrl}/_sim/truth/record-ids?${q}`);
    expect(new Set(recordIds.data.ids)).toEqual(sim.truth.recordIds({ readableBy: new Date(until) }));
  });
});

describe('simulator: unreadable until expiry', () => {
  it('never recovers with recoverAfterHours null; truth says expiry; the same seed picks the same blobs', async () => {
    const spec = scenario({ fraction: 0.3, kinds: ['server-error', 'not-json'], recoverAfterHours: null });
    const sim = await startSimulator({ scenario: spec, clock: { start: NOW, frozen: true } });
    try {
      const bad = sim.truth.blobs().filter((b) => b.unreadableKind !== undefined);
      expect(bad.length).toBeGreaterThan(5);
      expect(bad.every((b) => b.unreadableUntil === 'expiry')).toBe(true);
      expect(new Set(bad.map((b) => b.unreadableKind))).toEqual(new Set(['server-error', 'not-json']));
      const b = bad.find((x) => x.availableAt <= NOW && x.unreadableKind === 'server-error')!;
      sim.clock.set(new Date(Date.parse(b.contentExpiration) - 1));
      expect((await fetchRaw(sim, b)).status).toBe(500);
      sim.clock.set(b.contentExpiration);
      expect(JSON.parse((await fetchRaw(sim, b)).text)).toMatchObject({ error: { code: 'AF20051' } });
      const end = new Date(Date.parse(b.contentExpiration) + HOUR);
      expect(sim.truth.blobs({ listableBy: end }).map((x) => x.contentId)).toContain(b.contentId);
      expect(sim.truth.blobs({ readableBy: end }).map((x) => x.contentId)).not.toContain(b.contentId);
      // Repeats of its records in a readable blob are still to be had; its own are not.
      const readableElsewhere = new Set(
        [...sim.truth.records({ readableBy: end })]
          .filter((r) => r.contentId !== b.contentId)
          .map((r) => r.id),
      );
      const readableIds = sim.truth.recordIds({ readableBy: end });
      for (const id of truthIds(sim, b)) expect(readableIds.has(id!)).toBe(readableElsewhere.has(id));

      const again = await startSimulator({ scenario: spec, clock: { start: NOW, frozen: true } });
      try {
        const noUri = (x: TruthBlob[]) => x.map(({ contentUri: _c, ...rest }) => rest);
        expect(noUri(again.truth.blobs().filter((x) => x.unreadableKind !== undefined))).toEqual(noUri(bad));
      } finally {
        await again.stop();
      }
      // Switching unreadable blobs on changes nothing else about the plan.
      const plain = await startSimulator({
        scenario: scenario(undefined),
        clock: { start: NOW, frozen: true },
      });
      try {
        const strip = (x: TruthBlob[]) =>
          x.map(({ unreadableKind: _k, unreadableUntil: _u, contentUri: _c, ...rest }) => rest);
        expect(strip(plain.truth.blobs())).toEqual(strip(sim.truth.blobs()));
      } finally {
        await plain.stop();
      }
    } finally {
      await sim.stop();
    }
  });

  it('permanentFraction keeps a share unreadable until expiry even with recoverAfterHours', async () => {
    const sim = await startSimulator({
      scenario: scenario({ fraction: 0.6, recoverAfterHours: [1, 2], permanentFraction: 0.5 }),
      clock: { start: NOW, frozen: true },
    });
    try {
      const bad = sim.truth.blobs().filter((b) => b.unreadableKind !== undefined);
      const forever = bad.filter((b) => b.unreadableUntil === 'expiry').length;
      expect(forever / bad.length).toBeGreaterThan(0.3);
      expect(forever / bad.length).toBeLessThan(0.7);
    } finally {
      await sim.stop();
    }
  });

  it('HOSTILE_BLOB_DEFAULTS switches on unreadable blobs (some for good) and hostile records', async () => {
    const base = scenario(undefined);
    const sim = await startSimulator({
      scenario: { ...base, blobs: { ...base.blobs, ...HOSTILE_BLOB_DEFAULTS } },
      clock: { start: NOW, frozen: true },
    });
    try {
      const blobs = sim.truth.blobs();
      expect(blobs.filter((b) => b.unreadableUntil === 'expiry').length).toBeGreaterThan(0);
      expect(
        blobs.filter((b) => b.unreadableUntil !== undefined && b.unreadableUntil !== 'expiry').length,
      ).toBeGreaterThan(0);
      expect(blobs.filter((b) => b.hostileKind !== undefined).length).toBeGreaterThan(0);
    } finally {
      await sim.stop();
    }
    const plain = await startSimulator({ scenario: base, clock: { start: NOW, frozen: true } });
    try {
      expect(
        plain.truth.blobs().some((b) => b.unreadableKind !== undefined || b.hostileKind !== undefined),
      ).toBe(false);
    } finally {
      await plain.stop();
    }
  });

  it('refuses unknown kinds', async () => {
    await expect(
      startSimulator({ scenario: scenario({ fraction: 0.1, kinds: ['gone' as UnreadableKind] }) }),
    ).rejects.toThrow(/blobs.unreadable.kinds/);
  });
});
