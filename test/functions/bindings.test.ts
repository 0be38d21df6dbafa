import type { StorageQueueFunctionOptions, TimerFunctionOptions } from '@azure/functions';
import { readHostSettings } from '../../shared/hostSettings';
import {
  buildMessages,
  countAll,
  exchangeRecord,
  startWriterStack,
  TENANT,
  type WriterStack,
} from '../writer/helpers';

/**
 * The Functions trigger bindings in functions/, loaded as the host loads them (the module registers
 * its functions at import), with `app` captured so their options and handlers can be checked.
 */

const registered = new Map<string, TimerFunctionOptions | StorageQueueFunctionOptions>();
jest.mock('@azure/functions', () => ({
  app: {
    timer: (name: string, options: TimerFunctionOptions) => registered.set(name, options),
    storageQueue: (name: string, options: StorageQueueFunctionOptions) => registered.set(name, options),
  },
}));

const CLIENT = '0f3a9c27-5e4b-4d1a-8c6f-2b7e9d0a1c35';

function load(module: 'collector' | 'collectorWorker' | 'writer', env: Record<string, string>): void {
  const saved = { ...process.env };
  Object.assign(process.env, env);
  try {
    jest.isolateModules(() => {
      // The host loads the compiled module the same way: registration happens at require time.
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      require(`../../functions/${module}`);
    });
  } finally {
    process.env = saved;
  }
}

interface LoggedLine {
  level: string;
  text: string;
}

function context(triggerMetadata: Record<string, unknown>, lines: LoggedLine[]) {
  return {
    triggerMetadata,
    log: (text: string) => lines.push({ level: 'info', text }),
    warn: (text: string) => lines.push({ level: 'warn', text }),
    error: (text: string) => lines.push({ level: 'error', text }),
  };
}

// The writer's start-up check logs to the console (the host's own log); not needed here.
beforeAll(() => jest.spyOn(console, 'log').mockImplementation(() => undefined));
afterAll(() => jest.restoreAllMocks());

describe('functions/collector', () => {
  const env = {
    AUDITFEED_TENANT_IDS: TENANT,
    AUDITFEED_CLIENT_ID: CLIENT,
    AUDITFEED_AUTH_MODE: 'secret',
    AUDITFEED_CLIENT_SECRET: 'not-used',
    AUDITFEED_STORAGE: 'UseDevelopmentStorage=true',
    AUDITFEED_COSMOS__accountEndpoint: 'http://127.0.0.1:1',
  };

  it('registers a timer on the default schedule, or the configured one, never on start-up', () => {
    registered.clear();
    load('collector', env);
    expect(registered.get('collector')).toMatchObject({ schedule: '0 */5 * * * *', runOnStartup: false });
    load('collector', { ...env, AUDITFEED_COLLECT_SCHEDULE: '0 */15 * * * *' });
    expect(registered.get('collector')).toMatchObject({ schedule: '0 */15 * * * *' });
  });

  it('registers collectorWorker on the work queue of AUDITFEED_STORAGE; a malformed task fails', async () => {
    registered.clear();
    load('collectorWorker', env);
    expect(registered.get('collectorWorker')).toMatchObject({
      queueName: 'auditfeed-collect',
      connection: 'AUDITFEED_STORAGE',
    });
    load('collectorWorker', { ...env, AUDITFEED_WORK_QUEUE_NAME: 'tasks-x' });
    const options = registered.get('collectorWorker') as StorageQueueFunctionOptions;
    expect(options.queueName).toBe('tasks-x');
    // Refused before any storage call: retried by the host, then poison.
    await expect(
      options.handler('{"v":7}', context({ id: 't-1', dequeueCount: 1 }, []) as never),
    ).rejects.toThrow(/Collection task has version 7/);
  });

  it('refuses a work queue that is the batch queue', () => {
    expect(() => load('collectorWorker', { ...env, AUDITFEED_WORK_QUEUE_NAME: 'auditfeed-batches' })).toThrow(
      /AUDITFEED_WORK_QUEUE_NAME="auditfeed-batches": must differ from AUDITFEED_QUEUE_NAME/,
    );
  });

  it('stops the host at start-up on a bad setting, naming it', () => {
    expect(() => load('collector', { ...env, AUDITFEED_COLLECT_SCHEDULE: 'every 5 minutes' })).toThrow(
      /AUDITFEED_COLLECT_SCHEDULE="every 5 minutes"/,
    );
  });
});

describe('functions/writer', () => {
  let stack: WriterStack;
  beforeAll(async () => {
    stack = await startWriterStack();
  });
  afterAll(async () => stack?.stop());

  function writerEnv(container: string): Record<string, string> {
    return {
      AUDITFEED_TENANT_IDS: TENANT,
      AUDITFEED_CLIENT_ID: CLIENT,
      AUDITFEED_AUTH_MODE: 'secret',
      AUDITFEED_CLIENT_SECRET: 'not-used',
      AUDITFEED_STORAGE: stack.azurite.connectionString,
      AUDITFEED_COSMOS__accountEndpoint: stack.cosmos.endpoint,
      AUDITFEED_COSMOS__accountKey: stack.cosmos.key,
      AUDITFEED_COSMOS_CONTAINER: container,
      AUDITFEED_QUEUE_NAME: 'bindings-queue',
    };
  }

  it('is triggered by the configured queue on AUDITFEED_STORAGE and writes a delivered message', async () => {
    registered.clear();
    load('writer', writerEnv('bindings'));
    const options = registered.get('writer') as StorageQueueFunctionOptions;
    expect(options).toMatchObject({ queueName: 'bindings-queue', connection: 'AUDITFEED_STORAGE' });

    const records = [exchangeRecord(1), exchangeRecord(2), exchangeRecord(3)];
    const [message] = await buildMessages(stack.storage, records);
    const lines: LoggedLine[] = [];
    await options.handler(message, context({ id: 'm-1', dequeueCount: 1 }, lines) as never);

    const container = stack.cosmosClient.database('auditfeed').container('bindings');
    expect(await countAll(container)).toBe(3);
    expect(lines.find((l) => l.text.startsWith('Batch written'))?.text).toContain('"messageId":"m-1"');
  });

  it("passes the delivery's id and dequeue count on, and keeps a copy on host.json's last attempt", async () => {
    registered.clear();
    load('writer', writerEnv('bindings-bad'));
    const options = registered.get('writer') as StorageQueueFunctionOptions;
    const last = readHostSettings().queues.maxDequeueCount;
    const lines: LoggedLine[] = [];

    await expect(
      options.handler('{"v":99}', context({ id: 'm-bad', dequeueCount: last }, lines) as never),
    ).rejects.toThrow(/version/);

    const failure = lines.find((l) => l.level === 'error' && l.text.startsWith('Writer failed'));
    expect(failure?.text).toContain('"messageId":"m-bad"');
    expect(failure?.text).toContain(`"dequeueCount":${last}`);
    expect(lines.map((l) => l.text).join('\n')).toContain(
      'Message failed its last attempt and goes to the poison queue; a copy is kept',
    );
  });
});
