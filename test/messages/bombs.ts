import { constants, createBrotliCompress, gzipSync } from 'node:zlib';

const MiB = 1024 * 1024;

/**
 * Brotli of `bytes` zero bytes (a multiple of 1 MiB), streamed through the compressor 1 MiB at a time so
 * building it never holds the inflated data. 300 MiB compress to about 500 bytes.
 */
export async function brotliBomb(bytes: number): Promise<Buffer> {
  const compressor = createBrotliCompress({
    params: { [constants.BROTLI_PARAM_QUALITY]: 5, [constants.BROTLI_PARAM_SIZE_HINT]: bytes },
  });
  const chunks: Buffer[] = [];
  compressor.on('data', (c: Buffer) => chunks.push(c));
  const done = new Promise<void>((resolve, reject) => {
    compressor.on('end', resolve);
    compressor.on('error', reject);
  });
  const block = Buffer.alloc(MiB);
  for (let written = 0; written < bytes; written += MiB) {
    if (!compressor.write(block)) await new Promise((r) => compressor.once('drain', r));
  }
  compressor.end();
  await done;
  return Buffer.concat(chunks);
}

/**
 * Gzip of `bytes` zero bytes (a multiple of 4 MiB): one member of 4 MiB repeated, since gunzip reads
 * concatenated members as one stream. 300 MiB compress to about 300 KB.
 */
export function gzipBomb(bytes: number): Buffer {
  const member = gzipSync(Buffer.alloc(4 * MiB), { level: 9 });
  return Buffer.concat(Array.from({ length: bytes / (4 * MiB) }, () => member));
}
