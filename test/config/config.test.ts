import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { CLOUD_ENDPOINTS, CLOUDS } from '../../shared/clouds';
import { describeConfig, loadConfig, SETTINGS, type SettingSpec } from '../../shared/config';
import { CONTENT_TYPES } from '../../shared/contentTypes';
import { ConfigError } from '../../shared/errors';

const TENANT = '8d41e0c4-1b2c-4d5e-9f60-0a1b2c3d4e5f';
const TENANT2 = '3c2b1a09-8f7e-4d6c-b5a4-9e8d7c6b5a41';
const CLIENT = '0f3a9c27-5e4b-4d1a-8c6f-2b7e9d0a1c35';
const MI = '5b8e2f14-9a3c-4e6d-b1f0-7c2a9e4d8b63';

const minimal = {
  AUDITFEED_TENANT_IDS: TENANT,
  AUDITFEED_CLIENT_ID: CLIENT,
  AUDITFEED_MANAGED_IDENTITY_CLIENT_ID: MI,
  AUDITFEED_STORAGE: 'UseDevelopmentStorage=true',
  AUDITFEED_COSMOS__accountEndpoint: 'http://127.0.0.1:8081',
  AUDITFEED_COSMOS__accountKey: 'a2V5',
};

function problemsOf(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig', () => {
  it('applies the documented defaults', () => {
    const config = loadConfig(minimal);
    expect(config.tenants).toEqual([{ tenantId: TENANT, publisherId: TENANT }]);
    expect(config.contentTypes).toEqual([...CONTENT_TYPES]);
    expect(config.cloud).toBe('Enterprise');
    expect(config.endpoints).toEqual({ ...CLOUD_ENDPOINTS.Enterprise, overridden: false });
    expect(config.auth).toEqual({ mode: 'federated', clientId: CLIENT, managedIdentityClientId: MI });
    expect(config.collectSchedule).toBe('0 */5 * * * *');
    expect(config.runDeadlineMs).toBe(480_000);
    expect(config.initialLookbackHours).toBe(168);
    expect(config.retentionDays).toBe(180);
    expect(config.http).toEqual({ timeoutMs: 60_000, maxRequestsPerMinute: 1800, maxRetries: 6 });
    expect(config.overlapMs).toBe(360 * 60_000);
    expect(config.sweepIntervalMs).toBe(60 * 60_000);
  });

  it('accepts several tenants, dedupes them, and uses a shared publisher id when set', () => {
    const config = loadConfig({
      ...minimal,
      AUDITFEED_TENANT_IDS: `${TENANT}, ${TENANT2.toUpperCase()};${TENANT}`,
      AUDITFEED_PUBLISHER_ID: TENANT2,
    });
    expect(config.tenants).toEqual([
      { tenantId: TENANT, publisherId: TENANT2 },
      { tenantId: TENANT2, publisherId: TENANT2 },
    ]);
  });

  it('maps every cloud to its login and API hosts, with aliases', () => {
    // Written out (reference §A1), so a wrong entry in the cloud table cannot pass.
    const expected: Record<string, [string, string, string]> = {
      Enterprise: ['login.microsoftonline.com', 'manage.office.com', 'api://AzureADTokenExchange'],
      GCC: ['login.microsoftonline.com', 'manage-gcc.office.com', 'api://AzureADTokenExchange'],
      GCCHigh: ['login.microsoftonline.us', 'manage.office365.us', 'api://AzureADTokenExchangeUSGov'],
      DoD: ['login.microsoftonline.us', 'manage.protection.apps.mil', 'api://AzureADTokenExchangeUSGov'],
      '21Vianet': ['login.partner.microsoftonline.cn', 'manage.office.cn', 'api://AzureADTokenExchangeChina'],
    };
    expect(Object.keys(expected)).toEqual([...CLOUDS]);
    for (const cloud of CLOUDS) {
      const [login, api, audience] = expected[cloud]!;
      expect(loadConfig({ ...minimal, AUDITFEED_CLOUD: cloud }).endpoints).toMatchObject({
        loginHost: `https://${login}`,
        apiOrigin: `https://${api}`,
        tokenExchangeAudience: audience,
        overridden: false,
      });
    }
    expect(loadConfig({ ...minimal, AUDITFEED_CLOUD: 'gcc-high' }).endpoints).toMatchObject({
      loginHost: 'https://login.microsoftonline.us',
      apiOrigin: 'https://manage.office365.us',
      tokenExchangeAudience: 'api://AzureADTokenExchangeUSGov',
    });
    expect(loadConfig({ ...minimal, AUDITFEED_CLOUD: 'dod' }).endpoints.apiOrigin).toBe(
      'https://manage.protection.apps.mil',
    );
    expect(loadConfig({ ...minimal, AUDITFEED_CLOUD: 'GCC' }).endpoints.apiOrigin).toBe(
      'https://manage-gcc.office.com',
    );
    expect(loadConfig({ ...minimal, AUDITFEED_CLOUD: 'China' }).endpoints).toMatchObject({
      loginHost: 'https://login.partner.microsoftonline.cn',
      tokenExchangeAudience: 'api://AzureADTokenExchangeChina',
    });
  });

  it('keeps the collector deadline below host.json functionTimeout, and reads maxDequeueCount from it', () => {
    const host = {
      file: 'host.json',
      functionTimeoutSeconds: 600,
      queues: {
        batchSize: 8,
        newBatchThreshold: 4,
        maxDequeueCount: 7,
        visibilityTimeoutSeconds: 120,
        maxPollingIntervalMs: 10_000,
        messageEncoding: 'none' as const,
      },
    };
    expect(loadConfig({ ...minimal, AUDITFEED_RUN_DEADLINE_SECONDS: '539' }, host)).toMatchObject({
      runDeadlineMs: 539_000,
      maxDequeueCount: 7,
    });
    let error: unknown;
    try {
      loadConfig({ ...minimal, AUDITFEED_RUN_DEADLINE_SECONDS: '540' }, host);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).message).toContain('AUDITFEED_RUN_DEADLINE_SECONDS="540"');
    expect((error as ConfigError).message).toContain('functionTimeout (600 s, host.json)');
    expect((error as ConfigError).message).toContain('at most 539');
    // Without arguments the project's own host.json is read: the default deadline fits it.
    expect(loadConfig(minimal).maxDequeueCount).toBe(5);
  });

  it('parses content types case-insensitively and per-content-type retention', () => {
    const config = loadConfig({
      ...minimal,
      AUDITFEED_CONTENT_TYPES: 'audit.exchange, DLP.ALL',
      AUDITFEED_CONTENT_TYPE_RETENTION_DAYS: 'Audit.AzureActiveDirectory=90,audit.exchange=365',
    });
    expect(config.contentTypes).toEqual(['Audit.Exchange', 'DLP.All']);
    expect(config.contentTypeRetentionDays).toEqual({
      'Audit.AzureActiveDirectory': 90,
      'Audit.Exchange': 365,
    });
  });

  it('bounds retention by what a Cosmos DB TTL can hold (2,147,483,647 s = 24,855 days)', () => {
    expect(loadConfig({ ...minimal, AUDITFEED_RETENTION_DAYS: '24855' }).retentionDays).toBe(24_855);
    expect(() => loadConfig({ ...minimal, AUDITFEED_RETENTION_DAYS: '24856' })).toThrow(
      /AUDITFEED_RETENTION_DAYS="24856": must be between 1 and 24855/,
    );
    expect(() =>
      loadConfig({ ...minimal, AUDITFEED_CONTENT_TYPE_RETENTION_DAYS: 'Audit.Exchange=36500' }),
    ).toThrow(/must be between 1 and 24855/);
  });

  it('reports every problem at once, each with the setting, the bad value and a valid example', () => {
    const error = problemsOf({
      AUDITFEED_STORAGE: 'UseDevelopmentStorage=true',
      AUDITFEED_COSMOS__accountEndpoint: 'http://127.0.0.1:8081',
      AUDITFEED_TENANT_IDS: 'contoso.onmicrosoft.com',
      AUDITFEED_CLIENT_ID: CLIENT,
      AUDITFEED_MANAGED_IDENTITY_CLIENT_ID: MI,
      AUDITFEED_CONTENT_TYPES: 'Audit.Exchange,Audit.Teams',
      AUDITFEED_CLOUD: 'Mars',
      AUDITFEED_RETENTION_DAYS: 'forever',
      AUDITFEED_COLLECT_SCHEDULE: '*/5 * * * *',
    });
    expect(error.problems.map((p) => p.setting)).toEqual([
      'AUDITFEED_TENANT_IDS',
      'AUDITFEED_CONTENT_TYPES',
      'AUDITFEED_CLOUD',
      'AUDITFEED_COLLECT_SCHEDULE',
      'AUDITFEED_RETENTION_DAYS',
    ]);
    expect(error.message).toContain(
      'AUDITFEED_TENANT_IDS="contoso.onmicrosoft.com": "contoso.onmicrosoft.com" is not a GUID. Example: AUDITFEED_TENANT_IDS=8d41e0c4-',
    );
    expect(error.message).toContain(
      '"Audit.Teams" is not a content type (valid: Audit.AzureActiveDirectory,',
    );
    expect(error.message).toContain(
      'AUDITFEED_CLOUD="Mars": is not a known cloud (valid: Enterprise, GCC, GCCHigh',
    );
    expect(error.message).toContain('AUDITFEED_COLLECT_SCHEDULE="*/5 * * * *": must have six fields');
    expect(error.message).toContain('AUDITFEED_RETENTION_DAYS="forever": must be a whole number. Example:');
  });

  it('names missing required settings', () => {
    const error = problemsOf({});
    expect(error.message).toContain('AUDITFEED_TENANT_IDS (not set): is required');
    expect(error.message).toContain('AUDITFEED_CLIENT_ID (not set): is required');
    expect(error.message).toContain('AUDITFEED_STORAGE (not set): is required: a connection string, or');
  });

  it('reads storage as a connection string locally or as identity-based service URIs in Azure', () => {
    const local = loadConfig(minimal);
    expect(local.storage.kind).toBe('connectionString');
    expect(JSON.stringify(local)).not.toContain('UseDevelopmentStorage');
    const { AUDITFEED_STORAGE: _, ...withoutConnectionString } = minimal;
    const azure = loadConfig({
      ...withoutConnectionString,
      AUDITFEED_STORAGE__blobServiceUri: 'https://stauditfeed.blob.core.windows.net/',
      AUDITFEED_STORAGE__queueServiceUri: 'https://stauditfeed.queue.core.windows.net',
      AUDITFEED_STORAGE__credential: 'managedidentity',
      AUDITFEED_STORAGE__clientId: MI,
    });
    expect(azure.storage).toEqual({
      kind: 'identity',
      blobServiceUri: 'https://stauditfeed.blob.core.windows.net',
      queueServiceUri: 'https://stauditfeed.queue.core.windows.net',
      identity: { kind: 'managedIdentity', clientId: MI },
    });
    const partial = problemsOf({
      ...withoutConnectionString,
      AUDITFEED_STORAGE__blobServiceUri: 'http://stauditfeed.blob.core.windows.net',
    });
    expect(partial.message).toContain(
      'AUDITFEED_STORAGE__blobServiceUri="http://stauditfeed.blob.core.windows.net": must be an https URL',
    );
    expect(partial.message).toContain('AUDITFEED_STORAGE__queueServiceUri (not set): is required');
    expect(problemsOf({ ...minimal, AUDITFEED_COSMOS__accountEndpoint: '' }).message).toContain(
      'AUDITFEED_COSMOS__accountEndpoint (not set): is required',
    );
    const cosmos = loadConfig({
      ...minimal,
      AUDITFEED_COSMOS__accountEndpoint: 'https://cosmos-x.documents.azure.com:443/',
      AUDITFEED_COSMOS__accountKey: '',
      AUDITFEED_COSMOS__credential: 'managedidentity',
      AUDITFEED_COSMOS__clientId: MI,
    }).cosmos;
    expect(cosmos).toEqual({
      endpoint: 'https://cosmos-x.documents.azure.com:443',
      identity: { kind: 'managedIdentity', clientId: MI },
      database: 'auditfeed',
      container: 'records',
    });
    expect(problemsOf({ ...minimal, AUDITFEED_QUEUE_NAME: 'Audit_Batches' }).message).toContain(
      'AUDITFEED_QUEUE_NAME="Audit_Batches": must be 3-56 lower-case letters',
    );
  });

  it('requires what each auth mode needs', () => {
    expect(problemsOf({ ...minimal, AUDITFEED_MANAGED_IDENTITY_CLIENT_ID: '' }).message).toContain(
      'AUDITFEED_MANAGED_IDENTITY_CLIENT_ID (not set): is required when AUDITFEED_AUTH_MODE is federated',
    );
    expect(problemsOf({ ...minimal, AUDITFEED_AUTH_MODE: 'secret' }).message).toContain(
      'AUDITFEED_CLIENT_SECRET (not set): is required when AUDITFEED_AUTH_MODE is secret',
    );
    expect(problemsOf({ ...minimal, AUDITFEED_AUTH_MODE: 'certificate' }).message).toContain(
      'AUDITFEED_CLIENT_CERTIFICATE (not set): is required when AUDITFEED_AUTH_MODE is certificate',
    );
    expect(problemsOf({ ...minimal, AUDITFEED_AUTH_MODE: 'password' }).message).toContain(
      'must be one of federated, certificate, secret',
    );
    const notPem = problemsOf({
      ...minimal,
      AUDITFEED_AUTH_MODE: 'certificate',
      AUDITFEED_CLIENT_CERTIFICATE: 'abc',
    });
    expect(notPem.message).toContain('AUDITFEED_CLIENT_CERTIFICATE="[redacted]": must be a PEM');
    expect(
      loadConfig({
        ...minimal,
        AUDITFEED_AUTH_MODE: 'certificate',
        AUDITFEED_CLIENT_CERTIFICATE_PATH: '/c.pem',
      }).auth,
    ).toEqual({ mode: 'certificate', clientId: CLIENT, certificate: { path: '/c.pem' } });
  });

  it('never shows a client secret when the config is logged, inspected or serialised', () => {
    const config = loadConfig({
      ...minimal,
      AUDITFEED_AUTH_MODE: 'secret',
      AUDITFEED_CLIENT_SECRET: 'Sup3r~s3cret',
    });
    expect(config.auth.mode === 'secret' && config.auth.clientSecret.reveal()).toBe('Sup3r~s3cret');
    for (const text of [
      JSON.stringify(config),
      inspect(config, { depth: 10 }),
      JSON.stringify(describeConfig(config)),
    ]) {
      expect(text).not.toContain('Sup3r~s3cret');
      expect(text).toContain('[redacted]');
    }
  });

  it('accepts simulator endpoint overrides on loopback only, with an optional CA file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'auditfeed-config-'));
    const ca = join(dir, 'ca.pem');
    writeFileSync(ca, '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
    const config = loadConfig({
      ...minimal,
      AUDITFEED_API_ENDPOINT: 'https://127.0.0.1:7443/',
      AUDITFEED_LOGIN_ENDPOINT: 'https://localhost:7443',
      AUDITFEED_TLS_CA_FILE: ca,
    });
    expect(config.endpoints).toMatchObject({
      apiOrigin: 'https://127.0.0.1:7443',
      loginHost: 'https://localhost:7443',
      overridden: true,
    });
    expect(config.endpoints.tlsCaPem).toContain('BEGIN CERTIFICATE');

    expect(problemsOf({ ...minimal, AUDITFEED_API_ENDPOINT: 'https://evil.example.com' }).message).toContain(
      'endpoint overrides are for the local simulator only and must point at a loopback address',
    );
    expect(problemsOf({ ...minimal, AUDITFEED_TLS_CA_FILE: ca }).message).toContain(
      'is only allowed together with AUDITFEED_API_ENDPOINT',
    );
    expect(
      problemsOf({
        ...minimal,
        AUDITFEED_API_ENDPOINT: 'http://127.0.0.1:1',
        AUDITFEED_TLS_CA_FILE: join(dir, 'nope.pem'),
      }).message,
    ).toContain('cannot be read (ENOENT)');
  });

  it('declares an example for every setting that itself passes validation', () => {
    for (const spec of Object.values(SETTINGS) as SettingSpec[]) {
      // A Key Vault reference is what goes into the app setting; the app sees the secret it resolves to.
      if (spec.example.startsWith('@Microsoft.KeyVault(')) {
        expect(spec.secret).toBe(true);
        continue;
      }
      // File and PEM contents, and identity-connection parts that only make sense together.
      if (spec.name.includes('CERTIFICATE') || spec.name === 'AUDITFEED_TLS_CA_FILE') continue;
      if (spec.name.startsWith('AUDITFEED_STORAGE__')) continue;
      if (spec.name === 'AUDITFEED_COSMOS__credential' || spec.name === 'AUDITFEED_COSMOS__clientId')
        continue;
      expect(() => loadConfig({ ...minimal, [spec.name]: spec.example })).not.toThrow();
    }
  });
});

