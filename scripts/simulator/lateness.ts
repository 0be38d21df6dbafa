import type { Rng } from './rng';
import { HOUR } from './time';

/**
 * How late blobs are spread over `lateHours`. The service lists blobs "in the order in which the
 * aggregations become available" and bounds nothing below the 7-day retention: most late blobs are a few
 * hours late, a few are days late. Log-uniform gives that long tail; uniform is kept for scenarios that
 * were written against it.
 */
export type LateDistribution = 'uniform' | 'logUniform';

/** Lateness in ms for a blob drawn late. One Rng draw either way, so the rest of a plan does not shift. */
export function drawLateness(rng: Rng, hours: [number, number], distribution: LateDistribution): number {
  if (distribution === 'uniform') return rng.int(hours[0] * HOUR, hours[1] * HOUR);
  const [lo, hi] = [Math.log(hours[0]), Math.log(hours[1])];
  return Math.round(Math.exp(lo + (hi - lo) * rng.next()) * HOUR);
}
