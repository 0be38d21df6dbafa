import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DIGEST_DIR, type AvmDigest } from '../../scripts/avm-digests';
import { REPO_ROOT } from './bicep';

const WORKFLOWS = path.join(REPO_ROOT, '.github', 'workflows');
const workflows = readdirSync(WORKFLOWS)
  .filter((f) => /\.ya?ml$/.test(f))
  .map((f) => ({ name: `.github/workflows/${f}`, text: readFileSync(path.join(WORKFLOWS, f), 'utf8') }));

/** `1.2.3` or `v1.2.3.4` as numbers, for comparing versions. */
const parts = (version: string): number[] => version.replace(/^v/, '').split('.').map(Number);
const atLeast = (a: string, b: string): boolean => {
  const [x, y] = [parts(a), parts(b)];
  for (let i = 0; i < 3; i++) if ((x[i] ?? 0) !== (y[i] ?? 0)) return (x[i] ?? 0) > (y[i] ?? 0);
  return true;
};

describe('workflow supply chain', () => {
  it('every action is pinned to a full commit SHA with the release tag as a comment', () => {
    const uses = workflows.flatMap(({ name, text }) =>
      text
        .split('\n')
        .flatMap((line, i) => (/^\s*(-\s+)?uses:/.test(line) ? [{ at: `${name}:${i + 1}`, line }] : [])),
    );
    expect(uses.length).toBeGreaterThan(0);
    const unpinned = uses
      .filter(({ line }) => !/uses:\s*\.\//.test(line)) // actions in this repository need no pin
      .filter(({ line }) => !/uses:\s*[\w.-]+\/[\w./-]+@[0-9a-f]{40} # v\d+(\.\d+)*\s*$/.test(line))
      .map(({ at, line }) => `${at}: ${line.trim()}`);
    expect(unpinned).toEqual([]);
  });

  it('the Bicep job installs one pinned Bicep version, at least the one that built every AVM module', () => {
    const ci = workflows.find((w) => w.name.endsWith('/ci.yml'))!.text;
    const pinned = /^\s+BICEP_VERSION: (v\d+\.\d+\.\d+)$/m.exec(ci)?.[1];
    expect(pinned).toBeDefined();
    expect(ci).toContain('az bicep install --version "$BICEP_VERSION"');
    expect(ci).not.toMatch(/az bicep install\s*$/m);

    const generators = readdirSync(DIGEST_DIR)
      .filter((f) => f.endsWith('.json'))
      .map((f) => JSON.parse(readFileSync(path.join(DIGEST_DIR, f), 'utf8')) as AvmDigest);
    expect(generators.length).toBeGreaterThan(5);
    const older = generators
      .filter((d) => !atLeast(pinned!, d.bicepGenerator))
      .map((d) => `${d.module}:${d.version} was built with Bicep ${d.bicepGenerator}`);
    expect(older).toEqual([]);
  });
});

const ci = (): string => workflows.find((w) => w.name.endsWith('/ci.yml'))!.text;
/** The deploy job's text, up to the next job or the end. */
const deployJob = (): string =>
  ci()
    .split(/^ {2}deploy:$/m)[1]!
    .split(/^ {2}\w[\w-]*:$/m)[0]!;

/** A step of the deploy job by name: its lines, and its `run: |` block without the indentation. */
function step(name: string): { text: string; run: string } {
  const lines = deployJob().split('\n');
  const start = lines.findIndex((l) => l.trim() === `- name: ${name}`);
  expect(start).toBeGreaterThanOrEqual(0);
  const indent = lines[start]!.indexOf('-');
  let end = start + 1;
  while (end < lines.length && (lines[end]!.trim() === '' || lines[end]!.search(/\S/) > indent)) end++;
  const own = lines.slice(start, end);
  const runAt = own.findIndex((l) => /^\s+run: \|$/.test(l));
  expect(runAt).toBeGreaterThan(0);
  const body = own.slice(runAt + 1);
  const depth = Math.min(...body.filter((l) => l.trim() !== '').map((l) => l.search(/\S/)));
  return { text: own.join('\n'), run: body.map((l) => l.slice(depth)).join('\n') };
}

/** Runs the copy step as the runner would (shell: node {0}) with these repository variables. */
function passVariables(vars: Record<string, string>): { status: number | null; out: string; env: string } {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ci-vars-'));
  try {
    const script = path.join(dir, 'step');
    const githubEnv = path.join(dir, 'github_env');
    writeFileSync(script, step('Pass the repository variables to azd').run);
    writeFileSync(githubEnv, '');
    const result = spawnSync(process.execPath, [script], {
      encoding: 'utf8',
      env: { PATH: process.env.PATH, VARS: JSON.stringify(vars), GITHUB_ENV: githubEnv },
    });
    return {
      status: result.status,
      out: result.stdout + result.stderr,
      env: readFileSync(githubEnv, 'utf8'),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The azd variables infra/main.parameters.json reads: `${NAME}` or `${NAME=default}`. */
const parameterVariables = (): string[] =>
  [
    ...readFileSync(path.join(REPO_ROOT, 'infra', 'main.parameters.json'), 'utf8').matchAll(
      /\$\{([A-Z0-9_]+)(=[^}]*)?\}/g,
    ),
  ].map((m) => m[1]!);

describe("the deploy job passes the operator's settings to azd", () => {
  it('copies every non-empty AUDITFEED_* repository variable main.parameters.json reads, and no empty one', () => {
    const settings = parameterVariables().filter(
      (n) => n.startsWith('AUDITFEED_') && n !== 'AUDITFEED_DEPLOYER_DATA_ACCESS',
    );
    expect(settings.length).toBeGreaterThan(20);
    expect(settings).toContain('AUDITFEED_RETENTION_DAYS');
    // Every other one set (a value of its own), every other one empty: both halves must behave.
    const vars: Record<string, string> = {
      AZURE_ENV_NAME: 'auditfeed-prod',
      AZURE_LOCATION: '',
      AZURE_CLIENT_ID: 'not copied: set explicitly in the job',
      SOMETHING_ELSE: 'not copied',
    };
    settings.forEach((n, i) => (vars[n] = i % 2 === 0 ? `value of ${n}, with = and "quotes"` : ''));
    vars.AUDITFEED_RETENTION_DAYS = '365';

    const { status, env } = passVariables(vars);
    expect(status).toBe(0);
    const written = Object.fromEntries(
      env
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
    );
    const expected = Object.fromEntries(
      Object.entries(vars).filter(
        ([n, v]) => v !== '' && (n.startsWith('AUDITFEED_') || n === 'AZURE_ENV_NAME'),
      ),
    );
    expect(written).toEqual(expected);
    expect(written.AUDITFEED_RETENTION_DAYS).toBe('365');
    expect(settings.filter((n) => vars[n] === '' && n in written)).toEqual([]);
  });

  it('never passes AUDITFEED_DEPLOYER_DATA_ACCESS from a variable: the job keeps it false', () => {
    const { status, out, env } = passVariables({
      AUDITFEED_DEPLOYER_DATA_ACCESS: 'true',
      AUDITFEED_RETENTION_DAYS: '365',
    });
    expect(status).toBe(0);
    expect(env).toBe('AUDITFEED_RETENTION_DAYS=365\n');
    expect(out).toMatch(/::warning::AUDITFEED_DEPLOYER_DATA_ACCESS is ignored/);
    expect(deployJob()).toMatch(/^ {6}AUDITFEED_DEPLOYER_DATA_ACCESS: 'false'$/m);
  });

  it('refuses a value with a line break, naming the variable, and passes nothing', () => {
    const { status, out, env } = passVariables({
      AUDITFEED_RETENTION_DAYS: '365',
      AUDITFEED_CONTENT_TYPES: 'Audit.Exchange\nAUDITFEED_DEPLOYER_DATA_ACCESS=true',
    });
    expect(status).not.toBe(0);
    expect(out).toMatch(/::error::Repository variable AUDITFEED_CONTENT_TYPES has a line break/);
    expect(env).toBe('');
  });

  it('hard-codes no setting that could drift from main.parameters.json, and copies before azd runs', () => {
    const deploy = deployJob();
    // Only the sign-in variables (the job's `if` requires them) and the two fixed values stay in env.
    const fixed = [...deploy.matchAll(/^ {6}([A-Z][A-Z0-9_]*):/gm)].map((m) => m[1]);
    expect(fixed).toEqual([
      'AZURE_CLIENT_ID',
      'AZURE_TENANT_ID',
      'AZURE_SUBSCRIPTION_ID',
      'AZURE_PRINCIPAL_TYPE',
      'AUDITFEED_DEPLOYER_DATA_ACCESS',
    ]);
    expect(ci()).not.toMatch(/vars\.AUDITFEED_/);
    const copy = step('Pass the repository variables to azd').text;
    expect(copy).toMatch(/^\s+VARS: \$\{\{ toJSON\(vars\) \}\}$/m);
    expect(copy).toMatch(/^\s+shell: node \{0\}$/m);
    const at = (text: string): number => deploy.indexOf(text);
    expect(at('- name: Pass the repository variables to azd')).toBeLessThan(at('azd auth login'));
    expect(at('azd auth login')).toBeLessThan(at('run: azd provision'));
  });
});

describe('azd version', () => {
  it('the deploy job pins azd, at least the requiredVersions of azure.yaml, bundling Bicep for every AVM module', () => {
    const deploy = deployJob();
    const setup =
      /^ {6}- uses: Azure\/setup-azd@[0-9a-f]{40} # v[\d.]+\n {8}with:\n {10}version: (.+)$/m.exec(deploy);
    expect(setup).not.toBeNull();
    const pinned = setup![1]!;
    expect(pinned).toMatch(/^\d+\.\d+\.\d+$/); // not latest, stable or daily
    const required = /^requiredVersions:\n {2}azd: '>= (\d+\.\d+\.\d+)'$/m.exec(
      readFileSync(path.join(REPO_ROOT, 'azure.yaml'), 'utf8'),
    )?.[1];
    expect(required).toBeDefined();
    expect(atLeast(pinned, required!)).toBe(true);

    // azd compiles with its own Bicep: the one the comment names must be at least every module's generator.
    const bundled = new RegExp(`azd ${pinned.replace(/\./g, '\\.')} bundles Bicep (\\d+\\.\\d+\\.\\d+)`).exec(
      deploy,
    )?.[1];
    expect(bundled).toBeDefined();
    const older = readdirSync(DIGEST_DIR)
      .filter((f) => f.endsWith('.json'))
      .map((f) => JSON.parse(readFileSync(path.join(DIGEST_DIR, f), 'utf8')) as AvmDigest)
      .filter((d) => !atLeast(bundled!, d.bicepGenerator))
      .map((d) => `${d.module}:${d.version} was built with Bicep ${d.bicepGenerator}`);
    expect(older).toEqual([]);
  });
});
