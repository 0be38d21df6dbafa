import { randomUUID } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveLatency } from './latency';
import { Rng } from './rng';
import { loadScenarioFile } from './scenario';
import type { ScenarioSpec } from './scenario';
import { startSimulator } from './server';
import type { Simulator } from './server';

export interface CliOptions {
  scenario?: string;
  port?: number;
  tls: boolean;
  seed?: string;
  tenants: number;
  frozen: boolean;
  clock?: string;
  /** --latency-ms: network latency of content listing and blob requests, overriding the scenario's. */
  latencyMs?: [number, number];
  /** Print the usage and exit. */
  help?: boolean;
}

export const USAGE = `usage: node dist/scripts/simulator/cli.js [options]   (or: npm run simulator -- [options])

Starts the Management Activity API simulator (and Graph's audit log query API) and prints one JSON line:
baseUrl, apps (client ids and secrets), tenants, the managed-identity endpoint, graph (endpoint and token
scope) and, with --tls, caPemPath. Ctrl-C stops it.

  --scenario FILE   scenario JSON (see docs/simulator.md); default: a small tenant per --tenants
  --port N          listen on port N (default: a free port)
  --tls             HTTPS with a fresh self-signed certificate (its CA file is in caPemPath)
  --seed S          seed of the generated content (overrides the scenario file's)
  --tenants N       tenants of the default scenario (default 1)
  --clock ISO       the simulated clock's start (default: now)
  --frozen          the clock stands still (tests)
  --latency-ms MIN[,MAX]
                    wait MIN to MAX ms (wall time, seeded per request) before answering each content
                    listing and blob request (overrides the scenario's latencyMs; change it while
                    running with POST /_sim/latency)
  --help            this text`;

export const USAGE_HINT = 'run with --help for the options';

/** A bad command line: printed as one line and the hint, exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

export function parseArgs(argv: string[]): CliOptions {
  const o: CliOptions = { tls: false, tenants: 1, frozen: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new UsageError(`${a} needs a value`);
      return v;
    };
    if (a === '--scenario') o.scenario = value();
    else if (a === '--port') o.port = Number(value());
    else if (a === '--tls') o.tls = true;
    else if (a === '--seed') o.seed = value();
    else if (a === '--tenants') o.tenants = Number(value());
    else if (a === '--clock') o.clock = value();
    else if (a === '--frozen') o.frozen = true;
    else if (a === '--latency-ms') o.latencyMs = latencyArg(value());
    else if (a === '--help' || a === '-h') o.help = true;
    else throw new UsageError(`unknown argument ${a}`);
  }
  if (o.port !== undefined && !(Number.isInteger(o.port) && o.port >= 0 && o.port < 65536)) {
    throw new UsageError('--port must be a port number');
  }
  if (!(Number.isInteger(o.tenants) && o.tenants > 0))
    throw new UsageError('--tenants must be a positive integer');
  return o;
}

/** `MIN[,MAX]` milliseconds, validated as the scenario's latencyMs is. */
function latencyArg(text: string): [number, number] {
  const parts = text.split(',').map((p) => (p.trim() === '' ? NaN : Number(p)));
  const r = parts.length === 1 ? [parts[0], parts[0]] : parts;
  try {
    return resolveLatency(r, '--latency-ms').content as [number, number];
  } catch (e) {
    const why = /\(([^()]*)\)$/.exec((e as Error).message)?.[1] ?? 'not a range';
    throw new UsageError(
      `--latency-ms must be MIN[,MAX] milliseconds, 0 <= MIN <= MAX, got ${text} (${why})`,
    );
  }
}

/** Scenario from the file (its seed overridden by --seed), or a default one with generated tenants. */
export function scenarioFor(o: CliOptions): ScenarioSpec {
  const latency = o.latencyMs ? { latencyMs: o.latencyMs } : {};
  if (o.scenario) {
    const spec = loadScenarioFile(o.scenario);
    return { ...spec, ...(o.seed === undefined ? {} : { seed: o.seed }), ...latency };
  }
  const seed = o.seed ?? '1';
  const rng = new Rng(`${seed}:cli-tenants`);
  return { seed, tenants: Array.from({ length: o.tenants }, () => ({ tenantId: rng.uuid() })), ...latency };
}

export interface RunningCli {
  sim: Simulator;
  /** The line printed to stdout. */
  line: string;
  close(): Promise<void>;
}

/** Starts the simulator for the CLI; `print` receives the one JSON line other processes read. */
export async function runCli(argv: string[], print: (line: string) => void): Promise<RunningCli> {
  const o = parseArgs(argv);
  const clock =
    o.clock || o.frozen ? { ...(o.clock ? { start: o.clock } : {}), frozen: o.frozen } : undefined;
  const sim = await startSimulator({
    scenario: scenarioFor(o),
    tls: o.tls,
    ...(o.port !== undefined ? { port: o.port } : {}),
    ...(clock ? { clock } : {}),
  });
  let caPemPath: string | undefined;
  if (sim.caPem) {
    caPemPath = join(tmpdir(), `auditfeed-sim-${sim.port}-${randomUUID().slice(0, 8)}.pem`);
    writeFileSync(caPemPath, sim.caPem, { mode: 0o600 });
  }
  const line = JSON.stringify({
    baseUrl: sim.baseUrl,
    apps: sim.apps,
    tenants: sim.tenants,
    managedIdentity: { endpoint: sim.managedIdentity.endpoint, header: sim.managedIdentity.header },
    graph: { endpoint: sim.graphAudit.baseUrl, scope: sim.graphAudit.scope },
    ...(caPemPath ? { caPemPath } : {}),
  });
  print(line);
  return {
    sim,
    line,
    close: async () => {
      await sim.stop();
      if (caPemPath) rmSync(caPemPath, { force: true });
    },
  };
}

/** The command line as a program: usage on --help (exit 0), one line and a hint on a bad one (exit 2). */
function main(argv: string[]): void {
  let options: CliOptions;
  try {
    options = parseArgs(argv);
  } catch (e) {
    process.stderr.write(`simulator: ${(e as Error).message}\n${USAGE_HINT}\n`);
    process.exit(2);
  }
  if (options.help) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  runCli(argv, (line) => process.stdout.write(`${line}\n`)).then(
    (running) => {
      const shutdown = (): void => {
        running.close().then(
          () => process.exit(0),
          () => process.exit(1),
        );
      };
      process.once('SIGINT', shutdown);
      process.once('SIGTERM', shutdown);
    },
    (err: unknown) => {
      process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(2);
    },
  );
}

if (require.main === module) main(process.argv.slice(2));
