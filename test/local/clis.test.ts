import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * The command-line scripts a user runs, as built (jest's global setup compiles dist/): `--help` prints
 * the usage and exits 0; a bad argument is one line and a hint, exit code 2 — never a stack trace, never
 * a server started or a query sent.
 */

const ROOT = path.resolve(__dirname, '../..');

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(script: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<Result> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [path.join(ROOT, script), ...args],
      { cwd: ROOT, env, timeout: 150_000 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : null) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

const STACK_FRAME = /^\s+at .+(:\d+:\d+\)?|\(native\))$/m;

const SCRIPTS: Array<{ name: string; script: string; usage: RegExp }> = [
  { name: 'npm start', script: 'dist/scripts/local/run.js', usage: /^usage: npm start -- / },
  { name: 'bench', script: 'dist/scripts/bench/run.js', usage: /^usage: node dist\/scripts\/bench\/run\.js/ },
  {
    name: 'simulator',
    script: 'dist/scripts/simulator/cli.js',
    usage: /^usage: node dist\/scripts\/simulator\/cli\.js/,
  },
  {
    name: 'query',
    script: 'dist/scripts/local/query.js',
    usage: /^usage: node dist\/scripts\/local\/query\.js/,
  },
];

let stateDir: string;

beforeAll(() => {
  stateDir = mkdtempSync(path.join(os.tmpdir(), 'auditfeed-clis-test-'));
});

afterAll(() => {
  rmSync(stateDir, { recursive: true, force: true });
});

describe.each(SCRIPTS)('$name', ({ script, usage }) => {
  it('--help prints the usage and exits 0', async () => {
    const r = await run(script, ['--help']);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout).toMatch(usage);
    expect(r.stdout).toMatch(/--help/);
  });

  it('a bad argument is one line and a hint to --help, exit code 2, no stack trace', async () => {
    const r = await run(script, ['--bogus']);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    const lines = r.stderr.trimEnd().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/unknown argument --bogus$/);
    expect(lines[1]).toMatch(/--help/);
    expect(r.stderr).not.toMatch(STACK_FRAME);
  });
});

describe('query', () => {
  it('is not sent a flag as SQL, and says so when there is no local run to query', async () => {
    const env = { ...process.env, AUDITFEED_LOCAL_DIR: stateDir };
    const none = await run('dist/scripts/local/query.js', [], env);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/^query: no query given\n/);
    const missing = await run('dist/scripts/local/query.js', ['SELECT TOP 1 * FROM c'], env);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/no local run found .*last-run\.json is missing.*npm start -- --follow/);
    expect(missing.stderr).not.toMatch(STACK_FRAME);
  });
});
