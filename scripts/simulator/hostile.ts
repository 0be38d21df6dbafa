import type { AuditRecord } from '../../shared/contentTypes';
import { Rng } from './rng';
import { SECOND } from './time';

/**
 * One extra array element a blob can carry besides its ordinary records:
 * - `deep`: a ~12 KB record (normal Id, CreationTime) whose `Data` nests 6,000 arrays deep — JSON.parse
 *   reads it, JSON.stringify of it overflows the stack; rejected;
 * - `not-object`: a number, a string, null or an array (holding a record); rejected;
 * - `no-id`: an ordinary record without `Id`; rejected;
 * - `proto`: a valid record with top-level `__proto__` and `constructor` fields and a `Parameters`
 *   entry named `__proto__`; stored, and must pollute nothing;
 * - `huge-string`: a valid record with one ~3 MB string field; stored (as an oversize record).
 */
export type HostileKind = 'deep' | 'not-object' | 'no-id' | 'proto' | 'huge-string';
export const HOSTILE_KINDS: readonly HostileKind[] = ['deep', 'not-object', 'no-id', 'proto', 'huge-string'];

export type RecordOutcome = 'store' | 'reject';

export const HOSTILE_OUTCOMES: Readonly<Record<HostileKind, RecordOutcome>> = {
  deep: 'reject',
  'not-object': 'reject',
  'no-id': 'reject',
  proto: 'store',
  'huge-string': 'store',
};

/** Why a correct pipeline rejects the element (Cosmos DB nests at most 128 levels). */
export const REJECT_REASONS: Readonly<Partial<Record<HostileKind, string>>> = {
  deep: 'nested deeper than any store accepts',
  'not-object': 'array element is not a JSON object',
  'no-id': 'record has no Id',
};

export const DEEP_LEVELS = 6000;
export const HUGE_STRING_CHARS = 3 * 1024 * 1024;

export interface ResolvedHostileSpec {
  fraction: number;
  kinds: HostileKind[];
}

export interface Hostile {
  kind: HostileKind;
  /** Inserted before own record `position` (ownCount: after the last). */
  position: number;
  /** not-object: 0 number, 1 string, 2 null, 3 array. */
  variant: number;
  /** CreationTime (epoch ms) of the records it is built from. */
  time: number;
}

/** Keyed by seed and contentId, like unreadable blobs, so it leaves other blobs' content alone. */
export function planHostile(
  seed: string,
  contentId: string,
  ownCount: number,
  window: { from: number; to: number },
  spec: ResolvedHostileSpec,
): Hostile | undefined {
  if (spec.fraction <= 0 || spec.kinds.length === 0) return undefined;
  const rng = new Rng(`${seed}:hostile:${contentId}`);
  if (!rng.chance(spec.fraction)) return undefined;
  const spanSeconds = Math.max(1, Math.floor((window.to - window.from) / SECOND));
  return {
    kind: rng.pick(spec.kinds),
    position: rng.int(0, ownCount),
    variant: rng.int(0, 3),
    time: window.from + rng.int(0, spanSeconds - 1) * SECOND,
  };
}

/** Whether the element carries an Id a store would key it by (only records that are stored count). */
export function hostileHasId(kind: HostileKind): boolean {
  return kind === 'deep' || kind === 'proto' || kind === 'huge-string';
}

const HEAD_FIELDS = [
  'CreationTime',
  'Id',
  'Operation',
  'OrganizationId',
  'RecordType',
  'UserKey',
  'UserType',
  'Version',
  'Workload',
  'UserId',
];

/**
 * The element's JSON text. Written as text because the deep one cannot go through JSON.stringify, and
 * the proto one's own `__proto__` key would not survive building it as an object literal.
 * `base` is an ordinary record (with its Id) generated for this slot.
 */
export function hostileText(h: Hostile, base: AuditRecord): string {
  switch (h.kind) {
    case 'deep': {
      const head: AuditRecord = {};
      for (const k of HEAD_FIELDS) if (k in base) head[k] = base[k];
      const nested = `${'['.repeat(DEEP_LEVELS)}${']'.repeat(DEEP_LEVELS)}`;
      return `${JSON.stringify(head).slice(0, -1)},"Data":${nested}}`;
    }
    case 'not-object':
      if (h.variant === 0) return String(Math.floor(h.time / SECOND));
      if (h.variant === 1) return '"audit record unavailable"';
      if (h.variant === 2) return 'null';
      return `[${JSON.stringify(base)}]`;
    case 'no-id': {
      const rest = { ...base };
      delete rest.Id;
      return JSON.stringify(rest);
    }
    case 'proto': {
      const params = Array.isArray(base.Parameters) ? (base.Parameters as unknown[]) : [];
      const withParams = {
        ...base,
        Parameters: [{ Name: '__proto__', Value: '{"isAdmin":true}' }, ...params],
      };
      const pollute =
        '"__proto__":{"polluted":"yes","isAdmin":true},"constructor":{"prototype":{"polluted":"yes"}}';
      return `{${pollute},${JSON.stringify(withParams).slice(1)}`;
    }
    case 'huge-string': {
      const unit = 'Lorem ipsum dolor sit amet, consectetur adipiscing elit; audit. ';
      const text = unit.repeat(Math.ceil(HUGE_STRING_CHARS / unit.length)).slice(0, HUGE_STRING_CHARS);
      return `${JSON.stringify(base).slice(0, -1)},"Description":${JSON.stringify(text)}}`;
    }
  }
}
