import {
  BulkOperationType,
  ErrorResponse,
  type BulkOperationResult,
  type Container,
  type JSONObject,
  type OperationInput,
  type OperationResponse,
} from '@azure/cosmos';
import type { Logger } from '../logging';
import type { WriteMode } from '../messages/envelope';
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
  /** `create`: Create operations, and a 409 (the id is already stored) leaves that document as it is. */
  write?: WriteMode;
  throttle?: Partial<ThrottleOptions>;
  logger: Logger;
  /** For logs: which batch these documents belong to. */
  batchId: string;
  sleep?: (ms: number) => Promise<void>;
}

export interface BulkUpsertResult {
  written: number;
  /** `create` only: documents Cosmos already held (409 Conflict), left untouched. */
  alreadyStored: number;
  /** Documents Cosmos refused as too large (413): the caller stores them as blob + stub. */
  tooLarge: AuditDocument[];
  /** Operations re-sent after a 429. */
  throttledRetries: number;
  requestCharge: number;
}

const FAILURE_SAMPLE = 10;

/**
 * Upserts (or, with `write: 'create'`, creates) documents with the SDK's bulk API and checks every
 * operation's status: 2xx is stored; in create mode 409 Conflict means the id and partition key are already
 * stored and is counted, not an error (Cosmos DB answers a Create of an existing item with 409 per operation;
 * bulk requests continue on error); 429 is re-sent (only those operations) after the service's retry-after,
 * a bounded number of rounds; 413 is handed back for the oversize path; anything else throws
 * CosmosWriteError so the queue retries the whole message — safe, because every operation writes a
 * deterministic id and partition key, and a create that already happened comes back as 409.
 */
