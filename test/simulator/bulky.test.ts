import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import type { IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { startSimulator } from '../../scripts/simulator';
import type { ScenarioSpec, Simulator, TruthBlob } from '../../scripts/simulator';
import { ROOT, TENANT, http, tokenFor, transpileSimulator } from './helpers';

const NOW = '2026-11-20T12:00:00.000Z';
const MB = 1024 * 1024;

function scenario(bytes: number): ScenarioSpec {
  return {
    seed: 'bulky',
    tenants: [{ tenantId: TENANT }],
    contentTypes: ['Audit.SharePoint'],
    activity: { start: '2026-11-20T08:00:00Z', end: '2026-11-20T09:00:00Z' },
    blobs: { recordsPerBlob: [2, 10], lateFraction: 0, duplicateFraction: 0, bulky: { count: 1, bytes } },
  };
}

/**
 * Splits a JSON array arriving in pieces into its top-level elements and parses each one, so a body of
 * any size is checked without holding it.
 */
class ArrayElements {
  readonly ids: string[] = [];
  private readonly decoder = new StringDecoder('utf8');
  private depth = 0;
  private inString = false;
  private escaped = false;
  private partial = '';

  push(chunk: Buffer): void {
    const s = this.decoder.write(chunk);
    let start = this.depth >= 2 ? 0 : -1;
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (this.inString) {
        if (this.escaped) this.escaped = false;
        else if (c === 92) this.escaped = true;
        else if (c === 34) this.inString = false;
      } else if (c === 34) {
        this.inString = true;
      } else if (c === 123 || c === 91) {
        if (++this.depth === 2) start = i;
      } else if (c === 125 || c === 93) {
        if (--this.depth === 1) {
          const record = JSON.parse(this.partial + s.slice(start, i + 1)) as { Id: string };
          this.ids.push(record.Id);
          this.partial = '';
          start = -1;
        }
      }
    }
    if (start >= 0) this.partial += s.slice(start);
  }

  get complete(): boolean {
    return this.depth === 0 && !this.inString;
  }
}

describe('simulator: bulky blobs, streamed', () => {
  let sim: Simulator;
  let bulky: TruthBlob;
  let token: string;

  beforeAll(async () => {
    sim = await startSimulator({ scenario: scenario(2 * MB), clock: { start: NOW, frozen: true } });
    bulky = sim.truth.blobs().find((b) => b.bulky)!;
    token = await tokenFor(sim);
  });
  afterAll(() => sim.stop());
  beforeEach(() => sim.faults.clear());

  /** Raw GET reporting how the body arrived and how the connection ended. */
  function get(
    url: string,
  ): Promise<{ res?: IncomingMessage; chunks: number; bytes: number; body: ArrayElements; error?: string }> {
    return new Promise((resolve) => {
      const out = { chunks: 0, bytes: 0, body: new ArrayElements() } as {
        res?: IncomingMessage;
        chunks: number;
        bytes: number;
        body: ArrayElements;
        error?: string;
      };
      const req = request(url, { headers: { Authorization: `Bearer ${token}` }, agent: false }, (res) => {
        out.res = res;
        res.on('data', (c: Buffer) => {
          out.chunks += 1;
          out.bytes += c.length;
          if (res.statusCode === 200) out.body.push(c);
        });
        res.on('end', () => resolve(out));
        res.on('error', (e) => resolve({ ...out, error: e.message }));
        res.on('aborted', () => (out.error ??= 'aborted'));
      });
      req.on('error', (e) => resolve({ ...out, error: (e as NodeJS.ErrnoException).code ?? e.message }));
      req.end();
    });
  }

  it('serves about `bytes` of ordinary records chunked, matching ground truth', async () => {
    const others = sim.truth.blobs().filter((b) => !b.bulky);
    expect(others.length).toBeGreaterThan(5);
    expect(bulky.recordCount).toBeGreaterThan(1000);
    const r = await get(bulky.contentUri);
    expect(r.res?.statusCode).toBe(200);
    expect(r.res?.headers['transfer-encoding']).toBe('chunked');
    expect(r.res?.headers['content-length']).toBeUndefined();
    expect(r.bytes).toBeGreaterThan(1.8 * MB);
    expect(r.bytes).toBeLessThan(2.2 * MB);
    expect(r.chunks).toBeGreaterThan(10);
    expect(r.body.complete).toBe(true);
    const truthIds = [...sim.truth.records()].filter((x) => x.contentId === bulky.contentId).map((x) => x.id);
    expect(r.body.ids).toEqual(truthIds);
    expect(sim.truth.servedContentIds()).toEqual(new Set([bulky.contentId]));
    // Ordinary blobs keep a Content-Length.
    const small = await get(others[0]!.contentUri);
    expect(Number(small.res?.headers['content-length'])).toBe(small.bytes);
  });

  it('fault truncate: about half the body, then the connection dies; not served', async () => {
    sim.truth.clearRequests();
    const before = sim.truth.servedContentIds().size;
    const servedBefore = new Set(sim.truth.servedContentIds());
    servedBefore.delete(bulky.contentId);
    sim.faults.add({ route: 'blob', contentId: bulky.contentId, action: { kind: 'truncate' } });
    const r = await get(bulky.contentUri);
    expect(r.res?.statusCode).toBe(200);
    expect(r.error).toBeDefined();
    expect(r.bytes).toBe(MB);
    expect(r.body.complete).toBe(false);
    expect(sim.truth.requests.at(-1)).toMatchObject({ fault: 'truncate', contentId: bulky.contentId });
    expect(sim.truth.servedContentIds().size).toBe(before);
  });

  it('faults malformed, error, reset and delay answer as for any blob', async () => {
    sim.faults.add({ route: 'blob', action: { kind: 'malformed' } });
    const malformed = await http.get<string>(bulky.contentUri, {
      headers: { Authorization: `Bearer ${token}` },
      responseType: 'text',
      transformResponse: (x: string) => x,
    });
    expect(malformed.status).toBe(200);
    expect(malformed.data.length).toBeLessThan(1000);
    sim.faults.add({ route: 'blob', action: { kind: 'error', status: 503 } });
    expect((await get(bulky.contentUri)).res?.statusCode).toBe(503);
    sim.faults.add({ route: 'blob', action: { kind: 'reset' } });
    expect((await get(bulky.contentUri)).error).toBe('ECONNRESET');
    sim.faults.add({ route: 'blob', action: { kind: 'delay', ms: 50 } });
    const delayed = await get(bulky.contentUri);
    expect(delayed.res?.statusCode).toBe(200);
    expect(delayed.body.complete).toBe(true);
  });

  it('sizes and picks bulky blobs deterministically, and refuses more than there are blobs', async () => {
    const again = await startSimulator({ scenario: scenario(2 * MB), clock: { start: NOW, frozen: true } });
    try {
      const b = again.truth.blobs().find((x) => x.bulky)!;
      expect([b.contentId, b.recordCount]).toEqual([bulky.contentId, bulky.recordCount]);
    } finally {
      await again.stop();
    }
    await expect(
      startSimulator({ scenario: { ...scenario(MB), blobs: { bulky: { count: 10_000, bytes: MB } } } }),
    ).rejects.toThrow(/bulky.count/);
  });
});

