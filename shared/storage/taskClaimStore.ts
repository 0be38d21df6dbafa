import { randomUUID } from 'node:crypto';
import { RestError, type ContainerClient } from '@azure/storage-blob';
import type { ContentType } from '../contentTypes';
import { readText, uploadGuarded } from './blobText';
import { AuditfeedError } from '../errors';

/**
 * Where one tenant × content type's collection task stands (docs/scale.md):
 * - queued: the planner enqueued task `taskId`; no worker has started it;
 * - running: a worker runs it;
 * - done: it finished (any outcome); the next planner run may dispatch a new task.
 * A queued or running claim past `until` belongs to a task that was lost (message gone, worker died):
 * the planner takes the unit back.
 */
export interface TaskClaim {
  taskId: string;
  state: 'queued' | 'running' | 'done';
  enqueuedAt: string;
  /** The last time the planner sent this same task again or found its message still waiting. */
  requeuedAt?: string;
  /** The queue message that carries the task, and its latest pop receipt (to ask whether it still waits). */
  messageId?: string;
  popReceipt?: string;
  startedAt?: string;
  finishedAt?: string;
  /** The task's outcome once done (the content type's run outcome). */
  outcome?: string;
  /** After this the claim no longer holds. */
  until: string;
  /**
   * Random per write: a write whose answer was lost recognises itself by it. Without it, two identical
   * writes (two deliveries of one task starting in the same millisecond) would both pass as won.
   */
  writeId?: string;
}

export interface LoadedClaim {
  claim: TaskClaim | undefined;
  etag: string | undefined;
}

/** Someone changed the claim since it was read: they own the unit now. */
export class ClaimConflictError extends AuditfeedError {
  constructor(readonly blobName: string) {
    super(`Task claim ${blobName} was changed by another planner or worker.`, 'ClaimConflict');
  }
}

/**
 * Claim blobs `watermarks/{tenantId}/{contentType}.task.json`, beside the watermark, read with their ETag
 * and written with If-Match (If-None-Match: * for the first): of two planners or two workers racing for
 * one unit, exactly one wins. The watermark itself keeps its own ETag guard inside the task.
 */
export class TaskClaimStore {
  constructor(private readonly container: ContainerClient) {}

  blobName(tenantId: string, contentType: ContentType): string {
    return `${tenantId}/${contentType}.task.json`;
  }

  async load(tenantId: string, contentType: ContentType): Promise<LoadedClaim> {
    const name = this.blobName(tenantId, contentType);
    try {
      const response = await this.container.getBlockBlobClient(name).download();
      const text = await readText(response.readableStreamBody);
      return { claim: parseClaim(text), etag: response.etag };
    } catch (e) {
      if (e instanceof RestError && e.statusCode === 404) return { claim: undefined, etag: undefined };
      throw e;
    }
  }

  /** Saves and returns the new ETag; throws ClaimConflictError when someone else wrote it first. */
  async save(
    tenantId: string,
    contentType: ContentType,
    claim: TaskClaim,
    etag: string | undefined,
  ): Promise<string> {
    const name = this.blobName(tenantId, contentType);
    const body = JSON.stringify({ ...claim, writeId: randomUUID() });
    return uploadGuarded(
      this.container.getBlockBlobClient(name),
      body,
      etag,
      () => new ClaimConflictError(`${this.container.containerName}/${name}`),
    );
  }
}

/** A claim that cannot be read holds nothing: the planner overwrites it (guarded by its ETag). */
function parseClaim(text: string): TaskClaim | undefined {
  try {
    const c = JSON.parse(text) as Partial<TaskClaim>;
    if (
      typeof c.taskId === 'string' &&
      (c.state === 'queued' || c.state === 'running' || c.state === 'done') &&
      typeof c.enqueuedAt === 'string' &&
      typeof c.until === 'string' &&
      !Number.isNaN(Date.parse(c.until))
    ) {
      return c as TaskClaim;
    }
  } catch {
    // fall through
  }
  return undefined;
}
