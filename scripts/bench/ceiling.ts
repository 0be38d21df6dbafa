import { randomUUID } from 'node:crypto';
import {
  BulkOperationType,
  type Container,
  type CosmosClient,
  type JSONObject,
  type OperationInput,
} from '@azure/cosmos';
import type { QueueClient } from '@azure/storage-queue';
import pLimit from 'p-limit';
import { decodeEnvelope, unpackBatch } from '../../shared/messages/envelope';
import { containerDefinition } from '../../shared/writer/cosmosContainer';
import { toDocument, type AuditDocument } from '../../shared/writer/documents';
import { cpuMeter } from './cpu';

/**
 * The same run's ceilings: how fast the same Cosmos endpoint takes the same documents, and the same
 * Azurite takes same-sized messages, from one process with the pipeline's concurrency and nothing else
 * in the way (no decoding, mapping, fetching or compressing).
 */

/** Documents and message texts taken from the queue the collector filled, as the writer would see them. */
export interface Sample {
  /** One group per message, mapped and de-duplicated as the writer does. */
  groups: AuditDocument[][];
  /** The message texts, for the enqueue ceiling. */
  texts: string[];
  records: number;
}

/**
 * Reads messages off the front of the queue until `maxRecords` records are in hand, then makes them
 * visible again, so the writer still gets every one. Claim-check messages are left out (no blob reads).
 */
export async function captureSample(queue: QueueClient, maxRecords: number): Promise<Sample> {
  const sample: Sample = { groups: [], texts: [], records: 0 };
  const leased: { messageId: string; popReceipt: string }[] = [];
  const ingestedAt = new Date().toISOString();
  while (sample.records < maxRecords) {
    const { receivedMessageItems } = await queue.receiveMessages({
      numberOfMessages: 32,
      visibilityTimeout: 600,
    });
    if (receivedMessageItems.length === 0) break;
    for (const m of receivedMessageItems) {
      leased.push({ messageId: m.messageId, popReceipt: m.popReceipt });
      const envelope = decodeEnvelope(m.messageText);
      if (envelope.data === undefined) continue;
      const batch = unpackBatch(Buffer.from(envelope.data, 'base64'), envelope.enc, envelope.batchId);
      const byKey = new Map<string, AuditDocument>();
      for (const record of batch.records) {
        const mapped = toDocument(record, {
          tenantId: envelope.tenantId,
          contentType: envelope.contentType,
          ingestedAt,
        });
        if (mapped.ok) byKey.set(`${mapped.document.pk}\u0000${mapped.document.id}`, mapped.document);
      }
      sample.groups.push([...byKey.values()]);
      sample.texts.push(m.messageText);
      sample.records += batch.records.length;
    }
  }
  const release = pLimit(16);
  await Promise.all(
    leased.map((m) => release(() => queue.updateMessage(m.messageId, m.popReceipt, undefined, 0))),
  );
  return sample;
}

export type BulkMode =
  /** `executeBulkOperations`, one call per message's documents: what the writer does. */
  | 'perMessage'
  /** `executeBulkOperations`, the whole sample in `concurrency` large calls: the SDK's best case. */
  | 'largeCalls'
  /** The SDK's older `items.bulk` in requests of ≤ 100 operations: no client-side batching delay. */
  | 'requests100';

export interface RateResult {
  mode: string;
  items: number;
  seconds: number;
  perSecond: number;
  failed: number;
  /** CPU ms of the bench process (the client) and of the server while this ran; absent when not measured. */
  cpuMs?: { client: number; server?: number };
}

/** Upserts the sample into a new container with the writer's definition (same endpoint, same policy). */
export async function bulkCeiling(
  client: CosmosClient,
  database: string,
  sample: Sample,
  mode: BulkMode,
  concurrency: number,
  serverPid?: number,
): Promise<RateResult> {
  const { container } = await client.database(database).containers.createIfNotExists(
    containerDefinition({
      database,
      container: `ceiling-${mode}-${randomUUID().slice(0, 8)}`,
      retentionDays: 180,
    }),
  );
  const groups = groupsFor(sample, mode, concurrency);
  const limit = pLimit(concurrency);
  let ok = 0;
  let failed = 0;
  const started = Date.now();
  const clientCpu = process.cpuUsage();
  const server = cpuMeter(serverPid === undefined ? {} : { server: serverPid });
  await Promise.all(
    groups.map((group) =>
      limit(async () => {
        const statuses = await upsert(container, group.map(operation), mode);
        for (const s of statuses) {
          if (s >= 200 && s < 300) ok++;
          else failed++;
        }
      }),
    ),
  );
  const seconds = (Date.now() - started) / 1000;
  const used = process.cpuUsage(clientCpu);
  const cpuMs = { client: (used.user + used.system) / 1000, ...server.stop() };
  await container.delete();
  return { mode, items: ok, seconds, perSecond: ok / seconds, failed, cpuMs };
}

function groupsFor(sample: Sample, mode: BulkMode, concurrency: number): AuditDocument[][] {
  if (mode === 'perMessage') return sample.groups;
  const all = sample.groups.flat();
  const size = mode === 'requests100' ? 100 : Math.ceil(all.length / concurrency);
  const out: AuditDocument[][] = [];
  for (let i = 0; i < all.length; i += size) out.push(all.slice(i, i + size));
  return out;
}

function operation(doc: AuditDocument): OperationInput {
  return {
    operationType: BulkOperationType.Upsert,
    partitionKey: doc.pk,
    resourceBody: doc as unknown as JSONObject,
  };
}

async function upsert(container: Container, ops: OperationInput[], mode: BulkMode): Promise<number[]> {
  if (mode === 'requests100') {
    // Deprecated in favour of executeBulkOperations, measured on purpose: see docs/performance.md.
    const results = await container.items.bulk(ops);
    return results.map((r) => r.statusCode);
  }
  const results = await container.items.executeBulkOperations(ops);
  return results.map((r) => Number(r.response?.statusCode ?? r.error?.code ?? 0));
}

/**
 * Sends `count` messages (the sample's texts, round robin) into a new queue of the same Azurite with
 * `concurrency` senders, each waiting for its previous send — as the collector's one batcher per content
 * type does — and with the sink's options.
 */
export async function enqueueCeiling(
  queueFor: (name: string) => QueueClient,
  texts: readonly string[],
  count: number,
  concurrency: number,
): Promise<RateResult & { bytes: number }> {
  if (texts.length === 0) throw new Error('enqueue ceiling: no message texts in the sample');
  const queue = queueFor(`ceiling-${randomUUID().slice(0, 8)}`);
  await queue.create();
  let next = 0;
  let sent = 0;
  let failed = 0;
  let bytes = 0;
  const started = Date.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let i = next++; i < count; i = next++) {
        const text = texts[i % texts.length]!;
        try {
          await queue.sendMessage(text, { messageTimeToLive: -1 });
          sent++;
          bytes += Buffer.byteLength(text, 'utf8');
        } catch {
          failed++;
        }
      }
    }),
  );
  const seconds = (Date.now() - started) / 1000;
  await queue.delete();
  return { mode: 'sendMessage', items: sent, seconds, perSecond: sent / seconds, failed, bytes };
}
