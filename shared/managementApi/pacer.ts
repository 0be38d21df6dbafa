import { sleep } from '../sleep';

export interface PacerOptions {
  requestsPerMinute: number;
  /** Requests allowed back to back before pacing starts. Default: one second's worth, at least 1. */
  burst?: number;
  now?: () => number;
  /** How to wait (tests pass a virtual clock's). */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

/**
 * Spaces requests to one tenant under the service's per-tenant limit (generic cell rate algorithm):
 * a request waits until its theoretical arrival time minus the burst tolerance. Share one pacer per tenant.
 */
export class RequestPacer {
  private readonly intervalMs: number;
  private readonly toleranceMs: number;
  private readonly now: () => number;
  private readonly wait: (ms: number, signal?: AbortSignal) => Promise<void>;
  private tat = 0;
  readonly requestsPerMinute: number;

  constructor(options: PacerOptions) {
    this.requestsPerMinute = options.requestsPerMinute;
    this.intervalMs = 60_000 / options.requestsPerMinute;
    const burst = options.burst ?? Math.max(1, Math.floor(options.requestsPerMinute / 60));
    this.toleranceMs = (burst - 1) * this.intervalMs;
    this.now = options.now ?? Date.now;
    this.wait = options.sleep ?? sleep;
  }

  async acquire(signal?: AbortSignal): Promise<void> {
    const now = this.now();
    this.tat = Math.max(this.tat, now);
    const wait = this.tat - this.toleranceMs - now;
    this.tat += this.intervalMs;
    await this.wait(wait, signal);
  }
}
