import { startAzurite, type AzuriteHandle } from '../../scripts/local/services';
import { Secret } from '../../shared/secret';
import { createStorageClients, type StorageClients } from '../../shared/storage/clients';
import { readQueueState } from '../../shared/storage/queueState';

describe('readQueueState', () => {
  let azurite: AzuriteHandle;
  let storage: StorageClients;
  beforeAll(async () => {
    azurite = await startAzurite({ inMemory: true });
    storage = createStorageClients({
      kind: 'connectionString',
      connectionString: new Secret(azurite.connectionString),
    });
  });
  afterAll(async () => azurite?.stop());

  it('reports nothing waiting when the queues do not exist yet', async () => {
    expect(await readQueueState(storage.queues, 'absent', new Date())).toEqual({
      queue: 'absent',
      approximateMessages: 0,
      oldestMessageAgeSeconds: null,
      poisonQueue: 'absent-poison',
      poisonMessages: 0,
    });
  });

  it('gives depth, the age of the head of the queue by the clock it is given, and the poison count', async () => {
    const queue = storage.queues.getQueueClient('batches-a');
    await queue.create();
    await queue.sendMessage('first');
    await queue.sendMessage('second');
    const poison = storage.queues.getQueueClient('batches-a-poison');
    await poison.create();
    await poison.sendMessage('bad');
    const [head] = (await queue.peekMessages({ numberOfMessages: 1 })).peekedMessageItems;
    const now = new Date(head!.insertedOn.getTime() + 1_801_000);
    expect(await readQueueState(storage.queues, 'batches-a', now)).toEqual({
      queue: 'batches-a',
      approximateMessages: 2,
      oldestMessageAgeSeconds: 1801,
      poisonQueue: 'batches-a-poison',
      poisonMessages: 1,
    });
  });
});
