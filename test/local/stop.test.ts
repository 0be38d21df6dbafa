import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { startCosmos, stopAll, type CosmosHandle } from '../../scripts/local/services';
import type { RunReport } from '../../scripts/local/report';

/**
 * Stopping `npm start` the ways a user or a supervisor does, with the runner as a child process on the
 * small simulated tenant. Nothing here waits on a clock: writer batches are held in flight by a proxy in
 * front of the Cosmos DB stand-in until the test lets them go, and every wait is for output, an exit or
 * a process going away.
 */

const ROOT = path.resolve(__dirname, '../..');
const RUNNER = path.join(ROOT, 'dist/scripts/local/run.js');
const LAUNCHER = path.join(ROOT, 'scripts/local/start.cjs');

/** Lines that must never appear in what a stop prints: errors, stack frames. */
const PROBLEM = /\berror\b|Error\b|^\s+at \S|Unhandled|EPIPE|ECONN/m;

/** HTTP proxy in front of the stand-in that holds every bulk write while `holding`. */
class HoldingProxy extends EventEmitter {
  holding = true;
  /** Bulk writes held so far, and the status each got once answered. */
  held = 0;
  readonly answered: number[] = [];
  private readonly waiting: Array<() => void> = [];
  private server!: http.Server;

  constructor(private readonly upstream: URL) {
    super();
  }

  async start(): Promise<void> {
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => this.handle(req, res, Buffer.concat(chunks)));
    });
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
  }

  get endpoint(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** Resolves once `n` bulk writes are held. */
  heldAtLeast(n: number): Promise<void> {
    return new Promise((resolve) => {
      const check = (): void => {
        if (this.held < n) return;
        this.off('held', check);
        resolve();
      };
      this.on('held', check);
      check();
    });
  }

  release(): void {
    this.holding = false;
    for (const go of this.waiting.splice(0)) go();
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse, body: Buffer): void {
    const bulk = req.method === 'POST' && req.headers['x-ms-cosmos-is-batch-request'] === 'true';
    const go = (): void => {
      const upstream = http.request(
        {
          host: this.upstream.hostname,
          port: this.upstream.port,
          method: req.method,
          path: req.url,
          headers: { ...req.headers, 'content-length': String(body.length) },
          agent: false,
        },
        (answer) => {
          const parts: Buffer[] = [];
          answer.on('data', (c: Buffer) => parts.push(c));
          answer.on('end', () => {
            const data = Buffer.concat(parts);
            const headers: http.OutgoingHttpHeaders = {};
            for (const [k, v] of Object.entries(answer.headers)) {
              if (!['content-length', 'connection', 'transfer-encoding'].includes(k) && v !== undefined)
                headers[k] = v;
            }
            headers['content-length'] = String(data.length);
            if (bulk) this.answered.push(answer.statusCode ?? 0);
            res.writeHead(answer.statusCode ?? 502, headers);
            res.end(data);
          });
        },
      );
      upstream.on('error', () => req.socket.destroy());
      upstream.end(body);
    };
    if (bulk && this.holding) {
      this.waiting.push(go);
      this.held += 1;
      this.emit('held');
    } else {
      go();
    }
  }
}

interface Running {
  child: ChildProcess;
  output: () => string;
  waitFor(pattern: RegExp): Promise<void>;
  /** Resolves when stdout and stderr are closed: every process that held them has exited. */
  closed: Promise<void>;
  exited: Promise<number | null>;
}

let dir: string;
let runs = 0;
const live = new Set<ChildProcess>();
const extraPids = new Set<number>();

function stateDir(): string {
  runs += 1;
  return path.join(dir, `state-${runs}`);
}

function environment(state: string, settings: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('AUDITFEED_')) env[k] = v;
  return { ...env, AUDITFEED_LOCAL_DIR: state, ...settings };
}

