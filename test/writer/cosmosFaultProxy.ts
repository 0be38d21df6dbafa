import http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A real HTTP proxy on loopback in front of the Cosmos DB stand-in, which itself never throttles or
 * fails. Per request, a plan decides what real Cosmos DB might have done instead: answer with a status
 * (429 with x-ms-retry-after-ms, 503, 403), cut the connection before or after the writes were applied,
 * or throttle some operations of a bulk request (they are not forwarded, so they are not applied, and come
 * back as 429 inside a 207 answer, as the service does).
 */
export type Fault =
  | { kind: 'status'; status: number; retryAfterMs?: number; substatus?: number; message?: string }
  | { kind: 'reset' }
  | { kind: 'forwardThenReset' }
  | { kind: 'throttleOps'; pick: (opIndex: number) => boolean; retryAfterMs: number }
  | { kind: 'refuseOps'; pick: (opIndex: number) => boolean; status: number; message: string };

export interface ProxiedRequest {
  method: string;
  path: string;
  isBulk: boolean;
  /** Number of operations of a bulk request. */
  ops: number;
  /** 1-based count of bulk requests seen so far, this one included. */
  bulkSeq: number;
}

export interface ProxyStats {
  requests: ProxiedRequest[];
  throttledOps: number;
  refusedOps: number;
  statuses: number;
  resets: number;
  forwardedThenReset: number;
}

export type FaultPlan = (request: ProxiedRequest) => Fault | undefined;

export class CosmosFaultProxy {
  plan: FaultPlan = () => undefined;
  readonly stats: ProxyStats = {
    requests: [],
    throttledOps: 0,
    refusedOps: 0,
    statuses: 0,
    resets: 0,
    forwardedThenReset: 0,
  };
  private bulkSeq = 0;

  private constructor(
    private readonly server: http.Server,
    private readonly upstream: URL,
  ) {}

  static async start(upstreamEndpoint: string): Promise<CosmosFaultProxy> {
    const holder: { proxy?: CosmosFaultProxy } = {};
    const server = http.createServer((req, res) => {
      holder.proxy!.handle(req, res).catch(() => req.socket.destroy());
    });
    const proxy = new CosmosFaultProxy(server, new URL(upstreamEndpoint));
    holder.proxy = proxy;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return proxy;
  }

  /** Clears the plan, the statistics and the bulk request count (between tests). */
  reset(): void {
    this.plan = () => undefined;
    this.bulkSeq = 0;
    Object.assign(this.stats, {
      requests: [],
      throttledOps: 0,
      refusedOps: 0,
      statuses: 0,
      resets: 0,
      forwardedThenReset: 0,
    });
  }

  get endpoint(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const body = await readAll(req);
    const isBulk = req.headers['x-ms-cosmos-is-batch-request'] === 'true';
    let ops: unknown[] = [];
    if (isBulk) {
      this.bulkSeq++;
      ops = JSON.parse(body.toString('utf8')) as unknown[];
    }
    const request: ProxiedRequest = {
      method: req.method ?? 'GET',
      path: req.url ?? '/',
      isBulk,
      ops: ops.length,
      bulkSeq: this.bulkSeq,
    };
    this.stats.requests.push(request);
    const fault = this.plan(request);

    if (fault?.kind === 'reset') {
      this.stats.resets++;
      req.socket.destroy();
      return;
    }
    if (fault?.kind === 'status') {
      this.stats.statuses++;
      const payload = JSON.stringify({
        code: String(fault.status),
        message: fault.message ?? 'Injected by test',
      });
      res.writeHead(fault.status, {
        'content-type': 'application/json',
        'x-ms-activity-id': 'fault-proxy',
        'x-ms-request-charge': '0',
        ...(fault.substatus !== undefined ? { 'x-ms-substatus': String(fault.substatus) } : {}),
        ...(fault.retryAfterMs !== undefined ? { 'x-ms-retry-after-ms': String(fault.retryAfterMs) } : {}),
      });
      res.end(payload);
      return;
    }
    if (fault?.kind === 'throttleOps' && isBulk) {
      const refused = await this.refuseSome(req, res, ops, fault.pick, {
        statusCode: 429,
        subStatusCode: 3200,
        requestCharge: 0,
        retryAfterMilliseconds: fault.retryAfterMs,
      });
      this.stats.throttledOps += refused;
      return;
    }
    if (fault?.kind === 'refuseOps' && isBulk) {
      const refused = await this.refuseSome(req, res, ops, fault.pick, {
        statusCode: fault.status,
        subStatusCode: 0,
        requestCharge: 0,
        message: fault.message,
      });
      this.stats.refusedOps += refused;
      return;
    }
    const upstream = await this.forward(req, body);
    if (fault?.kind === 'forwardThenReset') {
      this.stats.forwardedThenReset++;
      req.socket.destroy();
      return;
    }
    res.writeHead(upstream.status, upstream.headers);
    res.end(upstream.body);
  }

  /** Answers the picked operations with `entry` (not applied) and forwards the rest; returns how many were refused. */
  private async refuseSome(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    ops: unknown[],
    pick: (opIndex: number) => boolean,
    entry: Record<string, unknown>,
  ): Promise<number> {
    const refused = new Set(ops.map((_, i) => i).filter((i) => pick(i)));
    const forwardedOps = ops.filter((_, i) => !refused.has(i));
    let forwardedResults: unknown[] = [];
    let headers: http.OutgoingHttpHeaders = {
      'content-type': 'application/json',
      'x-ms-activity-id': 'fault-proxy',
    };
    if (forwardedOps.length > 0) {
      const upstream = await this.forward(req, Buffer.from(JSON.stringify(forwardedOps)));
      if (upstream.status >= 300) {
        res.writeHead(upstream.status, upstream.headers);
        res.end(upstream.body);
        return 0;
      }
      forwardedResults = JSON.parse(upstream.body.toString('utf8')) as unknown[];
      headers = upstream.headers;
    }
    let next = 0;
    const results = ops.map((_, i) => (refused.has(i) ? entry : forwardedResults[next++]));
    const payload = Buffer.from(JSON.stringify(results));
    res.writeHead(refused.size > 0 ? 207 : 200, { ...headers, 'content-length': String(payload.length) });
    res.end(payload);
    return refused.size;
  }

  private forward(
    req: http.IncomingMessage,
    body: Buffer,
  ): Promise<{ status: number; headers: http.OutgoingHttpHeaders; body: Buffer }> {
    const headers = { ...req.headers, 'content-length': String(body.length) };
    return new Promise((resolve, reject) => {
      const upstream = http.request(
        {
          host: this.upstream.hostname,
          port: this.upstream.port,
          method: req.method,
          path: req.url,
          headers,
          agent: false,
        },
        (response) => {
          readAll(response).then((data) => {
            const out: http.OutgoingHttpHeaders = {};
            for (const [k, v] of Object.entries(response.headers)) {
              if (!['content-length', 'connection', 'transfer-encoding'].includes(k) && v !== undefined)
                out[k] = v;
            }
            out['content-length'] = String(data.length);
            resolve({ status: response.statusCode ?? 502, headers: out, body: data });
          }, reject);
        },
      );
      upstream.on('error', reject);
      upstream.end(body);
    });
  }
}

function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => resolve(Buffer.concat(chunks)));
    stream.on('error', reject);
  });
}
