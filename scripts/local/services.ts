/**
 * Real local servers for tests and the local runner, started as child processes on free loopback
 * ports: Azurite (blob + queue) and the Cosmos DB stand-in. See DESIGN.md §7.
 */
export {
  AZURITE_ACCOUNT_KEY,
  AZURITE_ACCOUNT_NAME,
  startAzurite,
  type AzuriteHandle,
  type AzuriteOptions,
} from './azurite';
export {
  COSMOS_EMULATOR_KEY,
  createCosmosClient,
  startCosmos,
  type CosmosHandle,
  type CosmosOptions,
} from './cosmos';
export { stopAll } from './processes';
