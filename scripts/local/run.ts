import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import path from 'node:path';
import { ConfigError } from '../../shared/errors';
import type { Logger } from '../../shared/logging';
import { readHostSettings, projectRoot } from '../../shared/hostSettings';
import { describeScenario, isLocalScenario, LOCAL_SCENARIOS, type LocalScenarioName } from './localScenario';
import { startLocalStack, type LocalStack } from './localStack';
import { DRAIN_TIMEOUT_MS, Pipeline, type InFlight, type PipelineEnd } from './pipeline';
import { leaveSignalsToCaller } from './processes';
import { Progress } from './progress';
import { buildReport, formatSummary, writeReport, type RunStatus, type StopInfo } from './report';
import { stopAll } from './services';
import { RunStats } from './stats';
import { verifyStore, type StoreCheck } from './verify';

/**
 * `npm start`: the whole pipeline on this machine — services, simulated (or real) tenant, collector on
 * its timer, writer on its queue — until the backlog is caught up (default, `--once`) or until Ctrl-C
 * (`--follow`). See README "The two commands" and "Local runs".
 *
 * Stopping (Ctrl-C, SIGTERM, or the parent process going away): the triggers stop taking work, the writer
 * invocations and a collector run in flight reach a safe point (bounded by --drain-timeout), then the
 * services stop, then the summary is printed. A second Ctrl-C quits at once.
 */

export interface RunArgs {
  mode: 'once' | 'follow';
  scenario: LocalScenarioName;
  persist: boolean;
  stateDir: string;
  /** Force plain progress lines even on a terminal. */
  plain: boolean;
  /** How long a stop waits for work in flight before stopping the services anyway. */
  drainTimeoutSeconds: number;
  /** Fanned-out collection with this many collectorWorker instances (undefined: as configured). */
  workers?: number;
  help: boolean;
}

export const USAGE = `usage: npm start -- [--once | --follow] [--scenario ${LOCAL_SCENARIOS.join('|')}] [--persist] [--state-dir DIR]
                    [--plain] [--drain-timeout SECONDS] [--workers N] [--help]

  --once        exit once the backlog is caught up (the default)
  --follow      keep collecting new activity until Ctrl-C
  --scenario    simulated tenant: default (3 days, tens of thousands of records) or small (12 hours)
                (also AUDITFEED_LOCAL_SCENARIO)
  --persist     keep Azurite's and Cosmos DB's data in <state-dir>/data/azurite and
                <state-dir>/data/cosmos.jsonl, so the next run continues
  --state-dir   where the CA file, log and last-run.json go (default .local; also AUDITFEED_LOCAL_DIR)
  --plain       progress as plain lines even on a terminal
  --drain-timeout  on Ctrl-C, wait this long for writer batches and a collector run in flight to
                finish before stopping the services (default ${DRAIN_TIMEOUT_MS / 1000}); Ctrl-C again quits at once
  --workers N   collect fanned out as in a scaled-out deployment: the timer dispatches one task per
                tenant × content type to the work queue and N collectorWorker instances run them
                (AUDITFEED_COLLECT_MODE=fanout; the default with several tenants, with 3 workers)

Settings are the usual AUDITFEED_* variables: AUDITFEED_TENANT_IDS runs against a real tenant instead
of the simulator; AUDITFEED_STORAGE and AUDITFEED_COSMOS__accountEndpoint use your storage and Cosmos DB.`;

