/**
 * One collectorWorker instance in a process of its own, for the scale bench (`npm run bench -- --tenants N`):
 * drains the work queue with the queue trigger's semantics (scripts/local/queueTrigger.ts: a batch held
 * invisible while it runs, failures retried then poisoned) and runs each task with collectTask, the
 * function's own code. Prints one JSON line when ready, one per task, and one per error; runs until killed.
 *
 *   AUDITFEED_* settings in the environment; at most WORKER_BATCH_SIZE tasks at once (default 12): the host's
 *   batchSize 8 fetched again at newBatchThreshold 4, in that 2:1 split; WORKER_ID names the process in its lines.
 */
import { loadConfig } from '../../shared/config';
import { collectTask } from '../../shared/handlers/collectTask';
import { silentLogger } from '../../shared/logging';
import { CollectorRuntime } from '../../shared/runtime';
import { drainQueue } from '../local/queueTrigger';

const print = (line: Record<string, unknown>): void => void process.stdout.write(`${JSON.stringify(line)}\n`);

async function main(): Promise<void> {
  const config = loadConfig();
  const runtime = new CollectorRuntime(config, silentLogger);
  const worker = process.env.WORKER_ID ?? String(process.pid);
  const slots = Number(process.env.WORKER_BATCH_SIZE ?? 12);
  const newBatchThreshold = Math.floor(slots / 3);
  const batchSize = slots - newBatchThreshold;
  await runtime.ensureResources();
  const queue = runtime.workQueue;
  const poisonQueue = runtime.storage.queues.getQueueClient(`${config.workQueueName}-poison`);
  print({ ready: true, worker, pid: process.pid, batchSize, newBatchThreshold });
  let idleMs = 100;
  for (;;) {
    const result = await drainQueue({
      queue,
      poisonQueue,
      batchSize,
      newBatchThreshold,
      // host.json: a failed task is visible again after 2 minutes, poisoned at the 5th failure.
      visibilityTimeoutSeconds: 120,
      maxDequeueCount: 5,
      timeoutMs: 3_600_000,
      handler: async (m) => {
        const started = Date.now();
        const r = await collectTask(runtime, m.text, silentLogger);
        const s = r.summary;
        print({
          task: true,
          worker,
          outcome: r.outcome,
          dequeueCount: m.dequeueCount,
          queuedMs: started - m.insertedOn.getTime(),
          ms: Date.now() - started,
          finishedAt: Date.now(),
          ...(s
            ? {
                tenantId: s.tenantId,
                contentType: s.contentType,
                result: s.outcome,
                error: s.error,
                cursor: s.cursor,
                lagSeconds: s.lagSeconds,
                windows: s.windows,
                pages: s.pages,
                blobs: s.blobs,
                blobsSkipped: s.blobsSkipped,
                records: s.records,
                messages: s.messages,
                throttles: s.throttles,
                retries: s.retries,
                sweep: s.sweep,
              }
            : {}),
        });
      },
      onError: (m, e) => print({ error: true, worker, dequeueCount: m.dequeueCount, message: String(e) }),
    });
    if (result.poisoned.length > 0) print({ poisoned: result.poisoned.length, worker });
    // The host polls an empty queue with a growing pause (host.json maxPollingInterval 10 s); shorter here,
    // so a compressed planner interval is not eaten by polling.
    idleMs = result.invocations > 0 ? 100 : Math.min(1_000, idleMs * 2);
    await new Promise((r) => setTimeout(r, idleMs));
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
