import { createHash } from 'node:crypto';
import type { AuditRecord, ContentType } from '../../shared/contentTypes';
import { averageRecordBytes, pickBulky } from './bulky';
import { HOSTILE_OUTCOMES, hostileHasId, hostileText, planHostile } from './hostile';
import type { Hostile, HostileKind, RecordOutcome } from './hostile';
import { drawLateness } from './lateness';
import { EDGE_CASE_RATES, becStory, makeLargeRecord, makeRecord, makeTenantProfile } from './records';
import type { BecStory, TenantProfile } from './records';
import { Rng } from './rng';
import type { ResolvedScenario } from './scenario';
import { DAY, HOUR, MINUTE, SECOND, recordTime, stamp17 } from './time';
import { planUnreadable } from './unreadable';
import type { Unreadable } from './unreadable';

/**
 * Metadata of one content blob. Only this is kept in memory; the records are regenerated from
 * `${seed}:${contentId}` whenever they are needed, so a blob always yields byte-identical content.
 */
export interface BlobMeta {
  readonly contentId: string;
  readonly tenantId: string;
  readonly contentType: ContentType;
  readonly contentCreated: number;
  readonly availableAt: number;
  readonly contentExpiration: number;
  /** CreationTime range of the blob's own records, [from, to). */
  readonly recordsFrom: number;
  readonly recordsTo: number;
  /** Records generated for this blob (excludes repeats of an earlier blob and the hostile element). */
  readonly ownCount: number;
  /** Elements of the served array: repeats, own records and the hostile element. */
  readonly recordCount: number;
  readonly late: boolean;
  /** Index of the one very large record among the own records, or -1. */
  readonly largeIndex: number;
  /** Repeats `count` own records of an earlier blob, starting at `start`, ahead of its own records. */
  readonly dup: { source: BlobMeta; start: number; count: number } | undefined;
  readonly explicit: AuditRecord[] | undefined;
  /** Index in `ContentStore.stories` of the story whose records this blob carries (in `explicit`). */
  readonly story: number | undefined;
  /** When set, the blob answers unreadably from availability until `unreadable.until`. */
  readonly unreadable: Unreadable | undefined;
  /** One extra hostile element among the own records. */
  readonly hostile: Hostile | undefined;
  /** Carries about `blobs.bulky.bytes` of records; served streamed. */
  readonly bulky: boolean;
}

/** Bulky blobs are sized after planning; only `resizeBulky` writes through this. */
type Draft = { -readonly [K in keyof BlobMeta]: BlobMeta[K] };

/** A scripted story as planned: what it was about and which blobs carry its records. */
export interface PlannedStory {
  kind: 'bec';
  tenantId: string;
  story: BecStory;
  /** contentId of the blob carrying each record, by record Id. */
  contentIds: Map<string, string>;
}

export interface RecordRef {
  /** Undefined for an element without an Id (or that is no record at all). */
  id: string | undefined;
  creationTime: string | undefined;
  /** What a correct pipeline does with this element. */
  outcome: RecordOutcome;
  hostile?: HostileKind;
}

const streamKey = (tenantId: string, ct: ContentType): string => `${tenantId}|${ct}`;
const blobKey = (tenantId: string, contentId: string): string => `${tenantId}|${contentId}`;

function contentIdFor(contentCreated: number, ct: ContentType, rng: Rng): string {
  const n = `${stamp17(contentCreated)}${String(rng.int(0, 999999)).padStart(6, '0')}`;
  const [a, b] = ct.split('.') as [string, string];
  return `${n}$${n}$${a.toLowerCase()}_${b.toLowerCase()}$${a}_${b}`;
}

/** Orders a stream the way the service lists it: by when blobs became available. */
function byAvailability(x: BlobMeta, y: BlobMeta): number {
  return (
    x.availableAt - y.availableAt ||
    x.contentCreated - y.contentCreated ||
    (x.contentId < y.contentId ? -1 : x.contentId > y.contentId ? 1 : 0)
  );
}

export class ContentStore {
  private readonly streams = new Map<string, BlobMeta[]>();
  private readonly byId = new Map<string, BlobMeta>();
  private readonly profiles = new Map<string, TenantProfile>();
  readonly all: BlobMeta[] = [];
  readonly stories: PlannedStory[] = [];

  constructor(private readonly scenario: ResolvedScenario) {
    this.plan();
  }

