import { gzipSync } from 'node:zlib';
import {
  BadMessageError,
  MAX_BATCH_JSON_BYTES,
  packBatch,
  unpackBatch,
  type Compression,
} from '../../shared/messages/envelope';
import { brotliBomb, gzipBomb } from './bombs';

const MiB = 1024 * 1024;

/** The error unpackBatch throws, or a failure when it returns. */
function unpackError(compressed: Buffer, enc: Compression): BadMessageError {
  try {
    unpackBatch(compressed, enc, 'Batch b-1');
  } catch (e) {
    expect(e).toBeInstanceOf(BadMessageError);
    return e as BadMessageError;
  }
  throw new Error('expected unpackBatch to refuse the batch');
}

/** One record padded so the batch JSON is exactly `jsonBytes` long. */
function batchOfSize(jsonBytes: number): { contentIds: string[]; record: string } {
  const contentIds = ['content-1'];
  const frame = `{"contentIds":${JSON.stringify(contentIds)},"records":[{"Id":"r-1","Pad":""}]}`;
  return { contentIds, record: `{"Id":"r-1","Pad":"${'a'.repeat(jsonBytes - frame.length)}"}` };
}

describe('unpackBatch: decompression bombs', () => {
  const bombMessage =
    /Batch b-1: the (br|gzip)-compressed batch \(\d+ bytes\) inflates beyond MAX_BATCH_JSON_BYTES \(16777216 bytes of JSON\).*decompression bomb, or a message from a collector of another version/;

  it('refuses 300 MiB of brotli in a few hundred bytes, as a bad message', async () => {
    const bomb = await brotliBomb(300 * MiB);
    expect(bomb.length).toBeLessThan(1024);
    const error = unpackError(bomb, 'br');
    expect(error.code).toBe('BadMessage');
    expect(error.message).toMatch(bombMessage);
  });

  it('refuses 300 MiB of gzip (concatenated members), as a bad message', () => {
    const bomb = gzipBomb(300 * MiB);
    expect(bomb.length).toBeLessThan(400_000);
    expect(unpackError(bomb, 'gzip').message).toMatch(bombMessage);
  });

  it.each<Compression>(['br', 'gzip'])(
    'unpacks a %s batch of exactly MAX_BATCH_JSON_BYTES and refuses one byte more',
    (enc) => {
      const { contentIds, record } = batchOfSize(MAX_BATCH_JSON_BYTES);
      const batch = unpackBatch(packBatch(contentIds, [record], enc), enc, 'Batch b-1');
      expect(batch.jsonBytes).toBe(MAX_BATCH_JSON_BYTES);
      expect(batch.contentIds).toEqual(contentIds);
      expect(batch.records).toHaveLength(1);
      expect((batch.records[0] as { Pad: string }).Pad.length).toBe(MAX_BATCH_JSON_BYTES - 62);

      const over = batchOfSize(MAX_BATCH_JSON_BYTES + 1);
      expect(unpackError(packBatch(over.contentIds, [over.record], enc), enc).message).toMatch(
        /inflates beyond MAX_BATCH_JSON_BYTES/,
      );
    },
  );

  it('still tells a corrupt or non-JSON batch apart from a bomb', () => {
    expect(unpackError(Buffer.from('not compressed at all'), 'gzip').message).toMatch(
      /Batch b-1: the batch is not gzip-compressed JSON \(/,
    );
    expect(unpackError(gzipSync('{"records":'), 'gzip').message).toMatch(
      /Batch b-1: the batch is not gzip-compressed JSON \(/,
    );
  });
});