export function parseArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): RunArgs {
  const envScenario = env.AUDITFEED_LOCAL_SCENARIO?.trim();
  const args: RunArgs = {
    mode: 'once',
    scenario: 'default',
    persist: false,
    stateDir: env.AUDITFEED_LOCAL_DIR?.trim() || path.join(projectRoot(), '.local'),
    plain: false,
    drainTimeoutSeconds: DRAIN_TIMEOUT_MS / 1000,
    help: false,
  };
  let scenario = envScenario || undefined;
  const modes = new Set<string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined || v.startsWith('--')) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '--once' || a === '--follow') modes.add(a.slice(2));
    else if (a === '--scenario') scenario = value();
    else if (a.startsWith('--scenario=')) scenario = a.slice('--scenario='.length);
    else if (a === '--persist') args.persist = true;
    else if (a === '--state-dir') args.stateDir = value();
    else if (a === '--plain') args.plain = true;
    else if (a === '--drain-timeout') {
      const raw = value();
      const seconds = Number(raw);
      if (!(Number.isFinite(seconds) && seconds >= 0)) {
        throw new Error(`--drain-timeout must be a number of seconds, got ${raw}`);
      }
      args.drainTimeoutSeconds = seconds;
    } else if (a === '--workers') {
      const raw = value();
      if (!/^\d+$/.test(raw) || Number(raw) < 1 || Number(raw) > 32) {
        throw new Error(`--workers must be a whole number from 1 to 32, got ${raw}`);
      }
      args.workers = Number(raw);
    } else if (a === '--help' || a === '-h') args.help = true;
    else throw new Error(`unknown argument ${a}`);
  }
  if (modes.size > 1) throw new Error('--once and --follow exclude each other');
  if (modes.has('follow')) args.mode = 'follow';
  if (scenario !== undefined) {
    if (!isLocalScenario(scenario)) {
      throw new Error(`unknown scenario "${scenario}" (valid: ${LOCAL_SCENARIOS.join(', ')})`);
    }
    args.scenario = scenario;
  }
  args.stateDir = path.resolve(args.stateDir);
  return args;
}

/** Handler logs go to a file (they would tear the live table apart); problems also reach the screen. */
function fileLogger(
  stream: WriteStream,
  onProblem: (level: 'warn' | 'error', text: string, key: string) => void,
): Logger {
  const line = (level: string, message: string, properties?: Record<string, unknown>): void => {
    // An abandoned collector run may still log while the process exits.
    if (stream.writableEnded) return;
    stream.write(`${JSON.stringify({ time: new Date().toISOString(), level, message, ...properties })}\n`);
  };
  return {
    info: (m, p) => line('info', m, p),
    warn: (m, p) => {
      line('warn', m, p);
      onProblem('warn', withDetail(m, p), problemKey(m, p));
    },
    error: (m, p) => {
      line('error', m, p);
      onProblem('error', withDetail(m, p), problemKey(m, p));
    },
  };
}

/** The message with what a person needs from its properties: which content type, and the error. */
function withDetail(message: string, properties?: Record<string, unknown>): string {
  const where = typeof properties?.contentType === 'string' ? ` [${properties.contentType}]` : '';
  const error =
    typeof properties?.error === 'string' && !message.includes(properties.error)
      ? `: ${properties.error}`
      : '';
  return `${message}${where}${error}`;
}

/** Repeats of one problem (same message, same content type) are shown once. */
function problemKey(message: string, properties?: Record<string, unknown>): string {
  return `${message}|${typeof properties?.contentType === 'string' ? properties.contentType : ''}`;
}

/** Why the run stops: a signal, or the parent process gone (reported as SIGHUP). */
export interface StopRequest {
  signal: NodeJS.Signals;
  /** For the message: "SIGINT", "the parent process exited". */
  why: string;
}

/** "3 writer batches and the collector run" / "nothing". */
function describeInFlight(f: InFlight): string {
  const parts = [
    f.writerBatches > 0 ? `${f.writerBatches} writer batch${f.writerBatches === 1 ? '' : 'es'}` : '',
    f.collectorRun ? 'the collector run' : '',
  ].filter(Boolean);
  return parts.length > 0 ? parts.join(' and ') : 'nothing';
}

