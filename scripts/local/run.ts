import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import path from 'node:path';
import { ConfigError } from '../../shared/errors';
import type { Logger } from '../../shared/logging';
import { readHostSettings, projectRoot } from '../../shared/hostSettings';
import { describeScenario, isLocalScenario, LOCAL_SCENARIOS, type LocalScenarioName } from './localScenario';
import { startLocalStack, type LocalStack } from './localStack';
import { Pipeline, type PipelineEnd } from './pipeline';
import { Progress } from './progress';
import { buildReport, formatSummary, writeReport, type RunStatus } from './report';
import { stopAll } from './services';
import { RunStats } from './stats';
import { verifyStore, type StoreCheck } from './verify';

/**
 * `npm start`: the whole pipeline on this machine — services, simulated (or real) tenant, collector on
 * its timer, writer on its queue — until the backlog is caught up (default, `--once`) or until Ctrl-C
 * (`--follow`). See README "The two commands" and "Local runs".
 */

export interface RunArgs {
  mode: 'once' | 'follow';
  scenario: LocalScenarioName;
  persist: boolean;
  stateDir: string;
  /** Force plain progress lines even on a terminal. */
  plain: boolean;
  help: boolean;
}

export const USAGE = `usage: npm start -- [--once | --follow] [--scenario ${LOCAL_SCENARIOS.join('|')}] [--persist] [--state-dir DIR] [--plain]

  --once        exit once the backlog is caught up (the default)
  --follow      keep collecting new activity until Ctrl-C
  --scenario    simulated tenant: default (3 days, tens of thousands of records) or small (12 hours)
                (also AUDITFEED_LOCAL_SCENARIO)
  --persist     keep Azurite's and Cosmos DB's data in <state-dir>/data, so the next run continues
  --state-dir   where the CA file, log and last-run.json go (default .local; also AUDITFEED_LOCAL_DIR)
  --plain       progress as plain lines even on a terminal

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
    help: false,
  };
  let scenario = envScenario || undefined;
  const modes = new Set<string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined || v.startsWith('--')) throw new Error(`${a} needs a value\n\n${USAGE}`);
      return v;
    };
    if (a === '--once' || a === '--follow') modes.add(a.slice(2));
    else if (a === '--scenario') scenario = value();
    else if (a.startsWith('--scenario=')) scenario = a.slice('--scenario='.length);
    else if (a === '--persist') args.persist = true;
    else if (a === '--state-dir') args.stateDir = value();
    else if (a === '--plain') args.plain = true;
    else if (a === '--help' || a === '-h') args.help = true;
    else throw new Error(`unknown argument ${a}\n\n${USAGE}`);
  }
  if (modes.size > 1) throw new Error(`--once and --follow exclude each other\n\n${USAGE}`);
  if (modes.has('follow')) args.mode = 'follow';
  if (scenario !== undefined) {
    if (!isLocalScenario(scenario)) {
      throw new Error(`unknown scenario "${scenario}" (valid: ${LOCAL_SCENARIOS.join(', ')})\n\n${USAGE}`);
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

/** Everything after the signal handlers are in place; resolves with the exit code. */
async function run(args: RunArgs, signals: { interrupted: Promise<NodeJS.Signals> }): Promise<number> {
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
    env: process.env,
  });
  const first = await Promise.race([started, signals.interrupted]);
  if (typeof first === 'string') {
    // Interrupted while starting: let the start finish or fail, then stop what it started.
    await started.then((s) => s.stop()).catch(() => undefined);
    return exitCodeFor(first);
  }
  const stack: LocalStack = first;
  const { config } = stack;

  const stats = new RunStats(config.contentTypes);
  const progressTty = !args.plain && out.isTTY === true;
  let progress: Progress | undefined;
  let problemLines = 0;
  // Once the summary is out, an abandoned collector run's last words go to the log file only.
  let summaryPrinted = false;
  const shownProblems = new Set<string>();
  const logger = fileLogger(logStream, (level, text, key) => {
    if (summaryPrinted) return;
    stats.problem(level, text);
    // Plain output gets the first problems as lines, each once; the log file has all of them.
    if (progress && !progressTty && problemLines < 20 && !shownProblems.has(key)) {
      shownProblems.add(key);
      problemLines += 1;
      progress.event(`${level === 'warn' ? 'warning' : 'error'}: ${text}`);
    }
  });

  const tenants = config.tenants.map((t) => t.tenantId).join(', ');
  out.write(
    [
      `  Management API  ${stack.sim ? `simulator ${stack.sim.baseUrl} (tenant ${tenants}${stack.scenario?.reused ? ', continued from storage' : ''})` : `${config.endpoints.apiOrigin} (tenant ${tenants})`}`,
      `  Storage         ${stack.storage.endpoint} (${stack.storage.where})`,
      `  Cosmos DB       ${stack.cosmos.endpoint} (${stack.cosmos.where})`,
      `  Triggers        collector "${config.collectSchedule}" (first run now); queue batch ${host.queues.batchSize}` +
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

  const pipeline = new Pipeline({ config, host, stats, logger, mode: args.mode });
  let status: RunStatus = 'running';
  let check: StoreCheck | undefined;
  let error: string | undefined;
  const report = (finished: boolean) => {
    const r = buildReport(status, stack, stats, logFile, check, finished);
    if (error !== undefined) r.error = error;
    writeReport(reportFile, r);
    return r;
  };
  report(false);

  let signal: NodeJS.Signals | undefined;
  void signals.interrupted.then((s) => {
    signal = s;
    progress?.event(`${s}: stopping (press Ctrl-C again to quit at once)…`);
    void pipeline.stop();
  });

  // Checked through the SDK while the services are up: Ctrl-C stops them at once (services.ts).
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
      if (signal !== undefined) return;
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
    if (end === 'caught-up') await checkStore();
    if (end === 'caught-up' && args.mode === 'follow') {
      status = 'following';
      report(false);
      progress.event(
        `Caught up after ${Math.round(stats.elapsedMs() / 1000)}s; following new activity (Ctrl-C stops).`,
      );
      // Each time a later collector run has been written, the store is checked again.
      while (signal === undefined) {
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
    await pipeline.stop();
    progress.stop();
    if (status !== 'following') {
      if (signal !== undefined) status = 'interrupted';
      else status = end === 'collector-failed' ? 'collector-failed' : 'caught-up';
    }
  } catch (e) {
    progress?.stop();
    status = signal !== undefined ? 'interrupted' : 'failed';
    error = (e as Error).message;
    if (signal === undefined) out.write(`\nauditfeed local run failed: ${error}\n`);
  }
  const final = report(true);
  summaryPrinted = true;
  out.write(formatSummary(final).join('\n'));
  out.write(`Report: ${reportFile}\n`);
  pipeline.close();
  await stack.stop();
  await new Promise((resolve) => logStream.end(resolve));
  if (signal !== undefined) return exitCodeFor(signal);
  return final.ok ? 0 : 1;
}

/** What was published before the latest complete collector run started must be in the store. */
function lastCompleteRunStart(stats: RunStats): Date | undefined {
  const run = stats.lastCompleteRun;
  // Listing windows end at whole seconds, so a blob of the same second may be left for the next run.
  return run ? new Date(Date.parse(run.startedAt) - 1000) : undefined;
}

function exitCodeFor(signal: NodeJS.Signals): number {
  return signal === 'SIGTERM' ? 143 : 130;
}

/** Ctrl-C stops the run cleanly; a second one (not the echo of the first) quits at once. */
function installSignalHandlers(): { interrupted: Promise<NodeJS.Signals> } {
  let first: number | undefined;
  let resolve!: (s: NodeJS.Signals) => void;
  const interrupted = new Promise<NodeJS.Signals>((r) => (resolve = r));
  const onSignal = (signal: NodeJS.Signals): void => {
    const now = Date.now();
    if (first === undefined) {
      first = now;
      resolve(signal);
      return;
    }
    // npm forwards the terminal's Ctrl-C too: a second signal within a second is the same keypress.
    if (now - first < 1000) return;
    process.stdout.write('\nQuitting at once.\n');
    // The 'exit' hook of services.ts stops the server processes.
    process.exit(exitCodeFor(signal));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return { interrupted };
}

async function main(): Promise<number> {
  let args: RunArgs;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n`);
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

if (require.main === module) {
  main().then(
    (code) => process.exit(code),
    (e: unknown) => {
      process.stderr.write(`${String(e)}\n`);
      process.exit(1);
    },
  );
}
