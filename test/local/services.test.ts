import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

import { BulkOperationType, type Container } from '@azure/cosmos';
import { BlobServiceClient } from '@azure/storage-blob';
import { QueueServiceClient } from '@azure/storage-queue';

import {
  AZURITE_ACCOUNT_KEY,
  createCosmosClient,
  startAzurite,
  startCosmos,
  stopAll,
  type AzuriteHandle,
  type CosmosHandle,
} from '../../scripts/local/services';

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw err;
  }
}

/** Resolves with the connect error code, or 'connected'. */
function probe(url: string): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = net.connect({ host: hostname, port: Number(port) });
    socket.once('connect', () => {
      socket.destroy();
      resolve('connected');
    });
    socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
  });
}

describe('local services (Azurite + Cosmos stand-in as child processes)', () => {
  let dir: string;
  let azurite: AzuriteHandle;
  let cosmos: CosmosHandle;
  let container: Container;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'auditfeed-services-test-'));
    [azurite, cosmos] = await Promise.all([
      startAzurite({ location: path.join(dir, 'azurite') }),
      startCosmos({ statePath: path.join(dir, 'cosmos', 'state.jsonl') }),
    ]);
  });

  afterAll(async () => {
    await stopAll();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves blobs and queue messages to the pinned storage SDKs on loopback', async () => {
    expect(azurite.blobEndpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/devstoreaccount1$/);
    expect(azurite.queueEndpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/devstoreaccount1$/);
    expect(azurite.connectionString).toContain(`AccountKey=${AZURITE_ACCOUNT_KEY};`);
    expect(azurite.connectionString).toContain(`BlobEndpoint=${azurite.blobEndpoint};`);
    expect(azurite.connectionString).toContain(`QueueEndpoint=${azurite.queueEndpoint};`);

    const blobs = BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient(
      'greetings',
    );
    await blobs.create();
    await blobs.getBlockBlobClient('hello.txt').upload('hello blob', 10);
    const downloaded = await blobs.getBlobClient('hello.txt').downloadToBuffer();
    expect(downloaded.toString()).toBe('hello blob');

    const queue = QueueServiceClient.fromConnectionString(azurite.connectionString).getQueueClient(
      'greetings',
    );
    await queue.create();
    await queue.sendMessage('hello queue');
    const received = await queue.receiveMessages({ numberOfMessages: 1, visibilityTimeout: 1 });
    expect(received.receivedMessageItems.map((m) => m.messageText)).toEqual(['hello queue']);
  });

  it('serves @azure/cosmos over HTTP: container definition, upsert, read, query by pk, bulk', async () => {
    expect(cosmos.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const client = createCosmosClient(cosmos);
    const { database } = await client.databases.createIfNotExists({ id: 'auditfeed' });
    ({ container } = await database.containers.createIfNotExists({
      id: 'events',
      partitionKey: { paths: ['/pk'] },
      defaultTtl: 3600,
    }));
    const { resource: definition } = await container.read();
    expect(definition?.partitionKey?.paths).toEqual(['/pk']);
    expect(definition?.defaultTtl).toBe(3600);

    const { resource: written, etag } = await container.items.upsert({ id: 'a', pk: 'p1', v: 1 });
    expect(written?._etag).toBe(etag);
    const { resource: read } = await container.item('a', 'p1').read<{ v: number; _etag: string }>();
    expect(read?.v).toBe(1);
    expect(read?._etag).toBe(etag);

    const bulk = await container.items.executeBulkOperations(
      ['b', 'c', 'd'].map((id, i) => ({
        operationType: BulkOperationType.Upsert,
        partitionKey: i === 0 ? 'p1' : 'p2',
        resourceBody: { id, pk: i === 0 ? 'p1' : 'p2' },
      })),
    );
    expect(bulk.map((r) => r.response?.statusCode)).toEqual([201, 201, 201]);

    const { resources } = await container.items
      .query<{ id: string }>({
        query: 'SELECT c.id FROM c WHERE c.pk = @pk',
        parameters: [{ name: '@pk', value: 'p1' }],
      })
      .fetchAll();
    expect(resources.map((r) => r.id).sort()).toEqual(['a', 'b']);
  });

  it('restart() crashes Azurite and brings it back on the same ports with acknowledged data', async () => {
    // Written right before the crash, i.e. inside Azurite's 5 s metadata autosave window.
    const blobs = BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient(
      'survivors',
    );
    await blobs.create();
    await blobs.getBlockBlobClient('survivor.txt').upload('still here', 10);
    const queue = QueueServiceClient.fromConnectionString(azurite.connectionString).getQueueClient(
      'survivors',
    );
    await queue.create();
    await queue.sendMessage('me too');

    const { pid: oldPid, blobEndpoint } = azurite;
    await azurite.restart();
    expect(azurite.pid).not.toBe(oldPid);
    expect(isAlive(oldPid)).toBe(false);
    expect(azurite.blobEndpoint).toBe(blobEndpoint);

    const downloaded = await blobs.getBlobClient('survivor.txt').downloadToBuffer();
    expect(downloaded.toString()).toBe('still here');
    const received = await queue.receiveMessages({ numberOfMessages: 1 });
    expect(received.receivedMessageItems.map((m) => m.messageText)).toEqual(['me too']);
  });

  it('restart() SIGKILLs the Cosmos stand-in and the state log keeps every acknowledged write', async () => {
    const { resource: last } = await container.items.upsert({ id: 'last', pk: 'p3', v: 42 });
    const oldPid = cosmos.pid;
    await cosmos.restart();
    expect(cosmos.pid).not.toBe(oldPid);
    expect(isAlive(oldPid)).toBe(false);

    // Same port, so the same client keeps working.
    const { resource: read } = await container.item('last', 'p3').read<Record<string, unknown>>();
    expect(read).toEqual(last);
    const { resource: definition } = await container.read();
    expect(definition?.defaultTtl).toBe(3600);
    const { resources: ids } = await container.items.query<string>('SELECT VALUE c.id FROM c').fetchAll();
    expect(ids.sort()).toEqual(['a', 'b', 'c', 'd', 'last']);
    const { statusCode } = await container.items.upsert({ id: 'after', pk: 'p3' });
    expect(statusCode).toBe(201);
  });

  it('reports start-up failures with the child output', async () => {
    // The launcher cannot read a directory as its state log: it dies before printing its ready line.
    await expect(startCosmos({ statePath: dir })).rejects.toThrow(
      /Cosmos stand-in exited before it was ready \(exit code 1\)[\s\S]*stderr:[\s\S]*EISDIR/,
    );
    await expect(startAzurite({ inMemory: true, timeoutMs: 100 })).rejects.toThrow(
      /Azurite did not become ready within 100 ms; command: .*azurite\.js/,
    );
  });

  it('servers exit on their own when the parent goes away (stdin closes)', async () => {
    // What a SIGKILLed test process leaves behind: its end of the children's stdin pipes closes.
    const local = path.join(__dirname, '../../scripts/local');
    const cwd = path.join(dir, 'orphan');
    mkdirSync(cwd);
    const commands = [
      [path.join(local, 'cosmos-server.cjs'), '--port', '0', '--watch-stdin'],
      [
        ...['-r', path.join(local, 'azurite-preload.cjs'), require.resolve('azurite/dist/src/azurite.js')],
        ...['--blobHost', '127.0.0.1', '--queueHost', '127.0.0.1', '--tableHost', '127.0.0.1'],
        ...['--blobPort', '0', '--queuePort', '0', '--tablePort', '0', '--inMemoryPersistence'],
        ...['--disableTelemetry', '--silent'],
      ],
    ];
    const exits = commands.map(async (args) => {
      const child = spawn(process.execPath, args, {
        cwd,
        env: { ...process.env, AUDITFEED_WATCH_STDIN: '1' },
        stdio: ['pipe', 'pipe', 'inherit'],
      });
      const exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
      let out = '';
      await new Promise((resolve) =>
        child.stdout.on('data', (chunk: Buffer) => {
          out += chunk.toString();
          if (/ready http|Table service is successfully listening/.test(out)) resolve(undefined);
        }),
      );
      child.stdin.end();
      return exited;
    });
    await expect(Promise.all(exits)).resolves.toEqual([0, 0]);
  });

  it('stop() ends the processes, frees the ports and deletes a temp data dir', async () => {
    const scratch = await startAzurite({ inMemory: true });
    const temp = await startAzurite();
    expect(temp.location && existsSync(temp.location)).toBe(true);
    const handles = [azurite, cosmos, scratch, temp];
    const pids = handles.map((h) => h.pid);
    const urls = [azurite.blobEndpoint, azurite.queueEndpoint, cosmos.endpoint, scratch.blobEndpoint];
    expect(await Promise.all(urls.map(probe))).toEqual(urls.map(() => 'connected'));

    await Promise.all([azurite.stop(), cosmos.stop()]);
    await stopAll(); // the other two

    expect(pids.map(isAlive)).toEqual(pids.map(() => false));
    expect(await Promise.all(urls.map(probe))).toEqual(urls.map(() => 'ECONNREFUSED'));
    expect(existsSync(temp.location ?? '')).toBe(false);
    expect(existsSync(path.join(dir, 'azurite'))).toBe(true); // caller-owned location is kept
  });
});
