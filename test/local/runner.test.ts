import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseTimeSpan, readHostSettings } from '../../shared/hostSettings';
import { localScenario } from '../../scripts/local/localScenario';
import { persistentDataPaths, type LocalStack } from '../../scripts/local/localStack';
import { fitToWidth, Progress } from '../../scripts/local/progress';
import { parseQueryArgs } from '../../scripts/local/query';
import { buildReport, formatSummary, type RunReport } from '../../scripts/local/report';
import { parseArgs } from '../../scripts/local/run';
import { RunStats } from '../../scripts/local/stats';
import { COSMOS_EMULATOR_KEY } from '../../scripts/local/services';
import { GENERAL_EXAMPLE, type StoreCheck } from '../../scripts/local/verify';
import { parseBenchCommand } from '../../scripts/bench/args';
import { parseArgs as parseSimulatorArgs } from '../../scripts/simulator/cli';
import { loadConfig, SETTINGS } from '../../shared/config';
import { CONTENT_TYPES } from '../../shared/contentTypes';

describe('host.json trigger settings', () => {
  it("reads the project's host.json", () => {
    const host = readHostSettings();
    expect(host.queues.messageEncoding).toBe('none');
    expect(host.queues.batchSize).toBeGreaterThan(0);
    expect(host.queues.maxDequeueCount).toBeGreaterThan(0);
    expect(host.functionTimeoutSeconds).toBe(600);
  });

  it("falls back to the host's defaults and rejects bad values", () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'auditfeed-host-'));
    try {
      const file = path.join(dir, 'host.json');
      writeFileSync(file, JSON.stringify({ version: '2.0' }));
      expect(readHostSettings(file)).toMatchObject({
        functionTimeoutSeconds: 300,
        queues: {
          batchSize: 16,
          newBatchThreshold: 8,
          maxDequeueCount: 5,
          visibilityTimeoutSeconds: 0,
          maxPollingIntervalMs: 60_000,
          messageEncoding: 'base64',
        },
      });
      writeFileSync(file, JSON.stringify({ extensions: { queues: { batchSize: 64 } } }));
      expect(() => readHostSettings(file)).toThrow(
        /extensions\.queues\.batchSize must be a whole number from 1 to 32/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    expect(parseTimeSpan('1.02:03:04', 'x')).toBe(93_784);
    expect(() => parseTimeSpan('2 minutes', 'x')).toThrow(/not a TimeSpan/);
  });
});

describe('runner arguments', () => {
  it('exits after catching up unless --follow', () => {
    expect(parseArgs([], {})).toMatchObject({ mode: 'once', scenario: 'default', persist: false });
    expect(parseArgs(['--once'], {}).mode).toBe('once');
    expect(parseArgs(['--follow', '--scenario', 'small', '--persist'], {})).toMatchObject({
      mode: 'follow',
      scenario: 'small',
      persist: true,
    });
    expect(parseArgs([], { AUDITFEED_LOCAL_SCENARIO: 'small', AUDITFEED_LOCAL_DIR: '/tmp/x' })).toMatchObject(
      {
        scenario: 'small',
        stateDir: '/tmp/x',
      },
    );
    expect(() => parseArgs(['--once', '--follow'], {})).toThrow(/exclude each other/);
    expect(() => parseArgs(['--scenario', 'huge'], {})).toThrow(/unknown scenario "huge"/);
    expect(() => parseArgs(['--fast'], {})).toThrow(/unknown argument --fast/);
    // One line each: the CLI adds a hint to --help, not the whole usage.
    expect(() => parseArgs(['--fast'], {})).toThrow(/^[^\n]+$/);
    expect(parseArgs(['--drain-timeout', '2.5'], {}).drainTimeoutSeconds).toBe(2.5);
    expect(parseArgs([], {}).drainTimeoutSeconds).toBe(30);
    expect(() => parseArgs(['--drain-timeout', 'soon'], {})).toThrow(/--drain-timeout must be a number/);
  });

  it('--persist keeps the data where the func start recipe does: <state-dir>/data/{azurite,cosmos.jsonl}', () => {
    expect(persistentDataPaths('/x/.local')).toEqual({
      dir: '/x/.local/data',
      azurite: '/x/.local/data/azurite',
      cosmos: '/x/.local/data/cosmos.jsonl',
    });
  });
});

