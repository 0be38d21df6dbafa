import { RequestPacer } from '../../shared/managementApi/pacer';
import { backoffDelay, parseRetryAfter } from '../../shared/managementApi/retryPolicy';

describe('RequestPacer', () => {
  it('lets a burst through, then spaces requests at the configured rate', async () => {
    let now = 0;
    const waits: number[] = [];
    const pacer = new RequestPacer({ requestsPerMinute: 600, burst: 3, now: () => now });
    // 600/min = one every 100 ms; the sleep itself is real, so measure the computed waits through time.
    for (let i = 0; i < 6; i++) {
      const started = Date.now();
      await pacer.acquire();
      waits.push(Date.now() - started);
    }
    expect(waits.slice(0, 3).every((w) => w < 20)).toBe(true);
    // With the clock frozen, request 4 waits one interval, 5 two, 6 three.
    expect(waits[3]).toBeGreaterThanOrEqual(90);
    expect(waits[4]).toBeGreaterThanOrEqual(190);
    expect(waits[5]).toBeGreaterThanOrEqual(290);
    now = 10_000; // long idle: the burst is available again
    const started = Date.now();
    await pacer.acquire();
    expect(Date.now() - started).toBeLessThan(20);
  });

  it('fanout: the units of a tenant, each at its share - 1 with no burst, never pass the tenant budget in any minute', async () => {
    // Virtual time: each of five units asking as fast as it may for three minutes, on its own instance.
    let now = 0;
    const sleep = (ms: number): Promise<void> => {
      now += Math.max(0, ms);
      return Promise.resolve();
    };
    const budget = 2000;
    const units = Array.from(
      { length: 5 },
      () =>
        new RequestPacer({ requestsPerMinute: Math.floor(budget / 5) - 1, burst: 1, now: () => now, sleep }),
    );
    const times: number[] = [];
    // Each unit's clock runs on its own; merge their admission times.
    for (const unit of units) {
      now = 0;
      while (now < 180_000) {
        await unit.acquire();
        times.push(now);
      }
    }
    times.sort((a, b) => a - b);
    let peak = 0;
    for (let i = 0, j = 0; i < times.length; i++) {
      while (times[i]! - times[j]! >= 60_000) j++;
      peak = Math.max(peak, i - j + 1);
    }
    expect(peak).toBeLessThanOrEqual(budget);
    expect(peak).toBeGreaterThan(budget * 0.99);
  });

  it('stops waiting when aborted', async () => {
    const pacer = new RequestPacer({ requestsPerMinute: 1, burst: 1, now: () => 0 });
    await pacer.acquire();
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 20);
    await expect(pacer.acquire(controller.signal)).rejects.toMatchObject({ code: 'Aborted' });
  });
});

describe('retry policy', () => {
  it('backs off exponentially with jitter and a cap', () => {
    const low = { maxRetries: 10, baseDelayMs: 1000, maxDelayMs: 8000, random: () => 0 };
    const high = { ...low, random: () => 0.999999 };
    expect([0, 1, 2, 3, 4].map((r) => backoffDelay(r, low))).toEqual([500, 1000, 2000, 4000, 4000]);
    expect(backoffDelay(2, high)).toBeCloseTo(4000, 0);
    expect(backoffDelay(9, high)).toBeLessThanOrEqual(8000);
  });

  it('reads Retry-After as seconds or as an HTTP date', () => {
    expect(parseRetryAfter('7')).toBe(7000);
    expect(parseRetryAfter('0.5')).toBe(500);
    const now = Date.parse('2026-11-22T10:00:00Z');
    expect(parseRetryAfter('Sun, 22 Nov 2026 10:00:30 GMT', now)).toBe(30_000);
    expect(parseRetryAfter(undefined)).toBeUndefined();
    expect(parseRetryAfter('soon')).toBeUndefined();
  });
});
