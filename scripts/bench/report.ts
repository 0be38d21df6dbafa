import { QUEUE_MESSAGE_LIMIT_BYTES } from '../../shared/messages/envelope';
import type { RequestCount } from './apiRequests';
import type { RateResult } from './ceiling';
import type { RuEstimate } from './cosmosCost';
import type { BulkyMeasure, SweepMeasure } from './completeness';
import { LARGE_TENANT, largeTenantEstimate, type LargeTenantEstimate } from './largeTenant';
import { PRICES } from './pricing';

/** What collectorProcess prints last. */
export interface CollectorRun {
  passes: number;
  records: number;
  messages: number;
  bytes: number;
  blobs: number;
  pages: number;
  claimChecks: number;
  seconds: number;
  startedAt: number;
  finishedAt: number;
  cpuMs: number;
  maxRssBytes: number;
  /** Per content type, summed over passes (absent in older result files). */
  byContentType?: Record<string, { records: number; messages: number; bytes: number }>;
}

/** What writerProcess prints last. */
export interface WriterRun {
  messages: number;
  records: number;
  written: number;
  /** Create-only records (backfill) whose document was already there. */
  alreadyStored: number;
  duplicates: number;
  encodedBytes: number;
  compressedBytes: number;
  claimChecks: number;
  failed: number;
  poisoned: number;
  seconds: number;
  startedAt: number;
  finishedAt: number;
  cpuMs: number;
  maxRssBytes: number;
}

export interface MemoryRun {
  records: number;
  process: 'collector' | 'writer';
  /** `--max-old-space-size` in MB, or undefined for V8's defaults. */
  oldSpaceMb: number | undefined;
  maxRssBytes: number;
  recordsPerSecond: number;
}

export interface BenchInputs {
  records: number;
  pageSize: number;
  writerBatchSize: number;
  /** Collector and writer running at once (the end-to-end figure). */
  pipeline: {
    collector: CollectorRun;
    writer: WriterRun;
    storedDocuments: number;
    uniqueRecords: number;
    /** CPU ms of the servers during the end-to-end run, by name (empty where /proc is missing). */
    serverCpuMs: Record<string, number>;
  };
  /** CPU cores of the machine. */
  cores: number;
  /** Collector alone, then writer alone, on a fresh state. */
  stages: { collector: CollectorRun; writer: WriterRun };
  ceilings: { bulk: RateResult[]; enqueue: RateResult };
  api: { actual: RequestCount; minimum: RequestCount; other: Record<string, number> };
  ru: { chosen: RuEstimate; everything: RuEstimate };
  cost: { recordsPerDay: number; retentionDays: number; peakHourFactor: number };
  memory: MemoryRun[];
  /** A full sweep over the backlog, and the collector with a very large blob (absent in older results). */
  completeness?: { sweep: SweepMeasure; bulky: BulkyMeasure };
}

export interface Target {
  name: string;
  goal: string;
  value: string;
  met: boolean | undefined;
}

export interface BenchFigures {
  endToEnd: { records: number; seconds: number; recordsPerSecond: number };
  collector: { recordsPerSecond: number; cpuMsPer1000: number; maxRssBytes: number };
  writer: { recordsPerSecond: number; cpuMsPer1000: number; maxRssBytes: number };
  pipelineRates: { collectorRecordsPerSecond: number; writerRecordsPerSecond: number };
  /**
   * Where the end-to-end run's CPU went, in ms per 1,000 records, per process (the pipeline's two and the
   * servers), and how many of the machine's cores that kept busy on average.
   */
  endToEndCpu: {
    perThousand: Record<string, number>;
    totalPerThousand: number;
    coresBusy: number;
    cores: number;
    /** The rate all processes together could reach if every core did nothing else: cores / CPU per record. */
    cpuBoundRecordsPerSecond: number;
  };
  ceiling: {
    bulk: RateResult[];
    bestBulk: RateResult;
    enqueue: RateResult & { recordsPerSecond: number };
    endToEndOfBulk: number;
    writerOfBulk: number;
    collectorOfEnqueue: number;
  };
  queue: {
    messagesPer1000: number;
    /** Messages per 1,000 records and mean record bytes, per content type. */
    byContentType: Record<string, { messagesPer1000: number; meanRecordBytes: number; share: number }>;
    meanEncodedBytes: number;
    fillOfLimit: number;
    compressionRatio: number;
    rawPerEncodedByte: number;
    claimChecks: number;
  };
  api: {
    actual: RequestCount;
    minimum: RequestCount;
    actualPer1000: number;
    minimumPer1000: number;
    overMinimum: number;
    other: Record<string, number>;
  };
  ru: { chosen: RuEstimate; everything: RuEstimate; saving: number };
  /** On paper, for the tenant size in `cost` (docs/performance.md). */
  largeTenant: LargeTenantEstimate;
  memory: MemoryRun[];
  completeness: BenchInputs['completeness'];
  targets: Target[];
}