describe('other command lines', () => {
  it('query.js: --help, options and SQL apart, unknown options refused', () => {
    expect(parseQueryArgs(['--help'], {})).toEqual({ kind: 'help' });
    expect(parseQueryArgs(['SELECT', '*', 'FROM', 'c', '-h'], {})).toEqual({ kind: 'help' });
    expect(parseQueryArgs(['--state-dir', '/s', 'SELECT TOP 1 * FROM c'], {})).toEqual({
      kind: 'query',
      sql: 'SELECT TOP 1 * FROM c',
      stateDir: '/s',
    });
    expect(parseQueryArgs(['SELECT 1'], { AUDITFEED_LOCAL_DIR: '/e' })).toMatchObject({ stateDir: '/e' });
    expect(parseQueryArgs(['--verbose', 'SELECT 1'], {})).toEqual({
      kind: 'error',
      message: 'unknown argument --verbose',
    });
    expect(parseQueryArgs([], {})).toEqual({ kind: 'error', message: 'no query given' });
  });

  it('bench and simulator: --help is a request, not an error', () => {
    expect(parseBenchCommand(['--help'])).toEqual({ help: true });
    expect(parseBenchCommand(['--records', '10'])).toMatchObject({ help: false, options: { records: 10 } });
    expect(() => parseBenchCommand(['--nope'])).toThrow(/^unknown argument --nope$/);
    expect(parseSimulatorArgs(['--help'])).toMatchObject({ help: true });
    expect(() => parseSimulatorArgs(['--nope'])).toThrow(/^unknown argument --nope$/);
  });
});

describe('local scenarios', () => {
  it('have a backlog in the past, activity into the future, and a BEC story published before now', () => {
    const now = new Date('2026-11-20T12:34:56Z');
    for (const name of ['default', 'small'] as const) {
      const spec = localScenario(name, now);
      const start = Date.parse(String(spec.activity?.start));
      expect(start).toBeLessThan(now.getTime() - 11 * 3_600_000);
      expect(Date.parse(String(spec.activity?.end))).toBeGreaterThan(now.getTime() + 24 * 3_600_000);
      const story = spec.stories?.[0];
      expect(story?.kind).toBe('bec');
      // A story lasts at most about 4 hours, then blobs are published within 90 minutes.
      expect(Date.parse(String(story?.start)) + 6 * 3_600_000).toBeLessThan(now.getTime());
      // A minute later, the same tenant and story (start floored to the hour).
      const later = localScenario(name, new Date(now.getTime() + 60_000));
      expect([later.seed, later.tenants, later.activity?.start, later.stories]).toEqual([
        spec.seed,
        spec.tenants,
        spec.activity?.start,
        spec.stories,
      ]);
    }
  });
});