  private plan(): void {
    const s = this.scenario;
    const aggMs = s.blobs.aggregationMinutes * MINUTE;
    let blobCounter = 0;
    for (const tenant of s.tenants) {
      for (const ct of s.contentTypes) {
        const stream: BlobMeta[] = [];
        this.streams.set(streamKey(tenant.tenantId, ct), stream);
        const rate = s.activity.recordsPerHour[ct] ?? 0;
        if (rate <= 0) continue;
        const rng = new Rng(`${s.seed}:plan:${tenant.tenantId}:${ct}`);
        const perWindow = (rate * aggMs) / HOUR;
        for (let w = s.activity.start; w < s.activity.end; w += aggMs) {
          const wEnd = Math.min(w + aggMs, s.activity.end);
          const expected = (perWindow * (wEnd - w)) / aggMs;
          // Jitter the volume but keep its mean: the fractional part is rounded up with matching odds.
          let n = Math.floor(expected * (0.6 + 0.8 * rng.next()) + rng.next());
          while (n > 0) {
            const size = Math.min(n, rng.int(s.blobs.recordsPerBlob[0], s.blobs.recordsPerBlob[1]));
            n -= size;
            const contentCreated =
              wEnd + rng.int(s.blobs.latencyMinutes[0] * MINUTE, s.blobs.latencyMinutes[1] * MINUTE);
            const late = rng.chance(s.blobs.lateFraction);
            const availableAt = late
              ? contentCreated + drawLateness(rng, s.blobs.lateHours, s.blobs.lateDistribution)
              : contentCreated;
            let dup: BlobMeta['dup'];
            if (stream.length > 0 && rng.chance(s.blobs.duplicateFraction)) {
              const source = stream[stream.length - rng.int(1, Math.min(5, stream.length))] as BlobMeta;
              const count = rng.int(1, Math.max(1, Math.floor(source.ownCount / 2)));
              dup = { source, start: rng.int(0, source.ownCount - count), count };
            }
            blobCounter += 1;
            const largeIndex =
              s.blobs.largeRecordEvery > 0 && blobCounter % s.blobs.largeRecordEvery === 0
                ? rng.int(0, size - 1)
                : -1;
            const contentId = this.uniqueId(tenant.tenantId, contentCreated, ct, rng);
            const hostile = planHostile(
              s.seed,
              contentId,
              size,
              { from: w, to: wEnd },
              s.blobs.hostileRecords,
            );
            const meta: BlobMeta = {
              contentId,
              tenantId: tenant.tenantId,
              contentType: ct,
              contentCreated,
              availableAt,
              contentExpiration: contentCreated + 7 * DAY,
              recordsFrom: w,
              recordsTo: wEnd,
              ownCount: size,
              recordCount: size + (dup?.count ?? 0) + (hostile ? 1 : 0),
              late,
              largeIndex,
              dup,
              explicit: undefined,
              story: undefined,
              unreadable: planUnreadable(s.seed, contentId, availableAt, s.blobs.unreadable),
              hostile,
              bulky: false,
            };
            this.add(stream, meta);
          }
        }
      }
    }
    s.explicit.forEach((e, i) => {
      const key = streamKey(e.tenantId, e.contentType);
      let stream = this.streams.get(key);
      if (!stream) {
        stream = [];
        this.streams.set(key, stream);
      }
      const rng = new Rng(`${s.seed}:explicit:${i}`);
      const contentId = e.contentId ?? this.uniqueId(e.tenantId, e.contentCreated, e.contentType, rng);
      if (this.byId.has(blobKey(e.tenantId, contentId)))
        throw new Error(`scenario: duplicate contentId ${contentId}`);
      this.add(stream, {
        contentId,
        tenantId: e.tenantId,
        contentType: e.contentType,
        contentCreated: e.contentCreated,
        availableAt: e.availableAt,
        contentExpiration: e.contentCreated + 7 * DAY,
        recordsFrom: e.contentCreated,
        recordsTo: e.contentCreated,
        ownCount: e.records.length,
        recordCount: e.records.length,
        late: e.availableAt > e.contentCreated + HOUR,
        largeIndex: -1,
        dup: undefined,
        explicit: e.records,
        story: undefined,
        unreadable: undefined,
        hostile: undefined,
        bulky: false,
      });
    });
    s.stories.forEach((st, i) => this.planStory(st.tenantId, st.start, i));
    for (const stream of this.streams.values()) stream.sort(byAvailability);
    this.all.sort(byAvailability);
    this.resizeBulky();
  }

