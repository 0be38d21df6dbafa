/**
 * `npm run bench`: the real collector and writer against the simulator, Azurite and the Cosmos stand-in
 * on a generated backlog, with the ceilings of the same endpoints measured in the same run; prints a
 * table and writes the figures as JSON under results/. See docs/performance.md.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { INDEXING_POLICY } from '../../shared/writer/cosmosContainer';
import { stopAll } from '../local/services';
import { apiRequestsFromLog, minimumRequests } from './apiRequests';
import { backfillBench, formatBackfillTable } from './backfill';
import { BACKFILL_USAGE, isBackfillCommand, parseBackfillArgs } from './backfillArgs';
import { bulkyPhase, sweepPhase } from './completeness';
import { parseBenchCommand, USAGE, USAGE_HINT, UsageError, type BenchOptions } from './args';
import { DEFAULT_INDEXING_POLICY, estimateRu } from './cosmosCost';
import { memoryRuns } from './memory';
import { pipelinePhase, stagesPhase, type PhaseOptions } from './phases';
import { PRICES } from './pricing';
import {
  computeFigures,
  fmt,
  formatMemoryTable,
  formatTable,
  type BenchInputs,
  type MemoryRun,
} from './report';
import { formatScaleTable } from './scaleReport';
import { isScaleCommand, parseScaleArgs, SCALE_USAGE } from './scaleArgs';
import { scaleBench } from './scale';
import { benchScenario, writeScenario } from './scenario';
import { startBenchSimulator } from './simulatorClient';

const log = (line: string): void => void process.stderr.write(`${line}\n`);

async function throughput(
  o: BenchOptions,
  workDir: string,
  memory: MemoryRun[],
): Promise<{ inputs: BenchInputs; extra: Record<string, unknown> }> {
  const spec = benchScenario({ records: o.records, seed: o.seed, pageSize: o.pageSize, users: o.users });
  const sim = await startBenchSimulator(writeScenario(workDir, 'throughput', spec));
  try {
    const truth = await sim.summary();
    const blobs = await sim.blobs();
    const uniqueRecords = await sim.uniqueRecordIds();
    log(
      `scenario: ${fmt(truth.recordOccurrences)} record occurrences (${fmt(uniqueRecords)} unique) in ${fmt(truth.blobs)} blobs`,
    );
    const phase: PhaseOptions = {
      collectorSettings: { AUDITFEED_MAX_REQUESTS_PER_MINUTE: String(o.apiRequestsPerMinute) },
      writerBatchSize: o.writerBatchSize,
      ...(o.profileDir !== undefined ? { profileDir: resolve(o.profileDir) } : {}),
      log,
    };
    log('pipeline: collector and writer at once');
    const pipeline = await pipelinePhase(sim, phase);
    log(`  ${fmt(pipeline.collector.records)} records, ${fmt(pipeline.storedDocuments)} documents stored`);
    log('stages: each on its own, then the ceilings');
    const stages = await stagesPhase(sim, {
      ...phase,
      ceilingRecords: o.ceilingRecords,
      enqueueMessages: Math.min(3_000, Math.max(500, pipeline.collector.messages)),
    });
    log('completeness: one full sweep over the backlog, then a 150 MB blob');
    const sweep = await sweepPhase(sim, truth.blobs, phase);
    const bulky = await bulkyPhase({
      ...phase,
      workDir,
      seed: o.seed,
      bytes: o.bulkyBytes,
      pageSize: o.pageSize,
    });
    const log2 = apiRequestsFromLog(stages.requests);
    const documents = stages.sample.groups.flat() as unknown as Record<string, unknown>[];
    const inputs: BenchInputs = {
      records: o.records,
      cores: cpus().length,
      pageSize: o.pageSize,
      writerBatchSize: o.writerBatchSize,
      pipeline: {
        collector: pipeline.collector,
        writer: pipeline.writer,
        storedDocuments: pipeline.storedDocuments,
        uniqueRecords,
        serverCpuMs: pipeline.serverCpuMs,
      },
      stages: { collector: stages.collector, writer: stages.writer },
      ceilings: { bulk: stages.bulk, enqueue: stages.enqueue },
      api: {
        actual: { list: log2.list, content: log2.content, total: log2.total },
        minimum: minimumRequests(blobs, o.pageSize),
        other: log2.other,
      },
      ru: {
        chosen: estimateRu(documents, INDEXING_POLICY),
        everything: estimateRu(documents, DEFAULT_INDEXING_POLICY),
      },
      cost: { recordsPerDay: o.costRecordsPerDay, retentionDays: o.retentionDays, peakHourFactor: 1.5 },
      memory,
      completeness: { sweep, bulky },
    };
    return {
      inputs,
      extra: {
        scenario: { ...truth, uniqueRecords, spec },
        pipelineRequests: pipeline.requests,
        stagesRequests: stages.requests,
        sampleRecords: stages.sample.records,
      },
    };
  } finally {
    await sim.stop();
  }
}

/** The options, or the exit code once --help is printed (0) or a usage error is reported (2). */
function commandLine<T>(
  parse: () => { help: true } | { help: false; options: T },
  usage: string,
): T | number {
  try {
    const command = parse();
    if (!command.help) return command.options;
    process.stdout.write(`${usage}\n`);
    return 0;
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    process.stderr.write(`bench: ${e.message}\n${USAGE_HINT}\n`);
    return 2;
  }
}