describe('progress display', () => {
  it('cuts lines to the terminal width, and takes a width of 0 or none as unknown (80), not as 1', () => {
    const long = 'x'.repeat(200);
    expect(fitToWidth([long, 'short'], 40)).toEqual(['x'.repeat(39), 'short']);
    for (const columns of [0, undefined, Number.NaN, -3]) {
      expect(fitToWidth([long, 'short'], columns)).toEqual(['x'.repeat(79), 'short']);
    }
  });

  it('redraws a readable table on a terminal that says it has 0 columns', () => {
    const stats = new RunStats(CONTENT_TYPES);
    stats.runStarted(CONTENT_TYPES);
    const chunks: string[] = [];
    const out = {
      write: (s: string) => chunks.push(s) > 0,
      isTTY: true,
      columns: 0,
    } as unknown as NodeJS.WritableStream;
    const progress = new Progress({ stats, out, title: 'zero columns', logFile: 'x.log', tty: true });
    progress.start();
    progress.stop();
    const drawn = chunks
      .join('')
      // eslint-disable-next-line no-control-regex
      .replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '')
      .split('\n')
      .filter((l) => l !== '');
    expect(drawn).toContain('Content type                Collected  Written  Lag  Collector');
    expect(drawn.some((l) => l.startsWith('zero columns · '))).toBe(true);
    expect(Math.max(...drawn.map((l) => l.length))).toBeLessThanOrEqual(79);
    expect(drawn.every((l) => l.length > 1)).toBe(true);
  });

  it('renders a table of collected and written records per content type', () => {
    const stats = new RunStats(CONTENT_TYPES);
    stats.runStarted(CONTENT_TYPES);
    stats.enqueued('Audit.Exchange', 1234);
    stats.cursorSaved('Audit.Exchange', new Date(Date.now() - 90_000));
    const chunks: string[] = [];
    const out = {
      write: (s: string) => chunks.push(s) > 0,
      isTTY: false,
    } as unknown as NodeJS.WritableStream;
    const lines = new Progress({ stats, out, title: 'test', logFile: 'x.log' }).lines();
    expect(lines[0]).toMatch(/^test · \d+s elapsed$/);
    expect(lines[1]).toMatch(/^Content type +Collected +Written +Lag +Collector$/);
    expect(lines.find((l) => l.startsWith('Audit.Exchange'))).toMatch(/1,234 +0 +1m 30s +running/);
    expect(lines.find((l) => l.startsWith('Total'))).toMatch(/1,234 +0 +—/);
    expect(lines.some((l) => /Queue 0 waiting, 0 in flight/.test(l))).toBe(true);
  });
});

describe('local.settings.sample.json (func start)', () => {
  it('holds every setting the functions need against Azurite and a local Cosmos DB', () => {
    const sample = JSON.parse(
      readFileSync(path.join(__dirname, '../../local.settings.sample.json'), 'utf8'),
    ) as {
      Values: Record<string, string>;
    };
    const values = { ...sample.Values };
    // What a user fills in: everything in <angle brackets>.
    const filled: Record<string, string> = {
      AUDITFEED_TENANT_IDS: '8d41e0c4-1b2c-4d5e-9f60-0a1b2c3d4e5f',
      AUDITFEED_CLIENT_ID: '0f3a9c27-5e4b-4d1a-8c6f-2b7e9d0a1c35',
      AUDITFEED_CLIENT_SECRET: 'not-a-real-secret',
    };
    for (const [name, value] of Object.entries(values)) {
      if (value.startsWith('<')) {
        expect(filled[name]).toBeDefined();
        values[name] = filled[name]!;
      }
    }
    const config = loadConfig(values);
    expect(values.FUNCTIONS_WORKER_RUNTIME).toBe('node');
    expect(values.AzureWebJobsStorage).toBe('UseDevelopmentStorage=true');
    expect(config.storage.kind).toBe('connectionString');
    expect(config.cosmos.endpoint).toBe('http://127.0.0.1:8081');
    expect(config.cosmos.key?.reveal()).toBe(COSMOS_EMULATOR_KEY);
    // Every AUDITFEED_* name in the sample is a real setting (no typos that would be silently ignored).
    const known = new Set(Object.values(SETTINGS).map((s) => s.name));
    for (const name of Object.keys(values).filter((n) => n.startsWith('AUDITFEED_')))
      expect(known).toContain(name);
  });
});

