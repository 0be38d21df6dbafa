import { readFileSync } from 'node:fs';
import https from 'node:https';
import { join } from 'node:path';
import type { TruthBlob } from '../simulator';
import { startJsonLineChild, type JsonLineChild } from './childProcess';

/** The simulator CLI in its own process (so serving the API does not count against the pipeline's processes). */
export interface BenchSimulator {
  /** The simulator's process, for its CPU time. */
  pid: number;
  baseUrl: string;
  clientId: string;
  clientSecret: string;
  tenants: string[];
  caPemPath: string;
  /** Simulator requests logged so far; pass to `requestsSince`. */
  requestCount(): Promise<number>;
  /** API requests logged after `since`, by route (list, content, token, start, ...). */
  requestsSince(since: number): Promise<Record<string, number>>;
  summary(): Promise<TruthSummary>;
  blobs(): Promise<TruthBlob[]>;
  /** Distinct record ids in the scenario: the documents a complete run stores. */
  uniqueRecordIds(): Promise<number>;
  stop(): Promise<void>;
}

export interface TruthSummary {
  blobs: number;
  recordOccurrences: number;
  availableBlobs: number;
  availableRecordOccurrences: number;
  requests: number;
}

interface RequestPage {
  total: number;
  entries: { route: string }[];
}

export async function startBenchSimulator(scenarioFile: string): Promise<BenchSimulator> {
  const child: JsonLineChild = startJsonLineChild(join(__dirname, '..', 'simulator', 'cli.js'), [
    '--scenario',
    scenarioFile,
    '--tls',
  ]);
  const started = await child.waitFor((l) => typeof l.baseUrl === 'string', 120_000);
  const baseUrl = started.baseUrl as string;
  const app = (started.apps as { clientId: string; clientSecret: string }[])[0];
  if (!app) throw new Error('simulator started without an app');
  const caPemPath = started.caPemPath as string;
  const ca = readFileSync(caPemPath, 'utf8');
  const get = <T>(path: string): Promise<T> => getJson<T>(`${baseUrl}${path}`, ca);
  return {
    pid: child.pid,
    baseUrl,
    clientId: app.clientId,
    clientSecret: app.clientSecret,
    tenants: started.tenants as string[],
    caPemPath,
    async requestCount() {
      return (await get<RequestPage>('/_sim/requests?since=1000000000000')).total;
    },
    async requestsSince(since) {
      const page = await get<RequestPage>(`/_sim/requests?since=${since}`);
      const byRoute: Record<string, number> = {};
      for (const e of page.entries) byRoute[e.route] = (byRoute[e.route] ?? 0) + 1;
      return byRoute;
    },
    summary: () => get<TruthSummary>('/_sim/truth/summary'),
    blobs: () => get<TruthBlob[]>('/_sim/truth/blobs'),
    uniqueRecordIds: async () => (await get<{ count: number }>('/_sim/truth/record-ids')).count,
    stop: () => child.stop(),
  };
}

function getJson<T>(url: string, ca: string): Promise<T> {
  return new Promise((resolve, reject) => {
    https
      .get(url, { ca }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (d: Buffer) => chunks.push(d));
        res.on('end', () => {
          const body = Buffer.concat(chunks).toString('utf8');
          if (res.statusCode !== 200) {
            reject(new Error(`GET ${url}: HTTP ${String(res.statusCode)} ${body.slice(0, 200)}`));
            return;
          }
          try {
            resolve(JSON.parse(body) as T);
          } catch (e) {
            reject(e instanceof Error ? e : new Error(String(e)));
          }
        });
      })
      .on('error', reject);
  });
}