/** The machine, with load averages before and after: other work on it slows every figure down. */
function machineInfo() {
  return {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model,
    memoryBytes: totalmem(),
    node: process.version,
    loadAverageBefore: loadavg(),
    loadAverageAfter: [] as number[],
  };
}

/** `--tenants N`: the scale bench (scale.ts), its own options, table and result file. */
async function scaleMain(argv: readonly string[]): Promise<number> {
  const o = commandLine(() => parseScaleArgs(argv), SCALE_USAGE);
  if (typeof o === 'number') return o;
  // Ctrl-C or a kill must not leave the simulators and worker processes behind: exiting runs the
  // children's exit hooks (childProcess.ts, scripts/local/processes.ts).
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(130));
  const workDir = mkdtempSync(join(tmpdir(), 'auditfeed-scale-'));
  const machine = machineInfo();
  const startedAt = new Date();
  try {
    const outDir = resolve(o.outDir);
    mkdirSync(outDir, { recursive: true });
    const file = join(outDir, `scale-${startedAt.toISOString().replace(/[:.]/g, '-')}.json`);
    const write = (fields: Record<string, unknown>): void =>
      writeFileSync(
        file,
        `${JSON.stringify({ kind: 'scale', options: o, machine, startedAt, ...fields }, null, 2)}\n`,
      );
    const result = await scaleBench({
      options: o,
      workDir,
      log,
      onRun: (runs) => write({ partial: true, runs }),
    });
    machine.loadAverageAfter = loadavg();
    const seconds = (Date.now() - startedAt.getTime()) / 1000;
    const header =
      `Fanned-out collection: ${fmt(o.tenants)} tenants (${result.tenants.small} small at ${fmt(o.sizes.small)}, ` +
      `${result.tenants.medium} medium at ${fmt(o.sizes.medium)}, ${result.tenants.large} large at ${fmt(o.sizes.large)} ` +
      `records/hour), ${o.contentTypes.length} content types, ${o.lookbackHours} h backlog, latency ` +
      `${o.latencyMs[0]}-${o.latencyMs[1]} ms, limit = budget ${fmt(o.apiRequestsPerMinute)}/min per tenant, ` +
      `planner every ${o.intervalSeconds} s, ${o.steadyIntervals} steady intervals`;
    process.stdout.write(`\n${formatScaleTable(result.runs, header)}\n`);
    process.stdout.write(
      `\nMachine: ${machine.cpus} × ${machine.cpuModel ?? 'CPU'}, Node ${machine.node} (every worker process, ` +
        `the simulators, Azurite and the planner share these cores); load average ` +
        `${machine.loadAverageBefore.map((l) => l.toFixed(1)).join(' ')} before, ` +
        `${machine.loadAverageAfter.map((l) => l.toFixed(1)).join(' ')} after; ${Math.round(seconds / 60)} min\n`,
    );
    write({ seconds, ...result });
    process.stdout.write(`\nFigures written to ${file}\n`);
    return 0;
  } finally {
    await stopAll();
    rmSync(workDir, { recursive: true, force: true });
  }
}

