import { isContentType } from '../../shared/contentTypes';
import type { ContentType } from '../../shared/contentTypes';
import type { SimClock } from './clock';
import type { FaultRegistry, RandomFaultOptions } from './faults';
import type { GraphAuditService, GraphTruthFilter } from './graphAudit';
import { json } from './http';
import type { SimResponse } from './http';
import type { LatencySpec } from './latency';
import { RATE_WINDOW_MS } from './ratelimit';
import type { LatencyControl, RateLimitControl } from './server';
import { attackOf } from './truth';
import type { GroundTruth, TruthFilter } from './truth';
import type { Subscriptions } from './subscriptions';

export interface AdminDeps {
  truth: GroundTruth;
  faults: FaultRegistry;
  clock: SimClock;
  subscriptions: Subscriptions;
  latency: LatencyControl;
  rateLimits: RateLimitControl;
  graph: GraphAuditService;
  info: () => Record<string, unknown>;
}

function filterFrom(q: URLSearchParams): TruthFilter {
  const f: TruthFilter = {};
  const t = q.get('tenantId');
  if (t) f.tenantId = t;
  const ct = q.get('contentType');
  if (ct) {
    if (!isContentType(ct)) throw new Error(`unknown contentType ${ct}`);
    f.contentType = ct;
  }
  const by = q.get('availableBy');
  if (by) f.availableBy = new Date(by);
  const ne = q.get('notExpiredAt');
  if (ne) f.notExpiredAt = new Date(ne);
  const lb = q.get('listableBy');
  if (lb) f.listableBy = new Date(lb);
  const rb = q.get('readableBy');
  if (rb) f.readableBy = new Date(rb);
  for (const [k, v] of Object.entries(f)) {
    if (v instanceof Date && Number.isNaN(v.getTime())) throw new Error(`${k} is not a valid date`);
  }
  return f;
}

/** `tenantId`, `start`, `end` (required), `at`, comma-separated `recordTypeFilters` / `serviceFilters`. */
function graphFilterFrom(q: URLSearchParams, now: Date): GraphTruthFilter {
  const tenantId = q.get('tenantId');
  const start = q.get('start');
  const end = q.get('end');
  if (!tenantId || !start || !end) throw new Error('tenantId, start and end are required');
  const date = (v: string, what: string): Date => {
    const t = new Date(v);
    if (Number.isNaN(t.getTime())) throw new Error(`${what} is not a valid date`);
    return t;
  };
  const list = (name: string): string[] =>
    (q.get(name) ?? '')
      .split(',')
      .map((x) => x.trim())
      .filter((x) => x !== '');
  const at = q.get('at');
  return {
    tenantId,
    start: date(start, 'start'),
    end: date(end, 'end'),
    at: at ? date(at, 'at') : now,
    recordTypeFilters: list('recordTypeFilters'),
    serviceFilters: list('serviceFilters'),
  };
}

function parseJson(body: string): Record<string, unknown> {
  const v = body.trim() === '' ? {} : (JSON.parse(body) as unknown);
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('body must be a JSON object');
  return v as Record<string, unknown>;
}

/**
 * `/_sim/...`: ground truth and control for tests running in another process. No token needed;
 * these routes are not logged and never faulted.
 */