describe('simulator: a 150 MB blob', () => {
  let dir: string;
  let child: ChildProcess | undefined;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'sim-bulky-'));
  });
  afterAll(() => {
    child?.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  });

  it('is served from a simulator process whose memory stays far below the body size', async () => {
    const bytes = 150 * MB;
    transpileSimulator(dir);
    const file = join(dir, 'scenario.json');
    writeFileSync(file, JSON.stringify(scenario(bytes)));
    // --expose-gc: /_sim/memory then reports live memory, not garbage awaiting collection.
    const proc = spawn(
      process.execPath,
      [
        '--expose-gc',
        join(dir, 'scripts', 'simulator', 'cli.js'),
        '--scenario',
        file,
        '--clock',
        NOW,
        '--frozen',
      ],
      {
        env: { ...process.env, NODE_PATH: join(ROOT, 'node_modules') },
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    child = proc;
    const info = await new Promise<{
      baseUrl: string;
      apps: Array<{ clientId: string; clientSecret: string }>;
    }>((resolve, reject) => {
      let buf = '';
      proc.stdout.on('data', (c: Buffer) => {
        buf += c.toString();
        if (buf.includes('\n')) resolve(JSON.parse(buf.split('\n')[0]!) as never);
      });
      proc.on('exit', (code) => reject(new Error(`simulator exited early with ${code}`)));
    });
    const tokenRes = await http.post<{ access_token: string }>(
      `${info.baseUrl}/${TENANT}/oauth2/v2.0/token`,
      new URLSearchParams({
        grant_type: 'client_credentials',
        client_id: info.apps[0]!.clientId,
        client_secret: info.apps[0]!.clientSecret,
        scope: 'https://manage.office.com/.default',
      }).toString(),
      { headers: { 'content-type': 'application/x-www-form-urlencoded' } },
    );
    const blob = (await http.get<TruthBlob[]>(`${info.baseUrl}/_sim/truth/blobs`)).data.find((b) => b.bulky)!;
    const memory = async () =>
      (
        await http.get<{ heapUsed: number; external: number; collected: boolean }>(
          `${info.baseUrl}/_sim/memory`,
        )
      ).data;
    const idle = await memory();
    expect(idle.collected).toBe(true);

    const body = new ArrayElements();
    let received = 0;
    let chunks = 0;
    let during: Awaited<ReturnType<typeof memory>> | undefined;
    await new Promise<void>((resolve, reject) => {
      const req = request(
        blob.contentUri,
        { headers: { Authorization: `Bearer ${tokenRes.data.access_token}` }, agent: false },
        (res) => {
          expect(res.headers['transfer-encoding']).toBe('chunked');
          res.on('data', (c: Buffer) => {
            received += c.length;
            chunks += 1;
            body.push(c);
            if (during === undefined && received > bytes / 3) {
              // Hold the download a third of the way in: the simulator is mid-body, waiting for us.
              during = { heapUsed: 0, external: 0, collected: false };
              res.pause();
              memory().then((m) => {
                during = m;
                res.resume();
              }, reject);
            }
          });
          res.on('end', resolve);
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end();
    });

    expect(received).toBeGreaterThan(0.9 * bytes);
    expect(received).toBeLessThan(1.1 * bytes);
    expect(chunks).toBeGreaterThan(1000);
    expect(body.complete).toBe(true);
    expect(body.ids).toHaveLength(blob.recordCount);
    const served = (await http.get<{ recordIds: string[] }>(`${info.baseUrl}/_sim/truth/served`)).data
      .recordIds;
    expect(new Set(body.ids)).toEqual(new Set(served));
    // Built whole, the body alone would be 150 MB of heap (a string) or external memory (a Buffer).
    expect(during!.collected).toBe(true);
    expect(during!.heapUsed + during!.external).toBeLessThan(idle.heapUsed + idle.external + 40 * MB);
  }, 180_000);
});
