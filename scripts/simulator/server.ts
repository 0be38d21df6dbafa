import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { ContentType } from '../../shared/contentTypes';
import { handleAdmin } from './admin';
import { METHOD_NAMES, ZERO_GUID, apiRoot, encodeContentId, handleApi, queryParam } from './api';
import type { ApiOp, ApiResult } from './api';
import { createClock } from './clock';
import type { ClockOptions, SimClock } from './clock';
import { ContentStore } from './content';
import { afBody, afMessage, entraError, isAfCode } from './errors';
import { FaultRegistry } from './faults';
import { GraphAuditService, graphError, graphRouteOf } from './graphAudit';
import type { GraphAuditStats, GraphQueryInfo, GraphTruthFilter } from './graphAudit';
import type { FaultAction, FaultController, FaultRoute } from './faults';
import { JSON_TYPE, afError, json, readBody } from './http';
import type { SimResponse } from './http';
import { latencyFor, resolveLatency } from './latency';
import type { LatencySpec, ResolvedLatency } from './latency';
import { RateLimiter } from './ratelimit';
import type { TenantRateStats } from './ratelimit';
import { resolveScenario } from './scenario';
import type { ManagedIdentitySpec, ResolvedApp, ResolvedScenario, ScenarioSpec } from './scenario';
import { Subscriptions } from './subscriptions';
import type { SubscriptionInfo, SubscriptionState } from './subscriptions';
import { sendStream } from './streaming';
import { createSelfSignedCertificate } from './tls';
import { TokenService } from './tokens';
import { GroundTruth, RequestLog } from './truth';
import type { RequestLogEntry, Truth } from './truth';

export interface SimulatorOptions {
  scenario: ScenarioSpec;
  /** HTTPS with a fresh self-signed certificate for 127.0.0.1 / localhost / ::1. */
  tls?: boolean;
  /** Default 0: any free port. Always bound to 127.0.0.1. */
  port?: number;
  clock?: ClockOptions;
  /** Request log capacity (ring buffer); default 100,000. */
  requestLogSize?: number;
}

export interface SubscriptionControl {
  state(tenantId: string, contentType: ContentType): SubscriptionState;
  start(tenantId: string, contentType: ContentType): void;
  stop(tenantId: string, contentType: ContentType): void;
  /** Disabled by someone else: listing then answers AF20023 "The subscription was disabled by {by}." */
  disable(tenantId: string, contentType: ContentType, by?: string): void;
  list(tenantId: string): SubscriptionInfo[];
}

export interface ManagedIdentityEndpoint {
  /** Value for IDENTITY_ENDPOINT (App Service managed identity, API 2019-08-01). */
  endpoint: string;
  /** Value for IDENTITY_HEADER. */
  header: string;
  identities: Required<ManagedIdentitySpec>[];
  /** `{ IDENTITY_ENDPOINT, IDENTITY_HEADER }`, ready to merge into an environment. */
  env(): Record<string, string>;
}

/** Network latency added to responses, changeable while the simulator runs (wall time, see docs). */
export interface LatencyControl {
  /** The live ranges per route; a route that is absent has none. */
  get(): ResolvedLatency;
  /**
   * Replaces them, for requests that arrive from now on: `[min, max]` ms for content listing and blob
   * requests, an object per route, or null for none. Throws on a bad range and keeps the old setting.
   */
  set(spec: LatencySpec | null): ResolvedLatency;
}

/** What each tenant's API requests did against its `rateLimitPerMinute` (see ratelimit.ts). */
export interface RateLimitControl {
  /** Every scenario tenant, or the one named. */
  stats(tenantId?: string): TenantRateStats[];
  /** Zeroes the counts and peaks (after a warm-up, say); the limit itself keeps its window. */
  reset(): void;
}

/** Microsoft Graph's audit log query API as the simulator serves it (graphAudit.ts, docs/simulator.md). */
export interface GraphAuditControl {
  /** `${baseUrl}`: the value for AUDITFEED_GRAPH_ENDPOINT; requests go to `${graphBaseUrl}/v1.0/security/...`. */
  readonly baseUrl: string;
  /** Token scope for the Graph routes. */
  readonly scope: string;
  /** Ids a query for this range would return now (or `at`), in the order it returns them, before any limit. */
  recordIds(filter: GraphTruthFilter): string[];
  /** Every query submitted (or one tenant's), with its status now. */
  queries(tenantId?: string): GraphQueryInfo[];
  stats(): GraphAuditStats;
  /** Forgets all queries (so the 24-hour and concurrent limits start afresh) and zeroes the stats. */
  reset(): void;
}

