import type { BlobMeta } from './content';
import { parseStamp17, stamp17 } from './time';

/**
 * A listing is a snapshot taken when its first page is requested (`asOf`): the blobs available and
 * not expired at that instant, in the order they became available. Later pages re-derive the same
 * snapshot from the nextPage token, so blobs that arrive mid-listing never shift or repeat items.
 */
export interface ListingPage {
  items: BlobMeta[];
  /** Set when more items follow. */
  nextToken: string | undefined;
  pageIndex: number;
}

export interface PageCursor {
  asOf: number;
  offset: number;
}

/** Token shape borrowed from the real one (`2015101900R022885001761`): a timestamp, `R`, a number. */
export function encodePageToken(c: PageCursor): string {
  return `${stamp17(c.asOf)}R${String(c.offset).padStart(9, '0')}`;
}

export function decodePageToken(token: string): PageCursor | undefined {
  const m = /^(\d{17})R(\d{9})$/.exec(token);
  if (!m) return undefined;
  const asOf = parseStamp17(m[1] as string);
  if (asOf === undefined) return undefined;
  return { asOf, offset: Number(m[2]) };
}

export function listPage(
  stream: readonly BlobMeta[],
  window: { start: number; end: number },
  cursor: PageCursor,
  pageSize: number,
): ListingPage | undefined {
  const snapshot: BlobMeta[] = [];
  for (const b of stream) {
    // Streams are sorted by availableAt, so nothing after this point is in the snapshot.
    if (b.availableAt > cursor.asOf) break;
    if (cursor.asOf >= b.contentExpiration) continue;
    if (b.contentCreated >= window.start && b.contentCreated < window.end) snapshot.push(b);
  }
  if (cursor.offset > snapshot.length) return undefined;
  const next = cursor.offset + pageSize;
  return {
    items: snapshot.slice(cursor.offset, next),
    nextToken: next < snapshot.length ? encodePageToken({ asOf: cursor.asOf, offset: next }) : undefined,
    pageIndex: Math.floor(cursor.offset / pageSize),
  };
}
