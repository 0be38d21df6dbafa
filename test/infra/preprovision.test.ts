import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  AZURE_CLOUDS,
  azdCloud,
  budgetStartDate,
  cloudProblem,
  settingProblems,
} from '../../scripts/preprovision';
import { CLOUDS } from '../../shared/clouds';
import { isGuid } from '../../shared/guid';
import { REPO_ROOT } from './bicep';

const TENANT = '8d41e0c4-1b2c-4d5e-9f60-0a1b2c3d4e5f';
const OTHER_TENANT = '3c2b1a09-8f7e-4d6c-b5a4-9e8d7c6b5a41';
const APP = '0f3a9c27-5e4b-4d1a-8c6f-2b7e9d0a1c35';
const VALID = { AUDITFEED_TENANT_IDS: `${TENANT},${OTHER_TENANT}`, AUDITFEED_CLIENT_ID: APP };

describe('preprovision hook: settings', () => {
  it('accepts GUID tenant ids (separated as the code separates them) and a GUID client id', () => {
    expect(settingProblems(VALID)).toEqual([]);
    expect(settingProblems({ ...VALID, AUDITFEED_TENANT_IDS: ` ${TENANT} ; ${OTHER_TENANT}\n` })).toEqual([]);
    expect(isGuid(TENANT) && isGuid(APP)).toBe(true); // the same GUID shape as shared/guid.ts
  });

  it('says which variable is missing and the command that sets it', () => {
    const problems = settingProblems({});
    expect(problems).toHaveLength(2);
    expect(problems[0]).toMatch(/^AUDITFEED_TENANT_IDS is not set[\s\S]*azd env set AUDITFEED_TENANT_IDS /);
    expect(problems[1]).toMatch(/^AUDITFEED_CLIENT_ID is not set[\s\S]*azd env set AUDITFEED_CLIENT_ID /);
  });

  it('names the values that are not GUIDs and keeps the good ones in the suggested command', () => {
    const [tenants, client] = settingProblems({
      AUDITFEED_TENANT_IDS: `contoso.onmicrosoft.com,${TENANT}`,
      AUDITFEED_CLIENT_ID: 'auditfeed',
    });
    expect(tenants).toContain('"contoso.onmicrosoft.com"');
    expect(tenants).toContain(`azd env set AUDITFEED_TENANT_IDS "${TENANT}"`);
    expect(client).toMatch(/AUDITFEED_CLIENT_ID is "auditfeed", not an application \(client\) id/);
  });

  it('refuses an unknown AUDITFEED_CLOUD, a budget without an e-mail address and a start date not on the 1st', () => {
    expect(settingProblems({ ...VALID, AUDITFEED_CLOUD: 'GCC High' })[0]).toMatch(
      /AUDITFEED_CLOUD is "GCC High"; it must be one of Enterprise, GCC, GCCHigh, DoD, 21Vianet/,
    );
    expect(settingProblems({ ...VALID, AUDITFEED_BUDGET_AMOUNT: '500' })[0]).toMatch(
      /AUDITFEED_ALERT_EMAIL is empty[\s\S]*azd env set AUDITFEED_ALERT_EMAIL/,
    );
    expect(settingProblems({ ...VALID, AUDITFEED_BUDGET_AMOUNT: '€500' })[0]).toMatch(/whole amount/);
    expect(settingProblems({ ...VALID, AUDITFEED_BUDGET_START_DATE: '2026-09-15' })[0]).toMatch(
      /first of a month, yyyy-MM-01/,
    );
    expect(settingProblems({ ...VALID, AUDITFEED_BUDGET_AMOUNT: '0' })).toEqual([]);
  });
});

