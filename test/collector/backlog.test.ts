import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startAzurite, type AzuriteHandle } from '../../scripts/local/services';
import { decodeEnvelope } from '../../shared/messages/envelope';
import { QueueServiceClient } from '@azure/storage-queue';
import { startJsonLineChild, type JsonLineChild } from '../../scripts/bench/childProcess';
import { dist } from '../helpers/childProcesses';

/** Collector memory must not grow with the backlog (DESIGN invariant 4). */
const RSS_BOUND_BYTES = 256 * 1024 * 1024;
// 400,000 keeps npm test near 10 minutes on 2 cores; AUDITFEED_BACKLOG_RECORDS=1000000 is the full figure.
const RECORDS = Number(process.env.AUDITFEED_BACKLOG_RECORDS ?? 400_000);

describe(`Collector on a ${RECORDS.toLocaleString('en-US')}-record backlog`, () => {
  let azurite: AzuriteHandle;
  let simulator: JsonLineChild;

  afterAll(async () => {
    await simulator?.stop();
    await azurite?.stop();
  });

  it('processes it across runs with peak RSS under a fixed bound', async () => {
    const hours = 6 * 24;
    const perHour = Math.ceil(RECORDS / hours / 5);
    const now = Date.now();
    const dir = mkdtempSync(join(tmpdir(), 'auditfeed-backlog-'));
    const scenarioFile = join(dir, 'scenario.json');
    writeFileSync(
      scenarioFile,
      JSON.stringify({
        seed: 'backlog',
        tenants: [{ tenantId: '0c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f', users: 500 }],
        activity: {
          start: new Date(now - (hours + 1) * 3_600_000).toISOString(),
          end: new Date(now - 3_600_000).toISOString(),
          recordsPerHour: {
            'Audit.Exchange': perHour,
            'Audit.AzureActiveDirectory': perHour,
            'Audit.SharePoint': perHour,
            'Audit.General': perHour,
            'DLP.All': perHour,
          },
        },
        // Every blob is listable before the run starts (activity ends an hour ago, latency ≤ 30 min), so
        // what the simulator counts as available afterwards is what the runs could see.
        blobs: {
          recordsPerBlob: [60, 140],
          aggregationMinutes: 5,
          latencyMinutes: [1, 30],
          lateFraction: 0,
          duplicateFraction: 0,
        },
        listing: { pageSize: 200 },
        tokenLifetimeSeconds: 3599,
      }),
    );
    [azurite, simulator] = await Promise.all([
      startAzurite({ inMemory: true }),
      Promise.resolve(
        startJsonLineChild(dist('scripts/simulator/cli.js'), ['--scenario', scenarioFile, '--tls']),
      ),
    ]);
    const started = await simulator.waitFor((l) => typeof l.baseUrl === 'string');
    const baseUrl = started.baseUrl as string;
    const app = (started.apps as { clientId: string; clientSecret: string }[])[0]!;
    const tenants = started.tenants as string[];

    const queue = QueueServiceClient.fromConnectionString(azurite.connectionString).getQueueClient(
      'auditfeed-batches',
    );
    await queue.createIfNotExists();
    // Drain as the writer would, so Azurite does not hold the whole backlog; count records per envelope.
    let drained = 0;
    let draining = true;
    const drainer = (async () => {
      while (draining) {
        const { receivedMessageItems: items } = await queue.receiveMessages({ numberOfMessages: 32 });
        if (items.length === 0) {
          await new Promise((r) => setTimeout(r, 200));
          continue;
        }
        await Promise.all(
          items.map(async (item) => {
            drained += decodeEnvelope(item.messageText).count;
            await queue.deleteMessage(item.messageId, item.popReceipt);
          }),
        );
      }
    })();

    const collector = startJsonLineChild(dist('scripts/bench/collectorProcess.js'), [], {
      env: {
        AUDITFEED_TENANT_IDS: tenants.join(','),
        AUDITFEED_AUTH_MODE: 'secret',
        AUDITFEED_CLIENT_ID: app.clientId,
        AUDITFEED_CLIENT_SECRET: app.clientSecret,
        AUDITFEED_API_ENDPOINT: baseUrl,
        AUDITFEED_LOGIN_ENDPOINT: baseUrl,
        AUDITFEED_TLS_CA_FILE: started.caPemPath as string,
        AUDITFEED_STORAGE: azurite.connectionString,
        AUDITFEED_COSMOS__accountEndpoint: 'http://127.0.0.1:1',
        AUDITFEED_COSMOS__accountKey: 'bm90LXVzZWQ=',
        AUDITFEED_MAX_REQUESTS_PER_MINUTE: '60000',
        // Short runs, so the backlog takes several of them, as it would in Azure.
        AUDITFEED_RUN_DEADLINE_SECONDS: '30',
        // A fixed old-space cap: memory that grew with the backlog would end in an out-of-memory crash,
        // and V8's lazy collection cannot hide growth behind a large heap.
        NODE_OPTIONS: '--max-old-space-size=128',
      },
    });
    const done = await collector.waitFor((l) => l.done === true, 540_000);
    await collector.exited;

    const deadline = Date.now() + 60_000;
    while (drained < (done.records as number) && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 200));
    draining = false;
    await drainer;

    const summary = (await getJson(
      `${baseUrl}/_sim/truth/summary`,
      readFileSync(started.caPemPath as string, 'utf8'),
    )) as {
      availableRecordOccurrences: number;
    };
    expect(done.records).toBeGreaterThanOrEqual(RECORDS * 0.99); // the activity model rounds per hour
    expect(done.records).toBe(summary.availableRecordOccurrences);
    expect(drained).toBe(done.records);
    expect(done.passes as number).toBeGreaterThan(1);
    // RSS at the end of each pass does not climb with the work done.
    const rss = collector.lines.filter((l) => typeof l.rss === 'number').map((l) => l.rss as number);
    expect(Math.max(...rss)).toBeLessThan(RSS_BOUND_BYTES);
    expect(done.maxRssBytes as number).toBeLessThan(RSS_BOUND_BYTES);
    process.stdout.write(
      `backlog: ${String(done.records)} records in ${String(done.passes)} runs, ${String(done.seconds)} s, ` +
        `${String(done.recordsPerSecond)} records/s, peak RSS ${Math.round((done.maxRssBytes as number) / 1048576)} MiB\n`,
    );
  }, 600_000);
});

function getJson(url: string, ca: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    https
      .get(url, { ca }, (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve(JSON.parse(body)));
      })
      .on('error', reject);
  });
}
