import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Container } from '@azure/cosmos';
import { createCosmosClient, startAzurite, startCosmos, stopAll } from '../../scripts/local/services';
import type { RunReport } from '../../scripts/local/report';
import { startSimulator, type Simulator } from '../../scripts/simulator';
import { CONTENT_TYPES } from '../../shared/contentTypes';
import { documentId } from '../../shared/writer/recordIdentity';

/**
 * `npm start` as a user runs it: the compiled runner in a child process, on the small simulated tenant.
 * What it stored is read back through the Cosmos DB SDK and compared with the simulator's ground truth,
 * rebuilt here from the scenario the runner reports.
 */

const ROOT = path.resolve(__dirname, '../..');
const RUNNER = path.join(ROOT, 'dist/scripts/local/run.js');

interface Running {
  child: ChildProcess;
  output: () => string;
  waitFor(pattern: RegExp, timeoutMs: number): Promise<void>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

let dir: string;
let runs = 0;
/** Runners still going when a test fails; their servers exit once the runner is gone (stdin closes). */
const live = new Set<ChildProcess>();

function stateDir(): string {
  runs += 1;
  return path.join(dir, `state-${runs}`);
}

/** The environment of a user with no AUDITFEED_* settings, plus `settings`. */
function environment(state: string, settings: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('AUDITFEED_')) env[k] = v;
  return { ...env, AUDITFEED_LOCAL_DIR: state, ...settings };
}

function startRunner(args: string[], state: string, settings: Record<string, string> = {}): Running {
  const child = spawn(process.execPath, [RUNNER, ...args], {
    cwd: ROOT,
    env: environment(state, settings),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const waiters = new Set<() => void>();
  const onData = (chunk: Buffer): void => {
    out += chunk.toString();
    for (const check of waiters) check();
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  live.add(child);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => {
      live.delete(child);
      resolve({ code, signal });
    }),
  );
  return {
    child,
    output: () => out,
    exited,
    waitFor: (pattern, timeoutMs) =>
      new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`runner did not print ${String(pattern)} within ${timeoutMs} ms:\n${out}`));
        }, timeoutMs);
        const check = (): void => {
          if (!pattern.test(out)) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolve();
        };
        waiters.add(check);
        void exited.then(() => {
          if (waiters.has(check)) {
            clearTimeout(timer);
            waiters.delete(check);
            reject(new Error(`runner exited before printing ${String(pattern)}:\n${out}`));
          }
        });
        check();
      }),
  };
}

async function runToEnd(args: string[], state: string, settings: Record<string, string> = {}) {
  const running = startRunner(args, state, settings);
  const { code } = await running.exited;
  return { code, output: running.output(), report: readReport(state) };
}

function readReport(state: string): RunReport {
  return JSON.parse(readFileSync(path.join(state, 'last-run.json'), 'utf8')) as RunReport;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function allGone(pids: number[]): Promise<boolean> {
  for (let i = 0; i < 50 && pids.some(isAlive); i++) await new Promise((r) => setTimeout(r, 100));
  return !pids.some(isAlive);
}

/** Every document of the container: id → how many times, and count per content type. */
async function storeContents(container: Container) {
  const { resources } = await container.items
    .query<{ id: string; contentType: string }>('SELECT c.id, c.contentType FROM c')
    .fetchAll();
  const ids = new Map<string, number>();
  const perType = new Map<string, number>();
  for (const d of resources) {
    ids.set(d.id, (ids.get(d.id) ?? 0) + 1);
    perType.set(d.contentType, (perType.get(d.contentType) ?? 0) + 1);
  }
  return { ids, perType };
}

/** The simulated tenant of a run, rebuilt from its report (content is a pure function of the spec). */
async function truthOf(report: RunReport): Promise<Simulator> {
  if (!report.scenario) throw new Error('report has no scenario');
  return startSimulator({ scenario: report.scenario.spec, clock: { start: new Date(), frozen: true } });
}

/** Records available by `mustHaveBy` are stored exactly once; nothing else is stored but what was published. */
function compare(sim: Simulator, ids: Map<string, number>, mustHaveBy: Date, mayHaveBy: Date) {
  const must = [...sim.truth.recordIds({ availableBy: mustHaveBy })].map(documentId);
  const may = new Set([...sim.truth.recordIds({ availableBy: mayHaveBy })].map(documentId));
  return {
    expected: must.length,
    missing: must.filter((id) => !ids.has(id)),
    duplicated: [...ids].filter(([, n]) => n > 1).map(([id]) => id),
    unexpected: [...ids.keys()].filter((id) => !may.has(id)),
  };
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'auditfeed-start-test-'));
  // What `npm start` does first: the launcher compiles unless dist is up to date (global setup compiled it).
  await promisify(execFile)(process.execPath, [path.join(ROOT, 'scripts/local/start.cjs'), '--help'], {
    cwd: ROOT,
  });
}, 180_000);

