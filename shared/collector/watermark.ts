import { createHash } from 'node:crypto';
import type { ContentType } from '../contentTypes';
import { AuditfeedError } from '../errors';
import type { Gap } from './windows';
import type { ContentTypeRunSummary } from './summary';

/**
 * The per tenant × content type cursor (DESIGN §5), stored as versioned JSON in
 * `watermarks/{tenantId}/{contentType}.json`.
 *
 * `cursor`: listing is complete for content created before it. `seen`: content blobs already enqueued
 * whose contentCreated is within the overlap that the next run lists again; kept as 16-hex-digit hashes
 * of the contentId grouped by contentCreated second, so a busy tenant's set stays small.
 */
export const WATERMARK_VERSION = 1;
/** Recorded gaps kept in the watermark (the newest); the count keeps the total. */
const MAX_GAPS_KEPT = 200;

export interface WatermarkDocument {
  version: typeof WATERMARK_VERSION;
  tenantId: string;
  contentType: ContentType;
  cursor: string | null;
  seen: Record<string, string[]>;
  subscription: { enabled: boolean; confirmedAt: string | null };
  gaps: Gap[];
  gapCount: number;
  lastRun: ContentTypeRunSummary | null;
  updatedAt: string;
}

export class WatermarkFormatError extends AuditfeedError {
  constructor(where: string, problem: string) {
    super(
      `Watermark ${where} cannot be read: ${problem}. Fix or delete the blob to start that content type over.`,
      'WatermarkFormat',
    );
  }
}

export function hashContentId(contentId: string): string {
  return createHash('sha256').update(contentId).digest('hex').slice(0, 16);
}

/** In-memory form of a watermark, with a fast recently-seen lookup. */
export class Watermark {
  cursor: Date | null;
  subscription: WatermarkDocument['subscription'];
  gaps: Gap[];
  gapCount: number;
  lastRun: ContentTypeRunSummary | null;
  private readonly seen = new Map<string, number>();

  constructor(
    readonly tenantId: string,
    readonly contentType: ContentType,
    doc?: WatermarkDocument,
  ) {
    this.cursor = doc?.cursor ? new Date(doc.cursor) : null;
    this.subscription = doc?.subscription ?? { enabled: false, confirmedAt: null };
    this.gaps = doc?.gaps ?? [];
    this.gapCount = doc?.gapCount ?? this.gaps.length;
    this.lastRun = doc?.lastRun ?? null;
    for (const [second, hashes] of Object.entries(doc?.seen ?? {})) {
      const at = Date.parse(second);
      for (const h of hashes) this.seen.set(h, at);
    }
  }

  hasSeen(contentId: string): boolean {
    return this.seen.has(hashContentId(contentId));
  }

  markSeen(contentId: string, contentCreated: string): void {
    this.seen.set(hashContentId(contentId), Math.floor(Date.parse(contentCreated) / 1000) * 1000);
  }

  get seenCount(): number {
    return this.seen.size;
  }

  /** Forgets blobs created before `before`: no later listing reaches back that far. */
  pruneSeen(before: Date): void {
    const limit = before.getTime();
    for (const [h, at] of this.seen) if (at < limit) this.seen.delete(h);
  }

  addGap(gap: Gap): void {
    this.gaps.push(gap);
    this.gapCount++;
    if (this.gaps.length > MAX_GAPS_KEPT) this.gaps.splice(0, this.gaps.length - MAX_GAPS_KEPT);
  }

  toDocument(now: Date): WatermarkDocument {
    const seen: Record<string, string[]> = {};
    for (const [h, at] of [...this.seen].sort((a, b) => a[1] - b[1])) {
      const key = new Date(at).toISOString().replace('.000Z', 'Z');
      (seen[key] ??= []).push(h);
    }
    return {
      version: WATERMARK_VERSION,
      tenantId: this.tenantId,
      contentType: this.contentType,
      cursor: this.cursor?.toISOString() ?? null,
      seen,
      subscription: this.subscription,
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
    const d = doc as Partial<WatermarkDocument> | null;
    if (typeof d !== 'object' || d === null) throw new WatermarkFormatError(where, 'not a JSON object');
    if (d.version !== WATERMARK_VERSION) {
      throw new WatermarkFormatError(
        where,
        `version ${JSON.stringify(d.version)} is not ${WATERMARK_VERSION}`,
      );
    }
    if (d.tenantId !== tenantId || d.contentType !== contentType) {
      throw new WatermarkFormatError(where, `it belongs to ${String(d.tenantId)} / ${String(d.contentType)}`);
    }
    if (d.cursor !== null && (typeof d.cursor !== 'string' || Number.isNaN(Date.parse(d.cursor)))) {
      throw new WatermarkFormatError(where, 'cursor is not a time');
    }
    if (typeof d.seen !== 'object' || d.seen === null)
      throw new WatermarkFormatError(where, 'seen is missing');
    return new Watermark(tenantId, contentType, d as WatermarkDocument);
  }
}
