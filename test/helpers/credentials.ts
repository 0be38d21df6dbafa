import type { AccessToken, GetTokenOptions, TokenCredential } from '@azure/identity';

/**
 * A minimal client-credentials TokenCredential that really POSTs to the simulator's token endpoint and
 * caches nothing, so tests can see every token request the client makes. Production code uses
 * @azure/identity; one test drives that against the simulator too.
 */
export class SimulatorSecretCredential implements TokenCredential {
  readonly scopes: string[] = [];

  constructor(
    private readonly loginBaseUrl: string,
    private readonly tenantId: string,
    private readonly clientId: string,
    private readonly clientSecret: string,
  ) {}

  async getToken(scopes: string | string[], _options?: GetTokenOptions): Promise<AccessToken> {
    const scope = Array.isArray(scopes) ? scopes.join(' ') : scopes;
    this.scopes.push(scope);
    const response = await fetch(`${this.loginBaseUrl}/${this.tenantId}/oauth2/v2.0/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        client_id: this.clientId,
        client_secret: this.clientSecret,
        scope,
      }),
    });
    const body = (await response.json()) as {
      access_token?: string;
      expires_in?: number | string;
      error?: string;
    };
    if (!response.ok || !body.access_token) throw new Error(`token request failed: ${JSON.stringify(body)}`);
    return { token: body.access_token, expiresOnTimestamp: Date.now() + Number(body.expires_in) * 1000 };
  }
}

/** Records the scopes asked for and fails, so no request is ever sent. */
export class RecordingCredential implements TokenCredential {
  readonly scopes: string[] = [];

  getToken(scopes: string | string[]): Promise<AccessToken> {
    this.scopes.push(Array.isArray(scopes) ? scopes.join(' ') : scopes);
    return Promise.reject(new Error('recording credential issues no tokens'));
  }
}
