import {
  BulkOperationType,
  type BulkOperationResult,
  type Container,
  type JSONObject,
  type OperationInput,
} from '@azure/cosmos';
import type { Logger } from '../logging';
import { sleep as realSleep } from '../sleep';
import type { AuditDocument } from './documents';
import { CosmosThrottledError, CosmosWriteError, type FailedOperation } from './errors';

export interface ThrottleOptions {
  /** Rounds of re-sending throttled operations after the SDK's own retries gave up. */
  maxRounds: number;
  /** Longest single wait, whatever the service asks for. */
  maxWaitMs: number;
  /** Wait when the service gives no retry-after. */
  defaultWaitMs: number;
}

export const DEFAULT_THROTTLE: ThrottleOptions = { maxRounds: 6, maxWaitMs: 10_000, defaultWaitMs: 1_000 };

export interface BulkUpsertOptions {
  throttle?: Partial<ThrottleOptions>;
  logger: Logger;
  /** For logs: which batch these documents belong to. */
  batchId: string;
  sleep?: (ms: number) => Promise<void>;
}

export interface BulkUpsertResult {
  written: number;
  /** Documents Cosmos refused as too large (413): the caller stores them as blob + stub. */
  tooLarge: AuditDocument[];
  /** Operations re-sent after a 429. */
  throttledRetries: number;
  requestCharge: number;
}

const FAILURE_SAMPLE = 10;

/**
 * Upserts documents with the SDK's bulk API and checks every operation's status: 2xx is stored; 429 is
 * re-sent (only those operations) after the service's retry-after, a bounded number of rounds; 413 is
 * handed back for the oversize path; anything else throws CosmosWriteError so the queue retries the
 * whole message — safe, because every operation is an upsert of a deterministic id and partition key.
 */
export async function bulkUpsert(
  container: Container,
  documents: readonly AuditDocument[],
  options: BulkUpsertOptions,
): Promise<BulkUpsertResult> {
  const throttle = { ...DEFAULT_THROTTLE, ...options.throttle };
  const wait = options.sleep ?? realSleep;
  const result: BulkUpsertResult = { written: 0, tooLarge: [], throttledRetries: 0, requestCharge: 0 };
  let pending = [...documents];
  for (let round = 0; pending.length > 0; round++) {
    const operations: OperationInput[] = pending.map((doc) => ({
      operationType: BulkOperationType.Upsert,
      partitionKey: doc.pk,
      // Documents are JSON by construction (parsed from the batch, plus strings and numbers of ours).
      resourceBody: doc as unknown as JSONObject,
    }));
    let outcomes: BulkOperationResult[];
    try {
      outcomes = await container.items.executeBulkOperations(operations);
    } catch (e) {
      throw new CosmosWriteError(
        `Bulk upsert of batch ${options.batchId} failed before any operation status came back: ${(e as Error).message}`,
        [],
        'CosmosWriteFailed',
        e,
      );
    }

    const throttled: AuditDocument[] = [];
    const failures: FailedOperation[] = [];
    let retryAfterMs = 0;
    pending.forEach((doc, i) => {
      const outcome = outcomes[i];
      const status = statusOf(outcome);
      result.requestCharge += outcome?.response?.requestCharge ?? outcome?.error?.requestCharge ?? 0;
      if (typeof status === 'number' && status >= 200 && status < 300) {
        result.written++;
      } else if (status === 429) {
        throttled.push(doc);
        retryAfterMs = Math.max(retryAfterMs, retryAfterOf(outcome));
      } else if (status === 413) {
        result.tooLarge.push(doc);
      } else {
        failures.push({
          id: doc.id,
          pk: doc.pk,
          status,
          ...(outcome?.error?.substatus !== undefined ? { substatus: outcome.error.substatus } : {}),
          ...(outcome?.error?.message ? { message: outcome.error.message.slice(0, 300) } : {}),
        });
      }
    });

    if (failures.length > 0) {
      throw new CosmosWriteError(
        `Bulk upsert of batch ${options.batchId}: ${failures.length} of ${pending.length} operations failed ` +
          `(${countByStatus(failures)}); the message will be retried.`,
        failures.slice(0, FAILURE_SAMPLE),
      );
    }
    if (throttled.length === 0) break;
    if (round + 1 >= throttle.maxRounds) {
      throw new CosmosThrottledError(
        `Bulk upsert of batch ${options.batchId}: ${throttled.length} operations still throttled (429) after ` +
          `${throttle.maxRounds} rounds; the message will be retried.`,
        throttled.slice(0, FAILURE_SAMPLE).map((d) => ({ id: d.id, pk: d.pk, status: 429 })),
      );
    }
    const delay = Math.min(throttle.maxWaitMs, retryAfterMs > 0 ? retryAfterMs : throttle.defaultWaitMs);
    options.logger.warn('Cosmos DB throttled part of a bulk upsert; retrying those operations', {
      batchId: options.batchId,
      throttled: throttled.length,
      of: pending.length,
      round: round + 1,
      waitMs: delay,
    });
    result.throttledRetries += throttled.length;
    await wait(delay);
    pending = throttled;
  }
  return result;
}

function statusOf(outcome: BulkOperationResult | undefined): number | string | undefined {
  if (!outcome) return undefined;
  return outcome.response?.statusCode ?? outcome.error?.code;
}

function retryAfterOf(outcome: BulkOperationResult | undefined): number {
  const error = outcome?.error;
  const fromError = Number(error?.retryAfterInMs ?? error?.retryAfterInMilliseconds);
  if (Number.isFinite(fromError) && fromError > 0) return fromError;
  const header = Number(error?.headers?.['x-ms-retry-after-ms']);
  return Number.isFinite(header) && header > 0 ? header : 0;
}

function countByStatus(failures: FailedOperation[]): string {
  const counts = new Map<string, number>();
  for (const f of failures)
    counts.set(String(f.status ?? 'no status'), (counts.get(String(f.status ?? 'no status')) ?? 0) + 1);
  return [...counts].map(([status, n]) => `${n} × ${status}`).join(', ');
}
