/** The window both the limit and the peak are counted over. */
export const RATE_WINDOW_MS = 60_000;

/** What one tenant's API requests did against its per-minute limit (wall time, see RateLimiter). */
export interface TenantRateStats {
  tenantId: string;
  /** The tenant's `rateLimitPerMinute`; null when unlimited. */
  limitPerMinute: number | null;
  /** Requests the limit judged: admitted and throttled. */
  requests: number;
  /** Requests answered AF429 because of the limit (fault-injected throttling is not counted here). */
  throttled: number;
  /** Most judged requests, admitted or throttled, in any 60 s of wall time: the demand a quota must meet. */
  peakPerMinute: number;
  /** Wall-clock time (ISO) of the last request of the first window that reached the peak; null before any. */
  peakWindowEnd: string | null;
}

/** Arrival times of one tenant's requests in the last window, as a queue with a moving head. */
class Window {
  private times: number[] = [];
  private head = 0;

  /** Drops arrivals at or before `now - RATE_WINDOW_MS`; returns how many remain. */
  trim(now: number): number {
    while (this.head < this.times.length && (this.times[this.head] as number) <= now - RATE_WINDOW_MS) {
      this.head += 1;
    }
    if (this.head > 1024 && this.head * 2 > this.times.length) {
      this.times = this.times.slice(this.head);
      this.head = 0;
    }
    return this.times.length - this.head;
  }

  push(now: number): void {
    this.times.push(now);
  }
}

interface Counters {
  requests: number;
  throttled: number;
  peak: number;
  peakAt: number | undefined;
  /** Every judged request (for the peak). */
  seen: Window;
}

/**
 * Per-tenant request budget over a sliding minute of wall time, `Date.now()` (a frozen simulator clock would
 * never refill it), and the stats that show what the tenant's clients asked of it: a benchmark with many
 * collector processes proves they stayed under the quota by `throttled` 0 and `peakPerMinute` at most the
 * limit. Counted are authenticated API requests to the tenant (start, stop, list, content, blob); those
 * refused earlier (no token, another tenant's token) and fault-injected answers are not.
 */
export class RateLimiter {
  /** Admitted requests in the last window, per limited tenant. */
  private readonly admitted = new Map<string, Window>();
  private readonly counters = new Map<string, Counters>();

  constructor(
    private readonly limitFor: (tenantId: string) => number | undefined,
    private readonly now: () => number = Date.now,
  ) {}

  take(tenantId: string): boolean {
    const now = this.now();
    const c = this.countersOf(tenantId);
    c.requests += 1;
    const inWindow = c.seen.trim(now) + 1;
    c.seen.push(now);
    if (inWindow > c.peak) {
      c.peak = inWindow;
      c.peakAt = now;
    }
    const limit = this.limitFor(tenantId);
    if (limit === undefined) return true;
    let w = this.admitted.get(tenantId);
    if (!w) {
      w = new Window();
      this.admitted.set(tenantId, w);
    }
    if (w.trim(now) >= limit) {
      c.throttled += 1;
      return false;
    }
    w.push(now);
    return true;
  }

  /** Stats of the given tenants (in that order), zeros for one that made no request. */
  stats(tenantIds: readonly string[]): TenantRateStats[] {
    return tenantIds.map((tenantId) => {
      const c = this.counters.get(tenantId);
      return {
        tenantId,
        limitPerMinute: this.limitFor(tenantId) ?? null,
        requests: c?.requests ?? 0,
        throttled: c?.throttled ?? 0,
        peakPerMinute: c?.peak ?? 0,
        peakWindowEnd: c?.peakAt === undefined ? null : new Date(c.peakAt).toISOString(),
      };
    });
  }

  /** Zeroes the stats (say after a warm-up); the limit's own window is kept, so it does not refill early. */
  resetStats(): void {
    this.counters.clear();
  }

  private countersOf(tenantId: string): Counters {
    let c = this.counters.get(tenantId);
    if (!c) {
      c = { requests: 0, throttled: 0, peak: 0, peakAt: undefined, seen: new Window() };
      this.counters.set(tenantId, c);
    }
    return c;
  }
}
