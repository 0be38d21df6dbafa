/**
 * Runs the real writer in a process of its own, like a Functions worker with the queue trigger: drains
 * the queue with the trigger's delivery semantics (`drainQueue`) and the real `write` handler until it is
 * empty, then prints one JSON line with records, seconds, CPU and the process's peak RSS. Used by
 * `npm run bench`.
 *
 *   AUDITFEED_* settings in the environment;
 *   WRITER_BATCH_SIZE     messages handled at once (default 8, host.json `batchSize`);
 *   WRITER_FOLLOW=1       the collector is still running: keep polling until a line `done` arrives on
 *                         stdin, then drain what is left and stop.
 */
import { createInterface } from 'node:readline';
import { QueueServiceClient } from '@azure/storage-queue';
import { loadConfig } from '../../shared/config';
import { write, type WriteResult } from '../../shared/handlers/write';
import { silentLogger } from '../../shared/logging';
import { decodeEnvelope } from '../../shared/messages/envelope';
import { WriterRuntime } from '../../shared/writerRuntime';
import { drainQueue, type QueueDelivery } from '../local/queueTrigger';

interface Totals {
  messages: number;
  records: number;
  written: number;
  /** Create-only records (backfill) whose document was already there. */
  alreadyStored: number;
  duplicates: number;
  oversize: number;
  rejected: number;
  throttledRetries: number;
  requestCharge: number;
  /** Message text bytes as stored in the queue. */
  encodedBytes: number;
  /** The compressed batch inside the messages (base64-decoded). */
  compressedBytes: number;
  claimChecks: number;
  failed: number;
  poisoned: number;
}

async function main(): Promise<void> {
  const config = loadConfig();
  const runtime = new WriterRuntime(config, silentLogger);
  const batchSize = Number(process.env.WRITER_BATCH_SIZE ?? 8);
  const follow = process.env.WRITER_FOLLOW === '1';
  let collectorDone = !follow;
  if (follow) {
    createInterface({ input: process.stdin }).on('line', (line) => {
      if (line.trim() === 'done') collectorDone = true;
    });
  }
  const storage = config.storage;
  if (storage.kind !== 'connectionString') throw new Error('writerProcess runs against Azurite only');
  const queues = QueueServiceClient.fromConnectionString(storage.connectionString.reveal());
  const queue = queues.getQueueClient(config.queueName);
  const poisonQueue = queues.getQueueClient(`${config.queueName}-poison`);
  await queue.createIfNotExists();
  // Container checks happen once per worker in Azure too; keep them out of the timed part.
  await runtime.ensureResources();

  const t: Totals = {
    messages: 0,
    records: 0,
    written: 0,
    alreadyStored: 0,
    duplicates: 0,
    oversize: 0,
    rejected: 0,
    throttledRetries: 0,
    requestCharge: 0,
    encodedBytes: 0,
    compressedBytes: 0,
    claimChecks: 0,
    failed: 0,
    poisoned: 0,
  };
  const handler = async (m: QueueDelivery): Promise<WriteResult> => {
    const result = await write(
      runtime,
      m.text,
      { messageId: m.id, dequeueCount: m.dequeueCount },
      silentLogger,
    );
    const envelope = decodeEnvelope(m.text);
    t.messages++;
    t.encodedBytes += Buffer.byteLength(m.text, 'utf8');
    if (envelope.blob) {
      t.claimChecks++;
      t.compressedBytes += envelope.blob.bytes;
    } else {
      t.compressedBytes += Buffer.byteLength(envelope.data ?? '', 'base64');
    }
    t.records += result.records;
    t.written += result.written;
    t.alreadyStored += result.alreadyStored;
    t.duplicates += result.duplicates;
    t.oversize += result.oversize;
    t.rejected += result.rejected;
    t.throttledRetries += result.throttledRetries;
    t.requestCharge += result.requestCharge;
    return result;
  };

  const started = Date.now();
  let firstMessageAt: number | undefined;
  let lastReport = started;
  const cpuStart = process.cpuUsage();
  for (;;) {
    const finishing = collectorDone;
    const r = await drainQueue({
      queue,
      poisonQueue,
      handler: (m) => {
        firstMessageAt ??= Date.now();
        return handler(m);
      },
      batchSize,
      visibilityTimeoutSeconds: 1,
      maxDequeueCount: 5,
      timeoutMs: 24 * 3_600_000,
      onError: (m, e) => process.stderr.write(`message ${m.id}: ${(e as Error).message}\n`),
    });
    t.failed += r.failed;
    t.poisoned += r.poisoned.length;
    if (Date.now() - lastReport > 5_000) {
      lastReport = Date.now();
      process.stdout.write(
        `${JSON.stringify({ progress: true, records: t.records, rss: process.memoryUsage().rss })}\n`,
      );
    }
    if (finishing && r.drained) break;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  const finishedAt = Date.now();
  const cpu = process.cpuUsage(cpuStart);
  runtime.close();
  // In follow mode the clock starts with the first message: waiting for the collector is not writing.
  const from = follow ? (firstMessageAt ?? started) : started;
  const seconds = (finishedAt - from) / 1000;
  process.stdout.write(
    `${JSON.stringify({
      done: true,
      ...t,
      seconds,
      startedAt: from,
      finishedAt,
      recordsPerSecond: Math.round(t.records / Math.max(seconds, 0.001)),
      cpuMs: Math.round((cpu.user + cpu.system) / 1000),
      // resourceUsage().maxRSS is in kilobytes.
      maxRssBytes: process.resourceUsage().maxRSS * 1024,
    })}\n`,
  );
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  },
);
