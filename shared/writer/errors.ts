import { AuditfeedError } from '../errors';

/** The Cosmos DB container exists with a partition key the writer cannot use. Nothing is written. */
export class ContainerMismatchError extends AuditfeedError {
  constructor(
    readonly database: string,
    readonly container: string,
    readonly actualPartitionKey: string,
    readonly expectedPartitionKey: string,
  ) {
    super(
      `Cosmos DB container "${database}/${container}" has partition key ${actualPartitionKey}, but auditfeed ` +
        `needs ${expectedPartitionKey} (single path, kind Hash). A partition key cannot be changed: point ` +
        `AUDITFEED_COSMOS_CONTAINER at a new container, or recreate this one with partition key ${expectedPartitionKey}. ` +
        'No documents were written.',
      'CosmosContainerMismatch',
    );
  }
}

/** The database or container is missing or unreadable and this identity cannot fix that. */
export class CosmosProvisioningError extends AuditfeedError {
  constructor(message: string, cause?: unknown) {
    super(message, 'CosmosProvisioningFailed', { cause });
  }
}

/** One failed bulk operation, for logs: never the document body. */
export interface FailedOperation {
  id: string;
  pk: string;
  status: number | string | undefined;
  substatus?: number;
  message?: string;
}

/** Upserting documents failed; the invocation fails so the queue retries the message. */
export class CosmosWriteError extends AuditfeedError {
  constructor(
    message: string,
    readonly failures: FailedOperation[],
    code = 'CosmosWriteFailed',
    cause?: unknown,
  ) {
    super(message, code, { cause });
  }
}

/** Operations were still throttled (429) after the writer's own retries. */
export class CosmosThrottledError extends CosmosWriteError {
  constructor(message: string, failures: FailedOperation[]) {
    super(message, failures, 'CosmosThrottled');
  }
}

/**
 * A claim-check message whose blob is gone without the writer's "written" marker: the batch was not
 * written by auditfeed and cannot be recovered from the message alone. Fails so the message lands in the
 * poison queue, where it stays visible to an operator.
 */
export class ClaimCheckMissingError extends AuditfeedError {
  constructor(
    readonly blobContainer: string,
    readonly blobName: string,
    readonly batchId: string,
  ) {
    super(
      `Claim-check blob ${blobContainer}/${blobName} of batch ${batchId} does not exist and no "written" marker says an ` +
        'earlier attempt stored it. Its records cannot be recovered from the message; the message goes to the poison ' +
        'queue. Check for deletions of the claim-check container (lifecycle rules, manual clean-up).',
      'ClaimCheckMissing',
    );
  }
}