/** `--backfill`: a backfill of a long history through the real queue and writer (backfill.ts). */
async function backfillMain(argv: readonly string[]): Promise<number> {
  const o = commandLine(() => parseBackfillArgs(argv), BACKFILL_USAGE);
  if (typeof o === 'number') return o;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(130));
  const workDir = mkdtempSync(join(tmpdir(), 'auditfeed-backfill-'));
  const machine = machineInfo();
  const startedAt = new Date();
  try {
    const { inputs, figures } = await backfillBench({ options: o, workDir, log });
    machine.loadAverageAfter = loadavg();
    process.stdout.write(`\n${formatBackfillTable(figures, inputs)}\n`);
    process.stdout.write(
      `\nMachine: ${machine.cpus} × ${machine.cpuModel ?? 'CPU'}, Node ${machine.node} (engine, writer, simulator, ` +
        `Azurite and the Cosmos stand-in share these cores); load average ` +
        `${machine.loadAverageBefore.map((l) => l.toFixed(1)).join(' ')} before, ` +
        `${machine.loadAverageAfter.map((l) => l.toFixed(1)).join(' ')} after\n`,
    );
    const outDir = resolve(o.outDir);
    mkdirSync(outDir, { recursive: true });
    const file = join(outDir, `backfill-${startedAt.toISOString().replace(/[:.]/g, '-')}.json`);
    const result = { kind: 'backfill', options: o, machine, startedAt, figures, inputs };
    writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
    process.stdout.write(`\nFigures written to ${file}\n`);
    // A store that does not hold every record exactly once is a failed run.
    return figures.exactlyOnce ? 0 : 1;
  } finally {
    await stopAll();
    rmSync(workDir, { recursive: true, force: true });
  }
}

async function main(): Promise<number> {
  if (isScaleCommand(process.argv.slice(2))) return scaleMain(process.argv.slice(2));
  if (isBackfillCommand(process.argv.slice(2))) return backfillMain(process.argv.slice(2));
  const o = commandLine(() => parseBenchCommand(process.argv.slice(2)), USAGE);
  if (typeof o === 'number') return o;
  const workDir = mkdtempSync(join(tmpdir(), 'auditfeed-bench-'));
  const machine = machineInfo();
  const startedAt = new Date();
  try {
    // Memory runs first when both are asked for, so the throughput table can include them.
    const memory =
      o.memorySizes.length > 0
        ? await memoryRuns({
            sizes: o.memorySizes,
            caps: o.memoryCaps,
            seed: o.seed,
            pageSize: o.pageSize,
            users: o.users,
            workDir,
            collectorSettings: { AUDITFEED_MAX_REQUESTS_PER_MINUTE: String(o.apiRequestsPerMinute) },
            writerBatchSize: o.writerBatchSize,
            ...(o.profileDir !== undefined ? { profileDir: resolve(o.profileDir) } : {}),
            log,
          })
        : [];
    let result: Record<string, unknown>;
    if (o.throughput) {
      const { inputs, extra } = await throughput(o, workDir, memory);
      const figures = computeFigures(inputs);
      process.stdout.write(`\n${formatTable(figures, inputs)}\n`);
      result = { kind: 'bench', options: o, machine, startedAt, prices: PRICES, figures, inputs, ...extra };
    } else {
      process.stdout.write(`\n${formatMemoryTable(memory)}\n`);
      result = { kind: 'memory', options: o, machine, startedAt, memory };
    }
    machine.loadAverageAfter = loadavg();
    process.stdout.write(
      `\nMachine: ${machine.cpus} × ${machine.cpuModel ?? 'CPU'}, Node ${machine.node}; load average ` +
        `${machine.loadAverageBefore.map((l) => l.toFixed(1)).join(' ')} before, ` +
        `${machine.loadAverageAfter.map((l) => l.toFixed(1)).join(' ')} after\n`,
    );
    const outDir = resolve(o.outDir);
    mkdirSync(outDir, { recursive: true });
    const file = join(
      outDir,
      `${result.kind as string}-${startedAt.toISOString().replace(/[:.]/g, '-')}.json`,
    );
    writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
    process.stdout.write(`\nFigures written to ${file}\n`);
    return 0;
  } finally {
    await stopAll();
    rmSync(workDir, { recursive: true, force: true });
  }
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  },
);
