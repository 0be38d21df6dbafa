import { createHttpHeaders, type HttpClient, type PipelineRequest } from '@azure/core-rest-pipeline';
import { ManagementCredentials } from '../../shared/auth/credentials';
import { loadConfig } from '../../shared/config';

/**
 * Which hosts each cloud's credential talks to, through the real @azure/identity credentials with an
 * HTTP client that records every request and answers each like Entra refusing the client.
 */

const TENANT = '8d41e0c4-1b2c-4d5e-9f60-0a1b2c3d4e5f';
const CLIENT = '0f3a9c27-5e4b-4d1a-8c6f-2b7e9d0a1c35';
const MI = '5b8e2f14-9a3c-4e6d-b1f0-7c2a9e4d8b63';

const CLOUDS = [
  ['Enterprise', 'login.microsoftonline.com', 'api://AzureADTokenExchange'],
  ['GCC', 'login.microsoftonline.com', 'api://AzureADTokenExchange'],
  ['GCCHigh', 'login.microsoftonline.us', 'api://AzureADTokenExchangeUSGov'],
  ['DoD', 'login.microsoftonline.us', 'api://AzureADTokenExchangeUSGov'],
  ['21Vianet', 'login.partner.microsoftonline.cn', 'api://AzureADTokenExchangeChina'],
] as const;

/**
 * One client for every test: MSAL keeps the managed-identity network client of the first credential
 * for the whole process, so each test clears the list instead of making a new client.
 */
const requests: PipelineRequest[] = [];
const httpClient: HttpClient = recordingClient();

function recordingClient(): HttpClient {
  return {
    sendRequest: (request) => {
      requests.push(request);
      return Promise.resolve({
        request,
        status: 400,
        headers: createHttpHeaders({ 'content-type': 'application/json' }),
        bodyAsText: JSON.stringify({
          error: 'invalid_client',
          error_description: 'AADSTS7000215: Invalid client secret provided (recorded by the test).',
        }),
      });
    },
  };
}

function configFor(cloud: string, auth: Record<string, string>) {
  return loadConfig({
    AUDITFEED_TENANT_IDS: TENANT,
    AUDITFEED_CLIENT_ID: CLIENT,
    AUDITFEED_CLOUD: cloud,
    AUDITFEED_STORAGE: 'UseDevelopmentStorage=true',
    AUDITFEED_COSMOS__accountEndpoint: 'http://127.0.0.1:8081',
    ...auth,
  });
}

/** Asks the tenant's credential for a Management API token, recording every request it sends. */
function tokenFor(cloud: string, auth: Record<string, string>) {
  const config = configFor(cloud, auth);
  requests.length = 0;
  const credentials = new ManagementCredentials(config.auth, config.endpoints, {
    httpClient,
    retryOptions: { maxRetries: 0 },
  });
  return credentials.forTenant(TENANT).getToken(`${config.endpoints.apiOrigin}/.default`);
}

describe('Management API credentials per cloud', () => {
  // As in a function app: the managed identity is reached through App Service's identity endpoint.
  const saved = { endpoint: process.env.IDENTITY_ENDPOINT, header: process.env.IDENTITY_HEADER };
  beforeAll(() => {
    process.env.IDENTITY_ENDPOINT = 'http://127.0.0.1:41111/msi/token';
    process.env.IDENTITY_HEADER = 'recorded-by-the-test';
  });
  afterAll(() => {
    for (const [name, value] of [
      ['IDENTITY_ENDPOINT', saved.endpoint],
      ['IDENTITY_HEADER', saved.header],
    ] as const) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  });

  it.each(CLOUDS)(
    '%s: the client-secret credential asks only the cloud login host, for the tenant',
    async (cloud, loginHost) => {
      await expect(
        tokenFor(cloud, { AUDITFEED_AUTH_MODE: 'secret', AUDITFEED_CLIENT_SECRET: 'not-a-real-secret' }),
      ).rejects.toThrow();
      expect(requests.length).toBeGreaterThan(0);
      expect(new Set(requests.map((r) => new URL(r.url).host))).toEqual(new Set([loginHost]));
      const tokenRequest = requests.find((r) => r.url.includes('/oauth2/'));
      expect(tokenRequest?.url).toContain(`/${TENANT}/oauth2/v2.0/token`);
    },
  );

  it.each(CLOUDS)(
    '%s: the federated credential asks the managed identity for the cloud token-exchange audience',
    async (cloud, _loginHost, audience) => {
      await expect(
        tokenFor(cloud, { AUDITFEED_AUTH_MODE: 'federated', AUDITFEED_MANAGED_IDENTITY_CLIENT_ID: MI }),
      ).rejects.toThrow();
      const resources = requests
        .map((r) => new URL(r.url).searchParams.get('resource'))
        .filter((v): v is string => v !== null);
      expect(resources.length).toBeGreaterThan(0);
      expect(new Set(resources)).toEqual(new Set([audience]));
      // Nothing went to a login host before the managed identity answered.
      expect(requests.filter((r) => /login\./.test(new URL(r.url).host))).toEqual([]);
    },
  );
});
