import type { AuditRecord, ContentBlobRef, ContentType } from '../../shared/contentTypes';
import type { BlobMeta, ContentStore } from './content';
import type { SimUser } from './records';

export interface RequestLogEntry {
  /** Simulator-clock time the request arrived. */
  at: Date;
  method: string;
  /** token | start | stop | list | content | blob | msi | openid | jwks | discovery | unknown */
  route: string;
  path: string;
  /** Raw query string without `?`, e.g. `contentType=Audit.Exchange&nextPage=…`. */
  query: string;
  tenantId?: string;
  contentType?: string;
  contentId?: string;
  /** 0 when no status was sent (reset, hang, client gone). */
  status: number;
  errorCode?: string;
  /** Fault action kind applied to this request, if any. */
  fault?: string;
  hadAuthorization: boolean;
  publisherIdentifier?: string;
  /** Requests of the same route open when this one arrived, itself included. */
  inFlight?: number;
}

export interface TruthFilter {
  tenantId?: string;
  contentType?: ContentType;
  /** Only blobs available at this time (availableAt <= availableBy). */
  availableBy?: Date;
  /** Only blobs not yet expired at this time. */
  notExpiredAt?: Date;
}

export interface TruthRecord {
  id: string | undefined;
  tenantId: string;
  contentType: ContentType;
  contentId: string;
  /** As the record spells it: `YYYY-MM-DDTHH:MM:SS`. */
  creationTime: string | undefined;
}

/** A blob as the listing shows it (ISO times, contentUri), plus what only the simulator knows. */
export interface TruthBlob extends ContentBlobRef {
  tenantId: string;
  availableAt: string;
  recordCount: number;
  late: boolean;
  /** contentId of the earlier blob whose records this one repeats. */
  duplicateOf?: string;
  duplicateCount?: number;
  hasLargeRecord: boolean;
  explicit: boolean;
  /** Index in `truth.stories()` when the blob carries a scripted story's records. */
  story?: number;
}

/** One record of a scripted story and the blob that serves it. */
export interface TruthStoryRecord {
  id: string;
  contentType: ContentType;
  /** As the record spells it: `YYYY-MM-DDTHH:MM:SS`. */
  creationTime: string;
  contentId: string;
  /** ISO time the blob becomes listable. */
  availableAt: string;
  record: AuditRecord;
}

/** A scripted story (ScenarioSpec.stories): who, from where, and every record of it. */
export interface TruthStory {
  kind: 'bec';
  tenantId: string;
  victim: SimUser;
  attackerIp: string;
  attackerCountry: string;
  forwardTo: string;
  /** In CreationTime order. */
  records: TruthStoryRecord[];
  /** Record ids per step (see BecStory.steps). */
  steps: Record<string, string[]>;
}

export interface Truth {
  /** Every record occurrence in the scenario (a repeated record appears once per blob carrying it). */
  records(filter?: TruthFilter): Generator<TruthRecord>;
  recordIds(filter?: TruthFilter): Set<string>;
  blobs(filter?: TruthFilter): TruthBlob[];
  /** contentIds whose blob was answered in full with 200. */
  servedContentIds(): Set<string>;
  servedRecordIds(): Set<string>;
  /** The scripted stories of the scenario, in ScenarioSpec.stories order. */
  stories(): TruthStory[];
  /** The request log, oldest first (bounded). */
  readonly requests: RequestLogEntry[];
  clearRequests(): void;
}

/** Ring buffer, so a long soak test cannot grow the log without bound. */
export class RequestLog {
  private readonly buf: RequestLogEntry[] = [];
  private start = 0;
  /** Total entries ever appended; lets HTTP callers page with `since`. */
  total = 0;

  constructor(private readonly capacity = 100_000) {}

  push(e: RequestLogEntry): void {
    this.total += 1;
    if (this.buf.length < this.capacity) {
      this.buf.push(e);
    } else {
      this.buf[this.start] = e;
      this.start = (this.start + 1) % this.capacity;
    }
  }

  entries(): RequestLogEntry[] {
    return [...this.buf.slice(this.start), ...this.buf.slice(0, this.start)];
  }

  clear(): void {
    this.buf.length = 0;
    this.start = 0;
  }
}

export class GroundTruth implements Truth {
  /** Served blobs by tenant|contentId; ids are regenerated on demand to keep memory small. */
  private readonly served = new Map<string, BlobMeta>();

