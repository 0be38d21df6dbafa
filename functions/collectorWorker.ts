import { app, type InvocationContext } from '@azure/functions';
import { loadConfig } from '../shared/config';
import { collectTask } from '../shared/handlers/collectTask';
import { consoleLogger, contextLogger } from '../shared/logging';
import { CollectorRuntime } from '../shared/runtime';

// Validated at start-up: a bad setting stops the host with a message naming it.
const config = loadConfig();
// Clients, pacers and token caches live as long as the worker process.
const runtime = new CollectorRuntime(config, consoleLogger);

// Fanout mode: one tenant × content type per message, on as many instances as Functions scales to. In
// inline mode the timer sends nothing and this function idles on an empty queue.
app.storageQueue('collectorWorker', {
  queueName: config.workQueueName,
  // Same connection as the writer: a connection string locally, __queueServiceUri + identity in Azure.
  connection: 'AUDITFEED_STORAGE',
  handler: async (message: unknown, context: InvocationContext): Promise<void> => {
    await collectTask(runtime, message, contextLogger(context));
  },
});
