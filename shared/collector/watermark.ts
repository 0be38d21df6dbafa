import type { ContentType } from '../contentTypes';
import { AuditfeedError } from '../errors';
import type { Gap } from './windows';
import type { ContentTypeRunSummary } from './summary';

/**
 * The per tenant × content type state (DESIGN §5), stored as versioned JSON in
 * `watermarks/{tenantId}/{contentType}.json` and written with If-Match, so one run owns it at a time.
 * The set of blobs already collected is kept beside it (seenSet.ts): it covers the API's 7 days and
 * would make this blob large.
 */
export const WATERMARK_VERSION = 2;
/** Recorded gaps kept in the watermark (the newest); the count keeps the total. */
const MAX_GAPS_KEPT = 200;

/** A listing cut off by the deadline: the next run continues from its next page. */
export interface ListingResume {
  start: string;
  end: string;
  nextPageUri: string;
}

/** Progress of the full-retention re-listing (DESIGN §3.3). */
export interface SweepState {
  /** When the sweep in progress (or the last one) started; null before the first. */
  startedAt: string | null;
  /** Where the sweep in progress continues; null when no sweep is in progress. */
  next: string | null;
  resume: ListingResume | null;
  completedAt: string | null;
}

/** A content blob that kept failing; retried on later runs until it is collected or expires. */
export interface QuarantinedBlob {
  contentId: string;
  contentUri: string;
  contentCreated: string;
  contentExpiration: string;
  attempts: number;
  firstFailedAt: string;
  lastFailedAt: string;
  nextAttemptAt: string;
  /** The last failure, as the client reported it: the request path and query (PublisherIdentifier), no token. */
  error: string;
  code?: string;
}

export interface WatermarkDocument {
  version: typeof WATERMARK_VERSION;
  tenantId: string;
  contentType: ContentType;
  cursor: string | null;
  /** Where the first run started; nothing before it is collected (AUDITFEED_INITIAL_LOOKBACK_HOURS). */
  origin: string | null;
  subscription: { enabled: boolean; confirmedAt: string | null };
  resume: ListingResume | null;
  sweep: SweepState;
  quarantine: QuarantinedBlob[];
  gaps: Gap[];
  gapCount: number;
  lastRun: ContentTypeRunSummary | null;
  updatedAt: string;
}

/** Version 1 kept the recently-seen blobs inline: 16-hex-digit hashes grouped by contentCreated second. */
interface WatermarkDocumentV1 {
  version: 1;
  cursor: string | null;
  seen: Record<string, string[]>;
  subscription: WatermarkDocument['subscription'];
  gaps: Gap[];
  gapCount: number;
  lastRun: ContentTypeRunSummary | null;
}

export class WatermarkFormatError extends AuditfeedError {
  constructor(where: string, problem: string) {
    super(
      `Watermark ${where} cannot be read: ${problem}. Fix or delete the blob to start that content type over.`,
      'WatermarkFormat',
    );
  }
}

const EMPTY_SWEEP: SweepState = { startedAt: null, next: null, resume: null, completedAt: null };

/** In-memory form of a watermark. */
export class Watermark {
  cursor: Date | null;
  origin: Date | null;
  subscription: WatermarkDocument['subscription'];
  resume: ListingResume | null;
  sweep: SweepState;
  readonly quarantine = new Map<string, QuarantinedBlob>();
  gaps: Gap[];
  gapCount: number;
  lastRun: ContentTypeRunSummary | null;
  /** Recently-seen entries of a version 1 watermark, to move into the seen set: [hash, contentCreated]. */
  legacySeen: [string, string][] = [];
  /** Read from a version 1 watermark (which kept no first-run start). */
  fromVersion1 = false;