describe('loadConfig refuses what the host or a later step would refuse', () => {
  const { AUDITFEED_STORAGE: _, ...withoutConnectionString } = minimal;
  const identityStorage = {
    ...withoutConnectionString,
    AUDITFEED_STORAGE__blobServiceUri: 'https://stauditfeed.blob.core.windows.net',
    AUDITFEED_STORAGE__queueServiceUri: 'https://stauditfeed.queue.core.windows.net',
    AUDITFEED_STORAGE__credential: 'managedidentity',
  };

  it('parses the collector schedule with the timer trigger rules, naming the wrong field', () => {
    const cases: [string, string][] = [
      ['0 61 * * * *', 'minute field "61" has 61, outside 0-59'],
      [
        '0 0 8 * * MON-XYZ',
        'day-of-week field "MON-XYZ" has "XYZ", neither a number 0-6 nor a name (SUN, MON,',
      ],
      ['0 0 8 * * 0,7', 'day-of-week field "0,7" has 7, outside 0-6 (Sunday is 0 or SUN)'],
      ['0 */0 * * * *', 'minute field "*/0" has step "0": a step must be a whole number of at least 1'],
      ['0 0 5-2 * * *', 'hour field "5-2" has a range that runs backwards (5-2)'],
      ['0 0 0 31 2 *', 'never fires: no month in the month field "2" has a day in the day field "31"'],
      // Possible, but not for decades: a collector that does not run.
      ['0 0 0 29 2 Mon', 'has no occurrence within 5 years after'],
    ];
    for (const [schedule, reason] of cases) {
      const error = problemsOf({ ...minimal, AUDITFEED_COLLECT_SCHEDULE: schedule });
      expect(error.problems.map((p) => p.setting)).toEqual(['AUDITFEED_COLLECT_SCHEDULE']);
      expect(error.message).toContain(`AUDITFEED_COLLECT_SCHEDULE="${schedule}": ${reason}`);
      expect(error.message).toContain('Example: AUDITFEED_COLLECT_SCHEDULE=0 */5 * * * *');
    }
    for (const schedule of ['0 0 8 * * Mon-Fri', '0 0 0 29 2 *', '30 */10 6-22 * JAN-jun *']) {
      expect(loadConfig({ ...minimal, AUDITFEED_COLLECT_SCHEDULE: ` ${schedule} ` }).collectSchedule).toBe(
        schedule,
      );
    }
  });

  it('reports a Key Vault reference App Service could not resolve, once, in any setting', () => {
    const reference =
      '@Microsoft.KeyVault(SecretUri=https://kv-auditfeed.vault.azure.net/secrets/mgmt-api-secret/)';
    const error = problemsOf({
      ...minimal,
      AUDITFEED_AUTH_MODE: 'secret',
      AUDITFEED_CLIENT_SECRET: reference,
    });
    expect(error.problems.map((p) => p.setting)).toEqual(['AUDITFEED_CLIENT_SECRET']);
    // The reference is where the secret lives, not the secret: shown, to find the fault.
    expect(error.message).toContain(
      `AUDITFEED_CLIENT_SECRET=${JSON.stringify(reference)}: is an unresolved Key Vault reference: the function app ` +
        "could not read the secret (check the app's identity has Key Vault Secrets User on the vault, the secret " +
        "exists, and the reference's syntax; the portal shows the reference status under Environment variables).",
    );

    // Any setting, any case; only that problem for it (not also "is not a GUID" / "not a connection string").
    const several = problemsOf({
      ...minimal,
      AUDITFEED_TENANT_IDS: '@microsoft.keyvault(VaultName=kv-auditfeed;SecretName=tenants)',
      AUDITFEED_STORAGE:
        ' @MICROSOFT.KEYVAULT(SecretUri=https://kv-auditfeed.vault.azure.net/secrets/storage/)',
      AUDITFEED_COSMOS__accountKey: '@Microsoft.KeyVault(VaultName=kv-auditfeed;SecretName=cosmos-key)',
      AUDITFEED_COSMOS__credential: 'managedidentity',
    });
    expect(several.problems.map((p) => [p.setting, p.problem.split(':')[0]])).toEqual([
      ['AUDITFEED_TENANT_IDS', 'is an unresolved Key Vault reference'],
      ['AUDITFEED_STORAGE', 'is an unresolved Key Vault reference'],
      ['AUDITFEED_COSMOS__accountKey', 'is an unresolved Key Vault reference'],
    ]);
    expect(several.message).toContain(
      'AUDITFEED_TENANT_IDS="@microsoft.keyvault(VaultName=kv-auditfeed;SecretName=tenants)": is an unresolved',
    );

    // A query string in the reference is not echoed.
    const withQuery = problemsOf({
      ...minimal,
      AUDITFEED_AUTH_MODE: 'secret',
      AUDITFEED_CLIENT_SECRET:
        '@Microsoft.KeyVault(SecretUri=https://kv.vault.azure.net/secrets/x/?sv=1&sig=Zm9vYmFy)',
    });
    expect(withQuery.message).toContain(
      'AUDITFEED_CLIENT_SECRET="@Microsoft.KeyVault(SecretUri=https://kv.vault.azure.net/secrets/x/?…": is an unresolved',
    );
    expect(withQuery.message).not.toContain('Zm9vYmFy');
  });

  it('requires https for the login endpoint override; the API endpoint may be http', () => {
    const error = problemsOf({ ...minimal, AUDITFEED_LOGIN_ENDPOINT: 'http://127.0.0.1:7443' });
    expect(error.message).toContain(
      'AUDITFEED_LOGIN_ENDPOINT="http://127.0.0.1:7443": must be an https URL: @azure/identity refuses a login authority that is not https',
    );
    const config = loadConfig({
      ...minimal,
      AUDITFEED_API_ENDPOINT: 'http://127.0.0.1:7080',
      AUDITFEED_LOGIN_ENDPOINT: 'https://127.0.0.1:7443',
    });
    expect(config.endpoints).toMatchObject({
      apiOrigin: 'http://127.0.0.1:7080',
      loginHost: 'https://127.0.0.1:7443',
    });
  });

  it('refuses a Cosmos DB key together with the managed identity, naming both settings', () => {
    const error = problemsOf({
      ...minimal,
      AUDITFEED_COSMOS__accountKey: 'c2VjcmV0LWNvc21vcy1rZXk=',
      AUDITFEED_COSMOS__credential: 'managedidentity',
    });
    expect(error.problems.map((p) => p.setting)).toEqual(['AUDITFEED_COSMOS__accountKey']);
    expect(error.message).toContain(
      'AUDITFEED_COSMOS__accountKey="[redacted]": is set together with AUDITFEED_COSMOS__credential=managedidentity: ' +
        'a key and the managed identity contradict each other. Remove AUDITFEED_COSMOS__accountKey',
    );
    expect(error.message).toContain('or remove AUDITFEED_COSMOS__credential');
    expect(error.message).not.toContain('c2VjcmV0LWNvc21vcy1rZXk=');
  });

  it('refuses a storage connection string together with identity-based storage settings', () => {
    for (const [name, value] of Object.entries({
      AUDITFEED_STORAGE__credential: 'managedidentity',
      AUDITFEED_STORAGE__blobServiceUri: 'https://stauditfeed.blob.core.windows.net',
      AUDITFEED_STORAGE__queueServiceUri: 'https://stauditfeed.queue.core.windows.net',
    })) {
      const error = problemsOf({ ...minimal, [name]: value });
      expect(error.problems.map((p) => p.setting)).toEqual(['AUDITFEED_STORAGE']);
      expect(error.message).toContain(
        `AUDITFEED_STORAGE="[redacted]": is a connection string, and ${name} describes an identity-based connection`,
      );
      expect(error.message).toContain(
        'Remove AUDITFEED_STORAGE (Azure, managed identity) or remove the AUDITFEED_STORAGE__*',
      );
    }
    const all = problemsOf({ ...identityStorage, AUDITFEED_STORAGE: 'UseDevelopmentStorage=true' });
    expect(all.message).toContain(
      'AUDITFEED_STORAGE__blobServiceUri, AUDITFEED_STORAGE__queueServiceUri, AUDITFEED_STORAGE__credential describe',
    );
    expect(loadConfig(identityStorage).storage.kind).toBe('identity');
  });

  it('never echoes a query string, user info or secret of a rejected value, whatever the setting', () => {
    const sas = problemsOf({
      ...withoutConnectionString,
      AUDITFEED_STORAGE__blobServiceUri: 'http://stauditfeed.blob.core.windows.net/?sv=2022-11-02&sig=secret',
      AUDITFEED_STORAGE__queueServiceUri:
        'https://stauditfeed.queue.core.windows.net/?sv=2022-11-02&sig=secret',
      AUDITFEED_COSMOS__accountEndpoint: 'https://cosmos-x.documents.azure.com:443/?sig=secret',
    });
    expect(sas.problems.map((p) => p.setting)).toEqual([
      'AUDITFEED_STORAGE__blobServiceUri',
      'AUDITFEED_STORAGE__queueServiceUri',
      'AUDITFEED_COSMOS__accountEndpoint',
    ]);
    expect(sas.message).toContain(
      'AUDITFEED_STORAGE__blobServiceUri="http://stauditfeed.blob.core.windows.net/?…": must be an https URL',
    );
    // A SAS token in an identity-based URI would sit in a plain setting and in logs: refused, not used.
    expect(sas.message).toContain(
      'AUDITFEED_STORAGE__queueServiceUri="https://stauditfeed.queue.core.windows.net/?…": must be the plain endpoint, without query string',
    );
    expect(sas.message).not.toContain('secret');
    expect(JSON.stringify(sas.problems)).not.toContain('secret');

    const elsewhere = problemsOf({
      ...minimal,
      AUDITFEED_TENANT_IDS: 'https://contoso.example/tenants?code=secret',
      AUDITFEED_API_ENDPOINT: 'https://admin:secret@evil.example.com',
      AUDITFEED_LOGIN_ENDPOINT: 'https://admin:secret@127.0.0.1:7443',
    });
    expect(elsewhere.problems.map((p) => p.setting)).toEqual([
      'AUDITFEED_TENANT_IDS',
      'AUDITFEED_API_ENDPOINT',
      'AUDITFEED_LOGIN_ENDPOINT',
    ]);
    expect(elsewhere.message).toContain('"https://contoso.example/tenants?…" is not a GUID');
    expect(elsewhere.message).toContain(
      'AUDITFEED_API_ENDPOINT="https://…@evil.example.com": endpoint overrides',
    );
    expect(elsewhere.message).toContain(
      'AUDITFEED_LOGIN_ENDPOINT="https://…@127.0.0.1:7443": must be an origin without path, query or user info',
    );
    expect(elsewhere.message).not.toContain('secret');

    // Credentials stay [redacted] as a whole.
    const storage = problemsOf({
      ...minimal,
      AUDITFEED_STORAGE: 'DefaultEndpointsProtocol=https;AccountKey=c2VjcmV0',
    });
    expect(storage.message).toContain('AUDITFEED_STORAGE="[redacted]": is not a storage connection string');
    expect(storage.message).not.toContain('c2VjcmV0');
  });

  it('reads the full-sweep interval in minutes, 0 to a week', () => {
    expect(loadConfig({ ...minimal, AUDITFEED_SWEEP_INTERVAL_MINUTES: '0' }).sweepIntervalMs).toBe(0);
    expect(loadConfig({ ...minimal, AUDITFEED_SWEEP_INTERVAL_MINUTES: '10080' }).sweepIntervalMs).toBe(
      604_800_000,
    );
    for (const [value, problem] of <[string, string][]>[
      ['10081', 'must be between 0 and 10080'],
      ['-1', 'must be between 0 and 10080'],
      ['1.5', 'must be a whole number'],
      ['hourly', 'must be a whole number'],
    ]) {
      expect(problemsOf({ ...minimal, AUDITFEED_SWEEP_INTERVAL_MINUTES: value }).message).toContain(
        `AUDITFEED_SWEEP_INTERVAL_MINUTES="${value}": ${problem}. Example: AUDITFEED_SWEEP_INTERVAL_MINUTES=180`,
      );
    }
  });
});
