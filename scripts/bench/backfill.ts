/**
 * `npm run bench -- --backfill`: a real backfill of a long simulated history — the engine (its own process)
 * creates audit log queries on the simulator's Graph API, polls and pages them, sends the records through the
 * live feed's queue, and the real writer (its own process, following the queue) stores them in the Cosmos DB
 * stand-in. Reports records/s end to end and of the engine alone (up to the queue), Graph requests per 1,000
 * records, queries, windows, peak RSS, and checks the store against the simulator's ground truth: every
 * record of the range exactly once. See docs/performance.md#backfill.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createCosmosClient } from '../local/services';
import type { BackfillSummary } from '../../shared/backfill/backfillRun';
import type { BackfillBenchOptions } from './backfillArgs';
import { BACKFILL_TENANT, backfillRange, backfillScenario, simJson } from './backfillSim';
import { startJsonLineChild } from './childProcess';
import { cpuMeter } from './cpu';
import { fmt } from './report';
import type { WriterRun } from './report';
import { writeScenario } from './scenario';
import { startBenchSimulator } from './simulatorClient';
import { CONTAINER, DATABASE, startStores } from './stack';

const ENGINE = join(__dirname, 'backfillProcess.js');
const WRITER = join(__dirname, 'writerProcess.js');

/** What the engine process reports when it is done. */
export interface EngineRun {
  summary: BackfillSummary;
  seconds: number;
  startedAt: number;
  finishedAt: number;
  /** Simulator-clock ms the engine's waits skipped (query run times, poll back-off). */
  simulatedWaitMs: number;
  cpuMs: number;
  maxRssBytes: number;
  startRssBytes: number;
}

/** Graph requests the simulator logged during the backfill, by kind. */
export interface GraphRequests {
  creates: number;
  polls: number;
  pages: number;
  tokens: number;
  /** Answered 429 (throttled) or 5xx. */
  throttled: number;
  errors: number;
}

/** One audit log query as the simulator saw it (`/_sim/graph/queries`). */
export interface QueryInfo {
  status: string;
  createdAt: string;
  endsAt: string;
  returned?: number;
}

export interface BackfillInputs {
  options: BackfillBenchOptions;
  range: { from: string; to: string };
  engine: EngineRun;
  writer: WriterRun;
  requests: GraphRequests;
  queries: QueryInfo[];
  /** Distinct record ids of the range by the simulator's ground truth. */
  expected: number;
  /** Documents stored per record id, summed up. */
  stored: { documents: number; distinct: number; missing: number; extra: number; twice: number };
  serverCpuMs: Record<string, number>;
}

export interface BackfillFigures {
  records: number;
  recordsPerSecond: { endToEnd: number; engine: number; writer: number };
  seconds: { endToEnd: number; engine: number; writer: number; simulatedWait: number };
  requestsPer1000: { creates: number; polls: number; pages: number; total: number; engineCounted: number };
  /** The fewest requests the range can take: a create, a poll and ⌈records/page⌉ pages (at least one) a query. */
  minimumRequests: number;
  requests: GraphRequests & { total: number };
  queriesCreated: number;
  windows: BackfillSummary['windows'];
  queryRunSeconds: { mean: number; max: number };
  queueMessagesPer1000: number;
  claimChecks: number;
  peakRssMiB: { engine: number; writer: number };
  cpuMsPer1000: Record<string, number>;
  exactlyOnce: boolean;
  stored: BackfillInputs['stored'] & { expected: number };
}

const round = (n: number, digits = 0): number => Math.round(n * 10 ** digits) / 10 ** digits;
const per1000 = (n: number, records: number): number => (records > 0 ? round((n / records) * 1000, 1) : 0);

