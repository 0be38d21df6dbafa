// @ts-check
'use strict';

/**
 * azd postprovision hook (plain Node, so it runs the same on every OS without a build):
 * - writes local.settings.json for running the functions locally against the provisioned resources, with
 *   identity-based connections that use your own sign-in (no keys, no secrets);
 * - writes the federated identity credential for the app registration and prints the command that adds it,
 *   plus the admin-consent URL of every tenant and the permissions that consent grants.
 * Types: postprovision.d.ts.
 */

const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

/** Settings copied as they are from the azd environment (outputs of infra/main.bicep). */
const COPIED = [
  'AUDITFEED_TENANT_IDS',
  'AUDITFEED_CLIENT_ID',
  'AUDITFEED_CLOUD',
  'AUDITFEED_AUTH_MODE',
  'AUDITFEED_CONTENT_TYPES',
  'AUDITFEED_PUBLISHER_ID',
  'AUDITFEED_RETENTION_DAYS',
  'AUDITFEED_AUDIT_RETENTION_DAYS',
  'AUDITFEED_BACKFILL_QUERIES_IN_FLIGHT',
  'AUDITFEED_BACKFILL_QUERIES_PER_DAY',
  'AUDITFEED_QUEUE_NAME',
  'AUDITFEED_COSMOS_DATABASE',
  'AUDITFEED_COSMOS_CONTAINER',
  'AUDITFEED_STORAGE__blobServiceUri',
  'AUDITFEED_STORAGE__queueServiceUri',
  'AUDITFEED_COSMOS__accountEndpoint',
];

/**
 * Removed from an existing local.settings.json: connection strings, keys and simulator overrides would
 * point the functions somewhere else than the provisioned resources.
 */
const REMOVED_LOCALLY = [
  'AzureWebJobsStorage',
  'AUDITFEED_STORAGE',
  'AUDITFEED_COSMOS__accountKey',
  'AUDITFEED_API_ENDPOINT',
  'AUDITFEED_LOGIN_ENDPOINT',
  'AUDITFEED_GRAPH_ENDPOINT',
  'AUDITFEED_TLS_CA_FILE',
];

/** Entra login host per Microsoft 365 cloud (as in shared/clouds.ts). */
const LOGIN_HOSTS = {
  Enterprise: 'https://login.microsoftonline.com',
  GCC: 'https://login.microsoftonline.com',
  GCCHigh: 'https://login.microsoftonline.us',
  DoD: 'https://login.microsoftonline.us',
  '21Vianet': 'https://login.partner.microsoftonline.cn',
};

/** Microsoft Graph endpoint of the home tenant's cloud. */
const GRAPH_HOSTS = {
  Enterprise: 'https://graph.microsoft.com',
  GCC: 'https://graph.microsoft.com',
  GCCHigh: 'https://graph.microsoft.us',
  DoD: 'https://dod-graph.microsoft.us',
  '21Vianet': 'https://microsoftgraph.chinacloudapi.cn',
};

/**
 * Whether Microsoft documents Graph's audit log query API (auditfeed backfill) in each cloud, as in
 * shared/clouds.ts `auditLogQuery` (test/infra/postprovision.test.ts compares the two).
 */
const AUDIT_LOG_QUERY = {
  Enterprise: 'documented',
  GCC: 'unconfirmed',
  GCCHigh: 'unavailable',
  DoD: 'unavailable',
  '21Vianet': 'unavailable',
};

/**
 * Parses the output of `azd env get-values` (dotenv lines, values in double quotes with backslash escapes).
 * @param {string} text
 * @returns {Record<string, string>}
 */
