import type { StorageQueueFunctionOptions } from '@azure/functions';

/**
 * functions/backfill loaded as the host loads it (registration at require time), with `app` captured so its
 * trigger options can be checked, as test/functions/bindings.test.ts does for the other functions.
 */
const registered = new Map<string, StorageQueueFunctionOptions>();
jest.mock('@azure/functions', () => ({
  app: {
    storageQueue: (name: string, options: StorageQueueFunctionOptions) => registered.set(name, options),
  },
}));

const env = {
  AUDITFEED_TENANT_IDS: '6f1d2c3b-4a59-4e68-9d7c-8b9a0f1e2d3c',
  AUDITFEED_CLIENT_ID: '0f3a9c27-5e4b-4d1a-8c6f-2b7e9d0a1c35',
  AUDITFEED_AUTH_MODE: 'secret',
  AUDITFEED_CLIENT_SECRET: 'not-used',
  AUDITFEED_STORAGE: 'UseDevelopmentStorage=true',
  AUDITFEED_COSMOS__accountEndpoint: 'http://127.0.0.1:1',
};

function load(extra: Record<string, string> = {}): void {
  const saved = { ...process.env };
  Object.assign(process.env, env, extra);
  try {
    jest.isolateModules(() => {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      require('../../functions/backfill');
    });
  } finally {
    process.env = saved;
  }
}

describe('functions/backfill', () => {
  it('is triggered by the backfill queue of AUDITFEED_STORAGE, or the configured one', () => {
    load();
    expect(registered.get('backfill')).toMatchObject({
      queueName: 'auditfeed-backfill',
      connection: 'AUDITFEED_STORAGE',
    });
    load({ AUDITFEED_BACKFILL_QUEUE_NAME: 'history-x' });
    expect(registered.get('backfill')!.queueName).toBe('history-x');
  });

  it('refuses a malformed request before any storage or Graph call', async () => {
    load();
    const handler = registered.get('backfill')!.handler;
    const context = {
      triggerMetadata: {},
      log: () => undefined,
      warn: () => undefined,
      error: () => undefined,
    };
    await expect(handler('{"v":3,"kind":"backfill"}', context as never)).rejects.toThrow(
      /Backfill request has version 3/,
    );
  });

  it('stops the host at start-up when the backfill queue is the batch queue', () => {
    expect(() => load({ AUDITFEED_BACKFILL_QUEUE_NAME: 'auditfeed-batches' })).toThrow(
      /AUDITFEED_BACKFILL_QUEUE_NAME="auditfeed-batches": must differ from the batch and work queues/,
    );
  });
});