afterEach(() => {
  for (const child of live) child.kill('SIGKILL');
});

afterAll(async () => {
  await stopAll();
  rmSync(dir, { recursive: true, force: true });
});

describe('npm start (scripts/local/run.ts)', () => {
  it('catches up on the small tenant into persistent stores, exactly once, and a second run continues', async () => {
    const [azurite, cosmos] = await Promise.all([startAzurite({ inMemory: true }), startCosmos()]);
    const settings = {
      AUDITFEED_STORAGE: azurite.connectionString,
      AUDITFEED_COSMOS__accountEndpoint: cosmos.endpoint,
      AUDITFEED_COSMOS__accountKey: cosmos.key,
    };
    const state = stateDir();
    const first = await runToEnd(['--once', '--scenario', 'small'], state, settings);
    expect(first.code).toBe(0);
    const out = first.output;
    expect(out).toMatch(/auditfeed local run caught up after .* — all checks passed/);
    for (const ct of CONTENT_TYPES) {
      expect(out).toMatch(
        new RegExp(`  ${ct.replace('.', '\\.')} +[1-9][\\d,]* +[1-9][\\d,]* +[1-9][\\d,]* `),
      );
    }
    expect(out).toMatch(/failed deliveries 0 · poison 0/);
    expect(out).toMatch(/missing 0 · duplicated 0 · unexpected 0/);
    expect(out).toMatch(/BEC story: victim \S+@\S+, attacker [\d.]+ \([A-Z]{2}\)/);
    expect(out).toMatch(/(\d+) of \1 story records in Cosmos DB/);
    expect(out).toContain(`Cosmos DB  ${cosmos.endpoint}  database "auditfeed", container "records"`);
    expect(out).toMatch(/Query it .*\n {2}SELECT .* FROM c WHERE c\.clientIp = '[\d.]+'/);

    const report = first.report;
    expect(report).toMatchObject({ status: 'caught-up', ok: true, mode: 'simulator' });
    expect(report.queue.poison).toBe(0);
    const truthCheck = report.check?.truth;
    expect(truthCheck).toMatchObject({ missing: 0, duplicated: 0, unexpected: 0 });

    // Independently of the runner's own check: the store against the rebuilt ground truth.
    const container = createCosmosClient(cosmos).database('auditfeed').container('records');
    const sim = await truthOf(report);
    try {
      const { ids, perType } = await storeContents(container);
      const result = compare(sim, ids, new Date(truthCheck!.mustHaveBy), new Date(truthCheck!.mayHaveBy));
      expect(result.expected).toBeGreaterThan(1000);
      expect(result).toMatchObject({ missing: [], duplicated: [], unexpected: [] });
      for (const ct of CONTENT_TYPES) {
        expect(perType.get(ct)).toBeGreaterThan(0);
        expect(perType.get(ct)).toBe(report.contentTypes[ct]?.inStore);
      }
      const [story] = sim.truth.stories();
      expect(story).toBeDefined();
      expect(out).toContain(`victim ${story!.victim.upn}`);
      for (const r of story!.records) expect(ids.get(documentId(r.id))).toBe(1);

      // Same stores again: the tenant is remembered and collection goes on from the watermarks.
      const second = await runToEnd(['--once', '--scenario', 'small'], state, settings);
      expect(second.code).toBe(0);
      expect(second.output).toContain('continued from storage');
      expect(second.report.scenario?.spec).toEqual(report.scenario?.spec);
      expect(second.report.totals.collected).toBeLessThan(report.totals.collected / 5);
      expect(second.report.check?.truth).toMatchObject({ missing: 0, duplicated: 0, unexpected: 0 });
      const again = await storeContents(container);
      expect([...again.ids.values()].every((n) => n === 1)).toBe(true);
      expect(again.ids.size).toBeGreaterThanOrEqual(ids.size);
    } finally {
      await sim.stop();
      await Promise.all([azurite.stop(), cosmos.stop()]);
    }
  }, 180_000);

  it('--follow catches up on a clean slate, serves queries while it runs, and stops on SIGINT', async () => {
    const state = stateDir();
    const running = startRunner(['--follow', '--scenario', 'small'], state);
    await running.waitFor(/Caught up after \d+s; following new activity/, 150_000);
    const report = readReport(state);
    expect(report).toMatchObject({ status: 'following', ok: true });
    expect(report.finishedAt).toBeUndefined();
    expect(report.cosmos).toMatchObject({ persistent: false, database: 'auditfeed', container: 'records' });
    expect(report.storage.where).toBe('Azurite, fresh temp data dir');

    const client = createCosmosClient({ endpoint: report.cosmos.endpoint, key: report.cosmos.key! });
    const sim = await truthOf(report);
    try {
      const { ids } = await storeContents(client.database('auditfeed').container('records'));
      // Everything published before the run started was due; the first collector run started later.
      const result = compare(sim, ids, new Date(Date.parse(report.startedAt) - 1000), new Date());
      expect(result.expected).toBeGreaterThan(1000);
      expect(result).toMatchObject({ missing: [], duplicated: [], unexpected: [] });
    } finally {
      client.dispose();
      await sim.stop();
    }

    running.child.kill('SIGINT');
    const { code } = await running.exited;
    expect(code).toBe(130);
    expect(running.output()).toMatch(
      /auditfeed local run stopped while following after .* — all checks passed/,
    );
    // Not left saying "following": the run has ended, and says how.
    const final = readReport(state);
    expect(final).toMatchObject({ status: 'stopped', ok: true, stop: { signal: 'SIGINT', drained: true } });
    expect(final.finishedAt).toBeDefined();
    expect(final.check?.truth).toMatchObject({ missing: 0, duplicated: 0, unexpected: 0 });
    expect(await allGone(final.servicePids)).toBe(true);
  }, 180_000);

  it('SIGINT in the middle of collecting stops everything, children included', async () => {
    const state = stateDir();
    const running = startRunner(['--once'], state);
    await running.waitFor(/collected [1-9][\d,]* .* collector running/, 150_000);
    const { servicePids } = readReport(state);
    expect(servicePids).toHaveLength(2);
    expect(servicePids.every(isAlive)).toBe(true);

    running.child.kill('SIGINT');
    const { code } = await running.exited;
    expect(code).toBe(130);
    const out = running.output();
    expect(out).toMatch(/SIGINT: stopping/);
    expect(out).toMatch(/auditfeed local run interrupted before catching up/);
    expect(out).not.toMatch(/\berror\b|Error\b|^\s+at \S/m);
    // Whatever was in flight reached a safe point before the services went: no content type failed.
    const final = readReport(state);
    expect(final).toMatchObject({ status: 'interrupted', stop: { signal: 'SIGINT', drained: true } });
    expect(final.collectorProblems.filter((p) => p.outcome !== 'deadline')).toEqual([]);
    expect(await allGone(servicePids)).toBe(true);
  }, 180_000);
});
