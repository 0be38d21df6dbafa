import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { projectRoot } from '../hostSettings';

/**
 * The hunting pack: one Cosmos DB SQL query per `.sql` file in shared/hunting/queries/, read at run time
 * from the source tree (the project root is found from package.json, so `dist/` code reads the same
 * files and the build needs no copy step).
 *
 * A file starts with a header of `-- key: value` lines (name, finds, fields, params, scope, and stand-in
 * when the file has two forms). A file with one form is run as is, on real Cosmos DB and on the local
 * stand-in alike. A file with two forms holds a `-- cosmos:` section (the real Cosmos DB form, with
 * GROUP BY, for Data Explorer and callers that want the aggregate) and a `-- runner:` section (a narrow,
 * indexed row query the stand-in can parse; the runner aggregates its rows client-side).
 */

export type QueryScope = 'user' | 'tenant';

export interface HuntingQuery {
  name: string;
  /** What the query finds (the `-- finds:` header). */
  finds: string;
  /** Document fields it reads or filters on. */
  fields: string[];
  /** Parameter names with their `@`. */
  params: string[];
  /** `user`: filters on `c.user = @user`; `tenant`: the whole tenant, the caller filters rows. */
  scope: QueryScope;
  /** Why a stand-in-compatible form is used, when the file has one. */
  standIn?: string;
  /** The SQL the runner runs (works on real Cosmos DB and the stand-in). */
  sql: string;
  /** The real Cosmos DB form (GROUP BY, …), when it differs from `sql`. */
  cosmosSql?: string;
  file: string;
}

export function queriesDirectory(): string {
  return path.join(projectRoot(__dirname), 'shared', 'hunting', 'queries');
}

let cache: HuntingQuery[] | undefined;

/** Every query of the pack, sorted by name. */
export function listQueries(directory?: string): HuntingQuery[] {
  if (directory === undefined && cache !== undefined) return cache;
  const dir = directory ?? queriesDirectory();
  const queries = readdirSync(dir)
    .filter((f) => f.endsWith('.sql'))
    .sort()
    .map((f) => parseQueryFile(readFileSync(path.join(dir, f), 'utf8'), path.join(dir, f)));
  const names = new Set<string>();
  for (const q of queries) {
    if (names.has(q.name)) throw new Error(`hunting query name "${q.name}" is used twice (${q.file})`);
    names.add(q.name);
  }
  if (directory === undefined) cache = queries;
  return queries;
}

export function getQuery(name: string): HuntingQuery {
  const query = listQueries().find((q) => q.name === name);
  if (query === undefined) {
    throw new Error(
      `no hunting query "${name}"; known: ${listQueries()
        .map((q) => q.name)
        .join(', ')}`,
    );
  }
  return query;
}

const REQUIRED = ['name', 'finds', 'fields', 'params', 'scope'] as const;

export function parseQueryFile(text: string, file = '(inline)'): HuntingQuery {
  const header = new Map<string, string>();
  const sections = new Map<string, string[]>();
  let section = 'body';
  let inHeader = true;
  for (const line of text.split(/\r?\n/)) {
    const marker = /^--\s*(cosmos|runner):\s*$/.exec(line.trim());
    if (marker) {
      inHeader = false;
      section = marker[1] as string;
      continue;
    }
    const kv = /^--\s*([a-z-]+):\s*(.*)$/.exec(line);
    if (inHeader && kv) {
      header.set(kv[1] as string, (kv[2] as string).trim());
      continue;
    }
    if (inHeader && line.trim() === '') continue;
    inHeader = false;
    const lines = sections.get(section) ?? [];
    lines.push(line);
    sections.set(section, lines);
  }
  for (const key of REQUIRED) {
    if (!header.get(key)) throw new Error(`${file}: the header has no "-- ${key}:" line`);
  }
  const scope = header.get('scope');
  if (scope !== 'user' && scope !== 'tenant') throw new Error(`${file}: scope must be user or tenant`);
  const sqlOf = (name: string): string | undefined => {
    const sql = sections.get(name)?.join('\n').trim();
    return sql === undefined || sql === '' ? undefined : sql;
  };
  const body = sqlOf('body');
  const runner = sqlOf('runner');
  const cosmos = sqlOf('cosmos');
  if (body !== undefined && (runner !== undefined || cosmos !== undefined)) {
    throw new Error(`${file}: SQL before the "-- cosmos:" / "-- runner:" sections`);
  }
  const sql = body ?? runner;
  if (sql === undefined) throw new Error(`${file}: no SQL (a two-form file needs a "-- runner:" section)`);
  if (cosmos !== undefined && !header.get('stand-in')) {
    throw new Error(`${file}: a file with a "-- cosmos:" form must say why in a "-- stand-in:" line`);
  }
  const params = (header.get('params') ?? '').split(/[\s,]+/).filter((p) => p !== '');
  for (const p of params) if (!p.startsWith('@')) throw new Error(`${file}: parameter ${p} has no @`);
  const query: HuntingQuery = {
    name: header.get('name') as string,
    finds: header.get('finds') as string,
    fields: (header.get('fields') ?? '').split(/\s*,\s*/).filter((f) => f !== ''),
    params,
    scope,
    sql,
    file,
  };
  const standIn = header.get('stand-in');
  if (standIn) query.standIn = standIn;
  if (cosmos !== undefined) query.cosmosSql = cosmos;
  return query;
}
