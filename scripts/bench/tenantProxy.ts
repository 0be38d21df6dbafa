import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { createSelfSignedCertificate } from '../simulator/tls';

/**
 * One HTTPS origin in front of several plain-HTTP simulators, routing every request by the tenant id in
 * its path (API routes and token endpoints both carry it). The simulator's activity volume is the same for
 * all of a scenario's tenants, so the scale bench runs one simulator per tenant size behind this proxy and
 * the collector sees one API and one login endpoint, as in Azure.
 *
 * Each simulator writes its own origin into what it returns (content URIs, next-page links, discovery
 * documents) and accepts only tokens for its own origin: the proxy rewrites its origin to the simulator's
 * in request bodies (the token request's scope) and back in responses, except content blobs, which are
 * streamed through untouched. Latency, rate limits and faults stay the simulators' own.
 */
export interface TenantProxy {
  origin: string;
  /** PEM of the proxy's self-signed certificate, for AUDITFEED_TLS_CA_FILE. */
  caPem: string;
  /** Requests forwarded so far. */
  requests(): number;
  stop(): Promise<void>;
}

const GUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/i;

/** `upstreams`: tenant id (any case) → the origin of its simulator (http://127.0.0.1:port). */
export async function startTenantProxy(upstreams: ReadonlyMap<string, string>): Promise<TenantProxy> {
  const byTenant = new Map([...upstreams].map(([t, o]) => [t.toLowerCase(), new URL(o)]));
  const fallback = [...byTenant.values()][0];
  if (!fallback) throw new Error('tenant proxy: no upstreams');
  const { key, cert } = await createSelfSignedCertificate();
  const agent = new http.Agent({ keepAlive: true, maxSockets: 512 });
  let origin = '';
  let forwarded = 0;

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const path = req.url ?? '/';
    const tenant = GUID.exec(path.split('?')[0] ?? '')?.[0]?.toLowerCase();
    const upstream = (tenant !== undefined ? byTenant.get(tenant) : undefined) ?? fallback;
    const upstreamOrigin = upstream.origin;
    // A content blob (…/audit/{contentId}) is records: passed through as it comes.
    const passThrough = /\/activity\/feed\/audit\//.test(path);
    const chunks: Buffer[] = [];
    req.on('data', (d: Buffer) => chunks.push(d));
    req.on('end', () => {
      forwarded++;
      let body = Buffer.concat(chunks);
      if (body.length > 0) body = Buffer.from(swap(body.toString('utf8'), origin, upstreamOrigin));
      const headers = { ...req.headers, host: upstream.host };
      if (body.length > 0 || headers['content-length'] !== undefined)
        headers['content-length'] = String(body.length);
      const out = http.request(
        {
          agent,
          host: upstream.hostname,
          port: upstream.port,
          method: req.method,
          path: swap(path, origin, upstreamOrigin),
          headers,
        },
        (up) => {
          const resHeaders: Record<string, string | string[]> = {};
          for (const [k, v] of Object.entries(up.headers)) {
            if (v === undefined) continue;
            resHeaders[k] = Array.isArray(v)
              ? v.map((x) => swap(x, upstreamOrigin, origin))
              : swap(v, upstreamOrigin, origin);
          }
          if (passThrough) {
            res.writeHead(up.statusCode ?? 502, resHeaders);
            up.pipe(res);
            return;
          }
          const parts: Buffer[] = [];
          up.on('data', (d: Buffer) => parts.push(d));
          up.on('end', () => {
            const text = swap(Buffer.concat(parts).toString('utf8'), upstreamOrigin, origin);
            delete resHeaders['transfer-encoding'];
            resHeaders['content-length'] = String(Buffer.byteLength(text));
            res.writeHead(up.statusCode ?? 502, resHeaders);
            res.end(text);
          });
          up.on('error', () => res.destroy());
        },
      );
      out.on('error', () => {
        if (!res.headersSent) res.writeHead(502);
        res.end();
      });
      out.end(body);
    });
  };

  const server = https.createServer({ key, cert, keepAlive: true }, handle);
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    origin,
    caPem: cert,
    requests: () => forwarded,
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      agent.destroy();
    },
  };
}

/** Replaces one origin by another, as written and as URL-encoded (form bodies, query strings). */
export function swap(text: string, from: string, to: string): string {
  if (from === '' || from === to) return text;
  return text.split(from).join(to).split(encodeURIComponent(from)).join(encodeURIComponent(to));
}
