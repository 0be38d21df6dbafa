import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseTimeSpan, readHostSettings } from '../../shared/hostSettings';
import { localScenario } from '../../scripts/local/localScenario';
import { Progress } from '../../scripts/local/progress';
import { parseArgs } from '../../scripts/local/run';
import { RunStats } from '../../scripts/local/stats';
import { COSMOS_EMULATOR_KEY } from '../../scripts/local/services';
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
