import type { ServerResponse } from 'node:http';
import type { StreamedBody } from './http';

function drainedOrClosed(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

/**
 * Sends a generated body with chunked transfer encoding, pulling the next piece only when the socket
 * has taken the last one, so the body is never whole in memory however big it is. With `truncate`, the
 * connection dies after about half the body (no terminating chunk), as a dropped download does.
 */
export async function sendStream(res: ServerResponse, body: StreamedBody, truncate: boolean): Promise<void> {
  const limit = truncate ? Math.floor(body.approxBytes / 2) : Infinity;
  let sent = 0;
  for (const chunk of body.chunks()) {
    if (res.destroyed) return;
    let buf = Buffer.from(chunk);
    if (sent + buf.length >= limit) {
      buf = buf.subarray(0, limit - sent);
      res.write(buf, () => res.socket?.destroy());
      return;
    }
    sent += buf.length;
    if (!res.write(buf)) await drainedOrClosed(res);
  }
  if (truncate) {
    // Shorter than expected: still never a complete answer.
    res.socket?.destroy();
    return;
  }
  res.end();
}