  /**
   * Grows `count` generated blobs to about `bytes` of records. Only their own record count changes: ids,
   * times and records are drawn in order, so the first records (any repeats other blobs took) stay the same.
   */
  private resizeBulky(): void {
    const { count, bytes } = this.scenario.blobs.bulky;
    if (count === 0) return;
    const generated = this.all.filter((b) => b.explicit === undefined);
    const perType = new Map<ContentType, number>();
    for (const meta of pickBulky(generated, count, this.scenario.seed) as Draft[]) {
      let avg = perType.get(meta.contentType);
      if (avg === undefined) {
        avg = averageRecordBytes(meta.contentType, this.profile(meta.tenantId), this.scenario.seed);
        perType.set(meta.contentType, avg);
      }
      meta.ownCount = Math.max(meta.ownCount, Math.ceil(bytes / avg));
      meta.recordCount = meta.ownCount + (meta.dup?.count ?? 0);
      // A bulky blob is only big: reading it must be about streaming, not about anything else.
      meta.hostile = undefined;
      meta.unreadable = undefined;
      meta.bulky = true;
    }
  }

  /**
   * A story's records go out like the rest of the tenant's activity: grouped per content type into the
   * aggregation window of their CreationTime, each group one blob published after the usual latency.
   */
  private planStory(tenantId: string, start: number, index: number): void {
    const s = this.scenario;
    const aggMs = s.blobs.aggregationMinutes * MINUTE;
    const rng = new Rng(`${s.seed}:story:${index}`);
    const story = becStory(this.profile(tenantId), new Date(start), rng.fork('story'));
    const groups = new Map<string, { contentType: ContentType; from: number; records: AuditRecord[] }>();
    for (const { contentType, record } of story.records) {
      const from = Math.floor(Date.parse(`${String(record.CreationTime)}Z`) / aggMs) * aggMs;
      const key = `${contentType}|${from}`;
      let group = groups.get(key);
      if (!group) groups.set(key, (group = { contentType, from, records: [] }));
      group.records.push(record);
    }
    const planned: PlannedStory = { kind: 'bec', tenantId, story, contentIds: new Map() };
    for (const g of groups.values()) {
      const key = streamKey(tenantId, g.contentType);
      let stream = this.streams.get(key);
      if (!stream) this.streams.set(key, (stream = []));
      const wEnd = g.from + aggMs;
      const contentCreated =
        wEnd + rng.int(s.blobs.latencyMinutes[0] * MINUTE, s.blobs.latencyMinutes[1] * MINUTE);
      const contentId = this.uniqueId(tenantId, contentCreated, g.contentType, rng);
      this.add(stream, {
        contentId,
        tenantId,
        contentType: g.contentType,
        contentCreated,
        availableAt: contentCreated,
        contentExpiration: contentCreated + 7 * DAY,
        recordsFrom: g.from,
        recordsTo: wEnd,
        ownCount: g.records.length,
        recordCount: g.records.length,
        late: false,
        largeIndex: -1,
        dup: undefined,
        explicit: g.records,
        story: index,
        unreadable: undefined,
        hostile: undefined,
        bulky: false,
      });
      for (const r of g.records) planned.contentIds.set(String(r.Id), contentId);
    }
    this.stories.push(planned);
  }

  private uniqueId(tenantId: string, contentCreated: number, ct: ContentType, rng: Rng): string {
    for (;;) {
      const id = contentIdFor(contentCreated, ct, rng);
      if (!this.byId.has(blobKey(tenantId, id))) return id;
    }
  }

  private add(stream: BlobMeta[], meta: BlobMeta): void {
    stream.push(meta);
    this.all.push(meta);
    this.byId.set(blobKey(meta.tenantId, meta.contentId), meta);
  }

  /** Blobs of one tenant × content type in listing order. */
  stream(tenantId: string, ct: ContentType): readonly BlobMeta[] {
    return this.streams.get(streamKey(tenantId, ct)) ?? [];
  }

  get(tenantId: string, contentId: string): BlobMeta | undefined {
    return this.byId.get(blobKey(tenantId, contentId));
  }