const MB = 1024 * 1024;

export function computeFigures(i: BenchInputs): BenchFigures {
  const p = i.pipeline;
  const e2eSeconds = (p.writer.finishedAt - p.collector.startedAt) / 1000;
  const endToEnd = {
    records: p.collector.records,
    seconds: e2eSeconds,
    recordsPerSecond: p.collector.records / e2eSeconds,
  };
  const cpuMs: Record<string, number> = {
    collector: p.collector.cpuMs,
    writer: p.writer.cpuMs,
    ...p.serverCpuMs,
  };
  const totalCpuMs = Object.values(cpuMs).reduce((a, b) => a + b, 0);
  const perThousand = (ms: number): number => (ms / Math.max(1, p.collector.records)) * 1000;
  const endToEndCpu = {
    perThousand: Object.fromEntries(Object.entries(cpuMs).map(([k, v]) => [k, perThousand(v)])),
    totalPerThousand: perThousand(totalCpuMs),
    coresBusy: totalCpuMs / 1000 / Math.max(e2eSeconds, 1e-9),
    cores: i.cores,
    cpuBoundRecordsPerSecond: (i.cores * 1e6) / Math.max(1e-9, perThousand(totalCpuMs)),
  };
  const s = i.stages;
  const rate = (records: number, seconds: number): number => records / Math.max(seconds, 1e-9);
  const collector = {
    recordsPerSecond: rate(s.collector.records, s.collector.seconds),
    cpuMsPer1000: (s.collector.cpuMs / Math.max(1, s.collector.records)) * 1000,
    maxRssBytes: s.collector.maxRssBytes,
  };
  const writer = {
    recordsPerSecond: rate(s.writer.records, s.writer.seconds),
    cpuMsPer1000: (s.writer.cpuMs / Math.max(1, s.writer.records)) * 1000,
    maxRssBytes: s.writer.maxRssBytes,
  };
  const bestBulk = i.ceilings.bulk.reduce((a, b) => (b.perSecond > a.perSecond ? b : a));
  const recordsPerMessage = s.collector.records / Math.max(1, s.collector.messages);
  const enqueue = {
    ...i.ceilings.enqueue,
    recordsPerSecond: i.ceilings.enqueue.perSecond * recordsPerMessage,
  };
  const w = s.writer;
  const byContentType = Object.fromEntries(
    Object.entries(s.collector.byContentType ?? {}).map(([ct, t]) => [
      ct,
      {
        messagesPer1000: (t.messages / Math.max(1, t.records)) * 1000,
        meanRecordBytes: t.bytes / Math.max(1, t.records),
        share: t.records / Math.max(1, s.collector.records),
      },
    ]),
  );
  const queue = {
    messagesPer1000: (s.collector.messages / Math.max(1, s.collector.records)) * 1000,
    byContentType,
    meanEncodedBytes: w.encodedBytes / Math.max(1, w.messages),
    fillOfLimit: w.encodedBytes / Math.max(1, w.messages) / QUEUE_MESSAGE_LIMIT_BYTES,
    compressionRatio: s.collector.bytes / Math.max(1, w.compressedBytes),
    rawPerEncodedByte: s.collector.bytes / Math.max(1, w.encodedBytes),
    claimChecks: w.claimChecks,
  };
  const api = {
    actual: i.api.actual,
    minimum: i.api.minimum,
    actualPer1000: (i.api.actual.total / Math.max(1, s.collector.records)) * 1000,
    minimumPer1000: (i.api.minimum.total / Math.max(1, s.collector.records)) * 1000,
    overMinimum: i.api.actual.total / Math.max(1, i.api.minimum.total) - 1,
    other: i.api.other,
  };
  const ru = {
    chosen: i.ru.chosen,
    everything: i.ru.everything,
    saving: 1 - i.ru.chosen.ruPerRecord / i.ru.everything.ruPerRecord,
  };
  const largeTenant = largeTenantEstimate(
    {
      ruPerRecord: i.ru.chosen.ruPerRecord,
      ruPerRecordIndexEverything: i.ru.everything.ruPerRecord,
      documentBytes: i.ru.chosen.meanBytes,
      messagesPer1000: queue.messagesPer1000,
      collectorCpuMsPer1000: collector.cpuMsPer1000,
      writerCpuMsPer1000: writer.cpuMsPer1000,
    },
    { ...LARGE_TENANT, ...i.cost },
  );
  const ceiling = {
    bulk: i.ceilings.bulk,
    bestBulk,
    enqueue,
    endToEndOfBulk: endToEnd.recordsPerSecond / bestBulk.perSecond,
    writerOfBulk: writer.recordsPerSecond / bestBulk.perSecond,
    collectorOfEnqueue: collector.recordsPerSecond / enqueue.recordsPerSecond,
  };
  const collectorRss = [
    s.collector.maxRssBytes,
    p.collector.maxRssBytes,
    ...i.memory
      .filter((m) => m.process === 'collector' && m.oldSpaceMb === undefined)
      .map((m) => m.maxRssBytes),
  ];
  const peakCollectorRss = Math.max(...collectorRss);
  const bulky = i.completeness?.bulky;
  const targets: Target[] = [
    {
      name: 'End-to-end rate',
      goal: '≥ 80% of the raw bulk-upsert ceiling',
      value: `${pct(ceiling.endToEndOfBulk)} (${fmt(endToEnd.recordsPerSecond)} of ${fmt(bestBulk.perSecond)} records/s)`,
      met: ceiling.endToEndOfBulk >= 0.8,
    },
    {
      name: 'Queue messages',
      goal: '≤ 5 per 1,000 records',
      value: queue.messagesPer1000.toFixed(2),
      met: queue.messagesPer1000 <= 5,
    },
    {
      name: 'Collector peak RSS (V8 defaults)',
      goal: '≤ 256 MB at any backlog size',
      value: `${(peakCollectorRss / MB).toFixed(0)} MiB (highest of ${collectorRss.length} runs)`,
      met: peakCollectorRss <= 256 * MB,
    },
    {
      name: 'Collector peak RSS with a very large blob (V8 defaults)',
      goal: '≤ 256 MiB whatever the blob size',
      value: bulky
        ? `${mib(bulky.maxRssBytes)} with a ${fmt(bulky.blobBytes / 1e6)} MB blob among ${fmt(bulky.records)} records`
        : 'not measured',
      met: bulky ? bulky.maxRssBytes <= 256 * MB : undefined,
    },
    {
      name: 'API requests',
      goal: 'within 10% of the minimum',
      value: `${api.actual.total} vs ${api.minimum.total} (${signedPct(api.overMinimum)})`,
      met: api.overMinimum <= 0.1,
    },
  ];
  return {
    endToEnd,
    collector,
    writer,
    pipelineRates: {
      collectorRecordsPerSecond: rate(p.collector.records, p.collector.seconds),
      writerRecordsPerSecond: rate(p.writer.records, p.writer.seconds),
    },
    endToEndCpu,
    ceiling,
    queue,
    api,
    ru,
    largeTenant,
    memory: i.memory,
    completeness: i.completeness,
    targets,
  };
}

