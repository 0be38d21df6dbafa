import { createHash, randomUUID } from 'node:crypto';
import { RestError, type ContainerClient } from '@azure/storage-blob';
import { CONTENT_TYPES, type ContentType } from '../contentTypes';
import { AuditfeedError } from '../errors';
import { readText, uploadGuarded } from '../storage/blobText';
import type { QueryWindow } from './windows';

/**
 * A backfill's state, persisted beside the watermarks (`watermarks/{tenantId}/backfill/{range}.json`),
 * read with its ETag and written with If-Match like the watermark: a run that loses a race re-reads and
 * stops, it never overwrites what another run saved. The engine saves after every step that costs
 * something to redo (a query created, a page sent), so a crash anywhere redoes at most one page.
 */

export const PROGRESS_VERSION = 1;

/**
 * pending → created (query id kept) → paging (nextLink, pages) → done | partial | failed; `split` when the
 * query exceeded the record limit and the window was replaced by its two halves (listed after it).
 */
export type WindowState = 'pending' | 'created' | 'paging' | 'done' | 'partial' | 'failed' | 'split';

export interface WindowProgress extends QueryWindow {
  state: WindowState;
  /** The window's current query (created, paging). */
  queryId?: string;
  /** When that query was created: one still not finished long after is given up (re-created). */
  queryCreatedAt?: string;
  /** Queries created for this window (a failed one is re-created a bounded number of times). */
  queries: number;
  /** Where paging continues; absent before the first page. */
  nextLink?: string;
  pages: number;
  /** Records read from `/records` (all content types). */
  records: number;
  /** Records sent to the writer, per content type. */
  sent: Partial<Record<ContentType, number>>;
  /** Records of content types not requested (left out on purpose). */
  skipped: number;
  /** Records the mapping refused, per reason. */
  refused: Record<string, number>;
  /** The query stopped at its record limit at the floor: what was read is stored, the rest is missing. */
  limitExceeded?: boolean;
  /** Why the window failed or is partial. */
  reason?: string;
  finishedAt?: string;
}

export interface BackfillRequest {
  tenantId: string;
  from: string;
  to: string;
  contentTypes: ContentType[];
  createdAt: string;
  /** Who asked: "cli user@host", "gaps", "submitted by …". */
  createdBy: string;
  /** Window length and floor (ms) the windows were planned with. */
  windowMs: number;
  floorMs: number;
  /** For --gaps: the recorded gaps this backfill fills (contentType + gap start/end). */
  fills?: GapRef[];
}

export interface GapRef {
  contentType: ContentType;
  start: string;
  end: string;
}

export interface BackfillProgress {
  version: typeof PROGRESS_VERSION;
  request: BackfillRequest;
  windows: WindowProgress[];
  /** Creation times of this backfill's queries in the last 24 hours (the submission budget). */
  recentQueries: string[];
  /** Requests made to the audit log query API, over all runs. */
  requests: number;
  /** The run working on it and until when its claim holds (one run at a time). */
  owner?: { runId: string; until: string };
  /** Set once every window is done, partial or failed. */
  finishedAt?: string;
  /** The error that ended the last run (cleared by a run that ends without one); status shows it. */
  lastError?: BackfillError;
  updatedAt: string;
  /** Random per write: a write whose answer was lost recognises itself (blobText.uploadGuarded). */
  writeId?: string;
}

export interface BackfillError {
  at: string;
  code: string;
  message: string;
}

export interface LoadedProgress {
  progress: BackfillProgress | undefined;
  etag: string | undefined;
}

/** Someone else saved this backfill's progress since it was read: this run stops and leaves it to them. */
export class ProgressConflictError extends AuditfeedError {
  constructor(readonly blobName: string) {
    super(
      `Backfill progress ${blobName} was changed by another run; this run stops and leaves the backfill to it ` +
        '(run the command again once that run has stopped to continue).',
      'BackfillProgressConflict',
    );
  }
}

export class ProgressFormatError extends AuditfeedError {
  constructor(where: string, problem: string) {
    super(
      `Backfill progress ${where} cannot be read: ${problem}. Delete the blob to start that backfill over ` +
        '(records already stored are not duplicated by a second run).',
      'BackfillProgressFormat',
    );
  }
}

/** `2026-11-20T00:00:00.000Z` → `20261120T000000Z`: sorts by time, no characters blob tools dislike. */
function compact(iso: string): string {
  return iso.replace(/\.\d+Z$/, 'Z').replace(/[-:]/g, '');
}

/** The blob name of a backfill: tenant, range and (when not all five) the content types. */
export function progressBlobName(
  tenantId: string,
  from: string,
  to: string,
  contentTypes: readonly ContentType[],
): string {
  const all = CONTENT_TYPES.every((c) => contentTypes.includes(c));
  const types = all
    ? ''
    : `.${createHash('sha256')
        .update([...contentTypes].sort().join(','))
        .digest('hex')
        .slice(0, 8)}`;
  return `${tenantId}/backfill/${compact(from)}_${compact(to)}${types}.json`;
}

export const BACKFILL_PREFIX = 'backfill/';

export class BackfillProgressStore {
  constructor(readonly container: ContainerClient) {}