describe('preprovision hook: cloud', () => {
  it('maps every Microsoft 365 cloud of the code to its Azure cloud', () => {
    expect(Object.keys(AZURE_CLOUDS).sort()).toEqual([...CLOUDS].sort());
    expect(AZURE_CLOUDS).toEqual({
      Enterprise: 'AzureCloud',
      GCC: 'AzureCloud',
      GCCHigh: 'AzureUSGovernment',
      DoD: 'AzureUSGovernment',
      '21Vianet': 'AzureChinaCloud',
    });
  });

  it('refuses GCC High deployed into AzureCloud, saying how to fix either side', () => {
    const problem = cloudProblem('GCCHigh', { name: 'AzureCloud', source: "azd's default" })!;
    expect(problem).toMatch(
      /AUDITFEED_CLOUD is GCCHigh.*need the Azure cloud AzureUSGovernment, but azd deploys to AzureCloud/,
    );
    expect(problem).toContain('azd config set cloud.name AzureUSGovernment');
    expect(problem).toContain('azd env set AUDITFEED_CLOUD Enterprise');
    expect(cloudProblem('GCCHigh', { name: 'AzureUSGovernment', source: 'x' })).toBeUndefined();
    expect(cloudProblem('21Vianet', { name: 'AzureChinaCloud', source: 'x' })).toBeUndefined();
    expect(cloudProblem('Enterprise', { name: 'AzureChinaCloud', source: 'x' })).toMatch(
      /azd env set AUDITFEED_CLOUD 21Vianet/,
    );
  });

  describe("finds azd's cloud with azd's precedence", () => {
    let root: string;
    beforeEach(() => {
      root = mkdtempSync(path.join(tmpdir(), 'auditfeed-cloud-'));
    });
    afterEach(() => rmSync(root, { recursive: true, force: true }));
    const user = (): string => 'AzureChinaCloud';

    it('environment config.json, then azure.yaml, then the user configuration, else AzureCloud', () => {
      expect(azdCloud({ root, envName: 'prod', userCloud: () => undefined })).toEqual({
        name: 'AzureCloud',
        source: "azd's default",
      });
      expect(azdCloud({ root, envName: 'prod', userCloud: user }).name).toBe('AzureChinaCloud');
      writeFileSync(
        path.join(root, 'azure.yaml'),
        'name: x\ncloud:\n  name: AzureUSGovernment\nservices: {}\n',
      );
      expect(azdCloud({ root, envName: 'prod', userCloud: user })).toEqual({
        name: 'AzureUSGovernment',
        source: 'azure.yaml',
      });
      mkdirSync(path.join(root, '.azure', 'prod'), { recursive: true });
      writeFileSync(path.join(root, '.azure', 'prod', 'config.json'), '{"cloud":{"name":"AzureCloud"}}');
      expect(azdCloud({ root, envName: 'prod', userCloud: user })).toEqual({
        name: 'AzureCloud',
        source: '.azure/prod/config.json',
      });
    });
  });
});

describe('preprovision hook: budget start date', () => {
  const now = new Date('2026-09-17T23:30:00Z');

  it('pins this month once, so a later month does not move it (a budget refuses a changed start date)', () => {
    const budget = { ...VALID, AUDITFEED_BUDGET_AMOUNT: '500', AUDITFEED_ALERT_EMAIL: 'a@b.c' };
    expect(budgetStartDate(budget, now)).toEqual({ set: '2026-09-01' });
    expect(budgetStartDate({ ...budget, AUDITFEED_BUDGET_START_DATE: '2026-08-01' }, now)).toEqual({});
    expect(budgetStartDate({ ...VALID, AUDITFEED_BUDGET_AMOUNT: '0' }, now)).toEqual({});
    expect(budgetStartDate(VALID, now)).toEqual({});
  });

  it('in a pipeline, where no azd environment survives the run, asks for the date instead', () => {
    const { problem } = budgetStartDate({ ...VALID, AUDITFEED_BUDGET_AMOUNT: '500', CI: 'true' }, now);
    expect(problem).toMatch(/AUDITFEED_BUDGET_START_DATE to 2026-09-01/);
  });
});

describe('azure.yaml', () => {
  const yaml = readFileSync(path.join(REPO_ROOT, 'azure.yaml'), 'utf8');

  it('runs the hook before provisioning on every OS', () => {
    const block = /^ {2}preprovision:\n((?: {4}.*\n)+)/m.exec(yaml)?.[1] ?? '';
    expect(block.match(/run: node scripts\/preprovision\.js/g)).toHaveLength(2);
    expect(block).toMatch(/posix:\n\s+shell: sh/);
    expect(block).toMatch(/windows:\n\s+shell: pwsh/);
  });

  it('requires an azd that knows remoteBuild for Flex Consumption (1.23.5)', () => {
    expect(yaml).toMatch(/^requiredVersions:\n {2}azd: '>= 1\.23\.5'$/m);
  });
});