/** `command args` in its own process group (a supervisor's signal reaches only what it is sent to). */
function start(command: string, args: string[], env: NodeJS.ProcessEnv): Running {
  const child = spawn(command, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  live.add(child);
  let out = '';
  const events = new EventEmitter();
  const onData = (chunk: Buffer): void => {
    out += chunk.toString();
    events.emit('data');
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  const streamClosed = (s: NodeJS.ReadableStream | null) =>
    new Promise<void>((resolve) => (s ? s.once('close', () => resolve()) : resolve()));
  const closed = Promise.all([streamClosed(child.stdout), streamClosed(child.stderr)]).then(() => {
    events.emit('data');
  });
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      live.delete(child);
      resolve(code);
    }),
  );
  let ended = false;
  void closed.then(() => (ended = true));
  return {
    child,
    output: () => out,
    closed,
    exited,
    waitFor: (pattern) =>
      new Promise<void>((resolve, reject) => {
        const check = (): void => {
          if (pattern.test(out)) {
            events.off('data', check);
            resolve();
          } else if (ended) {
            events.off('data', check);
            reject(new Error(`output ended before ${String(pattern)}:\n${out}`));
          }
        };
        events.on('data', check);
        check();
      }),
  };
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

/**
 * Waits for the processes to be gone. Nothing to subscribe to for a process that is not our child, so
 * this looks every 100 ms — bounded only by the test's safety net, so a slow machine is not a failure.
 */
async function gone(pids: number[]): Promise<void> {
  while (pids.some(isAlive)) await new Promise((r) => setTimeout(r, 100));
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'auditfeed-stop-test-'));
  // What `npm start` runs first: the launcher compiles unless dist is up to date, then the runner answers.
  const help = await new Promise<{ code: number; stdout: string }>((resolve) =>
    execFile(process.execPath, [LAUNCHER, '--help'], { cwd: ROOT }, (error, stdout) =>
      resolve({ code: error ? Number(error.code) : 0, stdout }),
    ),
  );
  expect(help.code).toBe(0);
  expect(help.stdout).toMatch(/^usage: npm start -- /m);
}, 180_000);