function parseEnvValues(text) {
  /** @type {Record<string, string>} */
  const values = {};
  for (const line of text.split(/\r?\n/)) {
    const match = /^\s*([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (!match) continue;
    const [, key, raw] = /** @type {[string, string, string]} */ (match);
    const quoted = /^"(.*)"\s*$/.exec(raw);
    values[key] = quoted
      ? (quoted[1] ?? '').replace(/\\(.)/g, (_, c) => (c === 'n' ? '\n' : c === 't' ? '\t' : c))
      : raw.trim();
  }
  return values;
}

/**
 * The local.settings.json to write: the existing file's other values are kept.
 * @param {Record<string, string>} env
 * @param {{ IsEncrypted?: boolean, Values?: Record<string, string> } | undefined} existing
 */
function localSettings(env, existing) {
  /** @type {Record<string, string>} */
  const values = { ...(existing?.Values ?? {}) };
  for (const key of REMOVED_LOCALLY) delete values[key];
  // Managed identity exists only in Azure; without these the code and the host use your own sign-in.
  for (const key of Object.keys(values)) {
    if (/__(credential|clientId)$/.test(key)) delete values[key];
  }
  values.FUNCTIONS_WORKER_RUNTIME = 'node';
  values.AzureWebJobsStorage__blobServiceUri = required(env, 'AUDITFEED_STORAGE__blobServiceUri');
  values.AzureWebJobsStorage__queueServiceUri = required(env, 'AUDITFEED_STORAGE__queueServiceUri');
  values.AzureWebJobsStorage__tableServiceUri = required(env, 'AZURE_STORAGE_TABLE_ENDPOINT');
  for (const key of COPIED) {
    const value = env[key];
    if (value !== undefined && value !== '') values[key] = value;
  }
  if (env.AUDITFEED_AUTH_MODE === 'federated' && env.AUDITFEED_MANAGED_IDENTITY_CLIENT_ID) {
    // Lets the configuration load; the collector itself needs a certificate or secret locally (docs/deploy.md).
    values.AUDITFEED_MANAGED_IDENTITY_CLIENT_ID = env.AUDITFEED_MANAGED_IDENTITY_CLIENT_ID;
  }
  return { IsEncrypted: false, Values: sortKeys(values) };
}

/**
 * The federated identity credential that lets the function's managed identity sign in as the app.
 * @param {Record<string, string>} env
 */
function federatedCredential(env) {
  const cloud = env.AUDITFEED_CLOUD || 'Enterprise';
  const graph = GRAPH_HOSTS[/** @type {keyof typeof GRAPH_HOSTS} */ (cloud)] ?? GRAPH_HOSTS.Enterprise;
  const clientId = required(env, 'AUDITFEED_CLIENT_ID');
  return {
    uri: `${graph}/v1.0/applications(appId='${clientId}')/federatedIdentityCredentials`,
    body: {
      name: `auditfeed-${env.AZURE_ENV_NAME || 'function'}`,
      issuer: required(env, 'AUDITFEED_FIC_ISSUER'),
      subject: required(env, 'AZURE_MANAGED_IDENTITY_PRINCIPAL_ID'),
      audiences: [required(env, 'AUDITFEED_FIC_AUDIENCE')],
      description: 'Managed identity of the auditfeed function app',
    },
  };
}

/**
 * How to create the federated credential, and how to replace one whose subject went stale because the
 * managed identity was recreated (same name, so creating it again says "already exists").
 * @param {{uri: string, body: {name: string}}} fic
 * @param {string} bodyFile path of the request body, relative to the project
 */
function federationNote(fic, bodyFile) {
  return [
    '',
    "Once per deployment, in the app registration's home tenant, add the managed identity as federated credential:",
    `  az rest --method POST --uri "${fic.uri}" --headers Content-Type=application/json --body "@${bodyFile}"`,
    `"already exists" means a credential named ${fic.body.name} is there. If the managed identity was recreated`,
    '(azd down, a new environment) its subject is stale: delete it, then POST again',
    '(docs/runbooks.md#re-federate-after-the-identity-changed):',
    `  az rest --method DELETE --uri "${fic.uri}/${fic.body.name}"`,
  ].join('\n');
}

/**
 * Admin-consent URL for every collected tenant.
 * @param {Record<string, string>} env
 */
function consentUrls(env) {
  const cloud = env.AUDITFEED_CLOUD || 'Enterprise';
  const login = LOGIN_HOSTS[/** @type {keyof typeof LOGIN_HOSTS} */ (cloud)] ?? LOGIN_HOSTS.Enterprise;
  const clientId = required(env, 'AUDITFEED_CLIENT_ID');
  return (env.AUDITFEED_TENANT_IDS ?? '')
    .split(/[,;\s]+/)
    .filter((t) => t !== '')
    .map((tenant) => `${login}/${tenant}/adminconsent?client_id=${clientId}`);
}

/**
 * What the admin consent grants, and whether backfill can use it in this cloud. One consent URL covers every
 * permission the app registration lists; a permission added later needs the consent again.
 * @param {Record<string, string>} env
 */
function consentNote(env) {
  const cloud = env.AUDITFEED_CLOUD || 'Enterprise';
  const availability =
    AUDIT_LOG_QUERY[/** @type {keyof typeof AUDIT_LOG_QUERY} */ (cloud)] ?? AUDIT_LOG_QUERY.Enterprise;
  const lines = [
    '',
    'Admin consent, once per collected tenant (a Global Administrator of that tenant):',
    ...consentUrls(env).map((u) => `  ${u}`),
    'It grants what the app registration lists (docs/deploy.md, step 1):',
    '  Office 365 Management APIs: ActivityFeed.Read, ActivityFeed.ReadDlp (the live feed)',
  ];
  if (availability === 'unavailable') {
    lines.push(
      `Backfill (auditfeed backfill) is unavailable in ${cloud}: Microsoft documents Graph's audit log query API for`,
      'the global service only. Fill history beyond 7 days with `auditfeed import <file>` from a Purview audit search',
      'export or Search-UnifiedAuditLog output (docs/backfill-mapping.md); no Graph permission is needed.',
    );
  } else {
    lines.push(
      '  Microsoft Graph: AuditLogsQuery.Read.All, if you added it for `auditfeed backfill` (history beyond 7 days)',
      'Added AuditLogsQuery.Read.All after a tenant consented? Its administrator opens the same URL again.',
    );
    if (availability === 'unconfirmed') {
      lines.push(
        `${cloud} uses the global Graph, but Microsoft's availability table does not name it: backfill tries and warns;`,
        '`auditfeed import <file>` is the fallback (docs/backfill.md#clouds).',
      );
    }
  }
  return lines.join('\n');
}

/**
 * What local runs need that this environment may not have granted: without AUDITFEED_DEPLOYER_DATA_ACCESS
 * (infra/main.bicep deployerDataAccess, default true) you have no data roles, and every request gets a 403.
 * @param {Record<string, string>} env
 * @returns {string | undefined}
 */
function localAccessNote(env) {
  if (!/^false$/i.test((env.AUDITFEED_DEPLOYER_DATA_ACCESS ?? '').trim())) return undefined;
  return [
    'AUDITFEED_DEPLOYER_DATA_ACCESS is false: you have no data roles on this storage account and Cosmos DB, so local',
    'runs and `npm run status` against them are refused (403). To grant them to yourself:',
    '  azd env set AUDITFEED_DEPLOYER_DATA_ACCESS true && azd provision',
  ].join('\n');
}

/**
 * Where the dashboard is (infra/app/workbook.bicep, output AZURE_WORKBOOK_URL); nothing before it exists.
 * @param {Record<string, string>} env
 * @returns {string | undefined}
 */
function dashboardNote(env) {
  const url = env.AZURE_WORKBOOK_URL;
  return url
    ? `\nDashboard (Azure Monitor workbook; alerts link their runbooks in docs/runbooks.md):\n  ${url}`
    : undefined;
}

/**
 * @param {Record<string, string>} env
 * @param {string} key
 */
function required(env, key) {
  const value = env[key];
  if (value === undefined || value === '') {
    throw new Error(`${key} is not in the azd environment; run \`azd provision\` first.`);
  }
  return value;
}

/** @param {Record<string, string>} values */
function sortKeys(values) {
  return Object.fromEntries(Object.entries(values).sort(([a], [b]) => a.localeCompare(b)));
}

function main() {
  const root = path.resolve(__dirname, '..');
  const result = spawnSync('azd', ['env', 'get-values'], {
    cwd: root,
    encoding: 'utf8',
    shell: process.platform === 'win32',
  });
  if (result.error || result.status !== 0) {
    console.error(`postprovision: \`azd env get-values\` failed: ${result.error?.message ?? result.stderr}`);
    process.exitCode = 1;
    return;
  }
  const env = parseEnvValues(result.stdout);

  if (process.env.CI === 'true') {
    console.log('postprovision: CI run, local.settings.json not written.');
  } else {
    const file = path.join(root, 'local.settings.json');
    const existing = fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, 'utf8')) : undefined;
    fs.writeFileSync(file, `${JSON.stringify(localSettings(env, existing), null, 2)}\n`);
    console.log(
      `postprovision: wrote ${path.relative(process.cwd(), file) || file} (identity-based, no secrets).`,
    );
    const note = localAccessNote(env);
    if (note) console.log(note);
  }

  const mode = env.AUDITFEED_AUTH_MODE || 'federated';
  if (mode === 'federated') {
    const fic = federatedCredential(env);
    const dir = path.join(root, '.azure', env.AZURE_ENV_NAME || '');
    const bodyFile = path.join(fs.existsSync(dir) ? dir : root, 'federated-credential.json');
    fs.writeFileSync(bodyFile, `${JSON.stringify(fic.body, null, 2)}\n`);
    console.log(federationNote(fic, path.relative(root, bodyFile)));
    console.log(
      `Locally the collector cannot use the managed identity: use AUDITFEED_AUTH_MODE=certificate with AUDITFEED_CLIENT_CERTIFICATE_PATH (docs/deploy.md).`,
    );
  } else {
    console.log(
      `\nUpload the ${mode} to Key Vault ${env.AZURE_KEY_VAULT_NAME} as "${env.AZURE_KEY_VAULT_SECRET_NAME}" (docs/deploy.md).`,
    );
  }
  console.log(consentNote(env));
  const dashboard = dashboardNote(env);
  if (dashboard) console.log(dashboard);
}

if (require.main === module) {
  try {
    main();
  } catch (e) {
    console.error(`postprovision: ${e instanceof Error ? e.message : String(e)}`);
    process.exitCode = 1;
  }
}

module.exports = {
  parseEnvValues,
  localSettings,
  federatedCredential,
  federationNote,
  consentUrls,
  consentNote,
  dashboardNote,
  localAccessNote,
  REMOVED_LOCALLY,
  LOGIN_HOSTS,
  AUDIT_LOG_QUERY,
};