/** Everything after the signal handlers are in place; resolves with the exit code. */
async function run(args: RunArgs, signals: { interrupted: Promise<StopRequest> }): Promise<number> {
  mkdirSync(args.stateDir, { recursive: true });
  const logFile = path.join(args.stateDir, 'last-run.log');
  const reportFile = path.join(args.stateDir, 'last-run.json');
  const logStream = createWriteStream(logFile, { flags: 'w' });
  const out = process.stdout;
  const host = readHostSettings();

  out.write(
    process.env.AUDITFEED_TENANT_IDS
      ? 'auditfeed: starting a local run against your tenant (AUDITFEED_TENANT_IDS)…\n'
      : `auditfeed: starting a local run on a simulated tenant (${args.scenario}: ${describeScenario(args.scenario)})…\n`,
  );
  const started = startLocalStack({
    scenario: args.scenario,
    stateDir: args.stateDir,
    persist: args.persist,
    env: args.workers !== undefined ? { ...process.env, AUDITFEED_COLLECT_MODE: 'fanout' } : process.env,
  });
  const first = await Promise.race([started, signals.interrupted]);
  if (!('config' in first)) {
    // Interrupted while starting: let the start finish or fail, then stop what it started.
    out.write(`${first.why}: stopping the services started so far…\n`);
    await started.then((s) => s.stop()).catch(() => undefined);
    await new Promise((resolve) => logStream.end(resolve));
    return exitCodeFor(first.signal);
  }
  const stack: LocalStack = first;
  const { config } = stack;

  const stats = new RunStats(config.contentTypes);
  const progressTty = !args.plain && out.isTTY === true;
  let progress: Progress | undefined;
  let problemLines = 0;
  // Once the work has drained, what abandoned work still says (the services going away under it) goes
  // to the log file only.
  let quiet = false;
  const shownProblems = new Set<string>();
  const logger = fileLogger(logStream, (level, text, key) => {
    if (quiet) return;
    stats.problem(level, text);
    // Plain output gets the first problems as lines, each once; the log file has all of them.
    if (progress && !progressTty && problemLines < 20 && !shownProblems.has(key)) {
      shownProblems.add(key);
      problemLines += 1;
      progress.event(`${level === 'warn' ? 'warning' : 'error'}: ${text}`);
    }
  });
  /** A line that stays: above the live table once it is up, else straight out. */
  const say = (line: string): void => {
    if (progress) progress.event(line);
    else out.write(`${line}\n`);
  };

  const tenants = config.tenants.map((t) => t.tenantId).join(', ');
  out.write(
    [
      `  Management API  ${stack.sim ? `simulator ${stack.sim.baseUrl} (tenant ${tenants}${stack.scenario?.reused ? ', continued from storage' : ''})` : `${config.endpoints.apiOrigin} (tenant ${tenants})`}`,
      `  Storage         ${stack.storage.endpoint} (${stack.storage.where})`,
      `  Cosmos DB       ${stack.cosmos.endpoint} (${stack.cosmos.where})`,
      `  Triggers        collector "${config.collectSchedule}" (first run now)` +
        (config.collectMode === 'fanout'
          ? `, fanned out to ${args.workers ?? 3} collectorWorker instances on ${config.workQueueName}`
          : ', collecting inline') +
        `; queue batch ${host.queues.batchSize}` +
        ` + ${host.queues.newBatchThreshold}, visibility timeout ${host.queues.visibilityTimeoutSeconds}s,` +
        ` poison after ${host.queues.maxDequeueCount} (host.json)`,
      `  Log             ${logFile}`,
      '',
    ].join('\n'),
  );
  if (stack.storage.persistent !== stack.cosmos.persistent) {
    out.write(
      `  Note: ${stack.storage.persistent ? 'storage keeps its watermarks but Cosmos DB starts empty' : 'Cosmos DB keeps its data but storage (watermarks) starts empty'}; ` +
        'point both at persistent stores to continue where a run stopped.\n\n',
    );
  }

  const pipeline = new Pipeline({
    config,
    host,
    stats,
    logger,
    mode: args.mode,
    drainTimeoutMs: args.drainTimeoutSeconds * 1000,
    ...(args.workers !== undefined ? { collectorWorkers: args.workers } : {}),
  });
  let status: RunStatus = 'running';
  let check: StoreCheck | undefined;
  let error: string | undefined;
  let stop: StopRequest | undefined;
  let stopInfo: StopInfo | undefined;
  const report = (finished: boolean) => {
    // From the signal until the end, last-run.json says "stopping" whatever the run was doing.
    const r = buildReport(
      !finished && stop !== undefined ? 'stopping' : status,
      stack,
      stats,
      logFile,
      check,
      finished,
    );
    if (stopInfo) r.stop = stopInfo;
    if (error !== undefined) r.error = error;
    writeReport(reportFile, r);
    return r;
  };
  report(false);

  void signals.interrupted.then((s) => {
    stop = s;
    // last-run.json says "stopping" before anything is printed about it.
    report(false);
    const f = pipeline.inFlight();
    const busy = f.writerBatches > 0 || f.collectorRun;
    say(
      `${s.why}: stopping — no new collector run or queue message; ` +
        (busy
          ? `waiting for ${describeInFlight(f)} in flight (up to ${args.drainTimeoutSeconds}s), then the services`
          : 'nothing in flight, stopping the services') +
        ' (press Ctrl-C again to quit at once)…',
    );
    void pipeline.stop();
  });

  const checkStore = async (): Promise<void> => {
    const bound = lastCompleteRunStart(stats);
    try {
      check = await verifyStore({
        container: await pipeline.writerRuntime.ensureResources(),
        tenantIds: config.tenants.map((t) => t.tenantId),
        ...(stack.sim ? { truth: stack.sim.truth } : {}),
        ...(bound ? { mustHaveBy: bound } : {}),
        mayHaveBy: new Date(),
      });
      error = undefined;
    } catch (e) {
      logger.error(`Checking the store failed: ${(e as Error).message}`);
      error = `checking the store failed: ${(e as Error).message}`;
    }
  };

  try {
    await pipeline.start();
    progress = new Progress({
      stats,
      out,
      tty: progressTty,
      title: `auditfeed local run (${stack.sim ? `simulated tenant, ${args.scenario}` : 'your tenant'})`,
      logFile,
    });
    progress.start();
    let end: PipelineEnd = await pipeline.untilCaughtUp();
    // Caught up: the store is checked even if a stop is under way (the services are up until drained).
    if (end === 'caught-up') await checkStore();
    if (end === 'caught-up' && args.mode === 'follow' && stop === undefined) {
      status = 'following';
      report(false);
      progress.event(
        `Caught up after ${Math.round(stats.elapsedMs() / 1000)}s; following new activity (Ctrl-C stops).`,
      );
      // Each time a later collector run has been written, the store is checked again.
      while (stop === undefined) {
        end = await pipeline.untilCaughtUp(stats.finishedRuns);
        if (end !== 'caught-up') break;
        await checkStore();
        report(false);
        const t = check?.truth;
        if (t && (t.missing > 0 || t.duplicated > 0 || t.unexpected > 0)) {
          progress.event(
            `Store check: missing ${t.missing}, duplicated ${t.duplicated}, unexpected ${t.unexpected}`,
          );
        }
      }
    }
    const drained = await pipeline.stop();
    if (stop !== undefined) {
      stopInfo = {
        signal: stop.signal,
        at: new Date(Date.now() - drained.drainMs).toISOString(),
        inFlight: drained.inFlight,
        drained: drained.drained,
        abandoned: drained.abandoned,
        drainSeconds: Math.round(drained.drainMs / 100) / 10,
      };
      const busy = drained.inFlight.writerBatches > 0 || drained.inFlight.collectorRun;
      if (!drained.drained) {
        progress.event(
          `Gave up waiting after ${args.drainTimeoutSeconds}s: ${describeInFlight(drained.abandoned)} still in ` +
            'flight (its messages are delivered again, the next collector run resumes); stopping the services…',
        );
      } else if (busy) {
        progress.event(
          `Work in flight reached a safe point (${describeInFlight(drained.inFlight)}) in ` +
            `${stopInfo.drainSeconds}s; stopping the services…`,
        );
      }
    }
    quiet = true;
    progress.stop();
    if (status === 'following') status = 'stopped';
    else if (end === 'caught-up') status = 'caught-up';
    else if (end === 'collector-failed') status = 'collector-failed';
    else status = 'interrupted';
  } catch (e) {
    quiet = true;
    progress?.stop();
    error = (e as Error).message;
    if (stop === undefined) {
      status = 'failed';
      out.write(`\nauditfeed local run failed: ${error}\n`);
    } else {
      status = 'interrupted';
    }
    await pipeline.stop();
  }
  // Only now that nothing is in flight (or the drain timed out) do the services go.
  pipeline.close();
  await stack.stop();
  const final = report(true);
  out.write(formatSummary(final).join('\n'));
  out.write(`Report: ${reportFile}\n`);
  await new Promise((resolve) => logStream.end(resolve));
  if (stop !== undefined) return exitCodeFor(stop.signal);
  return final.ok ? 0 : 1;
}

