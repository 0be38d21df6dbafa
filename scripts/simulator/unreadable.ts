import { afError } from './http';
import { JSON_TYPE } from './http';
import type { SimResponse } from './http';
import { Rng } from './rng';
import { HOUR } from './time';

/**
 * Ways a listed blob can fail to yield records while it is still within retention:
 * - `wrong-shape`: 200, JSON, but an object (`{"value":[…]}` or `{"error":…}`) instead of an array;
 * - `not-json`: 200 with an HTML error page (some say text/html, some claim JSON);
 * - `truncated`: 200 with the JSON array cut off, Content-Length matching the cut body;
 * - `server-error`: 500 AF50000, every time.
 */
export type UnreadableKind = 'wrong-shape' | 'not-json' | 'truncated' | 'server-error';
export const UNREADABLE_KINDS: readonly UnreadableKind[] = [
  'wrong-shape',
  'not-json',
  'truncated',
  'server-error',
];

export interface ResolvedUnreadableSpec {
  fraction: number;
  kinds: UnreadableKind[];
  /** Hours after availability until the blob reads normally; null: never (until expiry). */
  recoverAfterHours: [number, number] | null;
  /** Share of the unreadable blobs that stay so until expiry even when recoverAfterHours is set. */
  permanentFraction: number;
}

export interface Unreadable {
  kind: UnreadableKind;
  /** Epoch ms from which the blob reads normally; Infinity when it never does. */
  until: number;
  /** Picks among a kind's shapes (wrong-shape: value/error; not-json: content type). */
  variant: number;
  /** truncated: share of the body that is sent. */
  cut: number;
}

/**
 * Keyed by seed and contentId, not drawn from the plan's Rng, so switching unreadable blobs on or off
 * leaves every other blob's content as it was.
 */
export function planUnreadable(
  seed: string,
  contentId: string,
  availableAt: number,
  spec: ResolvedUnreadableSpec,
): Unreadable | undefined {
  if (spec.fraction <= 0 || spec.kinds.length === 0) return undefined;
  const rng = new Rng(`${seed}:unreadable:${contentId}`);
  if (!rng.chance(spec.fraction)) return undefined;
  const kind = rng.pick(spec.kinds);
  const variant = rng.int(0, 1);
  const cut = 0.2 + 0.6 * rng.next();
  const recoverAt = rng.next();
  const permanent = rng.chance(spec.permanentFraction);
  const r = spec.recoverAfterHours;
  const until =
    r === null || permanent ? Infinity : availableAt + Math.round((r[0] + (r[1] - r[0]) * recoverAt) * HOUR);
  return { kind, until, variant, cut };
}

/** What ground truth reports: the ISO time the blob becomes readable, or 'expiry' when it never does. */
export function unreadableUntil(u: Unreadable, contentExpiration: number): string {
  return u.until >= contentExpiration ? 'expiry' : new Date(u.until).toISOString();
}

const HTML_PAGE =
  '<!DOCTYPE html>\r\n<html><head><title>503 Service Unavailable</title></head>\r\n' +
  '<body><h1>Service Unavailable</h1><p>The server is temporarily unable to service your request. ' +
  'Please try again later.</p><hr><p>Reference&#32;&#35;18&#46;4c1f2e17&#46;1763640000</p></body></html>\r\n';

/** The answer an unreadable blob gives; `body` is its real JSON text, built only when a kind needs it. */
export function unreadableResponse(u: Unreadable, body: () => string): SimResponse {
  switch (u.kind) {
    case 'server-error':
      return afError('AF50000');
    case 'not-json':
      return {
        status: 200,
        headers: { 'Content-Type': u.variant === 0 ? 'text/html; charset=utf-8' : JSON_TYPE },
        body: HTML_PAGE,
        errorCode: 'unreadable:not-json',
      };
    case 'wrong-shape':
      return {
        status: 200,
        headers: { 'Content-Type': JSON_TYPE },
        body:
          u.variant === 0
            ? `{"value":${body()}}`
            : '{"error":{"code":"AF50000","message":"An internal error occurred. Retry the request."}}',
        errorCode: 'unreadable:wrong-shape',
      };
    case 'truncated': {
      // Any proper prefix of an array text is invalid JSON: its closing bracket is the last byte.
      const full = Buffer.from(body());
      return {
        status: 200,
        headers: { 'Content-Type': JSON_TYPE },
        body: full.subarray(0, Math.max(1, Math.floor(full.length * u.cut))),
        errorCode: 'unreadable:truncated',
      };
    }
  }
}
