import { CLOUD_ENDPOINTS, CLOUDS } from '../../shared/clouds';
import { SETTINGS, type SettingSpec } from '../../shared/config';
import {
  AUDIT_LOG_QUERY,
  LOGIN_HOSTS,
  REMOVED_LOCALLY,
  consentNote,
  consentUrls,
  dashboardNote,
  federatedCredential,
  federationNote,
  localSettings,
  parseEnvValues,
} from '../../scripts/postprovision';

const MI_PRINCIPAL = '6f1c2d3e-4a5b-4c6d-8e7f-9a0b1c2d3e4f';
const MI_CLIENT = '5b8e2f14-9a3c-4e6d-b1f0-7c2a9e4d8b63';
const APP = '0f3a9c27-5e4b-4d1a-8c6f-2b7e9d0a1c35';

const ENV_OUTPUT = [
  'AZURE_ENV_NAME="prod"',
  'AZURE_STORAGE_TABLE_ENDPOINT="https://stabc.table.core.windows.net/"',
  `AZURE_MANAGED_IDENTITY_PRINCIPAL_ID="${MI_PRINCIPAL}"`,
  'AUDITFEED_FIC_ISSUER="https://login.microsoftonline.com/8d41e0c4-1b2c-4d5e-9f60-0a1b2c3d4e5f/v2.0"',
  'AUDITFEED_FIC_AUDIENCE="api://AzureADTokenExchange"',
  'AUDITFEED_TENANT_IDS="8d41e0c4-1b2c-4d5e-9f60-0a1b2c3d4e5f,3c2b1a09-8f7e-4d6c-b5a4-9e8d7c6b5a41"',
  `AUDITFEED_CLIENT_ID="${APP}"`,
  'AUDITFEED_AUTH_MODE="federated"',
  'AUDITFEED_CLOUD="Enterprise"',
  'AUDITFEED_PUBLISHER_ID=""',
  'AUDITFEED_QUEUE_NAME="auditfeed-batches"',
  `AUDITFEED_MANAGED_IDENTITY_CLIENT_ID="${MI_CLIENT}"`,
  'AUDITFEED_STORAGE__blobServiceUri="https://stabc.blob.core.windows.net/"',
  'AUDITFEED_STORAGE__queueServiceUri="https://stabc.queue.core.windows.net/"',
  'AUDITFEED_COSMOS__accountEndpoint="https://cosmos-abc.documents.azure.com:443/"',
  'APPLICATIONINSIGHTS_CONNECTION_STRING="InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=https://x/"',
  'QUOTED="say \\"hi\\""',
  '',
].join('\n');

