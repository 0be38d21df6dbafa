import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { QueueClient } from '@azure/storage-queue';
import { startSimulator, type Simulator, type SimulatorOptions } from '../../scripts/simulator';
import { startAzurite, type AzuriteHandle } from '../../scripts/local/services';
import type { CollectorOptions } from '../../shared/collector/collector';
import { loadConfig, type AuditfeedConfig } from '../../shared/config';
import { decodeEnvelope, unpackBatch, type Envelope } from '../../shared/messages/envelope';
import { CollectorRuntime } from '../../shared/runtime';

/**
 * The collector's real surroundings for a test: Azurite and the HTTPS simulator on loopback, and a
 * configuration that points at them through the same settings a user would set, with a real
 * @azure/identity client-secret credential.
 */
export interface CollectorStack {
  sim: Simulator;
  azurite: AzuriteHandle;
  env: Record<string, string>;
  config: AuditfeedConfig;
  runtime(settings?: Record<string, string>): CollectorRuntime;
  /** Runs one collector pass at the simulator's current time. */
  collect(
    runtime: CollectorRuntime,
    overrides?: Partial<CollectorOptions>,
  ): ReturnType<ReturnType<CollectorRuntime['collector']>['run']>;
  queue(): QueueClient;
  /** Reads and deletes every message now on the queue. */
  drain(): Promise<DrainedMessage[]>;
  stop(): Promise<void>;
}

export interface DrainedMessage {
  envelope: Envelope;
  contentIds: string[];
  records: Record<string, unknown>[];
  bytes: number;
}

export async function startCollectorStack(
  simulator: SimulatorOptions,
  settings: Record<string, string> = {},
): Promise<CollectorStack> {
  const [sim, azurite] = await Promise.all([
    startSimulator({ tls: true, ...simulator }),
    startAzurite({ inMemory: true }),
  ]);
  const dir = mkdtempSync(join(tmpdir(), 'auditfeed-stack-'));
  const caFile = join(dir, 'simulator-ca.pem');
  writeFileSync(caFile, sim.caPem!);
  const app = sim.apps[0]!;
  const env: Record<string, string> = {
    AUDITFEED_TENANT_IDS: sim.tenants.join(','),
    AUDITFEED_AUTH_MODE: 'secret',
    AUDITFEED_CLIENT_ID: app.clientId,
    AUDITFEED_CLIENT_SECRET: app.clientSecret!,
    AUDITFEED_API_ENDPOINT: sim.baseUrl,
    AUDITFEED_LOGIN_ENDPOINT: sim.baseUrl,
    AUDITFEED_TLS_CA_FILE: caFile,
    AUDITFEED_STORAGE: azurite.connectionString,
    AUDITFEED_COSMOS__accountEndpoint: 'http://127.0.0.1:1',
    AUDITFEED_COSMOS__accountKey: 'bm90LXVzZWQ=',
    AUDITFEED_MAX_REQUESTS_PER_MINUTE: '60000',
    AUDITFEED_HTTP_TIMEOUT_SECONDS: '5',
    ...settings,
  };
  const config = loadConfig(env);
  const runtimes: CollectorRuntime[] = [];
  const queue = (): QueueClient =>
    new CollectorRuntime(config, silent).storage.queues.getQueueClient(config.queueName);

  return {
    sim,
    azurite,
    env,
    config,
    runtime(extra = {}) {
      const r = new CollectorRuntime(loadConfig({ ...env, ...extra }), silent);
      runtimes.push(r);
      return r;
    },
    async collect(runtime, overrides = {}) {
      await runtime.ensureResources();
      return runtime.collector({ now: () => sim.clock.now(), ...overrides }).run();
    },
    queue,
    async drain() {
      const runtime = new CollectorRuntime(config, silent);
      const q = runtime.storage.queues.getQueueClient(config.queueName);
      const batches = runtime.storage.blobs.getContainerClient('batches');
      const drained: DrainedMessage[] = [];
      for (;;) {
        const { receivedMessageItems: items } = await q.receiveMessages({
          numberOfMessages: 32,
          visibilityTimeout: 300,
        });
        if (items.length === 0) break;
        for (const item of items) {
          const envelope = decodeEnvelope(item.messageText);
          const compressed = envelope.blob
            ? await batches.getBlockBlobClient(envelope.blob.name).downloadToBuffer()
            : Buffer.from(envelope.data!, 'base64');
          const batch = unpackBatch(compressed, envelope.enc, envelope.batchId);
          drained.push({
            envelope,
            contentIds: batch.contentIds,
            records: batch.records,
            bytes: Buffer.byteLength(item.messageText),
          });
          await q.deleteMessage(item.messageId, item.popReceipt);
        }
      }
      return drained;
    },
    async stop() {
      for (const r of runtimes) r.close();
      await Promise.all([sim.stop(), azurite.stop()]);
    },
  };
}

const silent = { info: () => undefined, warn: () => undefined, error: () => undefined };

/** Record id → how many times it arrived. */
export function countIds(messages: DrainedMessage[], into = new Map<string, number>()): Map<string, number> {
  for (const m of messages) {
    for (const r of m.records) {
      if (typeof r.Id === 'string') into.set(r.Id, (into.get(r.Id) ?? 0) + 1);
    }
  }
  return into;
}