export interface Simulator {
  readonly baseUrl: string;
  readonly port: number;
  /** PEM of the self-signed server certificate when started with tls. */
  readonly caPem: string | undefined;
  readonly apps: ResolvedApp[];
  readonly tenants: string[];
  readonly scenario: ResolvedScenario;
  readonly clock: SimClock;
  readonly faults: FaultController;
  readonly truth: Truth;
  readonly subscriptions: SubscriptionControl;
  readonly managedIdentity: ManagedIdentityEndpoint;
  readonly latency: LatencyControl;
  readonly rateLimits: RateLimitControl;
  readonly graphAudit: GraphAuditControl;
  /** `${baseUrl}/api/v1.0/{tenantId}/activity/feed` */
  apiRoot(tenantId: string): string;
  contentUri(tenantId: string, contentId: string): string;
  tokenEndpoint(tenantId: string, version?: 'v1' | 'v2'): string;
  stop(): Promise<void>;
}

type Route =
  | { kind: 'admin'; segs: string[] }
  | { kind: 'api'; op: ApiOp; tenant: string; contentId: string | undefined }
  | { kind: 'token'; tenant: string; version: 'v1' | 'v2' }
  | { kind: 'openid'; tenant: string; version: 'v1' | 'v2' }
  | { kind: 'jwks' }
  | { kind: 'discovery' }
  | { kind: 'msi' }
  | { kind: 'graph'; rest: string[] }
  | { kind: 'unknown' };

function classify(segs: string[]): Route {
  const [a, b, c, d, e, f, g] = segs;
  if (a === '_sim') return { kind: 'admin', segs: segs.slice(1) };
  if (a === 'v1.0' && b === 'security' && c === 'auditLog' && d === 'queries') {
    return { kind: 'graph', rest: segs.slice(4) };
  }
  if (a === 'api' && (b === 'v1.0' || b === 'v1') && c && d === 'activity' && e === 'feed') {
    if (
      f === 'subscriptions' &&
      segs.length === 7 &&
      ['start', 'stop', 'list', 'content'].includes(g ?? '')
    ) {
      return { kind: 'api', op: g as ApiOp, tenant: c, contentId: undefined };
    }
    if (f === 'audit' && segs.length === 7) return { kind: 'api', op: 'blob', tenant: c, contentId: g };
    return { kind: 'unknown' };
  }
  if (a === 'msi' && b === 'token' && segs.length === 2) return { kind: 'msi' };
  if (a === 'common' && b === 'discovery' && c === 'instance') return { kind: 'discovery' };
  if (a && b === 'oauth2' && c === 'v2.0' && d === 'token' && segs.length === 4) {
    return { kind: 'token', tenant: a, version: 'v2' };
  }
  if (a && b === 'oauth2' && c === 'token' && segs.length === 3) {
    return { kind: 'token', tenant: a, version: 'v1' };
  }
  if (a && b === 'v2.0' && c === '.well-known' && d === 'openid-configuration') {
    return { kind: 'openid', tenant: a, version: 'v2' };
  }
  if (a && b === '.well-known' && c === 'openid-configuration') {
    return { kind: 'openid', tenant: a, version: 'v1' };
  }
  if (a && b === 'discovery' && (d === 'keys' || c === 'keys')) return { kind: 'jwks' };
  return { kind: 'unknown' };
}

function faultRouteOf(route: Route): FaultRoute | undefined {
  if (route.kind === 'api') return route.op;
  if (route.kind === 'token') return 'token';
  if (route.kind === 'msi') return 'msi';
  if (route.kind === 'graph') return graphRouteOf(route.rest);
  return undefined;
}

