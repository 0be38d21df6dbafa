import { FAULT_ROUTES } from './faults';
import type { FaultRoute } from './faults';
import { Rng } from './rng';

/** `[min, max]` milliseconds; each request waits a uniform draw from it. */
export type LatencyRange = [number, number];

/**
 * Network latency added to responses, in wall-time milliseconds. One range applies to the two requests a
 * collector makes in volume, the content listing (`content`) and content blobs (`blob`); an object sets
 * ranges per route, named as fault rules name them (`list` is ListSubscriptions, `content` the listing).
 */
export type LatencySpec = LatencyRange | Partial<Record<FaultRoute, LatencyRange>>;

/** Ranges per route; a route that is absent is answered without added latency. */
export type ResolvedLatency = Partial<Record<FaultRoute, LatencyRange>>;

/** The routes a single `[min, max]` applies to. */
export const LATENCY_DEFAULT_ROUTES: readonly FaultRoute[] = ['content', 'blob'];

/** setTimeout's own limit: a longer delay would fire after 1 ms. */
export const MAX_LATENCY_MS = 2_147_483_647;

function latencyRange(value: unknown, what: string): LatencyRange {
  const bad = (why: string): Error =>
    new Error(
      `${what} must be [min, max] milliseconds with 0 <= min <= max, got ${JSON.stringify(value)} (${why})`,
    );
  if (!Array.isArray(value) || value.length !== 2) throw bad('not a list of two numbers');
  const [min, max] = value as unknown[];
  if (typeof min !== 'number' || typeof max !== 'number' || !Number.isFinite(min) || !Number.isFinite(max)) {
    throw bad('not finite numbers');
  }
  if (min < 0) throw bad('min is negative');
  if (min > max) throw bad('min is above max');
  if (max > MAX_LATENCY_MS) throw bad(`max is above ${MAX_LATENCY_MS}`);
  return [min, max];
}

/**
 * Validates a latency setting; `what` names it in errors (`scenario: latencyMs`). Undefined or null: none.
 * Returns a fresh object, so the caller may keep it.
 */
export function resolveLatency(value: unknown, what: string): ResolvedLatency {
  if (value === undefined || value === null) return {};
  if (Array.isArray(value)) {
    const r = latencyRange(value, what);
    const out: ResolvedLatency = {};
    for (const route of LATENCY_DEFAULT_ROUTES) out[route] = [r[0], r[1]];
    return out;
  }
  if (typeof value !== 'object') {
    throw new Error(
      `${what} must be [min, max] milliseconds or an object of them per route, got ${JSON.stringify(value)}`,
    );
  }
  const out: ResolvedLatency = {};
  for (const [key, r] of Object.entries(value as Record<string, unknown>)) {
    if (!(FAULT_ROUTES as readonly string[]).includes(key)) {
      throw new Error(
        `${what} has unknown route '${key}'; routes are ${FAULT_ROUTES.join(', ')} ` +
          '(content is the content listing, list is ListSubscriptions)',
      );
    }
    if (r === undefined || r === null) continue;
    out[key as FaultRoute] = latencyRange(r, `${what}.${key}`);
  }
  return out;
}

/**
 * The latency of one request, in ms: a uniform draw from its route's range, seeded by the scenario seed and
 * the request itself (method, path and query). The same request always waits the same time, whatever the
 * order or concurrency of the others, so a run with any number of workers meets the same latencies.
 */
export function latencyFor(
  ranges: ResolvedLatency,
  seed: string,
  route: FaultRoute,
  request: string,
): number {
  const r = ranges[route];
  if (!r) return 0;
  const [min, max] = r;
  if (max === 0) return 0;
  if (min === max) return min;
  return min + new Rng(`${seed}:latency:${route}:${request}`).next() * (max - min);
}
