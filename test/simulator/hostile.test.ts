import { DEEP_LEVELS, HUGE_STRING_CHARS, startSimulator } from '../../scripts/simulator';
import type {
  HostileKind,
  RejectedRecord,
  ScenarioSpec,
  Simulator,
  TruthBlob,
} from '../../scripts/simulator';
import { TENANT, http, tokenFor } from './helpers';

const NOW = '2026-11-20T12:00:00.000Z';
const KINDS: HostileKind[] = ['deep', 'not-object', 'no-id', 'proto', 'huge-string'];

function scenario(hostileRecords?: { fraction: number; kinds?: HostileKind[] }): ScenarioSpec {
  return {
    seed: 'hostile',
    tenants: [{ tenantId: TENANT }],
    contentTypes: ['Audit.Exchange', 'Audit.General'],
    activity: { start: '2026-11-19T12:00:00Z', end: '2026-11-20T10:00:00Z' },
    blobs: {
      recordsPerBlob: [2, 10],
      lateFraction: 0,
      duplicateFraction: 0.2,
      ...(hostileRecords ? { hostileRecords } : {}),
    },
    subscriptions: { preStarted: true },
    tokenLifetimeSeconds: 86_400,
  };
}

async function bodyText(sim: Simulator, b: TruthBlob): Promise<string> {
  const res = await http.get<string>(b.contentUri, {
    headers: { Authorization: `Bearer ${await tokenFor(sim)}` },
    responseType: 'text',
    transformResponse: (x: string) => x,
    maxContentLength: Infinity,
  });
  expect(res.status).toBe(200);
  return res.data;
}

/** Array nesting depth of a value, without recursion (the value may be thousands deep). */
function arrayDepth(value: unknown): number {
  let depth = 0;
  let cur = value;
  while (Array.isArray(cur)) {
    depth += 1;
    cur = cur[0];
  }
  return depth;
}

