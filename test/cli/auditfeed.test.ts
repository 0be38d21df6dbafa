import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  createCosmosClient,
  startAzurite,
  startCosmos,
  type AzuriteHandle,
  type CosmosHandle,
} from '../../scripts/local/services';
import { ensureCosmosContainer } from '../../shared/writer/cosmosContainer';
import { RANGE, tenantDocuments } from '../hunting/fixtures';
import { RecordingLogger } from '../writer/helpers';

/**
 * The built `auditfeed` CLI (dist/scripts/cli/main.js; jest's global setup compiles dist/) against a
 * "running local stack": real Azurite and the Cosmos DB stand-in, and a last-run.json in a temp state
 * dir pointing at them, as `npm start` writes it. No AUDITFEED_* settings at all.
 */

const ROOT = path.resolve(__dirname, '../..');
const MAIN = path.join(ROOT, 'dist', 'scripts', 'cli', 'main.js');
const TENANT = '2b4d6f80-1a3c-4e5f-8a7b-9c0d1e2f3a4b';
const COMMANDS = [
  'status',
  'replay-poison',
  'query',
  'timeline',
  'hunt',
  'investigate',
  'import',
  'backfill',
];
const STACK_FRAME = /^\s+at .+(:\d+:\d+\)?|\(native\))$/m;

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The environment without any AUDITFEED_* setting of whoever runs the tests. */
function bareEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('AUDITFEED_')) env[k] = v;
  return { ...env, ...extra };
}

function spawn(file: string, args: string[], env: NodeJS.ProcessEnv): Promise<Result> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [file, ...args],
      { cwd: ROOT, env, timeout: 170_000 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : null) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

let azurite: AzuriteHandle;
let cosmos: CosmosHandle;
let stateDir: string;
let emptyDir: string;

const cli = (args: string[], extra: Record<string, string> = {}): Promise<Result> =>
  spawn(MAIN, args, bareEnv({ AUDITFEED_LOCAL_DIR: stateDir, ...extra }));

const DOCS = [
  { id: 'a', pk: 'p1', n: 1, Operation: 'New-InboxRule', UserId: 'alice@contoso.com', note: 'plain' },
  { id: 'b', pk: 'p1', n: 2, Operation: 'Set-Mailbox', UserId: 'bob@contoso.com', note: 'has, a "quote"' },
  { id: 'c', pk: 'p2', n: 3, Operation: 'New-InboxRule', UserId: 'eve@fabrikam.com', note: 'two\nlines' },
];

function writeReport(status: string, pid = process.pid): void {
  const report = {
    status,
    ok: true,
    pid,
    servicePids: [azurite.pid, cosmos.pid],
    startedAt: '2026-11-20T12:00:00.000Z',
    finishedAt: undefined,
    durationSeconds: 1,
    mode: 'simulator',
    scenario: { name: 'small', reused: false, tenantIds: [TENANT], spec: {} },
    logFile: path.join(stateDir, 'run.log'),
    storage: {
      where: 'Azurite, fresh temp data dir',
      endpoint: `blob ${azurite.blobEndpoint}, queue ${azurite.queueEndpoint}`,
      persistent: false,
      queue: 'auditfeed-batches',
      poisonQueue: 'auditfeed-batches-poison',
    },
    cosmos: {
      where: 'Cosmos DB stand-in, in memory',
      endpoint: cosmos.endpoint,
      local: true,
      key: cosmos.key,
      database: 'auditfeed',
      container: 'records',
      persistent: false,
    },
    contentTypes: {
      'Audit.General': { collected: 0, written: 0, inStore: undefined, lagSeconds: undefined },
    },
  };
  writeFileSync(path.join(stateDir, 'last-run.json'), `${JSON.stringify(report, null, 2)}\n`);
}

