import type { ContentType } from '../../shared/contentTypes';
import { makeRecord } from './records';
import type { TenantProfile } from './records';
import { Rng } from './rng';

export interface ResolvedBulkySpec {
  /** How many generated blobs are bulky; 0 turns it off. */
  count: number;
  /** About how many bytes of ordinary records each carries. */
  bytes: number;
}

/** Average JSON size of a content type's records, from a fixed sample, to size bulky blobs. */
export function averageRecordBytes(contentType: ContentType, profile: TenantProfile, seed: string): number {
  const rng = new Rng(`${seed}:bulky-sample:${contentType}`);
  const when = new Date(Date.UTC(2026, 0, 1));
  const n = 200;
  let bytes = 0;
  for (let i = 0; i < n; i++)
    bytes += Buffer.byteLength(JSON.stringify(makeRecord(contentType, when, profile, rng)));
  // +1 for the comma between records.
  return bytes / n + 1;
}

/** `count` distinct candidates, drawn from the seed (candidates come in a deterministic order). */
export function pickBulky<T>(candidates: readonly T[], count: number, seed: string): T[] {
  if (count > candidates.length) {
    throw new Error(`scenario: blobs.bulky.count ${count} exceeds the ${candidates.length} generated blobs`);
  }
  const rng = new Rng(`${seed}:bulky`);
  const pool = [...candidates];
  const picked: T[] = [];
  for (let i = 0; i < count; i++) picked.push(pool.splice(rng.int(0, pool.length - 1), 1)[0] as T);
  return picked;
}
