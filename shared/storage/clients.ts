import { DefaultAzureCredential, ManagedIdentityCredential, type TokenCredential } from '@azure/identity';
import { BlobServiceClient } from '@azure/storage-blob';
import { QueueServiceClient } from '@azure/storage-queue';
import type { IdentityChoice, StorageConnection } from '../config';

/** Container names in the auditfeed storage account. */
export const CONTAINERS = {
  watermarks: 'watermarks',
  /** Claim-check batches too large for a queue message. */
  batches: 'batches',
  /** Records too large for a Cosmos DB item. */
  oversize: 'oversize',
} as const;

export interface StorageClients {
  blobs: BlobServiceClient;
  queues: QueueServiceClient;
}

/** Builds the storage clients for a connection: a connection string locally, managed identity in Azure. */
export function createStorageClients(connection: StorageConnection): StorageClients {
  if (connection.kind === 'connectionString') {
    const cs = connection.connectionString.reveal();
    return {
      blobs: BlobServiceClient.fromConnectionString(cs),
      queues: QueueServiceClient.fromConnectionString(cs),
    };
  }
  const credential = identityCredential(connection.identity);
  return {
    blobs: new BlobServiceClient(connection.blobServiceUri, credential),
    queues: new QueueServiceClient(connection.queueServiceUri, credential),
  };
}

/** The credential for an identity-based connection: the app's managed identity, or the developer's sign-in. */
export function identityCredential(identity: IdentityChoice): TokenCredential {
  if (identity.kind === 'developer') return new DefaultAzureCredential();
  return new ManagedIdentityCredential(identity.clientId ? { clientId: identity.clientId } : {});
}
