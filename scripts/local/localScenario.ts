import type { ScenarioSpec } from '../simulator';
import { DEFAULT_RECORDS_PER_HOUR } from '../simulator';
import type { ContentType } from '../../shared/contentTypes';

/**
 * The simulated tenants of `npm start`. Activity starts in the past (the backlog a first run catches up
 * on) and runs on into the future, so `--follow` keeps seeing new content as the simulator's real-time
 * clock moves; one business-email compromise is woven in for investigations to find.
 */

export const LOCAL_SCENARIOS = ['default', 'small'] as const;
export type LocalScenarioName = (typeof LOCAL_SCENARIOS)[number];

export function isLocalScenario(name: string): name is LocalScenarioName {
  return (LOCAL_SCENARIOS as readonly string[]).includes(name);
}

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
/** How long simulated activity keeps arriving after the start of a run (for --follow). */
const FUTURE = 7 * DAY;

interface Shape {
  tenantId: string;
  users: number;
  backlogHours: number;
  rateFactor: number;
  /**
   * Minutes of activity per content blob. The collector fetches blobs at its paced 1,800 requests a
   * minute, so fewer, fuller blobs keep the backlog a minute's work, as for a busier tenant.
   */
  aggregationMinutes: number;
  /** Start of the BEC story after the start of activity; it lasts up to 8 hours plus publishing latency. */
  storyAfterHours: number;
  description: string;
}

// Fixed tenant ids: watermarks are per tenant, so a persistent second run must see the same one.
const SHAPES: Record<LocalScenarioName, Shape> = {
  default: {
    tenantId: '4f1c2a7e-9b3d-4c58-a6e1-0d2b7c9f3e51',
    users: 60,
    backlogHours: 72,
    rateFactor: 1,
    aggregationMinutes: 30,
    storyAfterHours: 45.25,
    description: '3 days of activity of a 60-user organisation, all five content types',
  },
  small: {
    tenantId: '7a9e3b15-2c4d-4e6f-8a1b-3c5d7e9f0a24',
    users: 15,
    backlogHours: 12,
    rateFactor: 0.4,
    aggregationMinutes: 20,
    storyAfterHours: 0.25,
    description: '12 hours of activity of a 15-user organisation, all five content types',
  },
};

export function describeScenario(name: LocalScenarioName): string {
  return SHAPES[name].description;
}

/** The scenario anchored at `now` (its start is floored to the hour so reruns within it look alike). */
export function localScenario(name: LocalScenarioName, now: Date): ScenarioSpec {
  const shape = SHAPES[name];
  const start = Math.floor((now.getTime() - shape.backlogHours * HOUR) / HOUR) * HOUR;
  const recordsPerHour = Object.fromEntries(
    Object.entries(DEFAULT_RECORDS_PER_HOUR).map(([ct, n]) => [ct, n * shape.rateFactor]),
  ) as Record<ContentType, number>;
  return {
    seed: `auditfeed-local-${name}`,
    tenants: [{ tenantId: shape.tenantId, users: shape.users }],
    activity: {
      start: new Date(start).toISOString(),
      end: new Date(now.getTime() + FUTURE).toISOString(),
      recordsPerHour,
    },
    blobs: { aggregationMinutes: shape.aggregationMinutes },
    stories: [
      {
        kind: 'bec',
        tenantId: shape.tenantId,
        start: new Date(start + shape.storyAfterHours * HOUR).toISOString(),
      },
    ],
    // The service's documented baseline; the collector paces itself below it.
    rateLimitPerMinute: 2000,
    tokenLifetimeSeconds: 3599,
  };
}