export function backfillFigures(i: BackfillInputs): BackfillFigures {
  const records = i.engine.summary.run.records;
  const endToEnd = Math.max(0.001, (i.writer.finishedAt - i.engine.startedAt) / 1000);
  const r = i.requests;
  const total = r.creates + r.polls + r.pages;
  const pageSize = i.options.pageSize;
  const minimumRequests = i.queries
    .filter((q) => q.status === 'succeeded')
    .reduce((n, q) => n + 2 + Math.max(1, Math.ceil((q.returned ?? 0) / pageSize)), 0);
  const runSeconds = i.queries.map((q) => (Date.parse(q.endsAt) - Date.parse(q.createdAt)) / 1000);
  const cpu: Record<string, number> = {
    engine: i.engine.cpuMs,
    writer: i.writer.cpuMs,
    ...i.serverCpuMs,
  };
  return {
    records,
    recordsPerSecond: {
      endToEnd: round(records / endToEnd),
      engine: round(records / Math.max(0.001, i.engine.seconds)),
      writer: round(i.writer.records / Math.max(0.001, i.writer.seconds)),
    },
    seconds: {
      endToEnd: round(endToEnd, 1),
      engine: round(i.engine.seconds, 1),
      writer: round(i.writer.seconds, 1),
      simulatedWait: round(i.engine.simulatedWaitMs / 1000),
    },
    requestsPer1000: {
      creates: per1000(r.creates, records),
      polls: per1000(r.polls, records),
      pages: per1000(r.pages, records),
      total: per1000(total, records),
      engineCounted: i.engine.summary.run.requestsPer1000Records ?? 0,
    },
    minimumRequests,
    requests: { ...r, total },
    queriesCreated: i.engine.summary.run.queriesCreated,
    windows: i.engine.summary.windows,
    queryRunSeconds: {
      mean: runSeconds.length > 0 ? round(runSeconds.reduce((a, b) => a + b, 0) / runSeconds.length) : 0,
      max: runSeconds.length > 0 ? round(Math.max(...runSeconds)) : 0,
    },
    queueMessagesPer1000: per1000(i.writer.messages, records),
    claimChecks: i.writer.claimChecks,
    peakRssMiB: {
      engine: round(i.engine.maxRssBytes / 2 ** 20),
      writer: round(i.writer.maxRssBytes / 2 ** 20),
    },
    cpuMsPer1000: Object.fromEntries(Object.entries(cpu).map(([k, v]) => [k, round(per1000(v, records))])),
    exactlyOnce:
      i.stored.missing === 0 &&
      i.stored.extra === 0 &&
      i.stored.twice === 0 &&
      i.stored.distinct === i.expected &&
      // Records on a window edge are read by both neighbours (1 s overlap): more reads, never fewer.
      records >= i.expected,
    stored: { ...i.stored, expected: i.expected },
  };
}

