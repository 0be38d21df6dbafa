import path from 'node:path';

import { CosmosClient, type CosmosClientOptions } from '@azure/cosmos';

import { localScript, registerService, ServerProcess, unregisterService } from './processes';

/** The Cosmos DB emulator's well-known key (public); the stand-in accepts any key. */
export const COSMOS_EMULATOR_KEY =
  'C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw==';

const HOST = '127.0.0.1';
const DEFAULT_TIMEOUT_MS = 20_000;

export interface CosmosOptions {
  /**
   * Persist the account to this file (append-only log written before each change is applied, compacted
   * at start), so restart() — even a SIGKILL — keeps every acknowledged write. Without it, memory only.
   */
  statePath?: string;
  /** Start-up timeout; default 20 s. */
  timeoutMs?: number;
}

export interface CosmosHandle {
  /** http://127.0.0.1:PORT (HTTP, not HTTPS) */
  endpoint: string;
  /** The well-known emulator key (any key is accepted by the stand-in). */
  key: string;
  /** State file, if persistent. */
  statePath: string | undefined;
  /** PID of the current server process (changes on restart). */
  readonly pid: number;
  /**
   * Crash (SIGKILL) and start again on the same port. With statePath all acknowledged writes survive;
   * without it the account starts empty.
   */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

const READY = /cosmos-server ready http:\/\/[^\s]*:(\d+)/;

/**
 * Starts the Cosmos DB stand-in (@vercel/cosmosdb-server, plain HTTP) in a child process on a free
 * loopback port, through scripts/local/cosmos-server.cjs. See that file for the state log.
 */
export async function startCosmos(options: CosmosOptions = {}): Promise<CosmosHandle> {
  const launcher = localScript('cosmos-server.cjs');
  // Absolute, so the file does not depend on the working directory of whoever restarts the server.
  const statePath = options.statePath === undefined ? undefined : path.resolve(options.statePath);
  const launch = (port: number): Promise<{ process: ServerProcess; ready: number }> =>
    ServerProcess.start({
      name: 'Cosmos stand-in',
      timeoutMs: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
      ready: (stdout) => {
        const match = READY.exec(stdout);
        return match ? Number(match[1]) : undefined;
      },
      args: [
        launcher,
        ...['--host', HOST, '--port', String(port), '--watch-stdin'],
        ...(statePath === undefined ? [] : ['--state', statePath]),
      ],
    });

  const started = await launch(0);
  let current = started.process;
  const port = started.ready;
  let queue: Promise<void> = Promise.resolve();
  const serialize = (fn: () => Promise<void>): Promise<void> => {
    const next = queue.then(fn);
    queue = next.catch(() => undefined);
    return next;
  };
  let stopped = false;

  const service = {
    stop: (): Promise<void> =>
      serialize(async () => {
        if (stopped) return;
        stopped = true;
        await current.stop();
        unregisterService(service);
      }),
    // Every write is already on disk, so a hard kill loses nothing.
    stopNowSync: (): void => current.signal('SIGKILL'),
  };
  registerService(service);

  return {
    endpoint: `http://${HOST}:${port}`,
    key: COSMOS_EMULATOR_KEY,
    statePath,
    get pid() {
      return current.pid;
    },
    restart: () =>
      serialize(async () => {
        if (stopped) throw new Error('Cosmos stand-in: restart() after stop()');
        await current.kill();
        current = (await launch(port)).process;
      }),
    stop: service.stop,
  };
}

/**
 * A CosmosClient set up for the stand-in: no endpoint discovery (the stand-in advertises https:// URLs
 * for its "regions", and discovery would also start a background refresh timer). `overrides` are merged
 * in last (e.g. retryOptions for chaos tests).
 */
export function createCosmosClient(
  handle: { endpoint: string; key: string },
  overrides: Partial<CosmosClientOptions> = {},
): CosmosClient {
  return new CosmosClient({
    endpoint: handle.endpoint,
    key: handle.key,
    ...overrides,
    connectionPolicy: {
      enableEndpointDiscovery: false,
      enableBackgroundEndpointRefreshing: false,
      ...overrides.connectionPolicy,
    },
  });
}