export async function bulkUpsert(
  container: Container,
  documents: readonly AuditDocument[],
  options: BulkUpsertOptions,
): Promise<BulkUpsertResult> {
  const throttle = { ...DEFAULT_THROTTLE, ...options.throttle };
  const wait = options.sleep ?? realSleep;
  const create = options.write === 'create';
  const verb = create ? 'create' : 'upsert';
  const result: BulkUpsertResult = {
    written: 0,
    alreadyStored: 0,
    tooLarge: [],
    throttledRetries: 0,
    requestCharge: 0,
  };
  let pending = [...documents];
  for (let round = 0; pending.length > 0; round++) {
    const operations: OperationInput[] = pending.map((doc) => ({
      operationType: create ? BulkOperationType.Create : BulkOperationType.Upsert,
      partitionKey: doc.pk,
      // Documents are JSON by construction (parsed from the batch, plus strings and numbers of ours).
      resourceBody: doc as unknown as JSONObject,
    }));
    let outcomes: BulkOperationResult[];
    try {
      // Re-sends are few and rare: there the SDK's per-operation backoff, and the status of a request
      // throttled as a whole, are worth executeBulkOperations' wait (see executeInRequests).
      outcomes =
        round === 0
          ? await executeInRequests(container, operations)
          : await container.items.executeBulkOperations(operations);
    } catch (e) {
      throw new CosmosWriteError(
        `Bulk ${verb} of batch ${options.batchId} failed before any operation status came back: ${(e as Error).message}`,
        [],
        'CosmosWriteFailed',
        e,
      );
    }

    const throttled: AuditDocument[] = [];
    const unanswered: AuditDocument[] = [];
    const failures: FailedOperation[] = [];
    let retryAfterMs = 0;
    pending.forEach((doc, i) => {
      const outcome = outcomes[i];
      const status = statusOf(outcome);
      result.requestCharge += outcome?.response?.requestCharge ?? outcome?.error?.requestCharge ?? 0;
      if (typeof status === 'number' && status >= 200 && status < 300) {
        result.written++;
      } else if (create && status === 409) {
        result.alreadyStored++;
      } else if (status === 429) {
        throttled.push(doc);
        retryAfterMs = Math.max(retryAfterMs, retryAfterOf(outcome));
      } else if (status === REQUEST_FAILED) {
        unanswered.push(doc);
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
        `Bulk ${verb} of batch ${options.batchId}: ${failures.length} of ${pending.length} operations failed ` +
          `(${countByStatus(failures)}); the message will be retried.`,
        failures.slice(0, FAILURE_SAMPLE),
      );
    }
    if (unanswered.length > 0) {
      options.logger.warn('A Cosmos DB bulk request failed as a whole; sending its operations again', {
        batchId: options.batchId,
        operations: unanswered.length,
        of: pending.length,
        error: outcomes.find((o) => statusOf(o) === REQUEST_FAILED)?.error?.message?.slice(0, 300),
      });
    }
    if (throttled.length === 0 && unanswered.length === 0) break;
    if (throttled.length === 0) {
      // Only unanswered requests: straight to the path that reports statuses (it waits on 429 itself).
      pending = unanswered;
      continue;
    }
    if (round + 1 >= throttle.maxRounds) {
      throw new CosmosThrottledError(
        `Bulk ${verb} of batch ${options.batchId}: ${throttled.length} operations still throttled (429) after ` +
          `${throttle.maxRounds} rounds; the message will be retried.`,
        throttled.slice(0, FAILURE_SAMPLE).map((d) => ({ id: d.id, pk: d.pk, status: 429 })),
      );
    }
    const delay = Math.min(throttle.maxWaitMs, retryAfterMs > 0 ? retryAfterMs : throttle.defaultWaitMs);
    options.logger.warn(`Cosmos DB throttled part of a bulk ${verb}; retrying those operations`, {
      batchId: options.batchId,
      throttled: throttled.length,
      of: pending.length,
      round: round + 1,
      waitMs: delay,
    });
    result.throttledRetries += throttled.length;
    await wait(delay);
    pending = [...throttled, ...unanswered];
  }
  return result;
}

/** Outcome code of the operations of a first-round request that failed as a whole (no status). */
const REQUEST_FAILED = 'BulkRequestFailed';

/** The service takes at most 100 operations in one bulk request. */
const OPERATIONS_PER_REQUEST = 100;
/** Bulk requests of one batch in flight at once (a batch is a few hundred documents). */
const REQUESTS_IN_FLIGHT = 4;

/**
 * First attempt of a batch: bulk requests of ≤ 100 operations, one outcome per operation, in order.
 * Not `executeBulkOperations`: in @azure/cosmos 4.9 every call of it sleeps 1 s before it sends its last,
 * partly filled batch, so each message took ≥ 1 s and the writer ran at about a third of what the
 * endpoint takes (docs/performance.md). Per-operation statuses (429 with retryAfterMilliseconds, 413, …)
 * come back as before. A request that fails as a whole (5xx, a cut connection, a 429 the SDK's own
 * retries did not overcome) loses its status inside `items.bulk`: its operations come back as
 * REQUEST_FAILED and are sent again through executeBulkOperations, which keeps statuses.
 */
async function executeInRequests(
  container: Container,
  operations: OperationInput[],
): Promise<BulkOperationResult[]> {
  const outcomes: BulkOperationResult[] = new Array<BulkOperationResult>(operations.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let start = next; start < operations.length; start = next) {
      next += OPERATIONS_PER_REQUEST;
      const chunk = operations.slice(start, start + OPERATIONS_PER_REQUEST);
      try {
        // Deprecated in favour of executeBulkOperations, but sends at once; see above.
        const responses: OperationResponse[] = await container.items.bulk(chunk);
        chunk.forEach((operationInput, i) => {
          const response = responses[i];
          outcomes[start + i] = response
            ? { operationInput, response: response as BulkOperationResult['response'] }
            : {
                operationInput,
                error: new ErrorResponse('No status for this operation in the bulk response.'),
              };
        });
      } catch (e) {
        const error = Object.assign(new ErrorResponse((e as Error).message), {
          code: REQUEST_FAILED,
          cause: e,
        });
        chunk.forEach((operationInput, i) => (outcomes[start + i] = { operationInput, error }));
      }
    }
  };
  await Promise.all(Array.from({ length: REQUESTS_IN_FLIGHT }, worker));
  return outcomes;
}

function statusOf(outcome: BulkOperationResult | undefined): number | string | undefined {
  if (!outcome) return undefined;
  return outcome.response?.statusCode ?? outcome.error?.code;
}

function retryAfterOf(outcome: BulkOperationResult | undefined): number {
  // A 429 inside a bulk response carries the service's retryAfterMilliseconds on the operation.
  const fromOperation = Number(
    (outcome?.response as { retryAfterMilliseconds?: unknown } | undefined)?.retryAfterMilliseconds,
  );
  if (Number.isFinite(fromOperation) && fromOperation > 0) return fromOperation;
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
