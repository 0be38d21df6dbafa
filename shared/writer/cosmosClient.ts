import { CosmosClient } from '@azure/cosmos';
import type { CosmosConfig } from '../config';
import { identityCredential } from '../storage/clients';

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

/**
 * The writer's Cosmos DB client: the managed identity in Azure (data-plane RBAC), a key locally. Endpoint
 * discovery is off for a loopback endpoint: the local stand-in advertises https:// region URLs it does
 * not serve.
 */
export function cosmosClientFor(config: CosmosConfig): CosmosClient {
  const local = LOOPBACK.has(new URL(config.endpoint).hostname);
  return new CosmosClient({
    endpoint: config.endpoint,
    ...(config.key !== undefined
      ? { key: config.key.reveal() }
      : { aadCredentials: identityCredential(config.identity) }),
    userAgentSuffix: 'auditfeed-writer',
    ...(local
      ? { connectionPolicy: { enableEndpointDiscovery: false, enableBackgroundEndpointRefreshing: false } }
      : {}),
  });
}
