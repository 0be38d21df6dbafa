import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { RestError } from '@azure/storage-blob';
import { loadConfig, SETTINGS, type AuditfeedConfig, type StorageConnection } from '../../shared/config';
import { createStorageClients } from '../../shared/storage/clients';
import { startSimulator, type ScenarioSpec, type Simulator } from '../simulator';
import { localScenario, type LocalScenarioName } from './localScenario';
import { startAzurite, startCosmos, type AzuriteHandle, type CosmosHandle } from './services';

/**
 * What `npm start` runs against: Azurite, the Cosmos DB stand-in and the Management Activity API
 * simulator on free loopback ports, or what the settings point at instead (DESIGN §7):
 * - AUDITFEED_TENANT_IDS set → a real tenant; no simulator.
 * - AUDITFEED_STORAGE (or __blobServiceUri/__queueServiceUri) set → that storage; no Azurite.
 * - AUDITFEED_COSMOS__accountEndpoint set → that Cosmos DB; no stand-in.
 * Otherwise everything is fresh (temp Azurite dir, in-memory Cosmos), or kept under `<stateDir>/data`
 * with `persist`.
 */

export interface LocalStackOptions {
  scenario: LocalScenarioName;
  /** `.local/`: CA file, logs, reports, and persisted data. */
  stateDir: string;
  /** Keep Azurite's and the stand-in's data in `<stateDir>/data` between runs. */
  persist: boolean;
  env: NodeJS.ProcessEnv;
  now?: () => Date;
}

export interface ServiceInfo {
  /** Human description: "Azurite (fresh temp data dir)", "your storage account", … */
  where: string;
  endpoint: string;
  /** Data survives this run. */
  persistent: boolean;
  /** Started by this run (and stopped by it). */
  local: boolean;
}

export interface LocalStack {
  mode: 'simulator' | 'tenant';
  scenario: { name: LocalScenarioName; spec: ScenarioSpec; reused: boolean } | undefined;
  sim: Simulator | undefined;
  config: AuditfeedConfig;
  storage: ServiceInfo;
  cosmos: ServiceInfo & { key: string | undefined };
  caFile: string | undefined;
  /** PIDs of the server processes this run started. */
  pids(): number[];
  stop(): Promise<void>;
}

/**
 * Where `--persist` keeps the data: `<stateDir>/data/azurite` (Azurite's --location) and
 * `<stateDir>/data/cosmos.jsonl` (the stand-in's --state). The README's `func start` recipe uses the same
 * two paths under `.local`, so both ways of running locally see the same storage and records.
 */
export function persistentDataPaths(stateDir: string): { dir: string; azurite: string; cosmos: string } {
  const dir = path.join(stateDir, 'data');
  return { dir, azurite: path.join(dir, 'azurite'), cosmos: path.join(dir, 'cosmos.jsonl') };
}

/** Blob container (in the run's storage account) that remembers the simulated tenant between runs. */
export const LOCAL_CONTAINER = 'auditfeed-local';

const set = (env: NodeJS.ProcessEnv, name: string): boolean => (env[name] ?? '').trim() !== '';

