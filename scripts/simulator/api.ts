import { isContentType } from '../../shared/contentTypes';
import type { ContentBlobRef, ContentType } from '../../shared/contentTypes';
import { isGuid } from '../../shared/guid';
import { bodyChunks, bodyText } from './body';
import type { SimClock } from './clock';
import type { BlobMeta, ContentStore } from './content';
import { JSON_TYPE, afError, json } from './http';
import type { SimResponse } from './http';
import { decodePageToken, listPage } from './listing';
import type { RateLimiter } from './ratelimit';
import type { ResolvedScenario } from './scenario';
import type { Subscriptions } from './subscriptions';
import { DAY, HOUR, parseApiTime } from './time';
import type { TokenService } from './tokens';
import { unreadableResponse } from './unreadable';

export type ApiOp = 'start' | 'stop' | 'list' | 'content' | 'blob';

export interface ApiRequest {
  method: string;
  op: ApiOp;
  /** Tenant as written in the URL. */
  tenant: string;
  contentId: string | undefined;
  query: URLSearchParams;
  authorization: string | undefined;
  body: string;
}

export interface ApiResult extends SimResponse {
  /** Set when a blob is answered in full, for ground truth. */
  servedBlob?: BlobMeta;
}

export interface ApiDeps {
  scenario: ResolvedScenario;
  store: ContentStore;
  subscriptions: Subscriptions;
  tokens: TokenService;
  clock: SimClock;
  rateLimiter: RateLimiter;
  baseUrl: () => string;
}

/** Real start times may be up to about an hour older than 7 days before the service refuses them. */
const START_GRACE = HOUR;
/** Method names the service puts in AF429 messages (GetBlob and GetContents are observed ones). */
export const METHOD_NAMES: Record<ApiOp, string> = {
  start: 'StartSubscription',
  stop: 'StopSubscription',
  list: 'ListSubscriptions',
  content: 'GetContents',
  blob: 'GetBlob',
};
/** What AF429 names as publisher when the request carried no PublisherIdentifier. */
export const ZERO_GUID = '00000000-0000-0000-0000-000000000000';

/** Query parameters are matched case-insensitively, as the ASP.NET service binds them. */
export function queryParam(q: URLSearchParams, name: string): string | undefined {
  const n = name.toLowerCase();
  for (const [k, v] of q) if (k.toLowerCase() === n) return v;
  return undefined;
}

/** Keeps `$` readable in contentUris like the service does; everything else is percent-encoded. */
export function encodeContentId(contentId: string): string {
  return encodeURIComponent(contentId).replace(/%24/g, '$');
}

export function apiRoot(baseUrl: string, tenantId: string): string {
  return `${baseUrl}/api/v1.0/${tenantId}/activity/feed`;
}

function unauthorized(reason: string): SimResponse {
  return {
    ...json(
      401,
      { Message: 'Authorization has been denied for this request.' },
      { 'WWW-Authenticate': `Bearer error="invalid_token", error_description="${reason}"` },
    ),
    errorCode: 'Unauthorized',
  };
}

function contentTypeParam(q: URLSearchParams): { ct: ContentType } | { error: SimResponse } {
  const ct = queryParam(q, 'contentType');
  if (ct === undefined || ct === '') return { error: afError('AF20001', 'contentType') };
  if (!isContentType(ct)) return { error: afError('AF20020') };
  return { ct };
}

export function handleApi(req: ApiRequest, deps: ApiDeps): ApiResult {
  const auth = deps.tokens.check(req.authorization);
  if (!auth.ok) return unauthorized(auth.reason);
  if (!isGuid(req.tenant)) return afError('AF20013', req.tenant);
  const tenantId = req.tenant.toLowerCase();
  if (auth.token.tenantId !== tenantId) return afError('AF20010', req.tenant, auth.token.tenantId);
  if (!auth.token.permissions.includes('ActivityFeed.Read')) {
    return afError('AF10001', auth.token.permissions.join(','));
  }
  if (!deps.rateLimiter.take(tenantId)) {
    return afError('AF429', METHOD_NAMES[req.op], queryParam(req.query, 'PublisherIdentifier') ?? ZERO_GUID);
  }
  const wanted = req.op === 'start' || req.op === 'stop' ? 'POST' : 'GET';
  if (req.method !== wanted) {
    return {
      ...json(
        405,
        { Message: `The requested resource does not support http method '${req.method}'.` },
        { Allow: wanted },
      ),
      errorCode: 'MethodNotAllowed',
    };
  }
  switch (req.op) {
    case 'start':
      return start(req, tenantId, deps);
    case 'stop':
      return stop(req, tenantId, deps);
    case 'list':
      return json(200, deps.subscriptions.list(tenantId));
    case 'content':
      return content(req, tenantId, deps);
    case 'blob':
      return blob(req, tenantId, deps);
  }
}