export function fmt(n: number, digits = 0): string {
  return n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

export function pct(f: number): string {
  return `${(f * 100).toFixed(0)}%`;
}

function signedPct(f: number): string {
  return `${f >= 0 ? '+' : ''}${(f * 100).toFixed(1)}%`;
}

const mib = (b: number): string => `${(b / MB).toFixed(0)} MiB`;
const perThousandOf = (ms: number, items: number): string => ((ms / Math.max(1, items)) * 1000).toFixed(0);

const BULK_LABEL: Record<string, string> = {
  perMessage: 'executeBulkOperations, one call per message',
  largeCalls: 'executeBulkOperations, large calls',
  requests100: 'items.bulk, ≤ 100 operations per request',
};

/** The figures as a plain-text table for the terminal (and the docs). */
export function formatTable(f: BenchFigures, i: BenchInputs): string {
  const rows: [string, string][] = [];
  const section = (title: string): void => void rows.push([`— ${title}`, '']);
  const row = (k: string, v: string): void => void rows.push([k, v]);

  section(`Throughput (${fmt(f.endToEnd.records)} records, writer batchSize ${i.writerBatchSize})`);
  row(
    'End-to-end (collector + writer at once)',
    `${fmt(f.endToEnd.recordsPerSecond)} records/s (${f.endToEnd.seconds.toFixed(1)} s)`,
  );
  row(
    '  of which collector / writer while sharing the CPU',
    `${fmt(f.pipelineRates.collectorRecordsPerSecond)} / ${fmt(f.pipelineRates.writerRecordsPerSecond)} records/s`,
  );
  const cpu = f.endToEndCpu;
  row(
    '  CPU per 1,000 records, by process',
    Object.entries(cpu.perThousand)
      .map(([k, v]) => `${k} ${v.toFixed(0)}`)
      .join(', ') + ` = ${cpu.totalPerThousand.toFixed(0)} ms`,
  );
  row(
    '  cores kept busy; CPU-bound limit',
    `${cpu.coresBusy.toFixed(2)} of ${cpu.cores}; ${fmt(cpu.cpuBoundRecordsPerSecond)} records/s at this CPU per record`,
  );
  row(
    'Collector alone',
    `${fmt(f.collector.recordsPerSecond)} records/s, CPU ${f.collector.cpuMsPer1000.toFixed(0)} ms per 1,000`,
  );
  row(
    'Writer alone',
    `${fmt(f.writer.recordsPerSecond)} records/s, CPU ${f.writer.cpuMsPer1000.toFixed(0)} ms per 1,000`,
  );
  section('Ceilings, same run, same endpoints');
  for (const b of f.ceiling.bulk) {
    const cpu = b.cpuMs
      ? `; CPU per 1,000: client ${perThousandOf(b.cpuMs.client, b.items)}` +
        (b.cpuMs.server !== undefined ? ` + stand-in ${perThousandOf(b.cpuMs.server, b.items)} ms` : ' ms')
      : '';
    row(`Raw bulk upsert: ${BULK_LABEL[b.mode] ?? b.mode}`, `${fmt(b.perSecond)} documents/s${cpu}`);
  }
  row(
    'Raw enqueue (sendMessage, same texts, 5 senders)',
    `${fmt(f.ceiling.enqueue.perSecond)} messages/s ≈ ${fmt(f.ceiling.enqueue.recordsPerSecond)} records/s`,
  );
  row('End-to-end / best bulk ceiling', pct(f.ceiling.endToEndOfBulk));
  row('Writer alone / best bulk ceiling', pct(f.ceiling.writerOfBulk));
  row('Collector alone / enqueue ceiling', pct(f.ceiling.collectorOfEnqueue));
  section('Queue');
  row('Messages per 1,000 records', f.queue.messagesPer1000.toFixed(2));
  for (const [ct, t] of Object.entries(f.queue.byContentType)) {
    row(
      `  ${ct}`,
      `${t.messagesPer1000.toFixed(2)} (${pct(t.share)} of records, ${fmt(t.meanRecordBytes)} bytes each)`,
    );
  }
  row(
    'Mean encoded message',
    `${fmt(f.queue.meanEncodedBytes)} bytes = ${pct(f.queue.fillOfLimit)} of 64 KiB`,
  );
  row(
    'Compression (record JSON / compressed batch)',
    `${f.queue.compressionRatio.toFixed(2)}× (${f.queue.rawPerEncodedByte.toFixed(2)}× per message byte after base64)`,
  );
  row('Claim checks', String(f.queue.claimChecks));
  section(`Management API (page size ${i.pageSize})`);
  row(
    'Requests (list + content)',
    `${fmt(f.api.actual.total)} = ${fmt(f.api.actual.list)} + ${fmt(f.api.actual.content)}; ${f.api.actualPer1000.toFixed(2)} per 1,000 records`,
  );
  row(
    'Minimum for the scenario',
    `${fmt(f.api.minimum.total)} = ${fmt(f.api.minimum.list)} + ${fmt(f.api.minimum.content)}; ${f.api.minimumPer1000.toFixed(2)} per 1,000 records`,
  );
  row('Over the minimum', signedPct(f.api.overMinimum));
  row(
    'Other requests',
    Object.entries(f.api.other)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ') || 'none',
  );
  section('Cosmos DB request units (estimate for real Cosmos DB, [RUC])');
  const ruRow = (name: string, r: RuEstimate): void =>
    row(
      name,
      `${r.ruPerRecord.toFixed(2)} RU/record (${fmt(r.meanBytes)} bytes, ${r.meanTerms.toFixed(1)} indexed terms)`,
    );
  ruRow('auditfeed INDEXING_POLICY', f.ru.chosen);
  ruRow('Default policy (index everything)', f.ru.everything);
  row('Saving per write', pct(f.ru.saving));
  const t = f.largeTenant;
  const money = (n: number): string => `$${fmt(n)}`;
  section(
    `On paper: ${fmt(i.cost.recordsPerDay)} records/day, kept ${i.cost.retentionDays} days (docs/performance.md)`,
  );
  row(
    'Records/s average / busiest hour',
    `${fmt(t.recordsPerSecond.average)} / ${fmt(t.recordsPerSecond.peakHour)}`,
  );
  row(
    'Cosmos DB RU/s average / busiest hour / storage floor',
    `${fmt(t.cosmos.chosen.averageRuPerSecond)} / ${fmt(t.cosmos.chosen.peakRuPerSecond)} / ${fmt(t.cosmos.chosen.storageFloorRuPerSecond)} (${fmt(t.cosmos.chosen.storedGb)} GB of documents)`,
  );
  row(
    'Cosmos DB per month: autoscale / serverless / storage',
    `${money(t.cosmos.chosen.autoscaleRu)} / ${money(t.cosmos.chosen.serverlessRu)} / ${money(t.cosmos.chosen.storage)}` +
      ` (index everything: ${money(t.cosmos.indexEverything.autoscaleRu)} / ${money(t.cosmos.indexEverything.serverlessRu)})`,
  );
  row(
    'Functions (Flex) per month: collector / writer',
    `${money(t.collector.cost)} (busy ${pct(t.collector.busyShare)}) / ${money(t.writer.cost)} (${t.writer.instances} instance(s), busy ${pct(t.writer.busyShare)})`,
  );
  row('Queue per month', `${fmt(t.queue.operationsPerMonth / 1e6, 1)} M operations, ${money(t.queue.cost)}`);
  row(
    'API requests per day',
    `${fmt(t.apiRequestsPerDay)} at ${fmt(LARGE_TENANT.recordsPerBlob)} records/blob (assumed) = ` +
      `${pct(t.apiQuotaShare)} of the collector's pacing; keeps up down to ${fmt(t.minRecordsPerBlob, 1)} records/blob`,
  );
  row(
    'Full re-listing of the 7 days (hourly)',
    `${fmt(t.sweep.requestsPerSweep)} listing requests a sweep, ${fmt(t.sweep.requestsPerDay)} a day = ` +
      `${pct(t.sweep.quotaShare)} of the 2,000/min baseline; collected-blob set ${(t.sweep.seenSetBytes / MB).toFixed(1)} MiB`,
  );
  row(
    'Total per month (autoscale / serverless)',
    `${money(t.totals.autoscale)} / ${money(t.totals.serverless)}`,
  );
  row('Prices', PRICES.asOf);
  const c = f.completeness;
  if (c) {
    section('Completeness (issue 10)');
    row(
      'Full sweep of this backlog',
      `${fmt(c.sweep.listRequests)} listing requests and ${fmt(c.sweep.blobFetches)} blob fetches over ${fmt(c.sweep.blobs)} blobs already collected`,
    );
    row(
      'Collected-blob set in storage',
      `${fmt(c.sweep.seenBytes)} bytes = ${c.sweep.seenBytesPerBlob.toFixed(1)} bytes per blob`,
    );
    row(
      'Collector with a very large blob',
      `${fmt(c.bulky.blobBytes / 1e6)} MB blob, ${fmt(c.bulky.records)} records in ${fmt(c.bulky.seconds, 1)} s, peak RSS ${mib(c.bulky.maxRssBytes)}`,
    );
  }
  section('Memory (peak RSS, each process on its own)');
  row(
    'Collector alone / writer alone (this run)',
    `${mib(f.collector.maxRssBytes)} / ${mib(f.writer.maxRssBytes)}`,
  );
  for (const r of f.memory) {
    row(
      `${r.process} at ${fmt(r.records)} records, ${r.oldSpaceMb === undefined ? 'V8 defaults' : `--max-old-space-size=${r.oldSpaceMb}`}`,
      `${mib(r.maxRssBytes)} (${fmt(r.recordsPerSecond)} records/s)`,
    );
  }
  section('Targets');
  for (const t of f.targets) {
    row(`${t.met === undefined ? '?' : t.met ? 'met' : 'MISSED'}: ${t.name} (${t.goal})`, t.value);
  }
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => (v === '' ? k : `${k.padEnd(width)}  ${v}`)).join('\n');
}

/** The memory runs alone (`npm run bench:memory`). */
export function formatMemoryTable(runs: readonly MemoryRun[]): string {
  const rows = runs.map((r) => [
    `${r.process} at ${fmt(r.records)} records, ${r.oldSpaceMb === undefined ? 'V8 defaults' : `--max-old-space-size=${r.oldSpaceMb}`}`,
    `peak RSS ${mib(r.maxRssBytes)} (${fmt(r.recordsPerSecond)} records/s)`,
  ]);
  const width = Math.max(0, ...rows.map(([k]) => k!.length));
  return rows.map(([k, v]) => `${k!.padEnd(width)}  ${v!}`).join('\n');
}
