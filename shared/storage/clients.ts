import { ManagedIdentityCredential } from '@azure/identity';
import { BlobServiceClient } from '@azure/storage-blob';
import { QueueServiceClient } from '@azure/storage-queue';
import type { StorageConnection } from '../config';

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
  const credential = new ManagedIdentityCredential(connection.clientId ? { clientId: connection.clientId } : {});
  return {
    blobs: new BlobServiceClient(connection.blobServiceUri, credential),
    queues: new QueueServiceClient(connection.queueServiceUri, credential),
  };
}