  profile(tenantId: string): TenantProfile {
    let p = this.profiles.get(tenantId);
    if (!p) {
      const users = this.scenario.tenants.find((t) => t.tenantId === tenantId)?.users ?? 25;
      p = makeTenantProfile(tenantId, new Rng(`${this.scenario.seed}:tenant:${tenantId}`), users);
      this.profiles.set(tenantId, p);
    }
    return p;
  }

  /** The 8 key words of a blob's id bijection. */
  private idKey(meta: BlobMeta): number[] {
    const key = createHash('sha256').update(`${this.scenario.seed}:${meta.contentId}:ids`).digest();
    return [0, 1, 2, 3, 4, 5, 6, 7].map((w) => key.readUInt32LE(w * 4));
  }

  /**
   * Ids and times come from streams forked off the blob's Rng, independent of the record generator,
   * so ground truth can enumerate a million ids without building a million records.
   * Ids are a keyed bijection of the record index, not an Rng stream: Rng has 32 bits of state, so the
   * streams of different blobs overlap now and then and would repeat ids across blobs at scale.
   */
  private ownIds(meta: BlobMeta): string[] {
    const words = this.idKey(meta);
    const oddRng = new Rng(`${this.scenario.seed}:${meta.contentId}`).fork('odd-ids');
    const ids: string[] = [];
    for (let i = 0; i < meta.ownCount; i++) {
      const id = guid(i, words);
      // Our ids replace the generator's, so its share of non-GUID ids is reproduced here.
      ids.push(oddRng.chance(EDGE_CASE_RATES.nonGuidId) ? oddId(id, oddRng) : id);
    }
    return ids;
  }

  /** The hostile element's Id: the index after the own records, so it never meets one of theirs. */
  private hostileId(meta: BlobMeta): string {
    return guid(meta.ownCount, this.idKey(meta));
  }

  private ownTimes(meta: BlobMeta): number[] {
    const timeRng = new Rng(`${this.scenario.seed}:${meta.contentId}`).fork('times');
    const spanSeconds = Math.max(1, Math.floor((meta.recordsTo - meta.recordsFrom) / SECOND));
    const times: number[] = [];
    for (let i = 0; i < meta.ownCount; i++)
      times.push(meta.recordsFrom + timeRng.int(0, spanSeconds - 1) * SECOND);
    return times;
  }

  /** Own records one at a time, so a bulky blob is never whole in memory. */
  private *ownRecords(meta: BlobMeta): Generator<AuditRecord> {
    if (meta.explicit) {
      yield* meta.explicit;
      return;
    }
    const rng = new Rng(`${this.scenario.seed}:${meta.contentId}`);
    const ids = this.ownIds(meta);
    const times = this.ownTimes(meta);
    const profile = this.profile(meta.tenantId);
    for (let i = 0; i < meta.ownCount; i++) {
      const when = new Date(times[i] as number);
      const record =
        i === meta.largeIndex
          ? makeLargeRecord(meta.contentType, when, profile, rng, this.scenario.blobs.largeRecordBytes)
          : makeRecord(meta.contentType, when, profile, rng);
      yield withId(record, ids[i] as string);
    }
  }

  private hostileText(meta: BlobMeta, h: Hostile): string {
    const rng = new Rng(`${this.scenario.seed}:${meta.contentId}:hostile`);
    const base = makeRecord(meta.contentType, new Date(h.time), this.profile(meta.tenantId), rng);
    return hostileText(h, withId(base, this.hostileId(meta)));
  }

  /**
   * The JSON text of every element of the blob's body in served order — repeats, then own records with
   * the hostile element among them — generated lazily.
   */
  *recordTexts(meta: BlobMeta): Generator<string> {
    if (meta.dup) {
      const { source, start, count } = meta.dup;
      let i = 0;
      for (const r of this.ownRecords(source)) {
        if (i >= start + count) break;
        if (i >= start) yield JSON.stringify(r);
        i++;
      }
    }
    const h = meta.hostile;
    let i = 0;
    for (const r of this.ownRecords(meta)) {
      if (h?.position === i) yield this.hostileText(meta, h);
      yield JSON.stringify(r);
      i++;
    }
    if (h?.position === i) yield this.hostileText(meta, h);
  }

