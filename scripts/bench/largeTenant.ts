import { cosmosMonth, DAYS_PER_MONTH, PRICES, type CosmosMonth } from './pricing';

/**
 * A paper estimate for a large tenant, from figures the bench measured and assumptions written down
 * next to them (docs/performance.md). Every number here can be recomputed from the bench's JSON.
 */

/** What the bench measured, per record. */
export interface Measured {
  ruPerRecord: number;
  ruPerRecordIndexEverything: number;
  documentBytes: number;
  messagesPer1000: number;
  collectorCpuMsPer1000: number;
  writerCpuMsPer1000: number;
}

export interface Assumptions {
  recordsPerDay: number;
  retentionDays: number;
  peakHourFactor: number;
  /** Flex Consumption instance memory (GB) and its vCPUs. */
  instanceGb: number;
  instanceVcpu: number;
  /** One message's time in the writer on real Cosmos DB (a few bulk requests in parallel). */
  writerSecondsPerMessage: number;
  /** The collector's pacing under the service's 2,000 requests/min per publisher. */
  apiRequestsPerMinute: number;
  /**
   * Records per content blob. Microsoft does not document blob sizes (reference §A4, unconfirmed); a blob
   * aggregates a few minutes of one workload, so a busy tenant's blobs are large. The bench's own scenario
   * has small blobs (a 2,000-user tenant), so its requests per record do not carry over.
   */
  recordsPerBlob: number;
  /** Blobs per listing page (not documented; the simulator's default). */
  blobsPerPage: number;
  /** Collector runs per day (every 5 minutes). */
  collectorRunsPerDay: number;
  /** Full-retention re-listings per day (AUDITFEED_SWEEP_INTERVAL_MINUTES, default 60). */
  sweepsPerDay: number;
  /** Content types collected (each is listed on its own). */
  contentTypes: number;
  /** Queue operations per message: put, get, delete. */
  queueOperationsPerMessage: number;
  /** Empty polls per writer instance per day (host.json maxPollingInterval 10 s). */
  idlePollsPerInstancePerDay: number;
}

export const LARGE_TENANT: Assumptions = {
  recordsPerDay: 50_000_000,
  retentionDays: 180,
  peakHourFactor: 1.5,
  instanceGb: 2,
  instanceVcpu: 1,
  writerSecondsPerMessage: 0.2,
  apiRequestsPerMinute: 1_800,
  recordsPerBlob: 1_000,
  blobsPerPage: 100,
  collectorRunsPerDay: 288,
  sweepsPerDay: 24,
  contentTypes: 5,
  queueOperationsPerMessage: 3,
  idlePollsPerInstancePerDay: 8_640,
};

export interface LargeTenantEstimate {
  recordsPerSecond: { average: number; peakHour: number };
  messagesPerDay: number;
  apiRequestsPerDay: number;
  /** Share of the collector's request pacing the tenant needs. */
  apiQuotaShare: number;
  /** Fewest records per blob at which the pacing still keeps up with the tenant. */
  minRecordsPerBlob: number;
  /** The full-retention re-listing: requests per sweep and per day, and the set of collected blobs. */
  sweep: {
    blobsInRetention: number;
    requestsPerSweep: number;
    requestsPerDay: number;
    /** Share of the service's 2,000 requests/min baseline. */
    quotaShare: number;
    /** 8 bytes per blob over the retention and a day of slack. */
    seenSetBytes: number;
  };
  collector: {
    cpuSecondsPerRun: number;
    apiSecondsPerRun: number;
    busyShare: number;
    gbSeconds: number;
    cost: number;
  };
  writer: {
    /** Instances the peak hour needs by CPU (≥ 1). */
    instances: number;
    cpuShareAtPeak: number;
    /** Share of the time an instance has at least one message in flight (Poisson arrivals). */
    busyShare: number;
    gbSeconds: number;
    executions: number;
    cost: number;
  };
  queue: { operationsPerMonth: number; cost: number };
  cosmos: { chosen: CosmosMonth; indexEverything: CosmosMonth };
  totals: { autoscale: number; serverless: number };
}

