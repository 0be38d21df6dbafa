import { app, type InvocationContext, type Timer } from '@azure/functions';
import { loadConfig } from '../shared/config';
import { collect, dispatch } from '../shared/handlers/collect';
import { consoleLogger, contextLogger } from '../shared/logging';
import { CollectorRuntime } from '../shared/runtime';

// Validated at start-up: a bad setting stops the host with a message naming it.
const config = loadConfig();
// Clients, pacers and token caches live as long as the worker process.
const runtime = new CollectorRuntime(config, consoleLogger);

app.timer('collector', {
  schedule: config.collectSchedule,
  // One instance runs a timer function; a run past due after a restart starts at once.
  runOnStartup: false,
  handler: async (timer: Timer, context: InvocationContext): Promise<void> => {
    // Inline: this run collects every tenant; fanout: it only decides what is due and enqueues tasks.
    if (config.collectMode === 'fanout') await dispatch(runtime, contextLogger(context), timer.isPastDue);
    else await collect(runtime, contextLogger(context), timer.isPastDue);
  },
});