describe('summary', () => {
  const tenantId = '8d41e0c4-1b2c-4d5e-9f60-0a1b2c3d4e5f';
  const config = loadConfig({
    AUDITFEED_TENANT_IDS: tenantId,
    AUDITFEED_AUTH_MODE: 'secret',
    AUDITFEED_CLIENT_ID: '0f3a9c27-5e4b-4d1a-8c6f-2b7e9d0a1c35',
    AUDITFEED_CLIENT_SECRET: 'not-a-real-secret',
    AUDITFEED_STORAGE: 'UseDevelopmentStorage=true',
    AUDITFEED_COSMOS__accountEndpoint: 'http://127.0.0.1:8081',
    AUDITFEED_COSMOS__accountKey: COSMOS_EMULATOR_KEY,
  });
  const stack = (mode: LocalStack['mode'], localCosmos: boolean): LocalStack => ({
    mode,
    scenario: undefined,
    sim: undefined,
    config,
    storage: { where: 'Azurite', endpoint: 'blob …', persistent: false, local: true },
    cosmos: localCosmos
      ? {
          where: 'Cosmos DB stand-in, in memory',
          endpoint: 'http://127.0.0.1:1',
          key: COSMOS_EMULATOR_KEY,
          persistent: false,
          local: true,
        }
      : {
          where: 'the account in AUDITFEED_COSMOS__accountEndpoint',
          endpoint: 'https://x.documents.azure.com',
          key: undefined,
          persistent: true,
          local: false,
        },
    caFile: undefined,
    pids: () => [],
    stop: () => Promise.resolve(),
  });
  const check: StoreCheck = {
    checkedAt: '2026-11-20T12:00:00.000Z',
    documents: 1234,
    perType: { 'Audit.Exchange': 1234 },
    truth: undefined,
    stories: [],
    example: { text: GENERAL_EXAMPLE, rows: 10 },
  };
  const summaryOf = (report: RunReport): string => formatSummary(report).join('\n');

  it('for a real tenant says what was checked and what was not, and claims no passed checks', () => {
    const stats = new RunStats(config.contentTypes);
    const report = buildReport('caught-up', stack('tenant', false), stats, 'x.log', check, true);
    expect(report.ok).toBe(true); // exit code 0: nothing went wrong
    const text = summaryOf(report);
    expect(text).not.toMatch(/all checks passed/);
    expect(text).toMatch(
      /auditfeed local run caught up after \d+s — no problems seen; completeness not checked \(no ground truth, below\)/,
    );
    expect(text).toMatch(/ {2}Checked: Cosmos DB holds 1,234 documents of your tenant .*poison messages 0\./);
    expect(text).toMatch(
      / {2}Not checked: completeness — only the simulator knows every record a tenant published/,
    );
    // Nothing of the simulated tenant's story.
    expect(text).not.toMatch(/Ground truth|BEC|forwardTo|New-InboxRule|simulator's/);
    expect(text).toContain(`  ${GENERAL_EXAMPLE}`);
    // Its own Cosmos DB account has a Data Explorer; query.js works with the key or a sign-in.
    expect(text).toMatch(
      /Query it in the Azure portal's Data Explorer or with any Cosmos DB SDK \(10 rows now\):/,
    );
    expect(text).not.toMatch(/in memory and stopped with the run/);
  });

  it('never sends anyone to a Data Explorer the local stand-in does not have', () => {
    const stats = new RunStats(config.contentTypes);
    const text = summaryOf(buildReport('caught-up', stack('tenant', true), stats, 'x.log', check, true));
    expect(text).not.toMatch(/Data Explorer/);
    expect(text).toMatch(/Query it with any Cosmos DB SDK \(10 rows now\):/);
    expect(text).toMatch(/while a local stack runs .*\n {2}npm run auditfeed -- query "SELECT TOP 10/);
    expect(text).toMatch(/This Cosmos DB was in memory and stopped with the run/);
  });

  it('says the store was not checked when a signal stopped the run before it caught up', () => {
    const stats = new RunStats(config.contentTypes);
    const report = buildReport('interrupted', stack('simulator', true), stats, 'x.log', undefined, true);
    report.stop = {
      signal: 'SIGINT',
      at: '2026-11-20T12:00:00.000Z',
      inFlight: { writerBatches: 3, collectorRun: true },
      drained: false,
      abandoned: { writerBatches: 2, collectorRun: false },
      drainSeconds: 30,
    };
    const text = summaryOf(report);
    expect(report.ok).toBe(false);
    expect(text).toMatch(/auditfeed local run interrupted before catching up after \d+s\n/);
    expect(text).toMatch(/ {2}Not checked: the store \(the run was stopped by SIGINT before catching up\)\./);
    expect(text).toMatch(/ {2}Stopped with 2 writer batch\(es\) still in flight after 30s/);
  });
});
