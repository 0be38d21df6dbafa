import { startAzurite, startCosmos, type AzuriteHandle, type CosmosHandle } from '../local/services';
import type { BenchSimulator } from './simulatorClient';

/** Fresh storage and Cosmos stand-in for one measured phase, so every phase starts from an empty state. */
export interface BenchStores {
  azurite: AzuriteHandle;
  cosmos: CosmosHandle;
  /** Settings for the collector and writer child processes, as a user would set them. */
  env: Record<string, string>;
  stop(): Promise<void>;
}

export const DATABASE = 'auditfeed';
export const CONTAINER = 'records';
export const QUEUE = 'auditfeed-batches';

export async function startStores(
  sim: BenchSimulator,
  settings: Record<string, string> = {},
): Promise<BenchStores> {
  const [azurite, cosmos] = await Promise.all([startAzurite({ inMemory: true }), startCosmos()]);
  const env: Record<string, string> = {
    AUDITFEED_TENANT_IDS: sim.tenants.join(','),
    AUDITFEED_AUTH_MODE: 'secret',
    AUDITFEED_CLIENT_ID: sim.clientId,
    AUDITFEED_CLIENT_SECRET: sim.clientSecret,
    AUDITFEED_API_ENDPOINT: sim.baseUrl,
    AUDITFEED_LOGIN_ENDPOINT: sim.baseUrl,
    AUDITFEED_TLS_CA_FILE: sim.caPemPath,
    AUDITFEED_STORAGE: azurite.connectionString,
    AUDITFEED_COSMOS__accountEndpoint: cosmos.endpoint,
    AUDITFEED_COSMOS__accountKey: cosmos.key,
    AUDITFEED_COSMOS_DATABASE: DATABASE,
    AUDITFEED_COSMOS_CONTAINER: CONTAINER,
    AUDITFEED_QUEUE_NAME: QUEUE,
    ...settings,
  };
  return {
    azurite,
    cosmos,
    env,
    async stop() {
      await Promise.all([azurite.stop(), cosmos.stop()]);
    },
  };
}