  /** Ids, CreationTimes and outcomes of the blob's elements in served order, without generating records. */
  refs(meta: BlobMeta): RecordRef[] {
    const own = (m: BlobMeta): RecordRef[] => {
      if (m.explicit) {
        return m.explicit.map((r) => ({
          id: typeof r.Id === 'string' ? r.Id : undefined,
          creationTime: typeof r.CreationTime === 'string' ? r.CreationTime : undefined,
          outcome: 'store',
        }));
      }
      const times = this.ownTimes(m);
      return this.ownIds(m).map((id, i) => ({
        id,
        creationTime: recordTime(times[i] as number),
        outcome: 'store',
      }));
    };
    const mine = own(meta);
    const h = meta.hostile;
    if (h) {
      mine.splice(h.position, 0, {
        id: hostileHasId(h.kind) ? this.hostileId(meta) : undefined,
        creationTime: h.kind === 'not-object' ? undefined : recordTime(h.time),
        outcome: HOSTILE_OUTCOMES[h.kind],
        hostile: h.kind,
      });
    }
    if (!meta.dup) return mine;
    const { source, start, count } = meta.dup;
    return [...own(source).slice(start, start + count), ...mine];
  }

  /** Ids of the blob's records a correct pipeline stores (served order), the cheapest thing truth can ask for. */
  ids(meta: BlobMeta): Array<string | undefined> {
    const own = (m: BlobMeta): Array<string | undefined> =>
      m.explicit ? m.explicit.map((r) => (typeof r.Id === 'string' ? r.Id : undefined)) : this.ownIds(m);
    const mine = own(meta);
    const h = meta.hostile;
    if (h && HOSTILE_OUTCOMES[h.kind] === 'store') mine.splice(h.position, 0, this.hostileId(meta));
    if (!meta.dup) return mine;
    const { source, start, count } = meta.dup;
    return [...own(source).slice(start, start + count), ...mine];
  }
}

const HEX_DIGITS = Buffer.from('0123456789abcdef');
const GUID_BUF = Buffer.alloc(36, '-'.charCodeAt(0));
/** Byte offset in GUID_BUF of each of the 32 hex digits. */
const GUID_SLOTS = [...'xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx'].flatMap((ch, i) => (ch === 'x' ? [i] : []));

/** murmur3's finalizer: a bijection on 32-bit integers that scatters nearby inputs. */
function fmix32(x: number): number {
  let h = x >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * Version-4-shaped GUID for record `index` of a blob keyed by `key` (8 words). The first group is a
 * bijection of the index, so ids never repeat within a blob; 128 key bits keep blobs apart. Written
 * into a buffer because flat strings keep a million-id Set cheap to build.
 */
function guid(index: number, key: number[]): string {
  for (let w = 0; w < 4; w++) {
    const n = (fmix32(index + (key[w] as number)) ^ (key[w + 4] as number)) >>> 0;
    for (let k = 0; k < 8; k++) {
      const slot = w * 8 + k;
      let nibble = (n >>> (28 - 4 * k)) & 0xf;
      if (slot === 12) nibble = 0x4; // version
      if (slot === 16) nibble = 0x8 | (nibble & 0x3); // RFC 4122 variant
      GUID_BUF[GUID_SLOTS[slot] as number] = HEX_DIGITS[nibble] as number;
    }
  }
  return GUID_BUF.toString('latin1');
}

/** Non-GUID ids as real feeds carry them, derived from the unique GUID so they stay (almost surely) unique. */
function oddId(id: string, rng: Rng): string {
  const [a = '', b = '', c = '', d = '', e = ''] = id.split('-');
  switch (rng.int(0, 6)) {
    case 0:
      return String(parseInt(a, 16));
    case 1:
      return `${a}${e.slice(0, 1)}-${b}-${c}-${d}-${e}`;
    case 2:
      return `${a}-${b}-xxx-xxx-${e}`;
    case 3:
      return `${a}-${b}/${c}-${d}-${e}`;
    case 4:
      return `${id}#${rng.int(1, 99)}`;
    case 5:
      return `${id}?v=${rng.int(1, 9)}`;
    default:
      return `EURPR${rng.int(1, 9)}\\${a}${b}${e}`;
  }
}

/** Puts our id on a generated record; fields that echoed the generator's own id follow it. */
function withId(record: AuditRecord, id: string): AuditRecord {
  const old = record.Id;
  if (typeof old === 'string' && old !== id) {
    for (const [k, v] of Object.entries(record)) if (v === old) record[k] = id;
  }
  record.Id = id;
  return record;
}
