import type { ContentBlobRef, ContentType } from '../contentTypes';
import type { Checked } from '../http/apiTransport';

/**
 * Shape checks for the documented responses. Each returns an error description, or the typed value;
 * the client turns a description into a MalformedResponseError naming the request.
 */

const ok = <T>(value: T): Checked<T> => ({ ok: true, value });
const bad = <T>(problem: string): Checked<T> => ({ ok: false, problem });

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isDateString(v: unknown): v is string {
  return typeof v === 'string' && !Number.isNaN(Date.parse(v));
}

export interface SubscriptionState {
  contentType: string;
  status: string;
  webhook: unknown;
}

export function checkSubscription(body: unknown): Checked<SubscriptionState> {
  if (!isObject(body)) return bad('expected a JSON object');
  if (typeof body.contentType !== 'string' || typeof body.status !== 'string') {
    return bad('expected contentType and status strings');
  }
  return ok({ contentType: body.contentType, status: body.status, webhook: body.webhook ?? null });
}

export function checkSubscriptionList(body: unknown): Checked<SubscriptionState[]> {
  if (!Array.isArray(body)) return bad('expected a JSON array');
  const result: SubscriptionState[] = [];
  for (const [i, item] of body.entries()) {
    const checked = checkSubscription(item);
    if (!checked.ok) return bad(`item ${i}: ${checked.problem}`);
    result.push(checked.value);
  }
  return ok(result);
}

export function checkContentList(body: unknown, contentType: ContentType): Checked<ContentBlobRef[]> {
  if (!Array.isArray(body)) return bad('expected a JSON array of content blobs');
  for (const [i, item] of body.entries()) {
    if (!isObject(item)) return bad(`item ${i} is not an object`);
    if (item.contentType !== contentType) {
      return bad(`item ${i} has contentType ${JSON.stringify(item.contentType)}, expected ${contentType}`);
    }
    if (typeof item.contentId !== 'string' || item.contentId === '') return bad(`item ${i} has no contentId`);
    if (typeof item.contentUri !== 'string' || !URL.canParse(item.contentUri)) {
      return bad(`item ${i} has no valid contentUri`);
    }
    if (!isDateString(item.contentCreated)) return bad(`item ${i} has no valid contentCreated`);
    if (!isDateString(item.contentExpiration)) return bad(`item ${i} has no valid contentExpiration`);
  }
  return ok(
    (body as Record<string, string>[]).map((item) => ({
      contentType,
      contentId: item.contentId as string,
      contentUri: item.contentUri as string,
      contentCreated: item.contentCreated as string,
      contentExpiration: item.contentExpiration as string,
    })),
  );
}
