/**
 * Monthly cost on paper. Prices cannot be fetched from this machine: these are assumed list prices,
 * written down with their date so a reader can replace them (https://azure.microsoft.com/pricing/).
 */
export const PRICES = {
  asOf: 'assumed list prices, USD, pay-as-you-go, one region (East US), as last known in mid-2025; not fetched',
  /** Cosmos DB serverless, per million request units. */
  cosmosServerlessPerMillionRu: 0.25,
  /** Cosmos DB transactional storage, per GB-month (serverless and provisioned). */
  cosmosStoragePerGbMonth: 0.25,
  /** Cosmos DB autoscale, per 100 RU/s of the hour's highest scaled throughput, per hour (single-region writes). */
  cosmosAutoscalePer100RuHour: 0.012,
  /** Functions Flex Consumption, on demand: per GB-second of instance memory while executing. */
  flexPerGbSecond: 0.000026,
  /** Functions Flex Consumption, on demand: per million executions. */
  flexPerMillionExecutions: 0.4,
  /** Storage queue operations (GPv2, LRS), per 10,000. */
  queuePer10kOperations: 0.004,
} as const;

export const HOURS_PER_MONTH = 730;
export const DAYS_PER_MONTH = 30.42;
/** Provisioned throughput needs at least 1 RU/s per GB stored (service quota [CLIM], concepts-limits). */
export const MIN_RU_PER_SECOND_PER_GB = 1;

export interface CosmosMonthInput {
  recordsPerDay: number;
  ruPerRecord: number;
  /** Mean stored document size. */
  documentBytes: number;
  retentionDays: number;
  /** Highest hour's write rate over the day's average (the queue smooths bursts). Assumption. */
  peakHourFactor: number;
}

export interface CosmosMonth {
  ruPerMonth: number;
  averageRuPerSecond: number;
  /** RU/s of the busiest hour: what autoscale bills for that hour. */
  peakRuPerSecond: number;
  /** Document bytes kept at steady state (retention full); index storage comes on top. */
  storedGb: number;
  /** RU/s the stored data alone requires of provisioned throughput. */
  storageFloorRuPerSecond: number;
  serverlessRu: number;
  /**
   * Autoscale with every hour billed at the busiest hour's throughput, never below the storage floor
   * (autoscale bills at least 10% of its maximum, and the maximum must cover 1 RU/s per GB).
   */
  autoscaleRu: number;
  storage: number;
}

/** Cosmos DB cost of writing `recordsPerDay` and keeping them `retentionDays`. */
export function cosmosMonth(i: CosmosMonthInput): CosmosMonth {
  const ruPerDay = i.recordsPerDay * i.ruPerRecord;
  const averageRuPerSecond = ruPerDay / 86_400;
  const peakRuPerSecond = averageRuPerSecond * i.peakHourFactor;
  const storedGb = (i.recordsPerDay * i.retentionDays * i.documentBytes) / 1e9;
  const storageFloorRuPerSecond = storedGb * MIN_RU_PER_SECOND_PER_GB;
  const ruPerMonth = ruPerDay * DAYS_PER_MONTH;
  const billedRuPerSecond = Math.max(100, peakRuPerSecond, storageFloorRuPerSecond);
  return {
    ruPerMonth,
    averageRuPerSecond,
    peakRuPerSecond,
    storedGb,
    storageFloorRuPerSecond,
    serverlessRu: (ruPerMonth / 1e6) * PRICES.cosmosServerlessPerMillionRu,
    autoscaleRu: (billedRuPerSecond / 100) * PRICES.cosmosAutoscalePer100RuHour * HOURS_PER_MONTH,
    storage: storedGb * PRICES.cosmosStoragePerGbMonth,
  };
}
