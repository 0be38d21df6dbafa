import { mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import axios from 'axios';
import type { AxiosResponse } from 'axios';
import ts from 'typescript';
import { startSimulator, type ScenarioSpec, type Simulator } from '../../scripts/simulator';

export const ROOT = join(__dirname, '..', '..');

/**
 * Transpiles the simulator (and what it imports from shared/) into `out`, so a test can run it as its
 * own process with node (`${out}/scripts/simulator/cli.js`, NODE_PATH at the project's node_modules)
 * without the global build.
 */
export function transpileSimulator(out: string): void {
  const walk = (dir: string): string[] =>
    readdirSync(dir).flatMap((f) => {
      const p = join(dir, f);
      return statSync(p).isDirectory() ? walk(p) : p.endsWith('.ts') ? [p] : [];
    });
  for (const file of [...walk(join(ROOT, 'scripts', 'simulator')), ...walk(join(ROOT, 'shared'))]) {
    const js = ts.transpileModule(readFileSync(file, 'utf8'), {
      compilerOptions: {
        module: ts.ModuleKind.CommonJS,
        target: ts.ScriptTarget.ES2022,
        esModuleInterop: true,
      },
    }).outputText;
    const target = join(out, relative(ROOT, file)).replace(/\.ts$/, '.js');
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, js);
  }
}

export const TENANT = '0b5c7e4a-2f31-4d8e-9a6b-1c2d3e4f5a6b';
export const OTHER_TENANT = '9e8d7c6b-5a49-4382-b1a0-f9e8d7c6b5a4';
export const PUBLISHER = '11111111-2222-4333-8444-555555555555';

/** Plain HTTP client that never throws on status, so tests can assert on error answers. */
export const http = axios.create({ validateStatus: () => true, transitional: { silentJSONParsing: false } });

export async function tokenFor(sim: Simulator, tenantId = TENANT): Promise<string> {
  const app = sim.apps[0];
  if (!app?.clientSecret) throw new Error('scenario has no secret app');
  const res = await http.post<{ access_token: string }>(
    sim.tokenEndpoint(tenantId),
    new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: app.clientId,
      client_secret: app.clientSecret,
      scope: 'https://manage.office.com/.default',
    }).toString(),
    { headers: { 'content-type': 'application/x-www-form-urlencoded' } },
  );
  if (res.status !== 200) throw new Error(`token request failed: ${res.status} ${JSON.stringify(res.data)}`);
  return res.data.access_token;
}

export interface Api {
  get<T = unknown>(path: string, params?: Record<string, string>): Promise<AxiosResponse<T>>;
  post<T = unknown>(path: string, params?: Record<string, string>, body?: unknown): Promise<AxiosResponse<T>>;
}

/** Calls `${apiRoot}/${path}` with a bearer token and the publisher id. */
export function api(sim: Simulator, token: string, tenantId = TENANT): Api {
  const headers = { Authorization: `Bearer ${token}` };
  const url = (path: string): string => `${sim.apiRoot(tenantId)}/${path}`;
  return {
    get: (path, params = {}) =>
      http.get(url(path), { headers, params: { PublisherIdentifier: PUBLISHER, ...params } }),
    post: (path, params = {}, body) =>
      http.post(url(path), body ?? '', { headers, params: { PublisherIdentifier: PUBLISHER, ...params } }),
  };
}

export interface ContentItem {
  contentType: string;
  contentId: string;
  contentUri: string;
  contentCreated: string;
  contentExpiration: string;
}

/** Follows next-page links to the end; returns the items and the header name used on each page. */
export async function listAll(
  sim: Simulator,
  token: string,
  params: Record<string, string>,
  between?: (page: number) => void,
): Promise<{ items: ContentItem[]; headers: string[] }> {
  const items: ContentItem[] = [];
  const headers: string[] = [];
  let res = await api(sim, token).get<ContentItem[]>('subscriptions/content', params);
  for (let page = 0; ; page++) {
    if (res.status !== 200) throw new Error(`listing failed: ${res.status} ${JSON.stringify(res.data)}`);
    items.push(...res.data);
    const name = ['nextpageuri', 'nextpageurl'].find((h) => res.headers[h] !== undefined);
    if (!name) break;
    headers.push(name);
    between?.(page);
    res = await http.get<ContentItem[]>(String(res.headers[name]), {
      headers: { Authorization: `Bearer ${token}` },
    });
  }
  return { items, headers };
}

export function errorCode(res: AxiosResponse): string | undefined {
  return (res.data as { error?: { code?: string } } | undefined)?.error?.code;
}

/** The clock most simulator tests start from, frozen. */
export const SIM_NOW = '2026-11-20T12:00:00.000Z';

/** Runs `fn` against a simulator of `scenario` (clock frozen at SIM_NOW), stopping it afterwards. */
export async function withSim<T>(scenario: ScenarioSpec, fn: (sim: Simulator) => Promise<T>): Promise<T> {
  const sim = await startSimulator({ scenario, clock: { start: SIM_NOW, frozen: true } });
  try {
    return await fn(sim);
  } finally {
    await sim.stop();
  }
}