afterEach(() => {
  for (const child of live) {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  for (const pid of extraPids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  extraPids.clear();
});

afterAll(async () => {
  await stopAll();
  rmSync(dir, { recursive: true, force: true });
});

describe('stopping a local run', () => {
  let cosmos: CosmosHandle;
  let proxy: HoldingProxy;

  beforeEach(async () => {
    cosmos = await startCosmos();
    proxy = new HoldingProxy(new URL(cosmos.endpoint));
    await proxy.start();
  });

  afterEach(async () => {
    proxy.release();
    await proxy.close();
    await cosmos.stop();
  });

  const runnerWithHeldWrites = (state: string, extra: string[] = []): Running =>
    start(
      process.execPath,
      [RUNNER, '--once', '--scenario', 'small', '--plain', ...extra],
      environment(state, {
        AUDITFEED_COSMOS__accountEndpoint: proxy.endpoint,
        AUDITFEED_COSMOS__accountKey: cosmos.key,
      }),
    );

  it('Ctrl-C with writer batches in flight lets them finish, then stops the services (exit 130)', async () => {
    const state = stateDir();
    const running = runnerWithHeldWrites(state);
    await proxy.heldAtLeast(1);
    const { servicePids, pid } = readReport(state);
    expect(servicePids).toHaveLength(1); // Azurite; Cosmos DB is this test's, behind the proxy
    expect(servicePids.every(isAlive)).toBe(true);

    running.child.kill('SIGINT');
    await running.waitFor(/SIGINT: stopping — .* waiting for [1-9]\d* writer batch/);
    // Stopping, not stopped: the services wait for the batches.
    expect(readReport(state).status).toBe('stopping');
    expect(servicePids.every(isAlive)).toBe(true);
    const held = proxy.held;
    proxy.release();

    expect(await running.exited).toBe(130);
    const out = running.output();
    expect(out).toMatch(/Work in flight reached a safe point \([1-9]\d* writer batch/);
    expect(out).toMatch(/auditfeed local run interrupted before catching up after/);
    expect(out).not.toMatch(PROBLEM);
    // Every batch that was held got its answer and was written, none failed or was cut off.
    expect(proxy.answered.length).toBeGreaterThanOrEqual(held);
    expect(proxy.answered.every((s) => s >= 200 && s < 300)).toBe(true);
    const final = readReport(state);
    expect(final).toMatchObject({
      status: 'interrupted',
      pid,
      stop: { signal: 'SIGINT', drained: true, abandoned: { writerBatches: 0, collectorRun: false } },
      queue: { failedDeliveries: 0, poison: 0 },
    });
    expect(final.stop!.inFlight.writerBatches).toBeGreaterThanOrEqual(1);
    expect(final.finishedAt).toBeDefined();
    await gone(servicePids);
  }, 180_000);

  it('gives up on work that does not finish within --drain-timeout, still quietly', async () => {
    const state = stateDir();
    const running = runnerWithHeldWrites(state, ['--drain-timeout', '1']);
    await proxy.heldAtLeast(1);
    const { servicePids } = readReport(state);
    running.child.kill('SIGINT');
    // Never released: the runner's own drain timeout ends the wait.
    expect(await running.exited).toBe(130);
    const out = running.output();
    expect(out).toMatch(/Gave up waiting after 1s: [1-9]\d* writer batch.* still in flight/);
    expect(out).toMatch(/Stopped with [1-9]\d* writer batch\(es\) still in flight/);
    expect(out).not.toMatch(PROBLEM);
    const final = readReport(state);
    expect(final).toMatchObject({ status: 'interrupted', stop: { signal: 'SIGINT', drained: false } });
    expect(final.stop!.abandoned.writerBatches).toBeGreaterThanOrEqual(1);
    await gone(servicePids);
  }, 180_000);
});

describe('npm start under a supervisor', () => {
  it('SIGTERM to npm reaches the runner, which stops Azurite and the Cosmos DB stand-in', async () => {
    const state = stateDir();
    const npm = start(
      'npm',
      ['start', '--', '--scenario', 'small', '--follow', '--plain'],
      environment(state),
    );
    // The first progress line comes after the services are up and last-run.json has their pids.
    await npm.waitFor(/^\[\d+s\] collected/m);
    const { pid, servicePids } = readReport(state);
    extraPids.add(pid);
    expect(servicePids).toHaveLength(2);
    expect([pid, ...servicePids].every(isAlive)).toBe(true);

    npm.child.kill('SIGTERM');
    // npm waits for the runner: when npm is gone, so is everything it started.
    expect(await npm.exited).toBe(143);
    expect(isAlive(pid)).toBe(false);
    await gone(servicePids);
    const out = npm.output();
    expect(out).toMatch(/SIGTERM: stopping/);
    expect(out).not.toMatch(PROBLEM);
    const final = readReport(state);
    expect(final.stop?.signal).toBe('SIGTERM');
    expect(['stopped', 'interrupted']).toContain(final.status);
  }, 180_000);

  it('a runner whose parent dies (SIGKILL) stops on its own and takes its servers along', async () => {
    const state = stateDir();
    // A shell that is not replaced by the runner (`; exit`), killed as a supervisor might kill npm.
    const shell = start(
      'sh',
      ['-c', `"${process.execPath}" "${RUNNER}" --scenario small --follow --plain; exit $?`],
      environment(state),
    );
    await shell.waitFor(/^\[\d+s\] collected/m);
    const { pid, servicePids } = readReport(state);
    extraPids.add(pid);
    expect([pid, ...servicePids].every(isAlive)).toBe(true);

    shell.child.kill('SIGKILL');
    await shell.exited;
    // The runner still holds the pipes: they close when it has exited.
    await shell.closed;
    await gone([pid, ...servicePids]);
    expect(shell.output()).toMatch(/the parent process exited: stopping/);
    expect(shell.output()).not.toMatch(PROBLEM);
    const final = readReport(state);
    expect(final.stop?.signal).toBe('SIGHUP');
    expect(final.finishedAt).toBeDefined();
  }, 180_000);
});