/** The response a fault replaces the real one with, shaped like the service that would send it. */
function faultResponse(
  action: FaultAction,
  route: FaultRoute,
  q: URLSearchParams,
  now: Date,
): SimResponse | undefined {
  const retry = (s: number | undefined): Record<string, string> =>
    s === undefined ? {} : { 'Retry-After': String(s) };
  if (route === 'graphQueries' || route === 'graphQuery' || route === 'graphRecords') {
    return graphFaultResponse(action, now, retry);
  }
  if (action.kind === 'throttle') {
    const status = action.shape === '429' ? 429 : 403;
    if (route === 'token' || route === 'msi') {
      const body = entraError(
        'temporarily_unavailable',
        90055,
        'TenantThrottlingError - There are too many incoming requests.',
        now,
      );
      return { ...json(status, body, retry(action.retryAfterSeconds)), errorCode: 'AADSTS90055' };
    }
    const pub = queryParam(q, 'PublisherIdentifier') ?? ZERO_GUID;
    const message = afMessage('AF429', METHOD_NAMES[route], pub);
    return { ...json(status, afBody('AF429', message), retry(action.retryAfterSeconds)), errorCode: 'AF429' };
  }
  if (action.kind === 'error') {
    const headers = retry(action.retryAfterSeconds);
    if (route === 'token' || route === 'msi') {
      const error = action.code ?? (action.status >= 500 ? 'server_error' : 'invalid_request');
      const text =
        action.message ?? 'There was an error issuing a token or an issue with our sign-in service.';
      return { ...json(action.status, entraError(error, 50000, text, now), headers), errorCode: error };
    }
    if (action.code === undefined && action.status < 500) {
      return {
        ...json(action.status, { Message: action.message ?? 'An error has occurred.' }, headers),
        errorCode: String(action.status),
      };
    }
    const code = action.code ?? 'AF50000';
    const message = action.message ?? (isAfCode(code) ? afMessage(code) : 'Simulated error.');
    return { ...json(action.status, afBody(code, message), headers), errorCode: code };
  }
  if (action.kind === 'malformed') {
    return {
      status: 200,
      headers: { 'Content-Type': JSON_TYPE },
      body: action.body ?? '[{"contentType":"Audit.Exchange","contentId":"20261122',
      errorCode: 'malformed',
    };
  }
  return undefined;
}

/** The scope clients ask for to call the simulator's Graph (the global cloud's Graph resource). */
const GRAPH_SCOPE = 'https://graph.microsoft.com/.default';

/** A fault on a Graph route, in Graph's error shape. */
function graphFaultResponse(
  action: FaultAction,
  now: Date,
  retry: (s: number | undefined) => Record<string, string>,
): SimResponse | undefined {
  if (action.kind === 'throttle') {
    return graphError(
      429,
      'TooManyRequests',
      'Too many requests. Please retry later.',
      now,
      retry(action.retryAfterSeconds),
    );
  }
  if (action.kind === 'error') {
    const code =
      action.code ??
      (action.status === 503
        ? 'ServiceUnavailable'
        : action.status >= 500
          ? 'UnknownError'
          : action.status === 403
            ? 'Forbidden'
            : 'BadRequest');
    return graphError(
      action.status,
      code,
      action.message ?? 'Simulated error.',
      now,
      retry(action.retryAfterSeconds),
    );
  }
  if (action.kind === 'malformed') {
    return {
      status: 200,
      headers: { 'Content-Type': JSON_TYPE },
      body: action.body ?? '{"@odata.context":"$metadata#records","value":[{"id":"',
      errorCode: 'malformed',
    };
  }
  return undefined;
}

