import type { IndexingPolicy } from '@azure/cosmos';

/**
 * Request units per record on real Cosmos DB, on paper (the stand-in charges 1 RU per operation).
 *
 * Source: Microsoft, "Understand request units consumption in Azure Cosmos DB" (ms.date 2026-04-21,
 * MicrosoftDocs/azure-databases-docs articles/cosmos-db/understand-request-unit-consumption.md; reference
 * §C4 [RUC]): a create costs a document-size part — the page's write column, 1 KB 4.95 RU, 2 KB 6.29,
 * 4 KB 6.67, … — plus 0.2 RU per indexed term ("1 KB with 10 indexed terms: 5.0 + 0.2 × 10 = 7 RU").
 * The page calls its values illustrative; this is an estimate, not a bill.
 */

/** [KiB, RU] — the write column of [RUC]. */
export const WRITE_RU_BY_KIB: readonly (readonly [number, number])[] = [
  [1, 4.95],
  [2, 6.29],
  [4, 6.67],
  [8, 7.04],
  [16, 9.52],
  [32, 11.23],
  [64, 22.67],
  [128, 48.19],
  [256, 98.29],
  [512, 184.57],
  [1024, 625.0],
  [2048, 1250.0],
];

export const RU_PER_INDEXED_TERM = 0.2;

/** Cosmos DB's default policy: every path indexed (the service excludes `_etag` on its own). */
export const DEFAULT_INDEXING_POLICY: IndexingPolicy = {
  indexingMode: 'consistent',
  automatic: true,
  includedPaths: [{ path: '/*' }],
  excludedPaths: [{ path: '/"_etag"/?' }],
};

/** Size part of a write, linear between the table's points; below 1 KB the 1 KB value (the table's floor). */
export function writeRuForBytes(bytes: number): number {
  const kib = bytes / 1024;
  const first = WRITE_RU_BY_KIB[0]!;
  if (kib <= first[0]) return first[1];
  for (let i = 1; i < WRITE_RU_BY_KIB.length; i++) {
    const [k1, r1] = WRITE_RU_BY_KIB[i - 1]!;
    const [k2, r2] = WRITE_RU_BY_KIB[i]!;
    if (kib <= k2) return r1 + ((r2 - r1) * (kib - k1)) / (k2 - k1);
  }
  return WRITE_RU_BY_KIB[WRITE_RU_BY_KIB.length - 1]![1];
}

/** Path segments of an indexing-policy path: `/a/"b c"/[]/?` → ['a', 'b c', '[]', '?']. */
function segments(path: string): string[] {
  return path
    .split('/')
    .filter((s) => s !== '')
    .map((s) => (s.startsWith('"') && s.endsWith('"') ? s.slice(1, -1) : s));
}

interface Rule {
  segs: string[];
  include: boolean;
}

/** Does a policy path match the scalar at `leaf` (its property names, `[]` for array elements)? */
function matches(rule: string[], leaf: string[]): boolean {
  const last = rule[rule.length - 1];
  const prefix = rule.slice(0, -1);
  if (last === '*') {
    // `/a/*`: everything at or below /a.
    return (
      prefix.length <= leaf.length &&
      prefix.every((s, i) => s === leaf[i] || (s === '[]' && leaf[i] === '[]'))
    );
  }
  if (last === '?') {
    // `/a/b/?`: the scalar at exactly /a/b.
    return prefix.length === leaf.length && prefix.every((s, i) => s === leaf[i]);
  }
  return false;
}

/**
 * Whether the scalar at `leaf` is indexed: the most specific matching path wins (the longer one), as
 * Cosmos DB resolves included against excluded paths.
 */
export function isIndexed(leaf: string[], policy: IndexingPolicy): boolean {
  if (policy.indexingMode === 'none') return false;
  const rules: Rule[] = [
    ...(policy.includedPaths ?? []).map((p) => ({ segs: segments(p.path), include: true })),
    ...(policy.excludedPaths ?? []).map((p) => ({ segs: segments(p.path), include: false })),
  ];
  let best: Rule | undefined;
  for (const r of rules) {
    if (!matches(r.segs, leaf)) continue;
    // Longer paths are more specific; at equal length an exact `?` beats a `*`.
    const score = r.segs.length * 2 + (r.segs[r.segs.length - 1] === '?' ? 1 : 0);
    const bestScore = best ? best.segs.length * 2 + (best.segs[best.segs.length - 1] === '?' ? 1 : 0) : -1;
    if (score > bestScore) best = r;
  }
  return best?.include ?? false;
}

/** Scalar leaves of a JSON value with their paths (array elements as `[]`). */
export function leaves(value: unknown, path: string[] = [], out: string[][] = []): string[][] {
  if (Array.isArray(value)) {
    for (const v of value) leaves(v, [...path, '[]'], out);
  } else if (typeof value === 'object' && value !== null) {
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) leaves(v, [...path, k], out);
  } else if (value !== undefined) {
    out.push(path);
  }
  return out;
}

/** `id` and `_ts` are indexed whatever the policy says (consistent mode) [IDXP]. */
const ALWAYS_INDEXED = new Set(['id', '_ts']);

/**
 * Index terms a document adds under `policy`: one per indexed scalar (each array element its own),
 * plus `_ts`, which the service adds and always indexes.
 */
export function indexedTerms(document: Record<string, unknown>, policy: IndexingPolicy): number {
  let terms = 1; // _ts
  for (const leaf of leaves(document)) {
    if (leaf.length === 1 && ALWAYS_INDEXED.has(leaf[0]!)) terms++;
    else if (isIndexed(leaf, policy)) terms++;
  }
  return terms;
}

export interface RuEstimate {
  documents: number;
  meanBytes: number;
  meanTerms: number;
  /** Mean estimated RU of creating one document. */
  ruPerRecord: number;
}

/** Mean create cost of the given documents (as the writer sends them) under `policy`. */
export function estimateRu(
  documents: readonly Record<string, unknown>[],
  policy: IndexingPolicy,
): RuEstimate {
  let bytes = 0;
  let terms = 0;
  let ru = 0;
  for (const d of documents) {
    const b = Buffer.byteLength(JSON.stringify(d), 'utf8');
    const t = indexedTerms(d, policy);
    bytes += b;
    terms += t;
    ru += writeRuForBytes(b) + RU_PER_INDEXED_TERM * t;
  }
  const n = Math.max(1, documents.length);
  return { documents: documents.length, meanBytes: bytes / n, meanTerms: terms / n, ruPerRecord: ru / n };
}