  constructor(
    readonly tenantId: string,
    readonly contentType: ContentType,
    doc?: WatermarkDocument,
  ) {
    this.cursor = doc?.cursor ? new Date(doc.cursor) : null;
    this.origin = doc?.origin ? new Date(doc.origin) : null;
    this.subscription = doc?.subscription ?? { enabled: false, confirmedAt: null };
    this.resume = doc?.resume ?? null;
    this.sweep = { ...EMPTY_SWEEP, ...doc?.sweep };
    for (const q of doc?.quarantine ?? []) this.quarantine.set(q.contentId, q);
    this.gaps = doc?.gaps ?? [];
    this.gapCount = doc?.gapCount ?? this.gaps.length;
    this.lastRun = doc?.lastRun ?? null;
  }

  addGap(gap: Gap): void {
    this.gaps.push(gap);
    this.gapCount++;
    if (this.gaps.length > MAX_GAPS_KEPT) this.gaps.splice(0, this.gaps.length - MAX_GAPS_KEPT);
  }

  toDocument(now: Date): WatermarkDocument {
    return {
      version: WATERMARK_VERSION,
      tenantId: this.tenantId,
      contentType: this.contentType,
      cursor: this.cursor?.toISOString() ?? null,
      origin: this.origin?.toISOString() ?? null,
      subscription: this.subscription,
      resume: this.resume,
      sweep: this.sweep,
      quarantine: [...this.quarantine.values()],
      gaps: this.gaps,
      gapCount: this.gapCount,
      lastRun: this.lastRun,
      updatedAt: now.toISOString(),
    };
  }

  static parse(text: string, where: string, tenantId: string, contentType: ContentType): Watermark {
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch {
      throw new WatermarkFormatError(where, 'not JSON');
    }
    const d = doc as Partial<WatermarkDocument> | Partial<WatermarkDocumentV1> | null;
    if (typeof d !== 'object' || d === null) throw new WatermarkFormatError(where, 'not a JSON object');
    if (d.version !== WATERMARK_VERSION && d.version !== 1) {
      throw new WatermarkFormatError(
        where,
        `version ${JSON.stringify(d.version)} is not ${WATERMARK_VERSION} (a newer collector wrote it?)`,
      );
    }
    const owner = d as { tenantId?: unknown; contentType?: unknown };
    if (owner.tenantId !== tenantId || owner.contentType !== contentType) {
      throw new WatermarkFormatError(
        where,
        `it belongs to ${String(owner.tenantId)} / ${String(owner.contentType)}`,
      );
    }
    if (d.cursor !== null && (typeof d.cursor !== 'string' || Number.isNaN(Date.parse(d.cursor)))) {
      throw new WatermarkFormatError(where, 'cursor is not a time');
    }
    if (d.version === 1) return Watermark.fromV1(d as WatermarkDocumentV1, where, tenantId, contentType);
    const v2 = d as Partial<WatermarkDocument>;
    if (!Array.isArray(v2.quarantine)) throw new WatermarkFormatError(where, 'quarantine is missing');
    if (typeof v2.sweep !== 'object' || v2.sweep === null) {
      throw new WatermarkFormatError(where, 'sweep is missing');
    }
    return new Watermark(tenantId, contentType, v2 as WatermarkDocument);
  }

  private static fromV1(
    d: WatermarkDocumentV1,
    where: string,
    tenantId: string,
    contentType: ContentType,
  ): Watermark {
    if (typeof d.seen !== 'object' || d.seen === null)
      throw new WatermarkFormatError(where, 'seen is missing');
    const w = new Watermark(tenantId, contentType, {
      version: WATERMARK_VERSION,
      tenantId,
      contentType,
      cursor: d.cursor,
      origin: null,
      subscription: d.subscription,
      resume: null,
      sweep: EMPTY_SWEEP,
      quarantine: [],
      gaps: d.gaps ?? [],
      gapCount: d.gapCount ?? 0,
      lastRun: null,
      updatedAt: '',
    });
    for (const [second, hashes] of Object.entries(d.seen)) {
      for (const h of hashes) if (/^[0-9a-f]{16}$/.test(h)) w.legacySeen.push([h, second]);
    }
    w.fromVersion1 = true;
    return w;
  }
}
