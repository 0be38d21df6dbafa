import { CONTENT_TYPES } from '../../shared/contentTypes';
import type { ContentType } from '../../shared/contentTypes';

export type SubscriptionState = 'enabled' | 'disabled' | 'none';

export interface SubscriptionInfo {
  contentType: ContentType;
  status: 'enabled' | 'disabled';
  webhook: null | { status: string; address: string; authId: string | null; expiration: string | null };
}

interface Entry {
  state: 'enabled' | 'disabled';
  /** Set when disabled by someone other than the client (AF20023 names them); unset after a client stop. */
  disabledBy: string | undefined;
  webhook: SubscriptionInfo['webhook'];
}

/** Subscription state per tenant × content type, changed by the API or programmatically by tests. */
export class Subscriptions {
  private readonly entries = new Map<string, Entry>();

  constructor(tenantIds: string[], preStarted: ContentType[] | false) {
    if (preStarted) {
      for (const t of tenantIds) for (const ct of preStarted) this.start(t, ct);
    }
  }

  private key(tenantId: string, ct: ContentType): string {
    return `${tenantId.toLowerCase()}|${ct}`;
  }

  state(tenantId: string, ct: ContentType): SubscriptionState {
    return this.entries.get(this.key(tenantId, ct))?.state ?? 'none';
  }

  disabledBy(tenantId: string, ct: ContentType): string | undefined {
    return this.entries.get(this.key(tenantId, ct))?.disabledBy;
  }

  /** Returns false when it was already enabled (the API answers AF20024). */
  start(tenantId: string, ct: ContentType, webhook: SubscriptionInfo['webhook'] = null): boolean {
    const k = this.key(tenantId, ct);
    if (this.entries.get(k)?.state === 'enabled') return false;
    this.entries.set(k, { state: 'enabled', disabledBy: undefined, webhook });
    return true;
  }

  /** Returns false when there was no subscription at all. */
  stop(tenantId: string, ct: ContentType): boolean {
    const e = this.entries.get(this.key(tenantId, ct));
    if (!e) return false;
    e.state = 'disabled';
    e.disabledBy = undefined;
    return true;
  }

  disable(tenantId: string, ct: ContentType, by: string = 'a tenant admin'): void {
    const k = this.key(tenantId, ct);
    const e = this.entries.get(k);
    this.entries.set(k, { state: 'disabled', disabledBy: by, webhook: e?.webhook ?? null });
  }

  list(tenantId: string): SubscriptionInfo[] {
    const out: SubscriptionInfo[] = [];
    for (const ct of CONTENT_TYPES) {
      const e = this.entries.get(this.key(tenantId, ct));
      if (e) out.push({ contentType: ct, status: e.state, webhook: e.webhook });
    }
    return out;
  }
}