describe('simulator: hostile records', () => {
  let sim: Simulator;
  let plain: Simulator;
  const blobOf = new Map<HostileKind, TruthBlob>();

  beforeAll(async () => {
    sim = await startSimulator({
      scenario: scenario({ fraction: 0.3 }),
      clock: { start: NOW, frozen: true },
    });
    plain = await startSimulator({ scenario: scenario(), clock: { start: NOW, frozen: true } });
    for (const b of sim.truth.blobs({ listableBy: new Date(NOW) })) {
      if (b.hostileKind && !blobOf.has(b.hostileKind)) blobOf.set(b.hostileKind, b);
    }
  });
  afterAll(async () => {
    await sim.stop();
    await plain.stop();
  });

  /** The blob's body, the element at its hostile position, and the same blob without hostile records. */
  async function served(kind: HostileKind) {
    const b = blobOf.get(kind)!;
    expect(b).toBeDefined();
    const text = await bodyText(sim, b);
    const parsed = JSON.parse(text) as unknown[];
    expect(parsed).toHaveLength(b.recordCount);
    const element = parsed[b.hostilePosition!];
    // Everything but the hostile element is what the blob serves with hostile records off.
    const without = JSON.parse(await bodyText(plain, plainTwin(b))) as unknown[];
    const rest = parsed.filter((_, i) => i !== b.hostilePosition);
    expect(JSON.stringify(rest)).toBe(JSON.stringify(without));
    return { b, text, parsed, element };
  }

  const plainTwin = (b: TruthBlob): TruthBlob =>
    plain.truth.blobs().find((x) => x.contentId === b.contentId)!;

  it('gives about the configured share of blobs one hostile element, of every kind, deterministically', async () => {
    const all = sim.truth.blobs();
    const hostile = all.filter((b) => b.hostileKind !== undefined);
    expect(hostile.length / all.length).toBeGreaterThan(0.2);
    expect(hostile.length / all.length).toBeLessThan(0.4);
    expect(new Set(hostile.map((b) => b.hostileKind))).toEqual(new Set(KINDS));
    // Same blobs as without hostile records, one element more where there is one.
    const twins = plain.truth.blobs();
    expect(all.map((b) => b.contentId)).toEqual(twins.map((b) => b.contentId));
    all.forEach((b, i) => expect(b.recordCount).toBe(twins[i]!.recordCount + (b.hostileKind ? 1 : 0)));
    const again = await startSimulator({
      scenario: scenario({ fraction: 0.3 }),
      clock: { start: NOW, frozen: true },
    });
    try {
      const key = (x: TruthBlob[]) => x.map((b) => [b.contentId, b.hostileKind, b.hostilePosition]);
      expect(key(again.truth.blobs())).toEqual(key(all));
    } finally {
      await again.stop();
    }
  });

  it('deep: a ~12 KB record 6,000 arrays deep that JSON.parse reads and JSON.stringify cannot write; rejected', async () => {
    const { b, text, element } = await served('deep');
    const record = element as Record<string, unknown>;
    expect(typeof record.Id).toBe('string');
    expect(record.CreationTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$/);
    expect(arrayDepth(record.Data)).toBe(DEEP_LEVELS);
    expect(() => JSON.stringify(record)).toThrow(RangeError);
    expect(text.length).toBeGreaterThan(12_000);
    const truth = [...sim.truth.records({ contentType: b.contentType })].filter(
      (r) => r.contentId === b.contentId,
    );
    expect(truth[b.hostilePosition!]).toMatchObject({ id: record.Id, outcome: 'reject', hostile: 'deep' });
    expect(sim.truth.recordIds().has(record.Id as string)).toBe(false);
    expect(sim.truth.servedRecordIds().has(record.Id as string)).toBe(false);
  });

  it('not-object: a number, string, null or array element; rejected, no id', async () => {
    const { b, element } = await served('not-object');
    expect(element === null || typeof element !== 'object' || Array.isArray(element)).toBe(true);
    const variants = new Set<string>();
    for (const x of sim.truth
      .blobs({ listableBy: new Date(NOW) })
      .filter((y) => y.hostileKind === 'not-object')) {
      const e = (JSON.parse(await bodyText(sim, x)) as unknown[])[x.hostilePosition!];
      variants.add(e === null ? 'null' : Array.isArray(e) ? 'array' : typeof e);
    }
    expect(variants).toEqual(new Set(['number', 'string', 'null', 'array']));
    const truth = [...sim.truth.records({ contentType: b.contentType })].filter(
      (r) => r.contentId === b.contentId,
    );
    expect(truth[b.hostilePosition!]).toMatchObject({
      id: undefined,
      outcome: 'reject',
      hostile: 'not-object',
    });
  });

  it('no-id: an ordinary record without Id; rejected', async () => {
    const { b, element } = await served('no-id');
    const record = element as Record<string, unknown>;
    expect(typeof record).toBe('object');
    expect('Id' in record).toBe(false);
    expect(typeof record.Operation).toBe('string');
    const truth = [...sim.truth.records({ contentType: b.contentType })].filter(
      (r) => r.contentId === b.contentId,
    );
    expect(truth[b.hostilePosition!]).toMatchObject({ id: undefined, outcome: 'reject', hostile: 'no-id' });
  });

  it('proto: own __proto__ and constructor fields and a __proto__ parameter, pollutes nothing; stored', async () => {
    const { b, text, element } = await served('proto');
    expect(text).toContain('{"__proto__":{"polluted":"yes"');
    const record = element as Record<string, unknown>;
    expect(Object.prototype.hasOwnProperty.call(record, '__proto__')).toBe(true);
    expect(Object.prototype.hasOwnProperty.call(record, 'constructor')).toBe(true);
    expect(Object.getPrototypeOf(record)).toBe(Object.prototype);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect((record.Parameters as Array<{ Name: string }>)[0]?.Name).toBe('__proto__');
    const truth = [...sim.truth.records({ contentType: b.contentType })].filter(
      (r) => r.contentId === b.contentId,
    );
    expect(truth[b.hostilePosition!]).toMatchObject({ id: record.Id, outcome: 'store', hostile: 'proto' });
    expect(sim.truth.recordIds().has(record.Id as string)).toBe(true);
  });

  it('huge-string: a valid record with one ~3 MB string; stored', async () => {
    const { b, element } = await served('huge-string');
    const record = element as Record<string, unknown>;
    const longest = Math.max(...Object.values(record).map((v) => (typeof v === 'string' ? v.length : 0)));
    expect(longest).toBe(HUGE_STRING_CHARS);
    expect(typeof record.Id).toBe('string');
    const truth = [...sim.truth.records({ contentType: b.contentType })].filter(
      (r) => r.contentId === b.contentId,
    );
    expect(truth[b.hostilePosition!]).toMatchObject({
      id: record.Id,
      outcome: 'store',
      hostile: 'huge-string',
    });
    expect(sim.truth.recordIds().has(record.Id as string)).toBe(true);
    expect(sim.truth.servedRecordIds().has(record.Id as string)).toBe(true);
  });

  it('lists the expected rejections, also over HTTP; record ids are the ones to store', async () => {
    const rejected = sim.truth.rejectedRecords();
    const rejectingBlobs = sim.truth
      .blobs()
      .filter((b) => b.hostileKind === 'deep' || b.hostileKind === 'not-object' || b.hostileKind === 'no-id');
    expect(rejected.map((r) => [r.contentId, r.position, r.kind])).toEqual(
      rejectingBlobs.map((b) => [b.contentId, b.hostilePosition, b.hostileKind]),
    );
    expect(rejected.every((r) => r.reason.length > 0 && r.tenantId === TENANT)).toBe(true);
    expect(rejected.filter((r) => r.id !== undefined).every((r) => r.kind === 'deep')).toBe(true);
    const records = [...sim.truth.records()];
    expect(records.filter((r) => r.outcome === 'reject')).toHaveLength(rejected.length);
    const storeIds = new Set(records.filter((r) => r.outcome === 'store').map((r) => r.id!));
    expect(sim.truth.recordIds()).toEqual(storeIds);
    expect(sim.truth.recordIds().size).toBe(
      plain.truth.recordIds().size +
        sim.truth.blobs().filter((b) => b.hostileKind === 'proto' || b.hostileKind === 'huge-string').length,
    );

    const q = `contentType=Audit.General&availableBy=${encodeURIComponent(NOW)}`;
    const res = await http.get<RejectedRecord[]>(`${sim.baseUrl}/_sim/truth/rejected-records?${q}`);
    expect(res.status).toBe(200);
    expect(res.data).toEqual(
      sim.truth.rejectedRecords({ contentType: 'Audit.General', availableBy: new Date(NOW) }),
    );
    expect(res.data.length).toBeGreaterThan(0);
  });

  it('keeps hostile records to the kinds asked for', async () => {
    const only = await startSimulator({
      scenario: scenario({ fraction: 0.5, kinds: ['proto'] }),
      clock: { start: NOW, frozen: true },
    });
    try {
      expect(new Set(only.truth.blobs().flatMap((b) => (b.hostileKind ? [b.hostileKind] : [])))).toEqual(
        new Set(['proto']),
      );
      expect(only.truth.rejectedRecords()).toEqual([]);
    } finally {
      await only.stop();
    }
  });
});