function start(req: ApiRequest, tenantId: string, deps: ApiDeps): ApiResult {
  const p = contentTypeParam(req.query);
  if ('error' in p) return p.error;
  let webhook: { status: string; address: string; authId: string | null; expiration: string | null } | null =
    null;
  if (req.body.trim() !== '') {
    let parsed: unknown;
    try {
      parsed = JSON.parse(req.body);
    } catch {
      return afError('AF20002', 'body', 'json');
    }
    const w = (parsed as { webhook?: { address?: unknown; authId?: unknown; expiration?: unknown } } | null)
      ?.webhook;
    if (w) {
      const address = typeof w.address === 'string' ? w.address : '';
      if (!address.toLowerCase().startsWith('https://')) {
        return afError('AF20021', address, 'The address must begin with HTTPS.');
      }
      // Webhook delivery is not simulated; the subscription just remembers it.
      webhook = {
        status: 'enabled',
        address,
        authId: typeof w.authId === 'string' ? w.authId : null,
        expiration: typeof w.expiration === 'string' && w.expiration !== '' ? w.expiration : null,
      };
    }
  }
  if (!deps.subscriptions.start(tenantId, p.ct, webhook)) return afError('AF20024');
  return json(200, { contentType: p.ct, status: 'enabled', webhook });
}

function stop(req: ApiRequest, tenantId: string, deps: ApiDeps): ApiResult {
  const p = contentTypeParam(req.query);
  if ('error' in p) return p.error;
  if (!deps.subscriptions.stop(tenantId, p.ct)) return afError('AF20022');
  return { status: 200, body: '' };
}

function content(req: ApiRequest, tenantId: string, deps: ApiDeps): ApiResult {
  const p = contentTypeParam(req.query);
  if ('error' in p) return p.error;
  const state = deps.subscriptions.state(tenantId, p.ct);
  if (state === 'none') return afError('AF20022');
  if (state === 'disabled') {
    const by = deps.subscriptions.disabledBy(tenantId, p.ct);
    // A client's own stop leaves no subscription to list; an admin's disable is reported as such.
    return by ? afError('AF20023', by) : afError('AF20022');
  }

  const now = deps.clock.now().getTime();
  const startText = queryParam(req.query, 'startTime');
  const endText = queryParam(req.query, 'endTime');
  const nextPage = queryParam(req.query, 'nextPage');
  let window: { start: number; end: number };
  if (startText === undefined && endText === undefined) {
    window = { start: now - DAY, end: now };
  } else {
    if (startText === undefined || endText === undefined) return afError('AF20030');
    const s = parseApiTime(startText);
    if (s === undefined) return afError('AF20002', 'startTime', 'datetime');
    const e = parseApiTime(endText);
    if (e === undefined) return afError('AF20002', 'endTime', 'datetime');
    if (s >= e) return afError('AF20055');
    if (e - s > DAY) return afError('AF20030');
    if (s < now - 7 * DAY - START_GRACE) return afError('AF20030');
    window = { start: s, end: e };
  }

  let cursor = { asOf: now, offset: 0 };
  if (nextPage !== undefined) {
    const c = decodePageToken(nextPage);
    // A token from the future would reveal blobs that are not available yet.
    if (!c || c.asOf > now) return afError('AF20031', nextPage);
    cursor = c;
  }
  const pageSize = deps.scenario.listing.pageSize;
  const page = listPage(deps.store.stream(tenantId, p.ct), window, cursor, pageSize);
  if (!page) return afError('AF20031', nextPage ?? '');

  const base = deps.baseUrl();
  const items: ContentBlobRef[] = page.items.map((b) => ({
    contentType: b.contentType,
    contentId: b.contentId,
    contentUri: `${apiRoot(base, tenantId)}/audit/${encodeContentId(b.contentId)}`,
    contentCreated: new Date(b.contentCreated).toISOString(),
    contentExpiration: new Date(b.contentExpiration).toISOString(),
  }));
  const headers: Record<string, string> = {};
  if (page.nextToken) {
    const q = new URLSearchParams();
    q.set('contentType', p.ct);
    // An implicit window is made explicit so every page lists the same window.
    q.set('startTime', startText ?? new Date(window.start).toISOString().slice(0, 19));
    q.set('endTime', endText ?? new Date(window.end).toISOString().slice(0, 19));
    q.set('nextPage', page.nextToken);
    const pub = queryParam(req.query, 'PublisherIdentifier');
    if (pub !== undefined) q.set('PublisherIdentifier', pub);
    const mode = deps.scenario.listing.nextPageHeader;
    const name = mode === 'alternate' ? (page.pageIndex % 2 === 0 ? 'NextPageUri' : 'NextPageUrl') : mode;
    headers[name] = `${apiRoot(base, tenantId)}/subscriptions/content?${q.toString()}`;
  }
  return json(200, items, headers);
}

function blob(req: ApiRequest, tenantId: string, deps: ApiDeps): ApiResult {
  const contentId = req.contentId ?? '';
  if (contentId === '') return afError('AF20052', contentId);
  const meta = deps.store.get(tenantId, contentId);
  const now = deps.clock.now().getTime();
  // Content that is not available yet does not exist as far as the service is concerned, and content that
  // expired before it became available never did: no client could have seen it listed.
  if (!meta || meta.availableAt > now || meta.availableAt >= meta.contentExpiration) {
    return afError('AF20050', contentId);
  }
  if (now >= meta.contentExpiration) return afError('AF20051', contentId);
  const texts = (): Iterable<string> => deps.store.recordTexts(meta);
  if (meta.unreadable && now < meta.unreadable.until) {
    return unreadableResponse(meta.unreadable, () => bodyText(texts()));
  }
  const headers = { 'Content-Type': JSON_TYPE };
  if (meta.bulky) {
    const approxBytes = deps.scenario.blobs.bulky.bytes;
    return {
      status: 200,
      headers,
      stream: { chunks: () => bodyChunks(texts()), approxBytes },
      servedBlob: meta,
    };
  }
  return { status: 200, headers, body: bodyText(texts()), servedBlob: meta };
}
