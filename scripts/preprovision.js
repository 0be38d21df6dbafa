// @ts-check
'use strict';

/**
 * azd preprovision hook (plain Node, like postprovision.js): stops `azd provision` / `azd up` before Bicep runs,
 * saying what is wrong, in which azd variable, and the command that fixes it:
 * - AUDITFEED_TENANT_IDS are GUIDs and AUDITFEED_CLIENT_ID is one;
 * - AUDITFEED_CLOUD fits the Azure cloud azd deploys to (a GCC High tenant deployed into AzureCloud would get
 *   the US Government audience with a commercial issuer, and no token would ever be exchanged);
 * - a budget (AUDITFEED_BUDGET_AMOUNT) has an e-mail address and a start month that stays put: the month is
 *   pinned in the azd environment the first time, because a budget refuses a changed start date.
 * azd passes the environment's values to hooks as environment variables. Types: preprovision.d.ts.
 */

const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

/** Azure cloud (azd `cloud.name`) of each Microsoft 365 cloud; docs/deploy.md#sovereign-clouds. */
const AZURE_CLOUDS = {
  Enterprise: 'AzureCloud',
  GCC: 'AzureCloud',
  GCCHigh: 'AzureUSGovernment',
  DoD: 'AzureUSGovernment',
  '21Vianet': 'AzureChinaCloud',
};

/** As shared/guid.ts and the list parsing of shared/config.ts. */
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const MONTH_START = /^\d{4}-(0[1-9]|1[0-2])-01$/;