/** What was published before the latest complete collector run started must be in the store. */
function lastCompleteRunStart(stats: RunStats): Date | undefined {
  const run = stats.lastCompleteRun;
  // Listing windows end at whole seconds, so a blob of the same second may be left for the next run.
  return run ? new Date(Date.parse(run.startedAt) - 1000) : undefined;
}

function exitCodeFor(signal: NodeJS.Signals): number {
  if (signal === 'SIGTERM') return 143;
  if (signal === 'SIGHUP') return 129;
  return 130;
}

/** How often the runner looks whether its parent is still there. */
const PARENT_CHECK_MS = 1_000;

/**
 * Ctrl-C, SIGTERM or SIGHUP stop the run cleanly; a second signal (not the echo of the first) quits at
 * once. So does the parent process going away (a supervisor that killed `npm start`, a closed terminal):
 * the runner is re-parented, and stops as on SIGHUP rather than leave its servers behind.
 */
function installSignalHandlers(): { interrupted: Promise<StopRequest> } {
  // The servers are stopped by the runner once its work has drained, not by the signal itself.
  leaveSignalsToCaller();
  let first: number | undefined;
  let resolve!: (s: StopRequest) => void;
  const interrupted = new Promise<StopRequest>((r) => (resolve = r));
  const request = (signal: NodeJS.Signals, why: string): void => {
    const now = Date.now();
    if (first === undefined) {
      first = now;
      resolve({ signal, why });
      return;
    }
    if (why !== signal) return; // the watchdog never quits at once
    // npm forwards the terminal's Ctrl-C too: a second signal within a second is the same keypress.
    if (now - first < 1000) return;
    process.stdout.write('\nQuitting at once.\n');
    // The 'exit' hook of services.ts stops the server processes.
    process.exit(exitCodeFor(signal));
  };
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const)
    process.on(signal, () => request(signal, signal));
  const parent = process.ppid;
  const watchdog = setInterval(() => {
    if (process.ppid === parent) return;
    clearInterval(watchdog);
    request('SIGHUP', 'the parent process exited');
  }, PARENT_CHECK_MS);
  watchdog.unref();
  // With the parent gone, stdout/stderr may be pipes nobody reads: EPIPE must not crash the shutdown.
  for (const stream of [process.stdout, process.stderr]) stream.on('error', () => undefined);
  return { interrupted };
}

const USAGE_HINT = 'run `npm start -- --help` for the options';

export async function main(argv: string[] = process.argv.slice(2)): Promise<number> {
  let args: RunArgs;
  try {
    args = parseArgs(argv);
  } catch (e) {
    process.stderr.write(`npm start: ${(e as Error).message}\n${USAGE_HINT}\n`);
    return 2;
  }
  if (args.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const signals = installSignalHandlers();
  try {
    return await run(args, signals);
  } catch (e) {
    await stopAll().catch(() => undefined);
    if (e instanceof ConfigError) {
      process.stderr.write(`${e.message}\n`);
      return 2;
    }
    process.stderr.write(
      `auditfeed local run failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`,
    );
    return 1;
  }
}

/** The program: runs and exits with the run's code. Called by scripts/local/start.cjs (npm start). */
export function cli(argv: string[] = process.argv.slice(2)): void {
  main(argv).then(
    (code) => process.exit(code),
    (e: unknown) => {
      process.stderr.write(`${String(e)}\n`);
      process.exit(1);
    },
  );
}

if (require.main === module) cli();
