import { CONTENT_TYPES, type ContentType } from '../contentTypes';
import { isGuid } from '../guid';
import { BadMessageError, jsonObjectMessage } from './envelope';

/** Version of the work queue's task messages; a worker refuses versions it does not know. */
export const COLLECT_TASK_VERSION = 1;

/**
 * One unit of fanned-out collection (docs/scale.md): a tenant × content type, the task id its claim carries,
 * and the share of the interval the planner gave it.
 */
export interface CollectTask {
  v: typeof COLLECT_TASK_VERSION;
  kind: 'collect';
  tenantId: string;
  contentType: ContentType;
  taskId: string;
  /** How long the task may take new work, from when it starts. */
  deadlineMs: number;
  enqueuedAt: string;
}

export function encodeCollectTask(task: CollectTask): string {
  return JSON.stringify(task);
}

/** Parses a work queue message; throws BadMessageError saying what is wrong. */
export function decodeCollectTask(message: unknown): CollectTask {
  const t = jsonObjectMessage(message, 'Collection task');
  if (t.v !== COLLECT_TASK_VERSION || t.kind !== 'collect') {
    throw new BadMessageError(
      `Collection task has version ${JSON.stringify(t.v)} and kind ${JSON.stringify(t.kind)}; this worker reads ` +
        `version ${COLLECT_TASK_VERSION} "collect". Deploy the same version of timer and worker; the next timer ` +
        'run dispatches the task again.',
      'TaskVersion',
    );
  }
  const problems: string[] = [];
  if (typeof t.tenantId !== 'string' || !isGuid(t.tenantId)) problems.push('tenantId is not a GUID');
  if (typeof t.contentType !== 'string' || !(CONTENT_TYPES as readonly string[]).includes(t.contentType)) {
    problems.push('contentType is not a content type');
  }
  if (typeof t.taskId !== 'string' || t.taskId === '') problems.push('taskId is missing');
  if (typeof t.deadlineMs !== 'number' || !(t.deadlineMs > 0))
    problems.push('deadlineMs is not a positive number');
  if (typeof t.enqueuedAt !== 'string' || Number.isNaN(Date.parse(t.enqueuedAt))) {
    problems.push('enqueuedAt is not a time');
  }
  if (problems.length > 0) throw new BadMessageError(`Collection task is malformed: ${problems.join('; ')}.`);
  return t as unknown as CollectTask;
}