  constructor(
    private readonly store: ContentStore,
    readonly log: RequestLog,
    private readonly contentUri: (tenantId: string, contentId: string) => string,
  ) {}

  get requests(): RequestLogEntry[] {
    return this.log.entries();
  }

  clearRequests(): void {
    this.log.clear();
  }

  markServed(meta: BlobMeta): void {
    this.served.set(`${meta.tenantId}|${meta.contentId}`, meta);
  }

  private select(filter: TruthFilter = {}): BlobMeta[] {
    const tenant = filter.tenantId?.toLowerCase();
    const availableBy = filter.availableBy?.getTime();
    const notExpiredAt = filter.notExpiredAt?.getTime();
    return this.store.all.filter(
      (b) =>
        (tenant === undefined || b.tenantId === tenant) &&
        (filter.contentType === undefined || b.contentType === filter.contentType) &&
        (availableBy === undefined || b.availableAt <= availableBy) &&
        (notExpiredAt === undefined || notExpiredAt < b.contentExpiration),
    );
  }

  *records(filter?: TruthFilter): Generator<TruthRecord> {
    for (const b of this.select(filter)) {
      for (const r of this.store.refs(b)) {
        yield {
          id: r.id,
          tenantId: b.tenantId,
          contentType: b.contentType,
          contentId: b.contentId,
          creationTime: r.creationTime,
        };
      }
    }
  }

  recordIds(filter?: TruthFilter): Set<string> {
    const ids = new Set<string>();
    for (const b of this.select(filter))
      for (const id of this.store.ids(b)) if (id !== undefined) ids.add(id);
    return ids;
  }

  blobs(filter?: TruthFilter): TruthBlob[] {
    return this.select(filter).map((b) => ({
      tenantId: b.tenantId,
      contentType: b.contentType,
      contentId: b.contentId,
      contentUri: this.contentUri(b.tenantId, b.contentId),
      contentCreated: new Date(b.contentCreated).toISOString(),
      contentExpiration: new Date(b.contentExpiration).toISOString(),
      availableAt: new Date(b.availableAt).toISOString(),
      recordCount: b.recordCount,
      late: b.late,
      ...(b.dup ? { duplicateOf: b.dup.source.contentId, duplicateCount: b.dup.count } : {}),
      hasLargeRecord: b.largeIndex >= 0,
      explicit: b.explicit !== undefined && b.story === undefined,
      ...(b.story !== undefined ? { story: b.story } : {}),
    }));
  }

  stories(): TruthStory[] {
    return this.store.stories.map((planned) => {
      const { story } = planned;
      return {
        kind: planned.kind,
        tenantId: planned.tenantId,
        victim: story.victim,
        attackerIp: story.attackerIp,
        attackerCountry: story.attackerCountry,
        forwardTo: story.forwardTo,
        records: story.records.map(({ contentType, record }) => {
          const id = String(record.Id);
          const contentId = planned.contentIds.get(id) ?? '';
          const blob = this.store.get(planned.tenantId, contentId);
          return {
            id,
            contentType,
            creationTime: String(record.CreationTime),
            contentId,
            availableAt: new Date(blob?.availableAt ?? 0).toISOString(),
            record,
          };
        }),
        steps: story.steps,
      };
    });
  }

  servedContentIds(): Set<string> {
    return new Set([...this.served.values()].map((b) => b.contentId));
  }

  servedRecordIds(): Set<string> {
    const ids = new Set<string>();
    for (const b of this.served.values())
      for (const id of this.store.ids(b)) if (id !== undefined) ids.add(id);
    return ids;
  }

  /** Cheap counts for `/_sim/truth/summary` (no record generation). */
  summary(now: Date): Record<string, unknown> {
    const t = now.getTime();
    let records = 0;
    let available = 0;
    let availableRecords = 0;
    let expired = 0;
    for (const b of this.store.all) {
      records += b.recordCount;
      if (b.availableAt <= t) {
        available += 1;
        availableRecords += b.recordCount;
      }
      if (t >= b.contentExpiration) expired += 1;
    }
    return {
      now: now.toISOString(),
      blobs: this.store.all.length,
      recordOccurrences: records,
      availableBlobs: available,
      availableRecordOccurrences: availableRecords,
      expiredBlobs: expired,
      servedBlobs: this.served.size,
      requests: this.log.total,
    };
  }
}