beforeAll(async () => {
  stateDir = mkdtempSync(path.join(os.tmpdir(), 'auditfeed-cli-test-'));
  emptyDir = mkdtempSync(path.join(os.tmpdir(), 'auditfeed-cli-empty-'));
  [azurite, cosmos] = await Promise.all([startAzurite({ inMemory: true }), startCosmos()]);
  const client = createCosmosClient(cosmos);
  try {
    const { database } = await client.databases.createIfNotExists({ id: 'auditfeed' });
    const { container } = await database.containers.createIfNotExists({
      id: 'records',
      partitionKey: { paths: ['/pk'] },
    });
    for (const d of DOCS) await container.items.create(d);
    // The hunting pack's seeded tenant, in a container of the writer's own shape, for hunt's own options.
    const hunting = await ensureCosmosContainer(
      client,
      { database: 'auditfeed', container: 'hunting', retentionDays: 180 },
      new RecordingLogger(),
    );
    for (const doc of tenantDocuments()) await hunting.items.upsert(doc);
  } finally {
    client.dispose();
  }
  writeReport('following');
}, 60_000);

afterAll(async () => {
  await Promise.allSettled([azurite?.stop(), cosmos?.stop()]);
  rmSync(stateDir, { recursive: true, force: true });
  rmSync(emptyDir, { recursive: true, force: true });
});

describe('auditfeed --help', () => {
  it('lists every command, from the built CLI and through the bin launcher', async () => {
    for (const file of [MAIN, path.join(ROOT, 'scripts', 'cli', 'auditfeed.cjs')]) {
      const r = await spawn(file, ['--help'], bareEnv({}));
      expect(r.code).toBe(0);
      for (const name of COMMANDS) expect(r.stdout).toMatch(new RegExp(`^  ${name} +\\S`, 'm'));
    }
  }, 180_000);

  it.each(COMMANDS)(
    '%s --help prints its usage and exits 0, with no settings and no local stack',
    async (name) => {
      const r = await spawn(MAIN, [name, '--help'], bareEnv({ AUDITFEED_LOCAL_DIR: emptyDir }));
      expect(r).toMatchObject({ code: 0, stderr: '' });
      expect(r.stdout).toMatch(new RegExp(`^Usage: auditfeed ${name}\\b`));
    },
  );

  it.each(COMMANDS)('%s: a bad flag is one line on stderr, exit code 2, no stack trace', async (name) => {
    const r = await cli([name, '--bogus']);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.trimEnd().split('\n')).toEqual([
      `auditfeed ${name}: unknown argument --bogus (see \`auditfeed ${name} --help\`)`,
    ]);
  });

  it('an unknown command is one line and exit code 2', async () => {
    const r = await cli(['stauts']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      /^auditfeed: unknown command "stauts" \(commands: status, replay-poison, query, timeline, hunt, investigate, import, backfill;/,
    );
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
  });
});