export function formatBackfillTable(f: BackfillFigures, i: BackfillInputs): string {
  const o = i.options;
  const cpuTotal = Object.values(f.cpuMsPer1000).reduce((a, b) => a + b, 0);
  const rows: [string, string][] = [
    [
      'End to end (engine and writer at once)',
      `**${fmt(f.recordsPerSecond.endToEnd)} records/s** (${fmt(f.records)} records in ${fmt(f.seconds.endToEnd, 1)} s)`,
    ],
    [
      'Backfill engine alone, up to the queue',
      `${fmt(f.recordsPerSecond.engine)} records/s (${fmt(f.seconds.engine, 1)} s; writer running beside it)`,
    ],
    ['Writer (from its first message)', `${fmt(f.recordsPerSecond.writer)} records/s`],
    [
      'Graph requests per 1,000 records',
      `**${fmt(f.requestsPer1000.total, 1)}** (creates ${fmt(f.requestsPer1000.creates, 1)}, polls ${fmt(f.requestsPer1000.polls, 1)}, pages ${fmt(f.requestsPer1000.pages, 1)}); the engine counted ${fmt(f.requestsPer1000.engineCounted, 1)}`,
    ],
    [
      'Graph requests',
      `${fmt(f.requests.total)} (${fmt(f.requests.creates)} creates, ${fmt(f.requests.polls)} polls, ${fmt(f.requests.pages)} pages) vs a minimum of ${fmt(f.minimumRequests)}; ${fmt(f.requests.throttled)} throttled, ${fmt(f.requests.errors)} errors; ${fmt(f.requests.tokens)} token requests`,
    ],
    [
      'Queries created / windows',
      `${fmt(f.queriesCreated)} / ${fmt(f.windows.total)} (${fmt(f.windows.done)} done, ${fmt(f.windows.partial)} partial, ${fmt(f.windows.failed)} failed, ${fmt(f.windows.split)} split)`,
    ],
    [
      'Query run time, simulator clock',
      `mean ${fmt(f.queryRunSeconds.mean)} s, max ${fmt(f.queryRunSeconds.max)} s; ${fmt(f.seconds.simulatedWait)} s of waiting skipped by moving the clock`,
    ],
    [
      'Queue messages per 1,000 records',
      `${fmt(f.queueMessagesPer1000, 1)} (${fmt(f.claimChecks)} claim checks)`,
    ],
    ['Peak RSS, engine / writer', `**${fmt(f.peakRssMiB.engine)} MiB** / ${fmt(f.peakRssMiB.writer)} MiB`],
    [
      'CPU per 1,000 records',
      `${Object.entries(f.cpuMsPer1000)
        .map(([k, v]) => `${k} ${fmt(v)}`)
        .join(', ')} = ${fmt(cpuTotal)} ms`,
    ],
    [
      'Stored vs ground truth',
      `${f.exactlyOnce ? '**every record exactly once**' : '**MISMATCH**'}: ${fmt(f.stored.expected)} expected, ${fmt(f.stored.distinct)} stored (${fmt(f.stored.documents)} documents; ${fmt(f.stored.missing)} missing, ${fmt(f.stored.extra)} extra, ${fmt(f.stored.twice)} more than once)` +
        (f.records > f.stored.expected
          ? `; ${fmt(f.records - f.stored.expected)} read twice at window edges, ${fmt(i.writer.alreadyStored)} found already stored`
          : ''),
    ],
  ];
  const width = Math.max(...rows.map(([k]) => k.length), 'Figure'.length);
  const valueWidth = Math.max(...rows.map(([, v]) => v.length), 'Value'.length);
  const line = (k: string, v: string): string => `| ${k.padEnd(width)} | ${v.padEnd(valueWidth)} |`;
  return [
    `Backfill: ${o.days} days (${i.range.from.slice(0, 10)}..${i.range.to.slice(0, 10)}) at ${fmt(o.recordsPerHour)} records/hour, ` +
      `Graph pages of ${o.pageSize}, latency ${o.latencyMs[0]}-${o.latencyMs[1]} ms, query run time ` +
      `${o.querySeconds[0]}-${o.querySeconds[1]} s (simulator clock), ${o.queriesInFlight} queries in flight`,
    '',
    line('Figure', 'Value'),
    `|${'-'.repeat(width + 2)}|${'-'.repeat(valueWidth + 2)}|`,
    ...rows.map(([k, v]) => line(k, v)),
  ].join('\n');
}

interface LogEntry {
  method: string;
  route: string;
  status: number;
}

function graphRequests(entries: readonly LogEntry[]): GraphRequests {
  const r: GraphRequests = { creates: 0, polls: 0, pages: 0, tokens: 0, throttled: 0, errors: 0 };
  for (const e of entries) {
    if (e.route === 'graphQueries' && e.method === 'POST') r.creates++;
    else if (e.route === 'graphQuery') r.polls++;
    else if (e.route === 'graphRecords') r.pages++;
    else if (e.route === 'token') r.tokens++;
    else continue;
    if (e.status === 429) r.throttled++;
    else if (e.status >= 400 || e.status === 0) r.errors++;
  }
  return r;
}

