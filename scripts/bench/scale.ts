/**
 * `npm run bench -- --tenants N`: fanned-out collection of N simulated tenants (issue 13, docs/scale.md).
 * Per worker count: fresh Azurite, the planner in this process every interval, W worker processes
 * (workerProcess.ts) draining the work queue, the batch queue drained and counted here (no writer, no
 * Cosmos DB: the writer is measured by the plain bench). Reports catch-up time from the backlog, lag in
 * steady state, requests per tenant against the minimum and the simulators' rate-limit stats.
 */
import { existsSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import pLimit from 'p-limit';
import type { QueueClient } from '@azure/storage-queue';
import type { ContainerClient } from '@azure/storage-blob';
import { loadConfig } from '../../shared/config';
import type { PlanSummary } from '../../shared/collector/planner';
import { silentLogger } from '../../shared/logging';
import { CollectorRuntime } from '../../shared/runtime';
import { CONTAINERS } from '../../shared/storage/clients';
import { startAzurite } from '../local/services';
import type { TruthBlob } from '../simulator';
import { startJsonLineChild, type JsonLineChild } from './childProcess';
import type { ScaleOptions } from './scaleArgs';
import {
  distribution,
  lagSample,
  minimumForUnits,
  rateFigures,
  requestFigures,
  type RateLimitTenant,
  type ScaleRunFigures,
  type UnitSpan,
} from './scaleReport';
import {
  SCALE_APP,
  SIZE_CLASSES,
  scaleScenario,
  scaleTenants,
  sizeCounts,
  type ScaleTenant,
} from './scaleScenario';
import { writeScenario } from './scenario';
import { startTenantProxy, type TenantProxy } from './tenantProxy';

const PAGE_SIZE = 100;
const SAMPLE_EVERY_MS = 5_000;

export interface ScaleContext {
  options: ScaleOptions;
  workDir: string;
  log: (line: string) => void;
  /** Called after every worker count with the runs so far (the CLI writes them, so a cut-off bench keeps them). */
  onRun?: (runs: ScaleRunFigures[]) => void;
}

interface SizeSimulator {
  size: string;
  child: JsonLineChild;
  baseUrl: string;
  tenants: string[];
}

export interface ScaleResult {
  tenants: Record<string, number>;
  recordsPerHour: ScaleOptions['sizes'];
  runs: ScaleRunFigures[];
  plannerRuns: Record<number, PlanSummary[]>;
}

export async function scaleBench(ctx: ScaleContext): Promise<ScaleResult> {
  const o = ctx.options;
  const tenants = scaleTenants(o.tenants, o.seed);
  const counts = sizeCounts(o.tenants);
  // Activity covers the backlog (and the blobs' own delay of up to 90 min) and every run to come.
  const perRunHours = (o.catchUpTimeoutSeconds + (o.steadyIntervals + 3) * o.intervalSeconds) / 3600;
  const futureHours = Math.ceil(o.workers.length * perRunHours) + 1;
  const sims: SizeSimulator[] = [];
  let proxy: TenantProxy | undefined;
  try {
    for (const size of SIZE_CLASSES) {
      if (counts[size] === 0) continue;
      const spec = scaleScenario({
        seed: o.seed,
        tenants,
        size,
        recordsPerHour: o.sizes[size],
        contentTypes: o.contentTypes,
        rateLimitPerMinute: o.apiRequestsPerMinute,
        latencyMs: o.latencyMs,
        historyHours: o.lookbackHours + 2,
        futureHours,
      });
      const child = startJsonLineChild(join(__dirname, '..', 'simulator', 'cli.js'), [
        '--scenario',
        writeScenario(ctx.workDir, `scale-${size}`, spec),
      ]);
      const started = await child.waitFor((l) => typeof l.baseUrl === 'string', 300_000);
      sims.push({ size, child, baseUrl: started.baseUrl as string, tenants: started.tenants as string[] });
      ctx.log(`simulator ${size}: ${counts[size]} tenants at ${o.sizes[size]} records/hour each`);
    }
    const upstreams = new Map<string, string>();
    for (const sim of sims) for (const t of sim.tenants) upstreams.set(t, sim.baseUrl);
    proxy = await startTenantProxy(upstreams);
    const caFile = join(ctx.workDir, 'proxy-ca.pem');
    writeFileSync(caFile, proxy.caPem);
    const blobs = (
      await Promise.all(sims.map((s) => getJson<TruthBlob[]>(`${s.baseUrl}/_sim/truth/blobs`)))
    ).flat();
    ctx.log(`proxy ${proxy.origin}; ${blobs.length} blobs planned over the activity`);
    const runs: ScaleRunFigures[] = [];
    const plannerRuns: Record<number, PlanSummary[]> = {};
    for (const workers of o.workers) {
      ctx.log(`run: ${workers} worker process(es), ${workers * o.tasksPerWorker} slots`);
      const { figures, plans } = await scaleRun(ctx, { workers, tenants, sims, proxy, caFile, blobs });
      runs.push(figures);
      plannerRuns[workers] = plans;
      ctx.onRun?.(runs);
      ctx.log(
        `  catch-up ${figures.catchUp.seconds ?? 'not reached'} s; lag p50 ${figures.lag.p50?.toFixed(0)} s, ` +
          `p99 ${figures.lag.p99?.toFixed(0)} s; peak ${figures.rate.maxPeakPerMinute}/min; ` +
          `throttled ${figures.rate.throttled}`,
      );
    }
    return { tenants: counts, recordsPerHour: o.sizes, runs, plannerRuns };
  } finally {
    await proxy?.stop();
    await Promise.all(sims.map((s) => s.child.stop()));
  }
}

interface RunInputs {
  workers: number;
  tenants: ScaleTenant[];
  sims: SizeSimulator[];
  proxy: TenantProxy;
  caFile: string;
  blobs: TruthBlob[];
}

interface UnitState {
  cursor: string | null;
  caughtUpAt: number | null;
  tasks: number;
  lastResult: string | null;
  lastError: string | null;
}

async function scaleRun(
  ctx: ScaleContext,
  r: RunInputs,
): Promise<{ figures: ScaleRunFigures; plans: PlanSummary[] }> {
  const o = ctx.options;
  const slots = r.workers * o.tasksPerWorker;
  const azurite = await startBenchAzurite();
  const env: Record<string, string> = {
    AUDITFEED_TENANT_IDS: r.tenants.map((t) => t.tenantId).join(','),
    AUDITFEED_CONTENT_TYPES: o.contentTypes.join(','),
    AUDITFEED_AUTH_MODE: 'secret',
    AUDITFEED_CLIENT_ID: SCALE_APP.clientId,
    AUDITFEED_CLIENT_SECRET: SCALE_APP.clientSecret,
    AUDITFEED_API_ENDPOINT: r.proxy.origin,
    AUDITFEED_LOGIN_ENDPOINT: r.proxy.origin,
    AUDITFEED_TLS_CA_FILE: r.caFile,
    AUDITFEED_STORAGE: azurite.connectionString,
    // Not used by the collector, required by the configuration.
    AUDITFEED_COSMOS__accountEndpoint: 'https://127.0.0.1:8081/',
    AUDITFEED_COSMOS__accountKey: 'unused',
    AUDITFEED_COLLECT_MODE: 'fanout',
    AUDITFEED_COLLECT_SLOTS: String(slots),
    AUDITFEED_INITIAL_LOOKBACK_HOURS: String(o.lookbackHours),
    AUDITFEED_MAX_REQUESTS_PER_MINUTE: String(o.apiRequestsPerMinute),
  };
  const config = loadConfig(env);
  const runtime = new CollectorRuntime(config, silentLogger);
  const intervalMs = o.intervalSeconds * 1000;
  const workers: JsonLineChild[] = [];
  const plans: PlanSummary[] = [];
  let stopping = false;
  const started = Date.now();
  try {
    await runtime.ensureResources();
    await Promise.all(r.sims.map((s) => request('DELETE', `${s.baseUrl}/_sim/rate-limits`)));
    for (let i = 0; i < r.workers; i++) {
      workers.push(
        startJsonLineChild(join(__dirname, 'workerProcess.js'), [], {
          env: { ...env, WORKER_ID: `w${i + 1}`, WORKER_BATCH_SIZE: String(o.tasksPerWorker) },
        }),
      );
    }
    await Promise.all(workers.map((w) => w.waitFor((l) => l.ready === true, 120_000)));

    const batches = { messages: 0, records: 0 };
    const drainer = drainBatches(
      runtime.storage.queues.getQueueClient(config.queueName),
      runtime.storage.blobs.getContainerClient(CONTAINERS.batches),
      batches,
      () => stopping,
    );

    // The timer, compressed: a planner run every interval from t0 (the next starts late if one overruns).
    const t0 = Date.now();
    const planner = runtime.planner({ intervalMs });
    const plannerLoop = (async () => {
      for (let k = 0; !stopping; k++) {
        const wait = t0 + k * intervalMs - Date.now();
        if (wait > 0) await sleepUnless(wait, () => stopping);
        if (stopping) break;
        const summary = await planner.plan();
        plans.push(summary);
      }
    })();

    // What the workers report, read as it comes.
    const units = new Map<string, UnitState>();
    for (const t of r.tenants) {
      for (const ct of o.contentTypes)
        units.set(`${t.tenantId}/${ct}`, {
          cursor: null,
          caughtUpAt: null,
          tasks: 0,
          lastResult: null,
          lastError: null,
        });
    }
    const read = workers.map(() => 0);
    const tasks = {
      ran: 0,
      stale: 0,
      duplicate: 0,
      errors: 0,
      poisoned: 0,
      records: 0,
      throttles: 0,
      retries: 0,
      durations: [] as number[],
      queued: [] as number[],
      // What each task reported as its lag when it finished (the collector-lag alert's figure), steady state.
      steadyLags: [] as number[],
    };
    let steadyWindow: { from: number; until: number } | null = null;
    const consume = (): void => {
      workers.forEach((w, i) => {
        for (; read[i]! < w.lines.length; read[i]!++) {
          const l = w.lines[read[i]!]!;
          if (l.error === true) tasks.errors++;
          if (typeof l.poisoned === 'number') tasks.poisoned += l.poisoned;
          if (l.task !== true) continue;
          if (l.outcome === 'stale') tasks.stale++;
          else if (l.outcome === 'duplicate') tasks.duplicate++;
          else tasks.ran++;
          tasks.durations.push(l.ms as number);
          tasks.queued.push(l.queuedMs as number);
          if (typeof l.tenantId !== 'string') continue;
          tasks.records += (l.records as number) ?? 0;
          tasks.throttles += (l.throttles as number) ?? 0;
          tasks.retries += (l.retries as number) ?? 0;
          const u = units.get(`${l.tenantId}/${l.contentType as string}`);
          if (!u) continue;
          if (typeof l.cursor === 'string') u.cursor = l.cursor;
          const at = l.finishedAt as number;
          if (
            steadyWindow &&
            at >= steadyWindow.from &&
            at < steadyWindow.until &&
            typeof l.lagSeconds === 'number'
          )
            tasks.steadyLags.push(l.lagSeconds);
          u.tasks++;
          u.lastResult = typeof l.result === 'string' ? l.result : null;
          u.lastError = typeof l.error === 'string' ? l.error : null;
          if (l.result === 'complete' && u.caughtUpAt === null) u.caughtUpAt = l.finishedAt as number;
        }
      });
    };

    // The work queue's length (approximate, as the scale controller reads it), every few seconds.
    const workQueue: { atSeconds: number; messages: number }[] = [];
    let sampling = true;
    const queueSampler = (async () => {
      while (sampling) {
        try {
          const p = await runtime.workQueue.getProperties();
          workQueue.push({
            atSeconds: Math.round((Date.now() - t0) / 1000),
            messages: p.approximateMessagesCount ?? 0,
          });
        } catch {
          // a slow Azurite answer is not a figure
        }
        await sleepUnless(SAMPLE_EVERY_MS, () => !sampling);
      }
    })();

    // Catch-up: every unit has finished a task that reached its now.
    const catchUpDeadline = t0 + o.catchUpTimeoutSeconds * 1000;
    let caughtUpAt: number | null = null;
    let lastLog = Date.now();
    for (;;) {
      await sleep(1_000);
      consume();
      const done = [...units.values()].filter((u) => u.caughtUpAt !== null);
      if (done.length === units.size) {
        caughtUpAt = Math.max(...done.map((u) => u.caughtUpAt!));
        break;
      }
      if (Date.now() >= catchUpDeadline) break;
      if (Date.now() - lastLog >= 30_000) {
        lastLog = Date.now();
        ctx.log(`  ${Math.round((Date.now() - t0) / 1000)} s: ${done.length}/${units.size} units caught up`);
      }
    }
    const catchUpSeconds = caughtUpAt === null ? null : (caughtUpAt - t0) / 1000;
    const unitsCaughtUp = [...units.values()].filter((u) => u.caughtUpAt !== null).length;
    const statsAtCatchUp = await rateStats(r.sims);
    const cursorsAtCatchUp = new Map([...units].map(([k, u]) => [k, u.cursor]));
    ctx.log(`  caught up: ${catchUpSeconds ?? `no (${unitsCaughtUp}/${units.size})`} s`);

    // Steady state: lag of every unit every few seconds over the next intervals.
    const lags: number[] = [];
    const steadyFrom = Date.now();
    const steadyUntil = steadyFrom + o.steadyIntervals * intervalMs;
    steadyWindow = { from: steadyFrom, until: steadyUntil };
    let samples = 0;
    while (Date.now() < steadyUntil) {
      await sleep(Math.min(SAMPLE_EVERY_MS, Math.max(0, steadyUntil - Date.now())));
      consume();
      lags.push(...lagSample(new Map([...units].map(([k, u]) => [k, u.cursor])), Date.now()));
      samples++;
    }
    const statsAtSteadyStart = statsAtCatchUp;
    const statsEnd = await rateStats(r.sims);
    const steadySeconds = (Date.now() - steadyFrom) / 1000;

    stopping = true;
    sampling = false;
    await queueSampler;
    await Promise.all(workers.map((w) => w.stop()));
    await plannerLoop;
    await drainer;
    consume();

    // The minimum: what each unit covered, from its first-run start (watermark origin) to its cursor.
    const limit = pLimit(32);
    const origins = new Map<string, string | null>();
    await Promise.all(
      [...units.keys()].map((key) =>
        limit(async () => {
          const [tenantId, contentType] = key.split('/') as [string, string];
          const { watermark } = await runtime.watermarks.load(tenantId, contentType as never);
          origins.set(key, watermark.origin?.toISOString() ?? null);
        }),
      ),
    );
    const spans = (cursors: ReadonlyMap<string, string | null>): UnitSpan[] =>
      [...units.keys()].map((key) => {
        const [tenantId, contentType] = key.split('/') as [string, string];
        return { tenantId, contentType, origin: origins.get(key) ?? null, cursor: cursors.get(key) ?? null };
      });
    const minimumEnd = minimumForUnits(
      spans(new Map([...units].map(([k, u]) => [k, u.cursor]))),
      r.blobs,
      PAGE_SIZE,
    );
    const minimumAtCatchUp = minimumForUnits(spans(cursorsAtCatchUp), r.blobs, PAGE_SIZE);
    const steadyRequests =
      statsEnd.reduce((s, t) => s + t.requests, 0) - statsAtSteadyStart.reduce((s, t) => s + t.requests, 0);

    const figures: ScaleRunFigures = {
      workers: r.workers,
      slots,
      units: units.size,
      seconds: (Date.now() - started) / 1000,
      catchUp: {
        caughtUp: caughtUpAt !== null,
        seconds: catchUpSeconds,
        unitsCaughtUp,
        requests: requestFigures(statsAtCatchUp, minimumAtCatchUp),
        // The units that had not (at most 20): how far they got and what their last task said.
        behind: [...units]
          .filter(([, u]) => u.caughtUpAt === null)
          .slice(0, 20)
          .map(([unit, u]) => ({
            unit,
            tasks: u.tasks,
            cursor: u.cursor,
            lastResult: u.lastResult,
            lastError: u.lastError,
          })),
      },
      lag: {
        ...distribution(lags),
        samples,
        fromSeconds: (steadyFrom - t0) / 1000,
        toSeconds: (steadyUntil - t0) / 1000,
      },
      lagAtTaskEnd: distribution(tasks.steadyLags),
      requests: requestFigures(statsEnd, minimumEnd),
      steadyRequestsPerTenantHour:
        steadySeconds > 0 ? steadyRequests / r.tenants.length / (steadySeconds / 3600) : null,
      rate: rateFigures(statsEnd),
      tasks: {
        ran: tasks.ran,
        stale: tasks.stale,
        duplicate: tasks.duplicate,
        errors: tasks.errors,
        poisoned: tasks.poisoned,
        records: tasks.records,
        throttles: tasks.throttles,
        retries: tasks.retries,
        durationMs: distribution(tasks.durations),
        queuedMs: distribution(tasks.queued),
      },
      planner: {
        runs: plans.length,
        maxDispatched: Math.max(0, ...plans.map((p) => p.dispatched)),
        expired: plans.reduce((s, p) => s + p.expired, 0),
        failed: plans.reduce((s, p) => s + p.failed, 0),
        conflicts: plans.reduce((s, p) => s + p.conflicts, 0),
        requeued: plans.reduce((s, p) => s + p.requeued, 0),
        durationMs: distribution(plans.map((p) => Date.parse(p.finishedAt) - Date.parse(p.startedAt))),
        taskDeadlineSeconds: plans[0]?.taskDeadlineSeconds ?? null,
      },
      batches,
      workQueue: {
        maxMessages: Math.max(0, ...workQueue.map((q) => q.messages)),
        samples: workQueue,
      },
      loadAverage: loadavg(),
    };
    return { figures, plans };
  } finally {
    stopping = true;
    await Promise.all(workers.map((w) => w.stop()));
    runtime.close();
    await azurite.stop();
  }
}

/**
 * In-memory Azurite tuned for the bench's size (azuriteForBench.cjs: no garbage-collector sweep, indexed
 * point lookups, a lazy expired-message sweep). NODE_OPTIONS is set only while it is spawned.
 */
async function startBenchAzurite(): Promise<Awaited<ReturnType<typeof startAzurite>>> {
  const before = process.env.NODE_OPTIONS;
  const preload = join(__dirname, 'azuriteForBench.cjs');
  const source = join(__dirname, '..', '..', '..', 'scripts', 'bench', 'azuriteForBench.cjs');
  process.env.NODE_OPTIONS = `${before ?? ''} --require ${existsSync(preload) ? preload : source}`.trim();
  try {
    return await startAzurite({ inMemory: true });
  } finally {
    if (before === undefined) delete process.env.NODE_OPTIONS;
    else process.env.NODE_OPTIONS = before;
  }
}

/** The writer's place: takes every batch off the queue (and its claim-check blob) and counts it. */
async function drainBatches(
  queue: QueueClient,
  claimChecks: ContainerClient,
  counts: { messages: number; records: number },
  stopped: () => boolean,
): Promise<void> {
  while (!stopped()) {
    let received;
    try {
      ({ receivedMessageItems: received } = await queue.receiveMessages({
        numberOfMessages: 32,
        visibilityTimeout: 300,
      }));
    } catch {
      await sleep(500);
      continue;
    }
    if (received.length === 0) {
      await sleep(500);
      continue;
    }
    await Promise.all(
      received.map(async (m) => {
        try {
          const env = JSON.parse(m.messageText) as { count?: number; blob?: { name: string } };
          counts.records += env.count ?? 0;
          if (env.blob) await claimChecks.deleteBlob(env.blob.name).catch(() => undefined);
        } catch {
          // not an envelope: counted as a message all the same
        }
        counts.messages++;
        await queue.deleteMessage(m.messageId, m.popReceipt).catch(() => undefined);
      }),
    );
  }
}

async function rateStats(sims: readonly SizeSimulator[]): Promise<RateLimitTenant[]> {
  const all = await Promise.all(
    sims.map((s) => getJson<{ tenants: RateLimitTenant[] }>(`${s.baseUrl}/_sim/rate-limits`)),
  );
  return all.flatMap((a) => a.tenants);
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function sleepUnless(ms: number, stop: () => boolean): Promise<void> {
  const end = Date.now() + ms;
  while (!stop() && Date.now() < end) await sleep(Math.min(500, end - Date.now()));
}

function request(method: string, url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (d: Buffer) => chunks.push(d));
      res.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        if ((res.statusCode ?? 500) >= 300)
          reject(new Error(`${method} ${url}: HTTP ${res.statusCode} ${body.slice(0, 200)}`));
        else resolve(body);
      });
    });
    req.on('error', reject);
    req.end();
  });
}

async function getJson<T>(url: string): Promise<T> {
  return JSON.parse(await request('GET', url)) as T;
}