  async ensureContainer(): Promise<void> {
    await this.container.createIfNotExists();
  }

  blobName(request: Pick<BackfillRequest, 'tenantId' | 'from' | 'to' | 'contentTypes'>): string {
    return progressBlobName(request.tenantId, request.from, request.to, request.contentTypes);
  }

  async load(name: string): Promise<LoadedProgress> {
    try {
      // One request, so the ETag is the one of the bytes we parse.
      const response = await this.container.getBlockBlobClient(name).download();
      const text = await readText(response.readableStreamBody);
      return {
        progress: parseProgress(text, `${this.container.containerName}/${name}`),
        etag: response.etag,
      };
    } catch (e) {
      if (e instanceof RestError && e.statusCode === 404) return { progress: undefined, etag: undefined };
      throw e;
    }
  }

  /** Saves and returns the new ETag; throws ProgressConflictError when another run saved first. */
  async save(name: string, progress: BackfillProgress, etag: string | undefined, now: Date): Promise<string> {
    const body = JSON.stringify({ ...progress, updatedAt: now.toISOString(), writeId: randomUUID() });
    return uploadGuarded(
      this.container.getBlockBlobClient(name),
      body,
      etag,
      () => new ProgressConflictError(`${this.container.containerName}/${name}`),
    );
  }

  /** Every backfill of a tenant (for status and for --gaps: which gaps a backfill already filled). */
  async list(tenantId: string): Promise<Array<{ name: string; progress: BackfillProgress }>> {
    const found: Array<{ name: string; progress: BackfillProgress }> = [];
    try {
      for await (const item of this.container.listBlobsFlat({ prefix: `${tenantId}/${BACKFILL_PREFIX}` })) {
        if (!item.name.endsWith('.json')) continue;
        const { progress } = await this.load(item.name).catch(() => ({ progress: undefined }));
        if (progress) found.push({ name: item.name, progress });
      }
    } catch (e) {
      if (e instanceof RestError && e.statusCode === 404) return found;
      throw e;
    }
    return found;
  }
}

export function parseProgress(text: string, where: string): BackfillProgress {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new ProgressFormatError(where, 'not JSON');
  }
  const d = doc as Partial<BackfillProgress> | null;
  if (typeof d !== 'object' || d === null) throw new ProgressFormatError(where, 'not a JSON object');
  if (d.version !== PROGRESS_VERSION)
    throw new ProgressFormatError(
      where,
      `version ${JSON.stringify(d.version)} is not ${PROGRESS_VERSION} (a newer auditfeed wrote it?)`,
    );
  const r = d.request;
  if (
    typeof r !== 'object' ||
    r === null ||
    typeof r.tenantId !== 'string' ||
    Number.isNaN(Date.parse(r.from)) ||
    Number.isNaN(Date.parse(r.to)) ||
    !Array.isArray(r.contentTypes)
  )
    throw new ProgressFormatError(where, 'request is missing or incomplete');
  if (!Array.isArray(d.windows)) throw new ProgressFormatError(where, 'windows are missing');
  return { recentQueries: [], requests: 0, ...d } as BackfillProgress;
}

/** A new window entry, nothing done yet. */
export function pendingWindow(w: QueryWindow): WindowProgress {
  return {
    start: w.start,
    end: w.end,
    state: 'pending',
    queries: 0,
    pages: 0,
    records: 0,
    sent: {},
    skipped: 0,
    refused: {},
  };
}

export const FINISHED_STATES: ReadonlySet<WindowState> = new Set(['done', 'partial', 'failed', 'split']);

/** Counts over a backfill's windows (the summary, the progress bar, status). */
export interface ProgressCounts {
  windows: number;
  done: number;
  partial: number;
  failed: number;
  open: number;
  /** Windows replaced by their halves (each cost a query). */
  split: number;
  /** Milliseconds of the range in finished windows (done, partial, failed), for the ETA. */
  finishedMs: number;
  totalMs: number;
  records: number;
  sent: Partial<Record<ContentType, number>>;
  skipped: number;
  refused: Record<string, number>;
}

export function countProgress(p: BackfillProgress): ProgressCounts {
  const c: ProgressCounts = {
    windows: 0,
    done: 0,
    partial: 0,
    failed: 0,
    open: 0,
    split: 0,
    finishedMs: 0,
    totalMs: Date.parse(p.request.to) - Date.parse(p.request.from),
    records: 0,
    sent: {},
    skipped: 0,
    refused: {},
  };
  for (const w of p.windows) {
    c.records += w.records;
    c.skipped += w.skipped;
    for (const [ct, n] of Object.entries(w.sent))
      c.sent[ct as ContentType] = (c.sent[ct as ContentType] ?? 0) + n;
    for (const [reason, n] of Object.entries(w.refused)) c.refused[reason] = (c.refused[reason] ?? 0) + n;
    if (w.state === 'split') {
      c.split++;
      continue;
    }
    c.windows++;
    if (w.state === 'done') c.done++;
    else if (w.state === 'partial') c.partial++;
    else if (w.state === 'failed') c.failed++;
    else c.open++;
    if (FINISHED_STATES.has(w.state)) c.finishedMs += Date.parse(w.end) - Date.parse(w.start);
  }
  return c;
}