export async function backfillBench(args: {
  options: BackfillBenchOptions;
  workDir: string;
  log: (line: string) => void;
}): Promise<{ inputs: BackfillInputs; figures: BackfillFigures }> {
  const { options: o, workDir, log } = args;
  const now = Date.now();
  const range = backfillRange(now, o.days);
  const spec = backfillScenario({ ...o, now });
  log(`simulator: ${o.days} days of history at ${fmt(o.recordsPerHour)} records/hour`);
  const sim = await startBenchSimulator(writeScenario(workDir, 'backfill', spec));
  try {
    const ca = readFileSync(sim.caPemPath, 'utf8');
    const get = <T>(path: string): Promise<T> => simJson<T>(sim.baseUrl, ca, 'GET', path);
    const stores = await startStores(sim, {
      AUDITFEED_GRAPH_ENDPOINT: sim.baseUrl,
      AUDITFEED_BACKFILL_QUERIES_IN_FLIGHT: String(o.queriesInFlight),
    });
    try {
      const q = `tenantId=${BACKFILL_TENANT}&start=${range.from}&end=${range.to}`;
      const truth = await get<{ count: number; ids: string[] }>(`/_sim/truth/graph-records?${q}`);
      log(`history: ${fmt(truth.count)} records in ${range.from.slice(0, 10)}..${range.to.slice(0, 10)}`);
      const since = (await get<{ total: number }>('/_sim/requests?since=1000000000000')).total;
      const servers = cpuMeter({
        simulator: sim.pid,
        azurite: stores.azurite.pid,
        cosmos: stores.cosmos.pid,
      });
      const writer = startJsonLineChild(WRITER, [], {
        env: { ...stores.env, WRITER_BATCH_SIZE: String(o.writerBatchSize), WRITER_FOLLOW: '1' },
      });
      let engineRun: EngineRun;
      let writerRun: WriterRun;
      try {
        const engine = startJsonLineChild(ENGINE, [], {
          env: {
            ...stores.env,
            AUDITFEED_GRAPH_ENDPOINT: sim.baseUrl,
            AUDITFEED_BACKFILL_QUERIES_IN_FLIGHT: String(o.queriesInFlight),
            BACKFILL_TENANT,
            BACKFILL_FROM: range.from,
            BACKFILL_TO: range.to,
          },
        });
        log('backfill: engine and writer at once');
        const done = await engine.waitFor((l) => {
          if (l.progress === true)
            log(
              `  engine: ${fmt(Number(l.records))} records, ${String(l.windowsDone)}/${String(l.windows)} windows`,
            );
          return l.done === true;
        });
        await engine.exited;
        engineRun = done as unknown as EngineRun;
        log(`  engine done: ${fmt(engineRun.summary.run.records)} records; writer draining`);
        writer.send('done');
        writerRun = (await writer.waitFor((l) => l.done === true)) as unknown as WriterRun;
        await writer.exited;
      } finally {
        await writer.stop();
      }
      const serverCpuMs = servers.stop();
      const page = await get<{ entries: LogEntry[] }>(`/_sim/requests?since=${since}`);
      const queries = await get<QueryInfo[]>(`/_sim/graph/queries?tenantId=${BACKFILL_TENANT}`);
      log('checking the store against the ground truth');
      const stored = await storedIds(stores.cosmos);
      const expected = new Set(truth.ids);
      let documents = 0;
      let twice = 0;
      let extra = 0;
      for (const [id, n] of stored) {
        documents += n;
        if (n > 1) twice++;
        if (!expected.has(id)) extra++;
      }
      const missing = truth.ids.filter((id) => !stored.has(id)).length;
      const inputs: BackfillInputs = {
        options: o,
        range,
        engine: engineRun,
        writer: writerRun,
        requests: graphRequests(page.entries),
        queries,
        expected: expected.size,
        stored: { documents, distinct: stored.size, missing, extra, twice },
        serverCpuMs,
      };
      return { inputs, figures: backfillFigures(inputs) };
    } finally {
      await stores.stop();
    }
  } finally {
    await sim.stop();
  }
}

/** Record Id → documents holding it, in the writer's container. */
async function storedIds(cosmos: Parameters<typeof createCosmosClient>[0]): Promise<Map<string, number>> {
  const client = createCosmosClient(cosmos);
  try {
    // Page by page: fetchAll over a few hundred thousand results overflows the SDK's stack.
    const query = client
      .database(DATABASE)
      .container(CONTAINER)
      .items.query<{ Id: string }>('SELECT c.Id FROM c', { maxItemCount: 5_000 });
    const ids = new Map<string, number>();
    while (query.hasMoreResults()) {
      const { resources } = await query.fetchNext();
      for (const r of resources) ids.set(r.Id, (ids.get(r.Id) ?? 0) + 1);
    }
    return ids;
  } finally {
    client.dispose();
  }
}
