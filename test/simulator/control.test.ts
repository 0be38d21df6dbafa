import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSimulator } from '../../scripts/simulator';
import type { Simulator } from '../../scripts/simulator';
import { parseArgs, runCli } from '../../scripts/simulator/cli';
import { ROOT, TENANT, api, errorCode, http, tokenFor, transpileSimulator } from './helpers';

const NOW = '2026-11-20T12:00:00.000Z';

describe('simulator: /_sim control and ground truth over HTTP', () => {
  let sim: Simulator;

  beforeAll(async () => {
    sim = await startSimulator({
      scenario: {
        seed: 'control',
        tenants: [{ tenantId: TENANT }],
        contentTypes: ['Audit.Exchange', 'DLP.All'],
        activity: {
          start: '2026-11-19T00:00:00Z',
          end: '2026-11-20T06:00:00Z',
          recordsPerHour: { 'DLP.All': 10 },
        },
        subscriptions: { preStarted: true },
      },
      clock: { start: NOW, frozen: true },
    });
  });

  afterAll(() => sim.stop());

  it('reports a summary and record ids matching sim.truth', async () => {
    const summary = await http.get<Record<string, number | string>>(`${sim.baseUrl}/_sim/truth/summary`);
    const blobs = sim.truth.blobs();
    expect(summary.data).toMatchObject({
      now: NOW,
      blobs: blobs.length,
      recordOccurrences: blobs.reduce((n, b) => n + b.recordCount, 0),
      availableBlobs: blobs.filter((b) => b.availableAt <= NOW).length,
    });
    const ids = await http.get<{ count: number; ids: string[] }>(`${sim.baseUrl}/_sim/truth/record-ids`, {
      params: { tenantId: TENANT, contentType: 'DLP.All' },
    });
    const expected = sim.truth.recordIds({ tenantId: TENANT, contentType: 'DLP.All' });
    expect(ids.data.count).toBe(expected.size);
    expect(new Set(ids.data.ids)).toEqual(expected);
    const bad = await http.get(`${sim.baseUrl}/_sim/truth/record-ids`, { params: { contentType: 'nope' } });
    expect(bad.status).toBe(400);
  });

  it('serves the request log with since=, and moves the clock', async () => {
    const start = (await http.get<{ total: number }>(`${sim.baseUrl}/_sim/requests`)).data.total;
    const token = await tokenFor(sim);
    await api(sim, token).get('subscriptions/list');
    const log = await http.get<{ total: number; entries: Array<{ route: string; status: number }> }>(
      `${sim.baseUrl}/_sim/requests`,
      { params: { since: start } },
    );
    expect(log.data.total).toBe(start + 2);
    expect(log.data.entries.map((e) => [e.route, e.status])).toEqual([
      ['token', 200],
      ['list', 200],
    ]);
    const moved = await http.post<{ now: string }>(`${sim.baseUrl}/_sim/clock`, { advanceMs: 3_600_000 });
    expect(moved.data.now).toBe('2026-11-20T13:00:00.000Z');
    expect(sim.clock.now().toISOString()).toBe('2026-11-20T13:00:00.000Z');
    await http.post(`${sim.baseUrl}/_sim/clock`, { set: NOW });
    expect(sim.clock.now().toISOString()).toBe(NOW);
  });

  it('changes subscriptions from outside', async () => {
    const res = await http.post<{ state: string }>(`${sim.baseUrl}/_sim/subscriptions`, {
      tenantId: TENANT,
      contentType: 'DLP.All',
      action: 'disable',
      by: 'a tenant admin',
    });
    expect(res.data.state).toBe('disabled');
    const token = await tokenFor(sim);
    const listing = await api(sim, token).get('subscriptions/content', { contentType: 'DLP.All' });
    expect(errorCode(listing)).toBe('AF20023');
    await http.post(`${sim.baseUrl}/_sim/subscriptions`, {
      tenantId: TENANT,
      contentType: 'DLP.All',
      action: 'start',
    });
    expect(sim.subscriptions.state(TENANT, 'DLP.All')).toBe('enabled');
  });
});

describe('simulator: CLI', () => {
  it('parses its arguments and refuses bad ones', () => {
    expect(parseArgs(['--port', '8443', '--tls', '--seed', 's', '--scenario', 'x.json'])).toMatchObject({
      port: 8443,
      tls: true,
      seed: 's',
      scenario: 'x.json',
    });
    expect(() => parseArgs(['--port', 'http'])).toThrow(/--port/);
    expect(() => parseArgs(['--verbose'])).toThrow(/unknown argument --verbose/);
  });

  it('starts in-process, prints one JSON line with a CA file for TLS, and cleans up', async () => {
    const lines: string[] = [];
    const running = await runCli(['--tls', '--seed', '42', '--tenants', '2'], (l) => lines.push(l));
    let caPemPath: string;
    try {
      expect(lines).toHaveLength(1);
      const info = JSON.parse(lines[0]!) as {
        baseUrl: string;
        tenants: string[];
        apps: unknown[];
        caPemPath: string;
      };
      caPemPath = info.caPemPath;
      expect(info.baseUrl).toBe(running.sim.baseUrl);
      expect(info.tenants).toHaveLength(2);
      expect(info.apps).toHaveLength(1);
      expect(readFileSync(caPemPath, 'utf8')).toBe(running.sim.caPem);
    } finally {
      await running.close();
    }
    expect(existsSync(caPemPath)).toBe(false);
  });

  it('runs as a process and stops cleanly on SIGTERM', async () => {
    const out = mkdtempSync(join(tmpdir(), 'sim-cli-'));
    try {
      transpileSimulator(out);
      const child = spawn(
        process.execPath,
        [join(out, 'scripts', 'simulator', 'cli.js'), '--tls', '--seed', '3'],
        {
          env: { ...process.env, NODE_PATH: join(ROOT, 'node_modules') },
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      const line = await new Promise<string>((resolve, reject) => {
        let buf = '';
        child.stdout.on('data', (c: Buffer) => {
          buf += c.toString();
          if (buf.includes('\n')) resolve(buf.split('\n')[0]!);
        });
        child.on('exit', (code) => reject(new Error(`cli exited early with ${code}`)));
      });
      const info = JSON.parse(line) as { baseUrl: string; caPemPath: string };
      const ca = readFileSync(info.caPemPath, 'utf8');
      const status = await new Promise<number | undefined>((resolve, reject) => {
        https
          .get(`${info.baseUrl}/_sim/info`, { ca, agent: false }, (res) => {
            res.resume();
            resolve(res.statusCode);
          })
          .on('error', reject);
      });
      expect(status).toBe(200);
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(existsSync(info.caPemPath)).toBe(false);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  }, 180_000);
});