export function handleAdmin(
  method: string,
  segs: string[],
  q: URLSearchParams,
  body: string,
  d: AdminDeps,
): SimResponse {
  try {
    const path = segs.join('/');
    if (method === 'GET' && path === 'info') return json(200, d.info());
    if (method === 'GET' && path === 'memory') {
      // Live memory, not garbage, when the process runs with --expose-gc: lets a test check streaming.
      const gc = (globalThis as { gc?: () => void }).gc;
      gc?.();
      return json(200, { ...process.memoryUsage(), collected: gc !== undefined });
    }
    if (method === 'GET' && path === 'truth/summary') return json(200, d.truth.summary(d.clock.now()));
    if (method === 'GET' && path === 'truth/record-ids') {
      const ids = [...d.truth.recordIds(filterFrom(q))];
      return json(200, { count: ids.length, ids });
    }
    if (method === 'GET' && path === 'truth/blobs') return json(200, d.truth.blobs(filterFrom(q)));
    if (method === 'GET' && path === 'truth/graph-records') {
      const ids = d.graph.truthRecordIds(graphFilterFrom(q, d.clock.now()));
      return json(200, { count: ids.length, ids });
    }
    if (path === 'graph/queries') {
      if (method === 'GET') return json(200, d.graph.queryInfos(q.get('tenantId') ?? undefined));
      if (method === 'DELETE') {
        d.graph.reset();
        return json(200, { cleared: true });
      }
    }
    if (method === 'GET' && path === 'graph/stats') return json(200, d.graph.stats);
    if (method === 'GET' && path === 'truth/rejected-records') {
      return json(200, d.truth.rejectedRecords(filterFrom(q)));
    }
    if (method === 'GET' && path === 'truth/stories') return json(200, d.truth.stories());
    if (method === 'GET' && path === 'truth/attack') {
      const tenant = q.get('tenantId')?.toLowerCase();
      return json(
        200,
        d.truth
          .stories()
          .filter((st) => tenant === undefined || st.tenantId === tenant)
          .map(attackOf),
      );
    }
    if (method === 'GET' && path === 'truth/served') {
      return json(200, {
        contentIds: [...d.truth.servedContentIds()],
        recordIds: [...d.truth.servedRecordIds()],
      });
    }
    if (path === 'requests') {
      if (method === 'DELETE') {
        d.truth.clearRequests();
        return json(200, { cleared: true });
      }
      if (method === 'GET') {
        const entries = d.truth.requests;
        const first = d.truth.log.total - entries.length;
        const since = Number(q.get('since') ?? 0);
        return json(200, { total: d.truth.log.total, entries: entries.slice(Math.max(0, since - first)) });
      }
    }
    if (segs[0] === 'faults') {
      if (method === 'GET' && segs.length === 1) {
        return json(
          200,
          d.faults.list().map((h) => ({ id: h.id, rule: h.rule, hits: h.hits })),
        );
      }
      if (method === 'POST' && segs.length === 1) {
        const b = parseJson(body);
        const h = b.randomize
          ? d.faults.randomize(b.randomize as RandomFaultOptions)
          : d.faults.add(b as unknown as Parameters<FaultRegistry['add']>[0]);
        return json(201, { id: h.id });
      }
      if (method === 'DELETE' && segs.length === 1) {
        d.faults.clear();
        return json(200, { cleared: true });
      }
      if (method === 'DELETE' && segs.length === 2) {
        const h = d.faults.list().find((x) => x.id === segs[1]);
        if (!h) return json(404, { error: `no fault ${segs[1]}` });
        h.remove();
        return json(200, { removed: h.id, hits: h.hits });
      }
    }
    if (path === 'clock') {
      if (method === 'POST') {
        const b = parseJson(body);
        if (typeof b.set === 'string') d.clock.set(b.set);
        if (typeof b.advanceMs === 'number') d.clock.advance(b.advanceMs);
      }
      if (method === 'POST' || method === 'GET') return json(200, { now: d.clock.now().toISOString() });
    }
    if (path === 'latency') {
      if (method === 'POST') {
        const b = parseJson(body);
        if (!('latencyMs' in b))
          throw new Error('body must be { "latencyMs": [min, max] | { route: [min, max] } | null }');
        d.latency.set(b.latencyMs as LatencySpec | null);
      }
      if (method === 'DELETE') d.latency.set(null);
      if (method === 'POST' || method === 'GET' || method === 'DELETE') {
        return json(200, { latencyMs: d.latency.get() });
      }
    }
    if (path === 'rate-limits') {
      if (method === 'GET') {
        const tenants = d.rateLimits.stats(q.get('tenantId') ?? undefined);
        const sum = (k: 'requests' | 'throttled'): number => tenants.reduce((n, t) => n + t[k], 0);
        return json(200, {
          windowMs: RATE_WINDOW_MS,
          requests: sum('requests'),
          throttled: sum('throttled'),
          tenants,
        });
      }
      if (method === 'DELETE') {
        d.rateLimits.reset();
        return json(200, { cleared: true });
      }
    }
    if (path === 'subscriptions') {
      if (method === 'GET') {
        const t = q.get('tenantId');
        if (!t) throw new Error('tenantId is required');
        return json(200, d.subscriptions.list(t));
      }
      if (method === 'POST') {
        const b = parseJson(body);
        const t = typeof b.tenantId === 'string' ? b.tenantId : '';
        const ct = typeof b.contentType === 'string' ? b.contentType : '';
        if (!t || !isContentType(ct)) throw new Error('tenantId and a valid contentType are required');
        const c: ContentType = ct;
        if (b.action === 'start') d.subscriptions.start(t, c);
        else if (b.action === 'stop') d.subscriptions.stop(t, c);
        else if (b.action === 'disable')
          d.subscriptions.disable(t, c, typeof b.by === 'string' ? b.by : undefined);
        else throw new Error("action must be 'start', 'stop' or 'disable'");
        return json(200, { state: d.subscriptions.state(t, c) });
      }
    }
    return json(404, { error: `no simulator route ${method} /_sim/${path}` });
  } catch (e) {
    return json(400, { error: e instanceof Error ? e.message : String(e) });
  }
}