export async function startLocalStack(options: LocalStackOptions): Promise<LocalStack> {
  const { env, stateDir } = options;
  const now = options.now ?? (() => new Date());
  const tenantMode = set(env, SETTINGS.tenantIds.name);
  const externalStorage =
    set(env, SETTINGS.storage.name) ||
    set(env, SETTINGS.storageBlobServiceUri.name) ||
    set(env, SETTINGS.storageQueueServiceUri.name);
  const externalCosmos = set(env, SETTINGS.cosmosEndpoint.name);
  mkdirSync(stateDir, { recursive: true });
  const data = persistentDataPaths(stateDir);

  let azurite: AzuriteHandle | undefined;
  let cosmos: CosmosHandle | undefined;
  let sim: Simulator | undefined;
  const stop = async (): Promise<void> => {
    await Promise.allSettled([sim?.stop(), azurite?.stop(), cosmos?.stop()]);
  };

  try {
    [azurite, cosmos] = await Promise.all([
      externalStorage ? undefined : startAzurite(options.persist ? { location: data.azurite } : {}),
      externalCosmos ? undefined : startCosmos(options.persist ? { statePath: data.cosmos } : {}),
    ]);

    const settings: Record<string, string | undefined> = { ...env };
    if (azurite) settings[SETTINGS.storage.name] = azurite.connectionString;
    if (cosmos) {
      settings[SETTINGS.cosmosEndpoint.name] = cosmos.endpoint;
      settings[SETTINGS.cosmosKey.name] = cosmos.key;
    }
    const storagePersistent = externalStorage || options.persist;

    let scenario: LocalStack['scenario'];
    let caFile: string | undefined;
    if (!tenantMode) {
      const { spec, reused } = storagePersistent
        ? await rememberedScenario(storageOf(settings), options.scenario, now())
        : { spec: localScenario(options.scenario, now()), reused: false };
      scenario = { name: options.scenario, spec, reused };
      // Real time, so --follow sees new activity arrive. A tenant continued from storage had its
      // subscriptions started by the earlier run, and the service would remember them.
      sim = await startSimulator({
        scenario: reused ? { ...spec, subscriptions: { preStarted: true } } : spec,
        tls: true,
      });
      caFile = path.join(stateDir, 'simulator-ca.pem');
      writeFileSync(caFile, sim.caPem ?? '', { mode: 0o600 });
      const app = sim.apps[0];
      if (!app?.clientSecret) throw new Error('the simulated tenant has no app with a client secret');
      Object.assign(settings, {
        [SETTINGS.tenantIds.name]: sim.tenants.join(','),
        [SETTINGS.authMode.name]: 'secret',
        [SETTINGS.clientId.name]: app.clientId,
        [SETTINGS.clientSecret.name]: app.clientSecret,
        [SETTINGS.apiEndpoint.name]: sim.baseUrl,
        [SETTINGS.loginEndpoint.name]: sim.baseUrl,
        [SETTINGS.tlsCaFile.name]: caFile,
      });
      // Against the simulator every run re-lists the whole retention (unless asked otherwise), so the
      // ground-truth check at the end can demand every blob listed late, however late.
      if (!set(env, SETTINGS.sweepIntervalMinutes.name)) settings[SETTINGS.sweepIntervalMinutes.name] = '0';
    }
    const config = loadConfig(settings);

    return {
      mode: tenantMode ? 'tenant' : 'simulator',
      scenario,
      sim,
      config,
      storage: azurite
        ? {
            where: options.persist
              ? `Azurite, data in ${azurite.location ?? ''}`
              : 'Azurite, fresh temp data dir',
            endpoint: `blob ${azurite.blobEndpoint}, queue ${azurite.queueEndpoint}`,
            persistent: options.persist,
            local: true,
          }
        : {
            where: `the account in ${SETTINGS.storage.name}`,
            endpoint: describeStorage(config.storage),
            persistent: true,
            local: false,
          },
      cosmos: cosmos
        ? {
            where: options.persist
              ? `Cosmos DB stand-in, data in ${cosmos.statePath ?? ''}`
              : 'Cosmos DB stand-in, in memory',
            endpoint: cosmos.endpoint,
            key: cosmos.key,
            persistent: options.persist,
            local: true,
          }
        : {
            where: `the account in ${SETTINGS.cosmosEndpoint.name}`,
            endpoint: config.cosmos.endpoint,
            key: undefined,
            persistent: true,
            local: false,
          },
      caFile,
      pids: () => [azurite?.pid, cosmos?.pid].filter((p): p is number => p !== undefined),
      stop,
    };
  } catch (e) {
    await stop();
    throw e;
  }
}

/**
 * The storage connection of these settings, validated by loadConfig like every other setting. The rest
 * of the configuration is not known yet (the simulated tenant depends on what storage remembers), so
 * it is stood in for here.
 */
function storageOf(settings: Record<string, string | undefined>): StorageConnection {
  const placeholder = '00000000-0000-4000-8000-000000000000';
  return loadConfig({
    ...settings,
    [SETTINGS.tenantIds.name]: placeholder,
    [SETTINGS.authMode.name]: 'secret',
    [SETTINGS.clientId.name]: placeholder,
    [SETTINGS.clientSecret.name]: 'placeholder',
  }).storage;
}

/**
 * The simulated tenant a persistent store was filled from, so a second run continues the same activity
 * (same tenant, same content) from its watermarks; a new one is saved on first use.
 */
async function rememberedScenario(
  connection: StorageConnection,
  name: LocalScenarioName,
  now: Date,
): Promise<{ spec: ScenarioSpec; reused: boolean }> {
  const container = createStorageClients(connection).blobs.getContainerClient(LOCAL_CONTAINER);
  await container.createIfNotExists();
  const blob = container.getBlockBlobClient(`scenario-${name}.json`);
  try {
    const text = (await blob.downloadToBuffer()).toString('utf8');
    return { spec: JSON.parse(text) as ScenarioSpec, reused: true };
  } catch (e) {
    if (!(e instanceof RestError && e.statusCode === 404)) throw e;
  }
  const spec = localScenario(name, now);
  const body = JSON.stringify(spec, null, 2);
  await blob.upload(body, Buffer.byteLength(body), {
    blobHTTPHeaders: { blobContentType: 'application/json' },
  });
  return { spec, reused: false };
}

function describeStorage(storage: StorageConnection): string {
  if (storage.kind === 'identity') return `blob ${storage.blobServiceUri}, queue ${storage.queueServiceUri}`;
  const cs = storage.connectionString.reveal();
  if (/UseDevelopmentStorage=true/i.test(cs))
    return 'Azurite on its default ports (UseDevelopmentStorage=true)';
  const blob = /BlobEndpoint=([^;]+)/i.exec(cs)?.[1];
  const account = /AccountName=([^;]+)/i.exec(cs)?.[1];
  return blob ? `blob ${blob}` : `account ${account ?? '(unknown)'}`;
}