// The hook as azd runs it: environment values as variables, `azd` on PATH (here a fake that records its calls).
(process.platform === 'win32' ? describe.skip : describe)('preprovision hook as a process', () => {
  let dir: string;
  let log: string;

  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'auditfeed-azd-'));
    log = path.join(dir, 'calls.log');
    const azd = path.join(dir, 'azd');
    writeFileSync(
      azd,
      [
        '#!/bin/sh',
        `echo "$*" >> "${log}"`,
        'if [ "$1 $2 $3" = "config get cloud.name" ]; then',
        '  if [ -n "$FAKE_AZD_CLOUD" ]; then echo "\\"$FAKE_AZD_CLOUD\\""; exit 0; fi',
        '  echo "ERROR: no value at path \'cloud.name\'" >&2; exit 1',
        'fi',
        'exit 0',
        '',
      ].join('\n'),
    );
    chmodSync(azd, 0o755);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const run = (
    env: Record<string, string>,
  ): { status: number | null; stdout: string; stderr: string; calls: string[] } => {
    rmSync(log, { force: true });
    const result = spawnSync(process.execPath, [path.join(REPO_ROOT, 'scripts', 'preprovision.js')], {
      // Only what azd would pass: no CI flag of the test run itself, an environment with no config.json.
      env: {
        PATH: `${dir}${path.delimiter}${process.env.PATH ?? ''}`,
        AZURE_ENV_NAME: 'preprovision-test-none',
        ...env,
      },
      encoding: 'utf8',
    });
    let calls: string[] = [];
    try {
      calls = readFileSync(log, 'utf8').trim().split('\n');
    } catch {
      // no azd call
    }
    return { status: result.status, stdout: result.stdout, stderr: result.stderr, calls };
  };

  it('passes valid settings in the matching cloud', () => {
    const result = run(VALID);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(result.calls).toEqual(['config get cloud.name']);
  });

  it('stops with every missing setting named, before any deployment', () => {
    const result = run({});
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/2 settings need fixing/);
    expect(result.stderr).toContain('azd env set AUDITFEED_TENANT_IDS');
    expect(result.stderr).toContain('azd env set AUDITFEED_CLIENT_ID');
  });

  it('stops GCC High headed for AzureCloud, and lets it go to AzureUSGovernment', () => {
    const wrong = run({ ...VALID, AUDITFEED_CLOUD: 'GCCHigh', FAKE_AZD_CLOUD: 'AzureCloud' });
    expect(wrong.status).toBe(1);
    expect(wrong.stderr).toContain('azd config set cloud.name AzureUSGovernment');
    expect(wrong.stderr).toContain('(azd config (cloud.name))');
    const defaulted = run({ ...VALID, AUDITFEED_CLOUD: 'DoD' });
    expect(defaulted.status).toBe(1);
    expect(defaulted.stderr).toContain("azd deploys to AzureCloud (azd's default)");
    expect(run({ ...VALID, AUDITFEED_CLOUD: 'GCCHigh', FAKE_AZD_CLOUD: 'AzureUSGovernment' }).status).toBe(0);
  });

  it('pins the budget month in the azd environment the first time', () => {
    const result = run({
      ...VALID,
      AUDITFEED_BUDGET_AMOUNT: '500',
      AUDITFEED_ALERT_EMAIL: 'secops@contoso.com',
    });
    expect(result.status).toBe(0);
    expect(result.calls).toContainEqual(
      expect.stringMatching(/^env set AUDITFEED_BUDGET_START_DATE \d{4}-\d{2}-01$/),
    );
    const ci = run({ ...VALID, AUDITFEED_BUDGET_AMOUNT: '500', AUDITFEED_ALERT_EMAIL: 'a@b.c', CI: 'true' });
    expect(ci.status).toBe(1);
    expect(ci.calls.filter((c) => c.startsWith('env set'))).toEqual([]);
  });
});