describe('auditfeed query against the running local stack, no settings', () => {
  const SQL = 'SELECT c.id, c.n, c.note FROM c ORDER BY c.n';

  it('--format csv: a header and RFC 4180 quoting (commas, quotes, line breaks)', async () => {
    const r = await cli(['query', SQL, '--format', 'csv']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('id,n,note\r\na,1,plain\r\nb,2,"has, a ""quote"""\r\nc,3,"two\nlines"\r\n');
    expect(r.stderr).toMatch(/^3 row\(s\) from http:\/\/127\.0\.0\.1:\d+ auditfeed\/records$/m);
  });

  it('--format json: an array of the rows', async () => {
    const r = await cli(['query', SQL, '--format=json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual(DOCS.map(({ id, n, note }) => ({ id, n, note })));
  });

  it('--format table (the default): aligned columns, a line break in a value shown as \\n', async () => {
    const r = await cli(['query', SQL]);
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(5);
    expect(lines[0]).toMatch(/^id {2}n {2}note$/);
    expect(lines[1]).toMatch(/^-- {2}- {2}-+$/);
    expect(lines[4]).toBe('c   3  two\\nlines');
    // Every row starts its columns where the header does.
    const noteAt = lines[0]!.indexOf('note');
    for (const line of lines.slice(2)) expect(line[noteAt - 1]).toBe(' ');
  });

  it('--param: a string parameter, a JSON parameter, and a query word by word', async () => {
    const op = await cli([
      'query',
      'SELECT VALUE c.id FROM c WHERE c.Operation = @op AND c.n >= @min',
      '--param',
      '@op=New-InboxRule',
      '--param',
      'min:=2',
      '--format',
      'json',
    ]);
    expect(op.code).toBe(0);
    expect(JSON.parse(op.stdout)).toEqual(['c']);
    const words = await cli(['query', '--format', 'csv', 'SELECT', 'VALUE', 'COUNT(1)', 'FROM', 'c']);
    expect(words.stdout).toBe('value\r\n3\r\n');
  });

  it('refuses a parameter the query lacks, or one it uses without a value (exit 2, naming it)', async () => {
    const missing = await cli(['query', 'SELECT * FROM c WHERE c.UserId = @user']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/the query uses @user: give --param @user=VALUE/);
    // An @ inside a string literal is not a parameter.
    const literal = await cli([
      'query',
      "SELECT VALUE c.id FROM c WHERE c.UserId = 'alice@contoso.com'",
      '--format',
      'json',
    ]);
    expect(literal.code).toBe(0);
    expect(JSON.parse(literal.stdout)).toEqual(['a']);
    const extra = await cli(['query', 'SELECT * FROM c', '--param', '@x=1']);
    expect(extra.code).toBe(2);
    expect(extra.stderr).toMatch(/--param @x: the query does not use it/);
    const bad = await cli(['query', 'SELECT * FROM c', '--format', 'xml']);
    expect(bad.stderr).toMatch(/--format must be one of table, csv, json \(got "xml"\)/);
  });

  it('--progress: pages read and rows so far on stderr, one line per page', async () => {
    const r = await cli([
      'query',
      'SELECT c.id FROM c',
      '--page-size',
      '1',
      '--progress',
      '--format',
      'json',
    ]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toHaveLength(3);
    const progress = r.stderr.split('\n').filter((l) => l.includes('page(s) read'));
    expect(progress.length).toBeGreaterThanOrEqual(3);
    expect(progress).toContain('query: 1 page(s) read, 1 row(s) so far');
    // Without --progress (and stderr not a terminal) nothing but the count.
    const quiet = await cli(['query', 'SELECT c.id FROM c', '--page-size', '1']);
    expect(quiet.stderr).not.toMatch(/page\(s\) read/);
  });

  it('--database/--container override the local run; a missing container is named', async () => {
    const r = await cli(['query', 'SELECT * FROM c', '--container', 'nope']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/has no container "nope" in database "auditfeed"/);
    expect(r.stderr).not.toMatch(STACK_FRAME);
  });

  it('a word that is not SQL is a named query of the hunting pack, with its parameters', async () => {
    const list = await cli(['query', '--list', '--format', 'json']);
    expect(list.code).toBe(0);
    expect(JSON.parse(list.stdout)).toContainEqual(
      expect.objectContaining({ name: 'user-timeline', parameters: '@user @from @to' }),
    );
    const unknown = await cli(['query', 'no-such-query']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/no named query "no-such-query" \(there are: .*user-timeline/);
    const missing = await cli(['query', 'user-timeline', '--param', 'user=alice@contoso.com']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/user-timeline needs --param @from=VALUE --param @to=VALUE/);
    const named = await cli([
      'query',
      'user-timeline',
      ...['--param', 'user=alice@contoso.com', '--param', 'from=2026-11-01', '--param', 'to=2026-11-30'],
      '--format',
      'json',
    ]);
    expect(named.code).toBe(0);
    expect(Array.isArray(JSON.parse(named.stdout))).toBe(true);
  });
});

describe('status and replay-poison against the running local stack, no settings', () => {
  it('status reads the local Azurite and the tenant of the local run', async () => {
    const r = await cli(['status']);
    // No collector run has saved progress in this fresh Azurite: something to look at, exit 1.
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(new RegExp(`^${TENANT}\\s+Audit\\.General\\s+\\(not started\\)`, 'm'));
    expect(r.stdout).toContain('Poison queue: ');
    const csv = await cli(['status', '--format', 'csv']);
    expect(csv.stdout.split('\r\n')[0]).toBe(
      'Tenant,Content type,Cursor,Lag,Last run,Records,Late found,Quarantined,Gaps,Task',
    );
    const json = await cli(['status', '--json']);
    expect(JSON.parse(json.stdout)).toMatchObject({ contentTypes: [{ tenantId: TENANT, started: false }] });
  });

  it('replay-poison --dry-run finds the local poison queue', async () => {
    const r = await cli(['replay-poison', '--dry-run']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('Dry run: 0 message(s) in auditfeed-batches-poison; nothing moved.\n');
  });
});

describe('where to read, when there is nothing to read', () => {
  it('with no local stack and no settings, names the setting, the flag and how to start a stack', async () => {
    const env = { AUDITFEED_LOCAL_DIR: emptyDir };
    const q = await spawn(MAIN, ['query', 'SELECT * FROM c'], bareEnv(env));
    expect(q.code).toBe(2);
    expect(q.stderr).toMatch(/no running local stack \(.*last-run\.json is missing/);
    expect(q.stderr).toMatch(
      /`npm start -- --follow`, or set AUDITFEED_COSMOS__accountEndpoint \(or pass --endpoint\)/,
    );
    for (const name of ['status', 'replay-poison']) {
      const s = await spawn(MAIN, [name], bareEnv(env));
      expect(s.code).toBe(2);
      expect(s.stderr).toMatch(
        /or set AUDITFEED_STORAGE \(a connection string\) or AUDITFEED_STORAGE__blobServiceUri/,
      );
      expect(s.stderr.trimEnd().split('\n')).toHaveLength(1);
    }
  });

  it('a run that ended, or whose process is gone, is not a running stack', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'auditfeed-cli-ended-'));
    try {
      const report = {
        status: 'caught-up',
        pid: process.pid,
        cosmos: { endpoint: cosmos.endpoint, local: true },
      };
      writeFileSync(path.join(dir, 'last-run.json'), JSON.stringify(report));
      const ended = await spawn(MAIN, ['query', 'SELECT * FROM c'], bareEnv({ AUDITFEED_LOCAL_DIR: dir }));
      expect(ended.code).toBe(2);
      expect(ended.stderr).toMatch(/last-run\.json says the run ended \(status "caught-up"\)/);
      // A pid no process has (pids are below 2^22 on Linux).
      writeFileSync(
        path.join(dir, 'last-run.json'),
        JSON.stringify({ ...report, status: 'following', pid: 2 ** 30 }),
      );
      const gone = await spawn(MAIN, ['query', 'SELECT * FROM c'], bareEnv({ AUDITFEED_LOCAL_DIR: dir }));
      expect(gone.stderr).toMatch(/says "following", but its process \(pid 1073741824\) is gone/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('validates only the settings a command uses, and names a bad one', async () => {
    // status with storage settings needs the tenants, not the app registration (client id, auth mode).
    const status = await cli(['status'], { AUDITFEED_STORAGE: azurite.connectionString });
    expect(status.code).toBe(2);
    expect(status.stderr).toContain('AUDITFEED_TENANT_IDS (not set): is required');
    expect(status.stderr).not.toContain('AUDITFEED_CLIENT_ID');
    const ok = await cli(['status'], {
      AUDITFEED_STORAGE: azurite.connectionString,
      AUDITFEED_TENANT_IDS: TENANT,
    });
    expect(ok.code).toBe(1);
    expect(ok.stderr).toBe('');
    const replay = await cli(['replay-poison', '--dry-run'], { AUDITFEED_STORAGE: azurite.connectionString });
    expect(replay.code).toBe(0);
    const cosmosUrl = await cli(['query', 'SELECT * FROM c'], {
      AUDITFEED_COSMOS__accountEndpoint: 'cosmos-auditfeed',
    });
    expect(cosmosUrl.code).toBe(2);
    expect(cosmosUrl.stderr).toContain(
      'AUDITFEED_COSMOS__accountEndpoint="cosmos-auditfeed": is not an absolute URL',
    );
    // --local reads the local stack even with settings present.
    const local = await cli(['query', 'SELECT VALUE COUNT(1) FROM c', '--local', '--format', 'csv'], {
      AUDITFEED_COSMOS__accountEndpoint: 'cosmos-auditfeed',
    });
    expect(local.stdout).toBe('value\r\n3\r\n');
  });
});

describe('timeline, hunt, investigate', () => {
  it('check their arguments before anything else', async () => {
    const noUser = await cli(['timeline']);
    expect(noUser.code).toBe(2);
    expect(noUser.stderr).toMatch(/timeline needs --user <upn>/);
    const badTime = await cli(['hunt', '--from', 'yesterday']);
    expect(badTime.code).toBe(2);
    expect(badTime.stderr).toMatch(/--from needs an ISO 8601 date or time/);
    const backwards = await cli([
      'investigate',
      '--user',
      'a@b.c',
      '--from',
      '2026-11-20',
      '--to',
      '2026-11-19',
    ]);
    expect(backwards.stderr).toMatch(/--from \(2026-11-20T00:00:00\.000Z\) must be before --to/);
  });

  it('run the pack against the local stack: rows for timeline and hunt, a report for investigate', async () => {
    const window = ['--from', '2026-11-01', '--to', '2026-11-30'];
    const t = await cli(['timeline', '--user', 'alice@contoso.com', ...window, '--format', 'json']);
    expect(t.code).toBe(0);
    expect(Array.isArray(JSON.parse(t.stdout))).toBe(true);
    const h = await cli(['hunt', ...window, '--format', 'json']);
    expect(h.code).toBe(0);
    const result = JSON.parse(h.stdout) as { flagged: unknown[]; reviewed: unknown[] };
    expect(result.flagged).toEqual([]);
    expect(Array.isArray(result.reviewed)).toBe(true);
    const i = await cli(['investigate', '--user', 'alice@contoso.com', ...window]);
    expect(i.code).toBe(0);
    expect(i.stdout).toMatch(
      /^Investigation of alice@contoso\.com, 2026-11-01T00:00:00 to 2026-11-30T00:00:00/,
    );
    expect(i.stdout).toContain('Verdict: nothing attacker-like');
    const csv = await cli(['investigate', '--user', 'alice@contoso.com', ...window, '--format', 'csv']);
    expect(csv.code).toBe(0);
  });

  it('hunt --max-accounts names on stderr every account it did not investigate', async () => {
    const args = [
      'hunt',
      '--container',
      'hunting',
      '--from',
      RANGE.from,
      '--to',
      RANGE.to,
      '--format',
      'json',
    ];
    const all = await cli(args);
    expect(all.code).toBe(0);
    const everyone = (JSON.parse(all.stdout) as { reviewed: { user: string }[] }).reviewed.map((r) => r.user);
    expect(everyone.length).toBeGreaterThan(2);
    expect(all.stderr).not.toContain('not investigated');

    const two = await cli([...args, '--max-accounts', '2']);
    expect(two.code).toBe(0);
    const result = JSON.parse(two.stdout) as { reviewed: { user: string }[]; skipped: string[] };
    expect(result.reviewed.map((r) => r.user)).toEqual(everyone.slice(0, 2));
    expect(result.skipped).toEqual(everyone.slice(2));
    expect(two.stderr).toContain(
      `hunt: ${everyone.length - 2} more account(s) named by the queries were not investigated (--max-accounts 2): ${everyone.slice(2).join(', ')}.`,
    );
    const zero = await cli([...args, '--max-accounts', '0']);
    expect(zero.code).toBe(2);
    expect(zero.stderr).toMatch(/--max-accounts/);
  });
});
