import { app, type InvocationContext } from '@azure/functions';
import { loadConfig } from '../shared/config';
import { write } from '../shared/handlers/write';
import { consoleLogger, contextLogger } from '../shared/logging';
import { WriterRuntime } from '../shared/writerRuntime';

// Validated at start-up: a bad setting stops the host with a message naming it.
const config = loadConfig();
// Cosmos and storage clients live as long as the worker process.
const runtime = new WriterRuntime(config, consoleLogger);
// Check the container at start-up so a wrong partition key is reported before the first message.
runtime.ensureResources().catch((e: unknown) => {
  consoleLogger.error(`Writer start-up check failed: ${(e as Error).message}`);
});

app.storageQueue('writer', {
  queueName: config.queueName,
  // Same connection as the collector: a connection string locally, __queueServiceUri + identity in Azure.
  connection: 'AUDITFEED_STORAGE',
  handler: async (message: unknown, context: InvocationContext): Promise<void> => {
    const metadata = context.triggerMetadata ?? {};
    const dequeueCount = Number(metadata.dequeueCount ?? 1);
    await write(
      runtime,
      // messageEncoding is none: the text is the JSON envelope; the worker may already have parsed it.
      message,
      {
        ...(typeof metadata.id === 'string' ? { messageId: metadata.id } : {}),
        dequeueCount: Number.isFinite(dequeueCount) ? dequeueCount : 1,
      },
      contextLogger(context),
    );
  },
});
