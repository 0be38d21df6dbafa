import { CONTENT_TYPES, type ContentType } from '../contentTypes';
import { isGuid } from '../guid';
import { BadMessageError, jsonObjectMessage } from '../messages/envelope';
import type { GapRef } from './progressStore';

/** Version of the backfill queue's messages; the function refuses versions it does not know. */
export const BACKFILL_MESSAGE_VERSION = 1;

/**
 * A stored backfill request (`auditfeed backfill --submit`) for the backfill function, and the continuation
 * it enqueues when its deadline comes first. The progress blob it names by tenant, range and content types
 * holds the state; the message only says which backfill to carry on.
 */
export interface BackfillMessage {
  v: typeof BACKFILL_MESSAGE_VERSION;
  kind: 'backfill';
  tenantId: string;
  from: string;
  to: string;
  contentTypes: ContentType[];
  windowMs: number;
  createdBy: string;
  fills?: GapRef[];
  /** Continuations carried so far (1 for the request itself). */
  run: number;
  enqueuedAt: string;
}

export function encodeBackfillMessage(m: BackfillMessage): string {
  return JSON.stringify(m);
}

const time = (v: unknown): boolean => typeof v === 'string' && !Number.isNaN(Date.parse(v));

/** Parses a backfill queue message; throws BadMessageError saying what is wrong. */
export function decodeBackfillMessage(message: unknown): BackfillMessage {
  const m = jsonObjectMessage(message, 'Backfill request');
  if (m.v !== BACKFILL_MESSAGE_VERSION || m.kind !== 'backfill') {
    throw new BadMessageError(
      `Backfill request has version ${JSON.stringify(m.v)} and kind ${JSON.stringify(m.kind)}; this function reads ` +
        `version ${BACKFILL_MESSAGE_VERSION} "backfill". Deploy the version that submitted it, or submit it again.`,
      'BackfillMessageVersion',
    );
  }
  const problems: string[] = [];
  if (typeof m.tenantId !== 'string' || !isGuid(m.tenantId)) problems.push('tenantId is not a GUID');
  if (!time(m.from) || !time(m.to)) problems.push('from and to must be times');
  else if (Date.parse(m.from as string) >= Date.parse(m.to as string)) problems.push('from is not before to');
  if (
    !Array.isArray(m.contentTypes) ||
    m.contentTypes.length === 0 ||
    !m.contentTypes.every((c) => (CONTENT_TYPES as readonly unknown[]).includes(c))
  )
    problems.push('contentTypes is not a list of content types');
  if (typeof m.windowMs !== 'number' || !(m.windowMs >= 60_000)) problems.push('windowMs is not a length');
  if (typeof m.createdBy !== 'string') problems.push('createdBy is missing');
  if (m.fills !== undefined && !Array.isArray(m.fills)) problems.push('fills is not a list');
  if (typeof m.run !== 'number' || !(m.run >= 1)) problems.push('run is not a positive number');
  if (!time(m.enqueuedAt)) problems.push('enqueuedAt is not a time');
  if (problems.length > 0)
    throw new BadMessageError(`Backfill request is malformed: ${problems.join('; ')}.`);
  return m as unknown as BackfillMessage;
}
