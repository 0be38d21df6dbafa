import path from 'node:path';
import type { Container } from '@azure/cosmos';

/**
 * What the CLI uses of the hunting pack (shared/hunting/index.ts), as that pack declares it. The pack is
 * loaded at run time, so a build without it still has `timeline`, `hunt`, `investigate` and
 * `query --list`: they say the pack is missing (exit 2) and never make up results.
 */

export type HuntRow = Record<string, unknown>;

export interface PackPage {
  query: string;
  page: number;
  rowsSoFar: number;
}

export interface PackOptions {
  onPage?: (progress: PackPage) => void;
}

export interface PackQuery {
  name: string;
  /** What the query finds. */
  finds: string;
  /** Parameter names with their @; every one must be given. */
  params: string[];
  sql: string;
}

/** ISO times, UTC; `from` inclusive, `to` exclusive. */
export interface TimeRange {
  from: string;
  to: string;
}

export interface PackFinding {
  rule: string;
  severity: string;
  title: string;
  why: string;
  evidence: HuntRow[];
}

export interface PackReport {
  user: string;
  range: { from: string; to: string };
  verdict: string;
  findings: PackFinding[];
}

export interface HuntingPack {
  listQueries(): PackQuery[];
  /** A named query's rows, page by page (`params` keyed with or without @). */
  runQuery(
    container: Container,
    name: string,
    params: Record<string, unknown>,
    options?: PackOptions,
  ): AsyncIterable<HuntRow>;
  /** Everything one account did, oldest first. */
  timeline(container: Container, user: string, range: TimeRange, options?: PackOptions): Promise<HuntRow[]>;
  /** Accounts that look compromised: `flagged` and `reviewed` investigations. */
  hunt(
    container: Container,
    range: TimeRange,
    options?: PackOptions,
  ): Promise<{ flagged: PackReport[]; reviewed: Array<{ user: string; verdict: string; rules: string[] }> }>;
  /** One account's findings with a verdict. */
  investigate(
    container: Container,
    user: string,
    range: TimeRange,
    options?: PackOptions,
  ): Promise<PackReport>;
  /** The report as text (optional). */
  formatReport?(report: PackReport): string;
}

export const PACK_FUNCTIONS = ['listQueries', 'runQuery', 'timeline', 'hunt', 'investigate'] as const;

export type PackLoad =
  { pack: Partial<HuntingPack>; missing?: undefined } | { pack?: undefined; missing: string };

/** Where the pack is: shared/hunting next to this build (dist/shared/hunting, or the sources under ts-jest). */
export const PACK_DIR = path.join(__dirname, '..', '..', 'shared', 'hunting');

export function loadHuntingPack(dir: string = PACK_DIR): PackLoad {
  let loaded: unknown;
  try {
    // A path the compiler does not resolve: the pack may not be part of this build.
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded only if present
    loaded = require(dir) as unknown;
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    // Only the pack itself missing; a module the pack imports that is missing is a real error.
    if (err.code === 'MODULE_NOT_FOUND' && err.message.includes(`'${dir}'`))
      return { missing: 'the hunting pack (shared/hunting) is not part of this build' };
    throw e;
  }
  const pack = loaded as Partial<Record<string, unknown>>;
  const found = PACK_FUNCTIONS.filter((f) => typeof pack[f] === 'function');
  if (found.length === 0)
    return {
      missing: `shared/hunting exports none of ${PACK_FUNCTIONS.join(', ')}: not the hunting pack the CLI knows`,
    };
  return { pack };
}