/** @param {string} value */
function list(value) {
  return value
    .split(/[,;\s]+/)
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

/**
 * Problems with the required settings and the budget, each a message that names the variable and the fix.
 * @param {Record<string, string | undefined>} env
 * @returns {string[]}
 */
function settingProblems(env) {
  /** @type {string[]} */
  const problems = [];
  const tenantIds = list(env.AUDITFEED_TENANT_IDS ?? '');
  if (tenantIds.length === 0) {
    problems.push(
      'AUDITFEED_TENANT_IDS is not set: the tenants to collect, as GUIDs separated by commas.\n' +
        '  azd env set AUDITFEED_TENANT_IDS "<tenant id>,<another tenant id>"',
    );
  } else {
    const bad = tenantIds.filter((t) => !GUID.test(t));
    if (bad.length > 0) {
      problems.push(
        `AUDITFEED_TENANT_IDS has ${bad.map((t) => JSON.stringify(t)).join(', ')}, not ${bad.length === 1 ? 'a tenant id (GUID)' : 'tenant ids (GUIDs)'}. ` +
          'Use the directory (tenant) ids, not domain names, separated by commas.\n' +
          `  azd env set AUDITFEED_TENANT_IDS "${tenantIds.filter((t) => GUID.test(t)).join(',') || '<tenant id>'}"`,
      );
    }
  }
  const clientId = (env.AUDITFEED_CLIENT_ID ?? '').trim();
  if (clientId === '') {
    problems.push(
      'AUDITFEED_CLIENT_ID is not set: the application (client) id of the app registration (docs/deploy.md, step 1).\n' +
        '  azd env set AUDITFEED_CLIENT_ID "<application id>"',
    );
  } else if (!GUID.test(clientId)) {
    problems.push(
      `AUDITFEED_CLIENT_ID is ${JSON.stringify(clientId)}, not an application (client) id (GUID); ` +
        "take the app registration's Application (client) ID, not its name or object id.\n" +
        '  azd env set AUDITFEED_CLIENT_ID "<application id>"',
    );
  }
  const cloud = env.AUDITFEED_CLOUD || 'Enterprise';
  if (!Object.hasOwn(AZURE_CLOUDS, cloud)) {
    problems.push(
      `AUDITFEED_CLOUD is ${JSON.stringify(cloud)}; it must be one of ${Object.keys(AZURE_CLOUDS).join(', ')}.\n` +
        '  azd env set AUDITFEED_CLOUD Enterprise',
    );
  }
  const budget = (env.AUDITFEED_BUDGET_AMOUNT ?? '').trim();
  if (budget !== '' && !/^\d+$/.test(budget)) {
    problems.push(
      `AUDITFEED_BUDGET_AMOUNT is ${JSON.stringify(budget)}; it must be a whole amount (0 = no budget).\n` +
        '  azd env set AUDITFEED_BUDGET_AMOUNT 500',
    );
  } else if (Number(budget) > 0 && !(env.AUDITFEED_ALERT_EMAIL ?? '').trim()) {
    problems.push(
      'AUDITFEED_BUDGET_AMOUNT is set but AUDITFEED_ALERT_EMAIL is empty: a budget notifies an e-mail address.\n' +
        '  azd env set AUDITFEED_ALERT_EMAIL "secops@contoso.com"',
    );
  }
  const start = (env.AUDITFEED_BUDGET_START_DATE ?? '').trim();
  if (start !== '' && !MONTH_START.test(start)) {
    problems.push(
      `AUDITFEED_BUDGET_START_DATE is ${JSON.stringify(start)}; it must be the first of a month, yyyy-MM-01 ` +
        "(an existing budget's own start date, which cannot change).\n" +
        `  azd env set AUDITFEED_BUDGET_START_DATE ${monthStart(new Date())}`,
    );
  }
  return problems;
}

/** @param {Date} now */
function monthStart(now) {
  return `${now.getUTCFullYear()}-${String(now.getUTCMonth() + 1).padStart(2, '0')}-01`;
}

/**
 * The budget's first month, pinned once: an environment value to set now, or a problem where nothing persists.
 * @param {Record<string, string | undefined>} env
 * @param {Date} now
 * @returns {{ set?: string, problem?: string }}
 */
function budgetStartDate(env, now) {
  if (!(Number((env.AUDITFEED_BUDGET_AMOUNT ?? '').trim()) > 0)) return {};
  if ((env.AUDITFEED_BUDGET_START_DATE ?? '').trim() !== '') return {};
  const month = monthStart(now);
  if (env.CI === 'true' || env.GITHUB_ACTIONS === 'true' || env.TF_BUILD === 'True') {
    // A runner's azd environment is gone after the run: next month's deploy would move the date and fail.
    return {
      problem:
        'AUDITFEED_BUDGET_AMOUNT is set but AUDITFEED_BUDGET_START_DATE is empty, and a pipeline keeps no azd ' +
        "environment to pin it in: a later month's deploy would move the budget's start date, which Azure refuses.\n" +
        `  Set the pipeline variable AUDITFEED_BUDGET_START_DATE to ${month} (or, for an existing budget, its start date).`,
    };
  }
  return { set: month };
}

/**
 * The Azure cloud azd deploys to, with azd's precedence: the environment's config.json, then azure.yaml, then the
 * user configuration (`azd config get cloud.name`), else AzureCloud.
 * @param {{ root: string, envName?: string, userCloud: () => string | undefined }} where
 * @returns {{ name: string, source: string }}
 */
function azdCloud({ root, envName, userCloud }) {
  if (envName) {
    const file = path.join(root, '.azure', envName, 'config.json');
    if (fs.existsSync(file)) {
      const name = JSON.parse(fs.readFileSync(file, 'utf8'))?.cloud?.name;
      if (typeof name === 'string' && name !== '') return { name, source: `.azure/${envName}/config.json` };
    }
  }
  const yamlFile = path.join(root, 'azure.yaml');
  if (fs.existsSync(yamlFile)) {
    // Only a top-level `cloud:` block with its `name:`; no YAML parser needed for that.
    const match = /^cloud:[^\S\n]*\n(?:[^\S\n]+#.*\n)*[^\S\n]+name:[^\S\n]*["']?([A-Za-z]+)["']?/m.exec(
      fs.readFileSync(yamlFile, 'utf8'),
    );
    if (match) return { name: /** @type {string} */ (match[1]), source: 'azure.yaml' };
  }
  const user = userCloud();
  if (user) return { name: user, source: 'azd config (cloud.name)' };
  return { name: 'AzureCloud', source: "azd's default" };
}

/**
 * `azd config get cloud.name`: prints the value as JSON; fails when it was never set.
 * @param {string} root
 * @returns {string | undefined}
 */
function userCloudFromAzd(root) {
  const result = spawnSync('azd', ['config', 'get', 'cloud.name'], {
    cwd: root,
    encoding: 'utf8',
    shell: process.platform === 'win32',
  });
  if (result.error || result.status !== 0) return undefined;
  try {
    const value = JSON.parse(result.stdout);
    return typeof value === 'string' && value !== '' ? value : undefined;
  } catch {
    return result.stdout.trim() || undefined;
  }
}

/**
 * @param {string} m365Cloud AUDITFEED_CLOUD
 * @param {{ name: string, source: string }} azure
 * @returns {string | undefined}
 */
function cloudProblem(m365Cloud, azure) {
  const expected = AZURE_CLOUDS[/** @type {keyof typeof AZURE_CLOUDS} */ (m365Cloud)];
  if (!expected || expected.toLowerCase() === azure.name.toLowerCase()) return undefined;
  const others = Object.entries(AZURE_CLOUDS)
    .filter(([, a]) => a.toLowerCase() === azure.name.toLowerCase())
    .map(([m]) => m);
  return (
    `AUDITFEED_CLOUD is ${m365Cloud}, whose tenants need the Azure cloud ${expected}, but azd deploys to ` +
    `${azure.name} (${azure.source}). The federated credential would carry ${m365Cloud}'s audience with ` +
    `${azure.name}'s issuer, and sign-in would fail. Either deploy to ${expected}:\n` +
    `  azd config set cloud.name ${expected} && azd auth login\n` +
    (others.length > 0
      ? `or, if the tenants are in ${others.join(' or ')}:\n  azd env set AUDITFEED_CLOUD ${others[0]}`
      : '')
  ).trimEnd();
}

function main() {
  const root = path.resolve(__dirname, '..');
  const env = process.env;
  const problems = settingProblems(env);
  const cloud = env.AUDITFEED_CLOUD || 'Enterprise';
  if (Object.hasOwn(AZURE_CLOUDS, cloud)) {
    const azure = azdCloud({ root, envName: env.AZURE_ENV_NAME, userCloud: () => userCloudFromAzd(root) });
    const problem = cloudProblem(cloud, azure);
    if (problem) problems.push(problem);
  }
  const pin = budgetStartDate(env, new Date());
  if (pin.problem) problems.push(pin.problem);

  if (problems.length > 0) {
    console.error(
      `preprovision: ${problems.length === 1 ? 'one setting needs' : `${problems.length} settings need`} fixing before provisioning:\n\n` +
        problems.join('\n\n'),
    );
    process.exitCode = 1;
    return;
  }
  if (pin.set) {
    const result = spawnSync('azd', ['env', 'set', 'AUDITFEED_BUDGET_START_DATE', pin.set], {
      cwd: root,
      encoding: 'utf8',
      shell: process.platform === 'win32',
    });
    if (result.error || result.status !== 0) {
      console.error(
        `preprovision: could not pin the budget's start date: ${result.error?.message ?? result.stderr}\n` +
          `  azd env set AUDITFEED_BUDGET_START_DATE ${pin.set}`,
      );
      process.exitCode = 1;
      return;
    }
    console.log(`preprovision: budget starts ${pin.set} (pinned as AUDITFEED_BUDGET_START_DATE; keep it).`);
  }
  console.log(`preprovision: settings look right for ${cloud}.`);
}

if (require.main === module) {
  try {
    main();
  } catch (e) {
    console.error(`preprovision: ${e instanceof Error ? e.message : String(e)}`);
    process.exitCode = 1;
  }
}

module.exports = { AZURE_CLOUDS, settingProblems, budgetStartDate, azdCloud, cloudProblem, monthStart };
