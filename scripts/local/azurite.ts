import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { localScript, registerService, ServerProcess, unregisterService } from './processes';

/** Azurite's well-known development account (public, documented by Microsoft). */
export const AZURITE_ACCOUNT_NAME = 'devstoreaccount1';
export const AZURITE_ACCOUNT_KEY =
  'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

const HOST = '127.0.0.1';
const DEFAULT_TIMEOUT_MS = 20_000;

export interface AzuriteOptions {
  /** Data directory; default: a fresh temp dir, deleted by stop(). Not allowed with inMemory. */
  location?: string;
  /** Keep everything in memory (restart() then loses all data). */
  inMemory?: boolean;
  /** No access log on stdout; default true. */
  silent?: boolean;
  /** Start-up timeout; default 20 s. */
  timeoutMs?: number;
}

export interface AzuriteHandle {
  /** e.g. http://127.0.0.1:PORT/devstoreaccount1 */
  blobEndpoint: string;
  queueEndpoint: string;
  /** Explicit connection string: devstoreaccount1, its well-known key and both endpoints. */
  connectionString: string;
  /** Data directory, undefined when in memory. */
  location: string | undefined;
  /** PID of the current Azurite process (changes on restart). */
  readonly pid: number;
  /**
   * Crash and start again on the same ports with the same data location. The crash cuts off requests
   * in flight like `kill -9`, but everything Azurite acknowledged survives when persistent (see
   * azurite-preload.cjs); in memory, all data is lost.
   */
  restart(): Promise<void>;
  /** Graceful stop (SIGTERM, SIGKILL after 5 s); deletes the data dir if startAzurite created it. */
  stop(): Promise<void>;
}

interface Ports {
  blob: number;
  queue: number;
}

const LISTENING = /Azurite (Blob|Queue|Table) service is successfully listening at https?:\/\/[^\s]*:(\d+)/g;

function parseReady(stdout: string): Ports | undefined {
  const ports = new Map<string, number>();
  for (const match of stdout.matchAll(LISTENING)) ports.set(match[1] ?? '', Number(match[2]));
  // Table is started last; waiting for it means Azurite finished its start-up sequence.
  const blob = ports.get('Blob');
  const queue = ports.get('Queue');
  return blob && queue && ports.has('Table') ? { blob, queue } : undefined;
}

/**
 * Starts Azurite (blob + queue; its table service listens too, on a free port nobody uses) as a child
 * process on free loopback ports. Azurite's own entry is run directly with `process.execPath` so it can
 * be stopped by PID.
 */
export async function startAzurite(options: AzuriteOptions = {}): Promise<AzuriteHandle> {
  const inMemory = options.inMemory ?? false;
  if (inMemory && options.location !== undefined) {
    throw new Error('startAzurite: location and inMemory are mutually exclusive');
  }
  // Directories we created (temp location, or the working dir of an in-memory Azurite) are ours to delete.
  const ownsDir = options.location === undefined;
  const location = inMemory
    ? undefined
    : path.resolve(options.location ?? mkdtempSync(path.join(os.tmpdir(), 'auditfeed-azurite-')));
  // Azurite runs in its data dir; in memory, in a temp dir, as it still writes bookkeeping to its cwd.
  const cwd = location ?? mkdtempSync(path.join(os.tmpdir(), 'auditfeed-azurite-mem-'));
  try {
    mkdirSync(cwd, { recursive: true });
  } catch (err) {
    throw new Error(`startAzurite: cannot create data dir ${cwd}: ${(err as Error).message}`);
  }
  const entry = require.resolve('azurite/dist/src/azurite.js');
  const preload = localScript('azurite-preload.cjs');
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;

  const launch = (ports: Ports): Promise<{ process: ServerProcess; ready: Ports }> =>
    ServerProcess.start({
      name: 'Azurite',
      cwd,
      env: { ...process.env, AUDITFEED_WATCH_STDIN: '1' },
      timeoutMs,
      ready: parseReady,
      args: [
        '-r',
        preload,
        entry,
        ...['--blobHost', HOST, '--queueHost', HOST, '--tableHost', HOST],
        ...['--blobPort', String(ports.blob), '--queuePort', String(ports.queue), '--tablePort', '0'],
        '--skipApiVersionCheck',
        '--disableTelemetry',
        '--loose',
        ...(options.silent === false ? [] : ['--silent']),
        ...(location === undefined ? ['--inMemoryPersistence'] : ['--location', location]),
      ],
    });

  let started: { process: ServerProcess; ready: Ports };
  try {
    // Port 0: Azurite binds free ports and prints them, so there is no window for another process.
    started = await launch({ blob: 0, queue: 0 });
  } catch (err) {
    removeDir(ownsDir ? cwd : undefined);
    throw err;
  }
  let current = started.process;
  const ports = started.ready;
  const blobEndpoint = `http://${HOST}:${ports.blob}/${AZURITE_ACCOUNT_NAME}`;
  const queueEndpoint = `http://${HOST}:${ports.queue}/${AZURITE_ACCOUNT_NAME}`;
  let queue: Promise<void> = Promise.resolve();
  // restart() and stop() must not interleave.
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
        removeDir(ownsDir ? cwd : undefined);
      }),
    stopNowSync: (): void => {
      if (ownsDir) {
        // Throw-away data: no need to let it flush.
        current.signal('SIGKILL');
        removeDir(cwd);
      } else {
        current.signal('SIGTERM');
      }
    },
  };
  registerService(service);

  return {
    blobEndpoint,
    queueEndpoint,
    connectionString:
      `DefaultEndpointsProtocol=http;AccountName=${AZURITE_ACCOUNT_NAME};AccountKey=${AZURITE_ACCOUNT_KEY};` +
      `BlobEndpoint=${blobEndpoint};QueueEndpoint=${queueEndpoint};`,
    location,
    get pid() {
      return current.pid;
    },
    restart: () =>
      serialize(async () => {
        if (stopped) throw new Error('Azurite: restart() after stop()');
        // SIGUSR2 = flush metadata synchronously, then SIGKILL itself (azurite-preload.cjs).
        current.signal('SIGUSR2', false);
        if (!(await current.waitForExit(5_000))) await current.kill();
        current = (await launch(ports)).process;
      }),
    stop: service.stop,
  };
}

function removeDir(dir: string | undefined): void {
  if (dir === undefined) return;
  try {
    rmSync(dir, { recursive: true, force: true });
  } catch {
    // Best effort: a leftover temp dir is harmless.
  }
}
