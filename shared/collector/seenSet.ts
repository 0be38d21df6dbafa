import { createHash } from 'node:crypto';
import { DAY_MS } from './windows';

/**
 * The content blobs already collected for one tenant × content type, over the API's whole retention
 * (DESIGN §3.3–3.4): a full sweep re-lists 7 days, and every blob found there that is not in this set
 * is collected. Entries are 8-byte hashes of the contentId, grouped by the UTC day of the blob's
 * contentCreated; a day is loaded only while a listing reaches it, so memory is 8 bytes per blob of the
 * days in use, and the store holds 8 bytes per blob of the retention.
 *
 * Only blobs whose records are durably enqueued are added, so a lost entry costs a repeat fetch
 * (absorbed by the idempotent writer), never a record.
 */

/** Persistence of the set: one append-only segment per contentCreated day. */
export interface SeenSegmentStore {
  /** Every hash appended for that day (8 bytes each); empty when none. */
  read(tenantId: string, contentType: string, day: string): Promise<Buffer>;
  append(tenantId: string, contentType: string, day: string, hashes: Buffer): Promise<void>;
  /** Deletes the segments of days before `day`; returns how many blobs it deleted. */
  prune(tenantId: string, contentType: string, beforeDay: string): Promise<number>;
}

export function dayOf(time: string | number | Date): string {
  const ms = typeof time === 'number' ? time : new Date(time).getTime();
  if (!Number.isFinite(ms)) throw new RangeError(`not a time: ${String(time)}`);
  return new Date(ms).toISOString().slice(0, 10);
}

/** 64 bits of SHA-256: a false match needs ~2^64 / (blobs per day) lookups. */
export function contentIdHash(contentId: string): bigint {
  return createHash('sha256').update(contentId).digest().readBigUInt64LE(0);
}

interface DaySegment {
  /** Persisted hashes, sorted, for binary search. */
  sorted: BigUint64Array;
  /** Added since the day was loaded. */
  added: Set<bigint>;
}

export class SeenSet {
  private readonly days = new Map<string, DaySegment>();
  private readonly pending = new Map<string, bigint[]>();

  constructor(
    private readonly store: SeenSegmentStore,
    readonly tenantId: string,
    readonly contentType: string,
  ) {}

  /** Loads the days of these contentCreated times, so has() can answer for them. */
  async prepare(times: Iterable<string | number>): Promise<void> {
    const missing = new Set<string>();
    for (const t of times) {
      const day = dayOf(t);
      if (!this.days.has(day)) missing.add(day);
    }
    await Promise.all([...missing].map((day) => this.load(day)));
  }

  has(contentId: string, contentCreated: string | number): boolean {
    const day = dayOf(contentCreated);
    const segment = this.days.get(day);
    if (!segment) throw new Error(`seen set: day ${day} was not prepared`);
    const h = contentIdHash(contentId);
    return segment.added.has(h) || includes(segment.sorted, h);
  }

  /** Marks a blob collected; durable after the next flush(). */
  add(contentId: string, contentCreated: string | number): void {
    this.addHash(contentIdHash(contentId), dayOf(contentCreated));
  }

  /** An entry of an older watermark's recently-seen list (the same 64-bit hash, as 16 hex digits). */
  addLegacy(hex: string, contentCreated: string | number): void {
    this.addHash(Buffer.from(hex, 'hex').readBigUInt64LE(0), dayOf(contentCreated));
  }

  get pendingCount(): number {
    let n = 0;
    for (const list of this.pending.values()) n += list.length;
    return n;
  }

  /** Hashes held in memory (loaded days and additions). */
  get loadedCount(): number {
    let n = 0;
    for (const s of this.days.values()) n += s.sorted.length + s.added.size;
    return n;
  }

  get loadedDays(): string[] {
    return [...this.days.keys()].sort();
  }

  /** Appends what was added since the last flush. */
  async flush(): Promise<void> {
    const batches = [...this.pending];
    this.pending.clear();
    try {
      await Promise.all(
        batches.map(([day, hashes]) => {
          const bytes = Buffer.alloc(hashes.length * 8);
          hashes.forEach((h, i) => bytes.writeBigUInt64LE(h, i * 8));
          return this.store.append(this.tenantId, this.contentType, day, bytes);
        }),
      );
    } catch (e) {
      // Keep them for the next flush; appending a hash twice is harmless.
      for (const [day, hashes] of batches)
        this.pending.set(day, [...hashes, ...(this.pending.get(day) ?? [])]);
      throw e;
    }
  }

  /** Frees loaded days outside [fromMs, toMs): the listing has moved on (they load again if needed). */
  retainOnly(fromMs: number, toMs: number): void {
    for (const day of this.days.keys()) {
      const start = Date.parse(`${day}T00:00:00Z`);
      if (start + DAY_MS <= fromMs || start >= toMs) this.days.delete(day);
    }
  }

  /** Deletes stored days older than any listing can reach. */
  prune(beforeMs: number): Promise<number> {
    return this.store.prune(this.tenantId, this.contentType, dayOf(beforeMs));
  }

  private addHash(h: bigint, day: string): void {
    this.days.get(day)?.added.add(h);
    let list = this.pending.get(day);
    if (!list) this.pending.set(day, (list = []));
    list.push(h);
  }

  private async load(day: string): Promise<void> {
    const bytes = await this.store.read(this.tenantId, this.contentType, day);
    // A torn tail cannot happen with append blocks, but a partial entry must never match anything.
    const n = Math.floor(bytes.length / 8);
    const sorted = new BigUint64Array(n);
    for (let i = 0; i < n; i++) sorted[i] = bytes.readBigUInt64LE(i * 8);
    sorted.sort();
    const segment: DaySegment = { sorted, added: new Set() };
    // Additions made before the day was loaded (e.g. a quarantined blob collected) stay visible.
    for (const h of this.pending.get(day) ?? []) segment.added.add(h);
    this.days.set(day, segment);
  }
}

function includes(sorted: BigUint64Array, h: bigint): boolean {
  let lo = 0;
  let hi = sorted.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const v = sorted[mid] as bigint;
    if (v === h) return true;
    if (v < h) lo = mid + 1;
    else hi = mid - 1;
  }
  return false;
}