describe('postprovision hook', () => {
  const env = parseEnvValues(ENV_OUTPUT);

  it('parses `azd env get-values` output', () => {
    expect(env.AUDITFEED_CLIENT_ID).toBe(APP);
    expect(env.AUDITFEED_PUBLISHER_ID).toBe('');
    expect(env.QUOTED).toBe('say "hi"');
    expect(parseEnvValues('A=plain\r\nB="x=y"\r\n# comment')).toEqual({ A: 'plain', B: 'x=y' });
  });

  it('writes identity-based settings that use your own sign-in, and nothing secret', () => {
    const { Values } = localSettings(env, undefined);
    expect(Values).toMatchObject({
      FUNCTIONS_WORKER_RUNTIME: 'node',
      AzureWebJobsStorage__blobServiceUri: 'https://stabc.blob.core.windows.net/',
      AzureWebJobsStorage__queueServiceUri: 'https://stabc.queue.core.windows.net/',
      AzureWebJobsStorage__tableServiceUri: 'https://stabc.table.core.windows.net/',
      AUDITFEED_STORAGE__blobServiceUri: 'https://stabc.blob.core.windows.net/',
      AUDITFEED_COSMOS__accountEndpoint: 'https://cosmos-abc.documents.azure.com:443/',
      AUDITFEED_TENANT_IDS: env.AUDITFEED_TENANT_IDS,
      AUDITFEED_MANAGED_IDENTITY_CLIENT_ID: MI_CLIENT,
    });
    const keys = Object.keys(Values);
    expect(keys.filter((k) => /__(credential|clientId)$/.test(k))).toEqual([]);
    expect(keys).not.toContain('AUDITFEED_PUBLISHER_ID'); // empty: the code default applies
    expect(JSON.stringify(Values)).not.toMatch(/InstrumentationKey|AccountKey|SharedAccessSignature/);
  });

  it('keeps your own additions and drops what would point elsewhere', () => {
    const existing = {
      IsEncrypted: false,
      Values: {
        AzureWebJobsStorage: 'UseDevelopmentStorage=true',
        AUDITFEED_STORAGE: 'UseDevelopmentStorage=true',
        AUDITFEED_API_ENDPOINT: 'https://127.0.0.1:7443',
        AUDITFEED_COSMOS__credential: 'managedidentity',
        AUDITFEED_CLIENT_CERTIFICATE_PATH: '/home/me/auditfeed.pem',
      },
    };
    const { Values } = localSettings(env, existing);
    expect(Values.AUDITFEED_CLIENT_CERTIFICATE_PATH).toBe('/home/me/auditfeed.pem');
    for (const key of [
      'AzureWebJobsStorage',
      'AUDITFEED_STORAGE',
      'AUDITFEED_API_ENDPOINT',
      'AUDITFEED_COSMOS__credential',
    ]) {
      expect(Values).not.toHaveProperty(key);
    }
  });

  it('drops every local-only setting of the code', () => {
    const localOnly = Object.values(SETTINGS as Record<string, SettingSpec>)
      .filter((s) => s.localOnly)
      .map((s) => s.name);
    expect(REMOVED_LOCALLY).toEqual(expect.arrayContaining([...localOnly, SETTINGS.storage.name]));
  });

  it('builds the federated credential: issuer, the identity as subject, the cloud audience', () => {
    const fic = federatedCredential(env);
    expect(fic.uri).toBe(
      `https://graph.microsoft.com/v1.0/applications(appId='${APP}')/federatedIdentityCredentials`,
    );
    expect(fic.body).toMatchObject({
      name: 'auditfeed-prod',
      issuer: env.AUDITFEED_FIC_ISSUER,
      subject: MI_PRINCIPAL,
      audiences: ['api://AzureADTokenExchange'],
    });
    expect(federatedCredential({ ...env, AUDITFEED_CLOUD: 'GCCHigh' }).uri).toMatch(
      /^https:\/\/graph\.microsoft\.us\//,
    );
  });

  it('says how to create the credential and how to replace one left stale by a recreated identity', () => {
    const fic = federatedCredential(env);
    const note = federationNote(fic, '.azure/prod/federated-credential.json');
    expect(note).toContain(
      `az rest --method POST --uri "${fic.uri}" --headers Content-Type=application/json --body "@.azure/prod/federated-credential.json"`,
    );
    // Graph addresses a federated credential by its name, the one the POST body gives.
    expect(note).toContain(`az rest --method DELETE --uri "${fic.uri}/auditfeed-prod"`);
    expect(note).toContain('docs/runbooks.md#re-federate-after-the-identity-changed');
  });

  it('gives one admin-consent URL per tenant, on the login host of the cloud', () => {
    expect(consentUrls(env)).toEqual([
      `https://login.microsoftonline.com/8d41e0c4-1b2c-4d5e-9f60-0a1b2c3d4e5f/adminconsent?client_id=${APP}`,
      `https://login.microsoftonline.com/3c2b1a09-8f7e-4d6c-b5a4-9e8d7c6b5a41/adminconsent?client_id=${APP}`,
    ]);
    expect(LOGIN_HOSTS).toEqual(Object.fromEntries(CLOUDS.map((c) => [c, CLOUD_ENDPOINTS[c].loginHost])));
  });

  it('says what the consent grants: the Management API permissions, and the Graph one backfill needs', () => {
    const note = consentNote(env);
    for (const url of consentUrls(env)) expect(note).toContain(`  ${url}\n`);
    expect(note).toContain('Office 365 Management APIs: ActivityFeed.Read, ActivityFeed.ReadDlp');
    expect(note).toMatch(
      /Microsoft Graph: AuditLogsQuery\.Read\.All, if you added it for `auditfeed backfill`/,
    );
    expect(note).toMatch(/after a tenant consented\? Its administrator opens the same URL again/);
    expect(note).not.toMatch(/unavailable|does not name/);
  });

  it('says backfill is unavailable where Graph does not document the audit log query API, and points to import', () => {
    for (const cloud of ['GCCHigh', 'DoD', '21Vianet']) {
      const note = consentNote({ ...env, AUDITFEED_CLOUD: cloud });
      expect(note).toContain(`Backfill (auditfeed backfill) is unavailable in ${cloud}`);
      expect(note).toContain('`auditfeed import <file>`');
      expect(note).not.toContain('AuditLogsQuery.Read.All'); // nothing to consent to there
      expect(note).toContain(`${LOGIN_HOSTS[cloud]}/8d41e0c4-1b2c-4d5e-9f60-0a1b2c3d4e5f/adminconsent?`);
    }
    const gcc = consentNote({ ...env, AUDITFEED_CLOUD: 'GCC' });
    expect(gcc).toContain('AuditLogsQuery.Read.All');
    expect(gcc).toMatch(/GCC uses the global Graph[\s\S]*tries and warns[\s\S]*auditfeed import <file>/);
  });

  it("knows the audit log query API's availability per cloud as shared/clouds.ts does", () => {
    expect(AUDIT_LOG_QUERY).toEqual(
      Object.fromEntries(CLOUDS.map((c) => [c, CLOUD_ENDPOINTS[c].auditLogQuery])),
    );
  });

  it('copies the audit retention azd setting, so a local backfill function keeps to the same limit', () => {
    const { Values } = localSettings({ ...env, AUDITFEED_AUDIT_RETENTION_DAYS: '365' }, undefined);
    expect(Values.AUDITFEED_AUDIT_RETENTION_DAYS).toBe('365');
  });

  it("prints the dashboard's portal link from the AZURE_WORKBOOK_URL output, nothing before it exists", () => {
    const url =
      'https://portal.azure.com/#@8d41e0c4-1b2c-4d5e-9f60-0a1b2c3d4e5f/resource/subscriptions/s/resourceGroups/rg/providers/Microsoft.Insights/workbooks/w/workbook';
    expect(dashboardNote({ ...env, AZURE_WORKBOOK_URL: url })).toContain(`  ${url}`);
    expect(dashboardNote(env)).toBeUndefined();
  });

  it('names the missing output when provisioning has not run', () => {
    expect(() => localSettings({}, undefined)).toThrow(/AUDITFEED_STORAGE__blobServiceUri .*azd provision/);
  });
});
