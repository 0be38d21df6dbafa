import type { AccessToken, TokenCredential } from '@azure/identity';
import { AuthenticationError } from '../errors';

export interface TokenCacheOptions {
  /** Refresh this long before the token expires. Default 5 minutes. */
  refreshMarginMs?: number;
  now?: () => number;
  /** What the token is for, in error messages; default "Management API" (the Graph client says Microsoft Graph). */
  api?: string;
}

/**
 * Caches one access token per scope and refreshes it before it expires. Concurrent callers share one
 * request. If a refresh fails while the old token is still valid, the old token keeps serving.
 */
export class AccessTokenCache {
  private token: AccessToken | undefined;
  private pending: Promise<AccessToken> | undefined;
  private readonly refreshMarginMs: number;
  private readonly now: () => number;
  private readonly api: string;
  /** Tokens acquired from the credential (for tests and run summaries). */
  acquisitions = 0;

  constructor(
    private readonly credential: TokenCredential,
    private readonly scope: string,
    private readonly tenantId: string,
    options: TokenCacheOptions = {},
  ) {
    this.refreshMarginMs = options.refreshMarginMs ?? 5 * 60_000;
    this.now = options.now ?? Date.now;
    this.api = options.api ?? 'Management API';
  }

  async get(): Promise<string> {
    const current = this.token;
    const now = this.now();
    if (current && now < this.refreshAt(current)) return current.token;
    try {
      return (await this.acquire()).token;
    } catch (e) {
      if (current && now < current.expiresOnTimestamp - 30_000) return current.token;
      throw e;
    }
  }

  /** Drops a token the API rejected, so the next get() asks the credential again. */
  invalidate(rejected: string): void {
    if (this.token?.token === rejected) this.token = undefined;
  }

  private refreshAt(token: AccessToken): number {
    return token.refreshAfterTimestamp ?? token.expiresOnTimestamp - this.refreshMarginMs;
  }

  private acquire(): Promise<AccessToken> {
    this.pending ??= (async () => {
      try {
        const token = await this.credential.getToken(this.scope);
        if (!token) throw new Error('the credential returned no token');
        this.acquisitions++;
        this.token = token;
        return token;
      } catch (e) {
        throw new AuthenticationError(
          `Could not get a ${this.api} token for tenant ${this.tenantId} (scope ${this.scope}): ${
            e instanceof Error ? e.message : String(e)
          }`,
          e,
        );
      } finally {
        this.pending = undefined;
      }
    })();
    return this.pending;
  }
}