export function largeTenantEstimate(m: Measured, a: Assumptions = LARGE_TENANT): LargeTenantEstimate {
  const day = 86_400;
  const average = a.recordsPerDay / day;
  const peakHour = average * a.peakHourFactor;
  const messagesPerDay = (a.recordsPerDay * m.messagesPer1000) / 1000;
  // One content request per blob and one listing request per page of blobs.
  const requestsPerBlob = 1 + 1 / a.blobsPerPage;
  const apiRequestsPerDay = (a.recordsPerDay / a.recordsPerBlob) * requestsPerBlob;
  const apiRequestsPerDayAllowed = a.apiRequestsPerMinute * 60 * 24;
  const gbSecondCost = (gbs: number): number => gbs * PRICES.flexPerGbSecond;
  // A sweep lists 7 days: one page per blobsPerPage blobs, and at least one request per 24-hour window
  // of each content type.
  const blobsPerDay = a.recordsPerDay / a.recordsPerBlob;
  const blobsInRetention = 7 * blobsPerDay;
  const requestsPerSweep = Math.ceil(blobsInRetention / a.blobsPerPage) + 8 * a.contentTypes;

  // Collector: one instance per run; a run is as long as the larger of its CPU work and its paced requests.
  const recordsPerRun = a.recordsPerDay / a.collectorRunsPerDay;
  const cpuSecondsPerRun = (recordsPerRun * m.collectorCpuMsPer1000) / 1000 / 1000 / a.instanceVcpu;
  const apiSecondsPerRun = (apiRequestsPerDay / a.collectorRunsPerDay / a.apiRequestsPerMinute) * 60;
  const runSeconds = Math.max(cpuSecondsPerRun, apiSecondsPerRun);
  const collectorBusy = Math.min(1, (runSeconds * a.collectorRunsPerDay) / day);
  const collectorGbs = collectorBusy * day * DAYS_PER_MONTH * a.instanceGb;

  // Writer: CPU sets the instance count; billed time is while any message is in flight.
  const cpuShareAtPeak = (peakHour * m.writerCpuMsPer1000) / 1000 / 1000 / a.instanceVcpu;
  const instances = Math.max(1, Math.ceil(cpuShareAtPeak / 0.7));
  const inFlight = (messagesPerDay / day) * a.writerSecondsPerMessage;
  const writerBusy = Math.max(
    1 - Math.exp(-inFlight),
    (average * m.writerCpuMsPer1000) / 1e6 / a.instanceVcpu,
  );
  const writerGbs = writerBusy * day * DAYS_PER_MONTH * a.instanceGb;
  const executions = messagesPerDay * DAYS_PER_MONTH;
  const writerCost = gbSecondCost(writerGbs) + (executions / 1e6) * PRICES.flexPerMillionExecutions;

  const queueOps =
    (messagesPerDay * a.queueOperationsPerMessage + a.idlePollsPerInstancePerDay * instances) *
    DAYS_PER_MONTH;
  const cosmos = (ruPerRecord: number): CosmosMonth =>
    cosmosMonth({
      recordsPerDay: a.recordsPerDay,
      ruPerRecord,
      documentBytes: m.documentBytes,
      retentionDays: a.retentionDays,
      peakHourFactor: a.peakHourFactor,
    });
  const chosen = cosmos(m.ruPerRecord);
  const functions = gbSecondCost(collectorGbs) + writerCost;
  const queueCost = (queueOps / 10_000) * PRICES.queuePer10kOperations;
  return {
    recordsPerSecond: { average, peakHour },
    messagesPerDay,
    apiRequestsPerDay,
    apiQuotaShare: apiRequestsPerDay / apiRequestsPerDayAllowed,
    minRecordsPerBlob: (a.recordsPerDay * requestsPerBlob) / apiRequestsPerDayAllowed,
    sweep: {
      blobsInRetention,
      requestsPerSweep,
      requestsPerDay: requestsPerSweep * a.sweepsPerDay,
      quotaShare: (requestsPerSweep * a.sweepsPerDay) / (2_000 * 60 * 24),
      seenSetBytes: 8 * 8 * blobsPerDay,
    },
    collector: {
      cpuSecondsPerRun,
      apiSecondsPerRun,
      busyShare: collectorBusy,
      gbSeconds: collectorGbs,
      cost: gbSecondCost(collectorGbs),
    },
    writer: {
      instances,
      cpuShareAtPeak,
      busyShare: writerBusy,
      gbSeconds: writerGbs,
      executions,
      cost: writerCost,
    },
    queue: { operationsPerMonth: queueOps, cost: queueCost },
    cosmos: { chosen, indexEverything: cosmos(m.ruPerRecordIndexEverything) },
    totals: {
      autoscale: functions + queueCost + chosen.autoscaleRu + chosen.storage,
      serverless: functions + queueCost + chosen.serverlessRu + chosen.storage,
    },
  };
}
