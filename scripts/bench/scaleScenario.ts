import type { ContentType } from '../../shared/contentTypes';
import { Rng } from '../simulator/rng';
import { DEFAULT_RECORDS_PER_HOUR, type ScenarioSpec } from '../simulator/scenario';

export type SizeClass = 'small' | 'medium' | 'large';
export const SIZE_CLASSES: readonly SizeClass[] = ['small', 'medium', 'large'];
/** Shares of the tenants; small takes what the others leave. */
export const SIZE_SHARES = { medium: 0.16, large: 0.04 } as const;

const HOUR = 3_600_000;

/** The one app every simulator knows, so a worker holds one set of credentials for all tenants. */
export const SCALE_APP = {
  clientId: '8d1f7c52-4a3b-4e6d-9f20-5c6b7a8e9d01',
  clientSecret: 'scale-bench-secret',
};

/** How many tenants of each size: 4% large and 16% medium (at least one each from 3 tenants), rest small. */
export function sizeCounts(tenants: number): Record<SizeClass, number> {
  const large = tenants >= 3 ? Math.max(1, Math.round(tenants * SIZE_SHARES.large)) : 0;
  const medium = tenants >= 2 ? Math.max(1, Math.round(tenants * SIZE_SHARES.medium)) : 0;
  return { small: tenants - large - medium, medium, large };
}

export interface ScaleTenant {
  tenantId: string;
  size: SizeClass;
}

/** Deterministic tenant ids from the seed, grouped by size. */
export function scaleTenants(tenants: number, seed: string): ScaleTenant[] {
  const rng = new Rng(`${seed}:scale-tenants`);
  const counts = sizeCounts(tenants);
  return SIZE_CLASSES.flatMap((size) =>
    Array.from({ length: counts[size] }, () => ({ tenantId: rng.uuid(), size })),
  );
}

/** A tenant's records per hour split over the content types in the simulator's default mix (each ≥ 1). */
export function recordsPerHour(
  total: number,
  contentTypes: readonly ContentType[],
): Partial<Record<ContentType, number>> {
  const weight = contentTypes.reduce((s, ct) => s + DEFAULT_RECORDS_PER_HOUR[ct], 0);
  return Object.fromEntries(
    contentTypes.map((ct) => [ct, Math.max(1, Math.round((total * DEFAULT_RECORDS_PER_HOUR[ct]) / weight))]),
  );
}

export interface ScaleScenarioOptions {
  seed: string;
  tenants: ScaleTenant[];
  size: SizeClass;
  recordsPerHour: number;
  contentTypes: ContentType[];
  rateLimitPerMinute: number;
  latencyMs: [number, number];
  /** Activity from this long before now (covers the lookback and the blobs' own delay). */
  historyHours: number;
  /** Activity until this long after now (covers the whole bench). */
  futureHours: number;
  now?: number;
}

/**
 * One size class's simulator: the simulator's activity volume is scenario-wide, so each size runs in a
 * simulator of its own and the bench's tenant proxy routes each tenant to its simulator. No late blobs
 * (the minimum number of requests is then well defined), the default blob sizes and delays otherwise.
 */
export function scaleScenario(o: ScaleScenarioOptions): ScenarioSpec {
  const now = o.now ?? Date.now();
  return {
    seed: `${o.seed}:${o.size}`,
    tenants: o.tenants.filter((t) => t.size === o.size).map((t) => ({ tenantId: t.tenantId, users: 200 })),
    apps: [{ ...SCALE_APP }],
    contentTypes: o.contentTypes,
    activity: {
      start: new Date(now - o.historyHours * HOUR).toISOString(),
      end: new Date(now + o.futureHours * HOUR).toISOString(),
      recordsPerHour: recordsPerHour(o.recordsPerHour, o.contentTypes),
    },
    blobs: { lateFraction: 0 },
    rateLimitPerMinute: o.rateLimitPerMinute,
    latencyMs: { content: o.latencyMs, blob: o.latencyMs },
    tokenLifetimeSeconds: 3599,
  };
}
