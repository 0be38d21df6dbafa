const DAY_MS = 24 * 3_600_000;

export interface BlobRef {
  contentType: string;
  /** ISO time. */
  contentCreated: string;
}

export interface RequestCount {
  /** Listing pages (`GET /subscriptions/content`). */
  list: number;
  /** Content blob fetches. */
  content: number;
  total: number;
}

/**
 * The fewest Management API requests that can collect these blobs: one fetch per blob, plus one listing
 * request per page for the 24-hour windows needed to cover them — per content type, consecutive windows
 * from its oldest blob, each listed in ceil(blobs / pageSize) pages (an empty window still takes one).
 */
export function minimumRequests(
  blobs: readonly BlobRef[],
  pageSize: number,
  windowMs = DAY_MS,
): RequestCount {
  const byType = new Map<string, number[]>();
  for (const b of blobs) {
    const list = byType.get(b.contentType) ?? [];
    list.push(Date.parse(b.contentCreated));
    byType.set(b.contentType, list);
  }
  let list = 0;
  for (const times of byType.values()) {
    const first = times.reduce((a, b) => Math.min(a, b));
    const last = times.reduce((a, b) => Math.max(a, b));
    const windows = Math.floor((last - first) / windowMs) + 1;
    const perWindow = new Array<number>(windows).fill(0);
    for (const t of times) perWindow[Math.floor((t - first) / windowMs)]! += 1;
    for (const n of perWindow) list += Math.max(1, Math.ceil(n / pageSize));
  }
  return { list, content: blobs.length, total: list + blobs.length };
}

/** Routes of the simulator's request log: `content` is the listing, `blob` a content fetch. */
export function apiRequestsFromLog(
  byRoute: Record<string, number>,
): RequestCount & { other: Record<string, number> } {
  const list = byRoute.content ?? 0;
  const content = byRoute.blob ?? 0;
  const other = Object.fromEntries(Object.entries(byRoute).filter(([k]) => k !== 'content' && k !== 'blob'));
  return { list, content, total: list + content, other };
}