export async function startSimulator(opts: SimulatorOptions): Promise<Simulator> {
  const clock = createClock(opts.clock);
  const scenario = resolveScenario(opts.scenario, clock.now());
  const store = new ContentStore(scenario);
  const subscriptions = new Subscriptions(
    scenario.tenants.map((t) => t.tenantId),
    scenario.subscriptions.preStarted ? scenario.contentTypes : false,
  );
  const log = new RequestLog(opts.requestLogSize);
  const inFlight = new Map<string, number>();
  let baseUrl = '';
  const truth = new GroundTruth(store, log, (t, id) => `${apiRoot(baseUrl, t)}/audit/${encodeContentId(id)}`);
  const faults = new FaultRegistry(scenario.seed);
  const tokens = new TokenService({ scenario, clock, baseUrl: () => baseUrl });
  const graph = new GraphAuditService({
    config: scenario.graphAudit,
    seed: scenario.seed,
    store,
    tokens,
    clock,
    baseUrl: () => baseUrl,
  });
  const limits = new Map(scenario.tenants.map((t) => [t.tenantId, t.rateLimitPerMinute]));
  const known = (t: string): string => {
    const id = t.toLowerCase();
    if (!limits.has(id)) throw new Error(`simulator: unknown tenant ${t}`);
    return id;
  };
  const rateLimiter = new RateLimiter((t) => limits.get(t) ?? undefined);
  const tenantIds = scenario.tenants.map((t) => t.tenantId);
  const rateLimits: RateLimitControl = {
    stats: (t) => rateLimiter.stats(t === undefined ? tenantIds : [known(t)]),
    reset: () => rateLimiter.resetStats(),
  };
  let latencyRanges: ResolvedLatency = structuredClone(scenario.latencyMs);
  const latency: LatencyControl = {
    get: () => structuredClone(latencyRanges),
    set: (spec) => {
      latencyRanges = resolveLatency(spec, 'latencyMs');
      return structuredClone(latencyRanges);
    },
  };
  const apiDeps = { scenario, store, subscriptions, tokens, clock, rateLimiter, baseUrl: () => baseUrl };

  const sockets = new Set<Socket>();
  const pendingDelays = new Set<{ timer: NodeJS.Timeout; resolve: () => void }>();
  let stopping = false;

  const sleep = (ms: number): Promise<void> =>
    new Promise((resolve) => {
      const p = {
        timer: setTimeout(() => {
          pendingDelays.delete(p);
          resolve();
        }, ms),
        resolve,
      };
      pendingDelays.add(p);
    });

  const admin = {
    truth,
    faults,
    clock,
    subscriptions,
    latency,
    rateLimits,
    graph,
    info: () => ({
      baseUrl,
      tenants: scenario.tenants.map((t) => t.tenantId),
      apps: scenario.apps,
      managedIdentity: { endpoint: `${baseUrl}/msi/token`, header: tokens.identityHeader },
      graph: { endpoint: baseUrl, scope: GRAPH_SCOPE },
      now: clock.now().toISOString(),
    }),
  };

  function send(res: ServerResponse, r: SimResponse, requestId: string, truncate: boolean): void {
    if (r.stream) {
      res.writeHead(r.status, { ...r.headers, 'request-id': requestId });
      sendStream(res, r.stream, truncate).catch((err: unknown) => {
        res.destroy();
        if (process.env.SIM_DEBUG) console.error('simulator: streamed response failed', err);
      });
      return;
    }
    const body = typeof r.body === 'string' ? Buffer.from(r.body) : (r.body ?? Buffer.alloc(0));
    res.writeHead(r.status, { ...r.headers, 'request-id': requestId, 'Content-Length': String(body.length) });
    if (!truncate) {
      res.end(body);
      return;
    }
    // Full Content-Length, half the bytes, then a dead socket: what a dropped connection looks like.
    res.write(body.subarray(0, Math.floor(body.length / 2)), () => res.socket?.destroy());
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const requestId = randomUUID();
    const at = clock.now();
    const url = new URL(req.url ?? '/', 'http://sim.invalid');
    let segs: string[];
    try {
      segs = url.pathname
        .split('/')
        .filter((s) => s !== '')
        .map((s) => decodeURIComponent(s));
    } catch {
      send(res, json(400, { Message: 'The request URI is invalid.' }), requestId, false);
      return;
    }
    const route = classify(segs);
    const body = await readBody(req);
    const method = req.method ?? 'GET';

    if (route.kind === 'admin') {
      send(res, handleAdmin(method, route.segs, url.searchParams, body, admin), requestId, false);
      return;
    }

    const q = url.searchParams;
    const ct = queryParam(q, 'contentType');
    const fr = faultRouteOf(route);
    const tenantId =
      route.kind === 'api' || route.kind === 'token'
        ? route.tenant.toLowerCase()
        : route.kind === 'graph'
          ? graph.tenantOf(req.headers.authorization)
          : undefined;
    const contentId = route.kind === 'api' ? route.contentId : undefined;
    const entry: RequestLogEntry = {
      at,
      method,
      route: fr ?? route.kind,
      path: url.pathname,
      query: url.search.replace(/^\?/, ''),
      status: 0,
      hadAuthorization: req.headers.authorization !== undefined,
    };
    if (tenantId !== undefined) entry.tenantId = tenantId;
    if (ct !== undefined) entry.contentType = ct;
    if (contentId !== undefined) entry.contentId = contentId;
    const pub = queryParam(q, 'PublisherIdentifier');
    if (pub !== undefined) entry.publisherIdentifier = pub;
    // How many requests of this route are open at once: lets a test check a client's concurrency bound.
    const open = (inFlight.get(entry.route) ?? 0) + 1;
    inFlight.set(entry.route, open);
    entry.inFlight = open;
    res.on('close', () => inFlight.set(entry.route, (inFlight.get(entry.route) ?? 1) - 1));
    log.push(entry);

    const action = fr ? faults.match({ route: fr, tenantId, contentType: ct, contentId }) : undefined;
    if (action) entry.fault = action.kind;
    if (action?.kind === 'reset') {
      req.socket.destroy();
      return;
    }
    if (action?.kind === 'hang') return; // the socket stays open until the client gives up or stop()
    if (action?.kind === 'delay') {
      await sleep(action.ms);
      if (stopping || res.destroyed || req.socket.destroyed) return;
    }

    let result: ApiResult | undefined = action && fr ? faultResponse(action, fr, q, clock.now()) : undefined;
    if (!result) {
      switch (route.kind) {
        case 'api':
          result = handleApi(
            {
              method,
              op: route.op,
              tenant: route.tenant,
              contentId: route.contentId,
              query: q,
              authorization: req.headers.authorization,
              body,
            },
            apiDeps,
          );
          break;
        case 'token':
          result =
            method === 'POST'
              ? tokens.tokenEndpoint(route.tenant, route.version, body)
              : json(405, { error: 'invalid_request', error_description: 'Use POST.' });
          break;
        case 'openid':
          result = tokens.openIdConfiguration(route.tenant, route.version);
          break;
        case 'jwks':
          result = tokens.jwks();
          break;
        case 'discovery':
          result = tokens.instanceDiscovery();
          break;
        case 'graph':
          result = graph.handle({
            method,
            rest: route.rest,
            query: q,
            authorization: req.headers.authorization,
            body,
          });
          break;
        case 'msi': {
          const h = req.headers['x-identity-header'];
          result = tokens.managedIdentity(q, Array.isArray(h) ? h[0] : h);
          break;
        }
        default:
          result = {
            ...json(404, { Message: `No HTTP resource was found that matches ${url.pathname}.` }),
            errorCode: '404',
          };
      }
    }
    // Network latency: wall time after the answer is decided (at arrival, by the simulator's clock).
    const waitMs = fr
      ? latencyFor(latencyRanges, scenario.seed, fr, `${method} ${url.pathname}${url.search}`)
      : 0;
    if (waitMs > 0) {
      entry.latencyMs = Math.round(waitMs);
      await sleep(waitMs);
      if (stopping || res.destroyed || req.socket.destroyed) return;
    }
    entry.status = result.status;
    if (result.errorCode !== undefined) entry.errorCode = result.errorCode;
    const truncate = action?.kind === 'truncate';
    const served = result.servedBlob;
    if (served && !truncate) res.on('finish', () => truth.markServed(served));
    send(res, result, requestId, truncate);
  }

  const listener = (req: IncomingMessage, res: ServerResponse): void => {
    handle(req, res).catch((err: unknown) => {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      const r = afError('AF50000');
      res.writeHead(500, { ...r.headers, 'request-id': randomUUID() });
      res.end(r.body);
      if (process.env.SIM_DEBUG) console.error('simulator: request failed', err);
    });
  };

  let caPem: string | undefined;
  let server: Server;
  if (opts.tls) {
    const cert = await createSelfSignedCertificate();
    caPem = cert.cert;
    server = https.createServer({ key: cert.key, cert: cert.cert }, listener);
  } else {
    server = http.createServer(listener);
  }
  server.keepAliveTimeout = 5000;
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.on('clientError', (_err, s: Socket) => s.destroy());

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  baseUrl = `${opts.tls ? 'https' : 'http'}://127.0.0.1:${port}`;

  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopped ??= new Promise<void>((resolve) => {
      stopping = true;
      for (const p of pendingDelays) {
        clearTimeout(p.timer);
        p.resolve();
      }
      pendingDelays.clear();
      server.close(() => resolve());
      for (const s of sockets) s.destroy();
    });
    return stopped;
  };

  return {
    baseUrl,
    port,
    caPem,
    apps: scenario.apps,
    tenants: scenario.tenants.map((t) => t.tenantId),
    scenario,
    clock,
    faults,
    truth,
    subscriptions: {
      state: (t, c) => subscriptions.state(t, c),
      start: (t, c) => void subscriptions.start(known(t), c),
      stop: (t, c) => void subscriptions.stop(known(t), c),
      disable: (t, c, by) => subscriptions.disable(known(t), c, by),
      list: (t) => subscriptions.list(t),
    },
    managedIdentity: {
      endpoint: `${baseUrl}/msi/token`,
      header: tokens.identityHeader,
      identities: scenario.managedIdentities,
      env: () => ({ IDENTITY_ENDPOINT: `${baseUrl}/msi/token`, IDENTITY_HEADER: tokens.identityHeader }),
    },
    latency,
    rateLimits,
    graphAudit: {
      baseUrl,
      scope: GRAPH_SCOPE,
      recordIds: (f) => graph.truthRecordIds(f),
      queries: (t) => graph.queryInfos(t),
      stats: () => ({ ...graph.stats }),
      reset: () => graph.reset(),
    },
    apiRoot: (t) => apiRoot(baseUrl, t),
    contentUri: (t, id) => `${apiRoot(baseUrl, t)}/audit/${encodeContentId(id)}`,
    tokenEndpoint: (t, v = 'v2') => `${baseUrl}/${t}/oauth2${v === 'v2' ? '/v2.0' : ''}/token`,
    stop,
  };
}
