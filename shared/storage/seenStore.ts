import { RestError, type ContainerClient } from '@azure/storage-blob';
import type { SeenSegmentStore } from '../collector/seenSet';

/**
 * The collected-blobs set in append blobs beside the watermarks:
 * `watermarks/{tenantId}/{contentType}/seen/{YYYY-MM-DD}/{part}.bin`, 8 bytes per blob. An append is one
 * atomic block, so a crash leaves whole entries only, and two runs appending at once lose nothing. An
 * append blob takes 50,000 blocks; a day moves to its next part well before that.
 */
export const MAX_BLOCKS_PER_PART = 45_000;
/** Appends are split at 4 MiB, the block size every service version accepts. */
const MAX_BLOCK_BYTES = 4 * 1024 * 1024;

export class BlobSeenStore implements SeenSegmentStore {
  /** Current part per day prefix, learnt from reads and appends. */
  private readonly parts = new Map<string, number>();

  constructor(
    private readonly container: ContainerClient,
    private readonly maxBlocksPerPart = MAX_BLOCKS_PER_PART,
  ) {}

  private prefix(tenantId: string, contentType: string): string {
    return `${tenantId}/${contentType}/seen/`;
  }

  async read(tenantId: string, contentType: string, day: string): Promise<Buffer> {
    const dayPrefix = `${this.prefix(tenantId, contentType)}${day}/`;
    const names: string[] = [];
    for await (const blob of this.container.listBlobsFlat({ prefix: dayPrefix })) names.push(blob.name);
    names.sort((a, b) => partOf(a) - partOf(b));
    const buffers = await Promise.all(
      names.map((name) => this.container.getAppendBlobClient(name).downloadToBuffer()),
    );
    if (names.length > 0) this.parts.set(dayPrefix, partOf(names[names.length - 1] as string));
    return Buffer.concat(buffers);
  }

  async append(tenantId: string, contentType: string, day: string, hashes: Buffer): Promise<void> {
    const dayPrefix = `${this.prefix(tenantId, contentType)}${day}/`;
    for (let at = 0; at < hashes.length; at += MAX_BLOCK_BYTES) {
      await this.appendBlock(dayPrefix, hashes.subarray(at, Math.min(hashes.length, at + MAX_BLOCK_BYTES)));
    }
  }

  private async appendBlock(dayPrefix: string, block: Buffer): Promise<void> {
    let part = this.parts.get(dayPrefix) ?? (await this.lastPart(dayPrefix));
    for (;;) {
      const blob = this.container.getAppendBlobClient(`${dayPrefix}${part}.bin`);
      try {
        const response = await blob.appendBlock(block, block.length);
        const committed = response.blobCommittedBlockCount ?? 0;
        this.parts.set(dayPrefix, committed >= this.maxBlocksPerPart ? part + 1 : part);
        return;
      } catch (e) {
        if (!(e instanceof RestError)) throw e;
        if (e.statusCode === 404) {
          await blob.createIfNotExists();
          continue;
        }
        // Full (another process filled it): move on to the next part.
        if (e.statusCode === 409 && e.code === 'BlockCountExceedsLimit') {
          part++;
          continue;
        }
        throw e;
      }
    }
  }

  private async lastPart(dayPrefix: string): Promise<number> {
    let last = 0;
    for await (const blob of this.container.listBlobsFlat({ prefix: dayPrefix })) {
      last = Math.max(last, partOf(blob.name));
    }
    return last;
  }

  async prune(tenantId: string, contentType: string, beforeDay: string): Promise<number> {
    const prefix = this.prefix(tenantId, contentType);
    let deleted = 0;
    for await (const blob of this.container.listBlobsFlat({ prefix })) {
      const day = blob.name.slice(prefix.length, prefix.length + 10);
      if (day < beforeDay) {
        await this.container.deleteBlob(blob.name, { deleteSnapshots: 'include' }).catch((e: unknown) => {
          if (!(e instanceof RestError && e.statusCode === 404)) throw e;
        });
        this.parts.delete(`${prefix}${day}/`);
        deleted++;
      }
    }
    return deleted;
  }
}

function partOf(name: string): number {
  const m = /\/(\d+)\.bin$/.exec(name);
  return m ? Number(m[1]) : 0;
}
