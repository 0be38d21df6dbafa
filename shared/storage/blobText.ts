import { RestError, type BlockBlobClient } from '@azure/storage-blob';

/** A downloaded blob's body as UTF-8 text (small JSON blobs: watermarks, claims). */
export async function readText(stream: NodeJS.ReadableStream | undefined): Promise<string> {
  if (!stream) return '';
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * Writes a small JSON blob only if it still has `etag` (or, with none, does not exist yet) and returns the
 * new ETag. The SDK retries a write whose answer was lost; that retry fails its condition against our own
 * new ETag, so on 412/409 the blob is read back: if it holds exactly `body`, the write was ours. Otherwise
 * someone else wrote first and `conflict()` is thrown.
 */
export async function uploadGuarded(
  blob: BlockBlobClient,
  body: string,
  etag: string | undefined,
  conflict: () => Error,
): Promise<string> {
  try {
    const response = await blob.upload(body, Buffer.byteLength(body), {
      conditions: etag === undefined ? { ifNoneMatch: '*' } : { ifMatch: etag },
      blobHTTPHeaders: { blobContentType: 'application/json' },
    });
    return response.etag!;
  } catch (e) {
    if (e instanceof RestError && (e.statusCode === 412 || e.statusCode === 409)) {
      const landed = await readIfSame(blob, body);
      if (landed !== undefined) return landed;
      throw conflict();
    }
    throw e;
  }
}

async function readIfSame(blob: BlockBlobClient, body: string): Promise<string | undefined> {
  try {
    const response = await blob.download();
    return (await readText(response.readableStreamBody)) === body ? response.etag : undefined;
  } catch {
    return undefined;
  }
}
