import { app, type InvocationContext } from '@azure/functions';
import { decodeBackfillMessage } from '../shared/backfill/backfillMessage';
import { BackfillRuntime } from '../shared/backfill/backfillRuntime';
import { loadConfig } from '../shared/config';
import { backfillTask } from '../shared/handlers/backfill';
import { contextLogger } from '../shared/logging';

// Validated at start-up: a bad setting stops the host with a message naming it.
const config = loadConfig();
// The Graph client (token caches per tenant) and storage clients live as long as the worker process.
const runtime = new BackfillRuntime(config);

// `auditfeed backfill --submit` stores a request here; each invocation runs the backfill until its deadline
// and re-enqueues a continuation until every window is finished (docs/backfill.md).
app.storageQueue('backfill', {
  queueName: config.backfill.queueName,
  // Same connection as the writer: a connection string locally, __queueServiceUri + identity in Azure.
  connection: 'AUDITFEED_STORAGE',
  handler: async (message: unknown, context: InvocationContext): Promise<void> => {
    // A malformed request fails before any storage or Graph call (retried by the host, then poison).
    decodeBackfillMessage(message);
    await runtime.ensureResources();
    await backfillTask(runtime, message, contextLogger(context));
  },
});
