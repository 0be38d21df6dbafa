import type { IncomingMessage } from 'node:http';
import { afBody, afMessage, afStatus } from './errors';
import type { AfCode } from './errors';

/**
 * A response computed in full before it is sent, so faults such as truncate can mangle it — or, for a body
 * too big to hold, generated while it is sent (`stream`, chunked transfer encoding).
 */
export interface SimResponse {
  status: number;
  headers?: Record<string, string>;
  body?: string | Buffer;
  stream?: StreamedBody;
  /** AF code or Entra error, for the request log. */
  errorCode?: string;
}

export interface StreamedBody {
  /** Pieces of the body, generated as they are pulled. */
  chunks: () => Iterable<string>;
  /** About how big the whole body is: where a truncate fault cuts it. */
  approxBytes: number;
}

export const JSON_TYPE = 'application/json; charset=utf-8';

export function json(status: number, body: unknown, headers: Record<string, string> = {}): SimResponse {
  return { status, headers: { 'Content-Type': JSON_TYPE, ...headers }, body: JSON.stringify(body) };
}

export function afError(code: AfCode, ...args: string[]): SimResponse {
  return { ...json(afStatus(code), afBody(code, afMessage(code, ...args))), errorCode: code };
}

const MAX_BODY = 1024 * 1024;

export async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const b = chunk as Buffer;
    size += b.length;
    if (size > MAX_BODY) throw new Error('request body too large');
    chunks.push(b);
  }
  return Buffer.concat(chunks).toString('utf8');
}
