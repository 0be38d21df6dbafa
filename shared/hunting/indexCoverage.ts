import type { IndexingPolicy } from '@azure/cosmos';

/**
 * Does the container's indexing policy serve a query's filters and sorts? A small scan, not a SQL
 * parser: string literals are blanked, then every `c.<path>` in WHERE (and JOIN … IN) must be under an
 * included path, every ORDER BY path must be too, and an ORDER BY on two or more paths needs a composite
 * index with those paths in that order (same directions, or all reversed). Paths read only in SELECT or
 * GROUP BY need no index.
 */

export interface IndexProblem {
  path: string;
  clause: 'WHERE' | 'JOIN' | 'ORDER BY';
  message: string;
}

interface OrderItem {
  path: string;
  order: 'ascending' | 'descending';
}

export function indexProblems(sql: string, policy: IndexingPolicy): IndexProblem[] {
  const text = blankStrings(stripComments(sql));
  const problems: IndexProblem[] = [];
  const clauses = splitClauses(text);
  for (const [clause, body] of [
    ['WHERE', clauses.where],
    ['JOIN', clauses.join],
  ] as const) {
    for (const p of documentPaths(body)) {
      if (!isIndexed(p, policy)) {
        problems.push({ path: p, clause, message: `filters on ${p}, which the indexing policy excludes` });
      }
    }
  }
  const order = orderItems(clauses.orderBy);
  for (const item of order) {
    if (!isIndexed(item.path, policy)) {
      problems.push({
        path: item.path,
        clause: 'ORDER BY',
        message: `sorts on ${item.path}, which the indexing policy excludes`,
      });
    }
  }
  if (order.length >= 2 && !hasComposite(order, policy)) {
    const spelled = order.map((o) => `${o.path} ${o.order === 'ascending' ? 'ASC' : 'DESC'}`).join(', ');
    problems.push({
      path: order.map((o) => o.path).join(','),
      clause: 'ORDER BY',
      message: `sorts on ${spelled}, which needs a composite index with those paths in that order`,
    });
  }
  return dedupe(problems);
}

function stripComments(sql: string): string {
  return sql
    .split('\n')
    .map((l) => l.replace(/--.*$/, ''))
    .join('\n');
}

function blankStrings(sql: string): string {
  return sql.replace(/'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"/g, "''");
}

const CLAUSE = /\b(WHERE|ORDER\s+BY|GROUP\s+BY|OFFSET|JOIN)\b/gi;

function splitClauses(sql: string): { where: string; join: string; orderBy: string } {
  const out = { where: '', join: '', orderBy: '' };
  const marks = [...sql.matchAll(CLAUSE)].map((m) => ({
    kind: (m[1] as string).toUpperCase().replace(/\s+/g, ' '),
    start: (m.index ?? 0) + m[0].length,
    at: m.index ?? 0,
  }));
  marks.forEach((m, i) => {
    const body = sql.slice(m.start, marks[i + 1]?.at ?? sql.length);
    if (m.kind === 'WHERE') out.where += ` ${body}`;
    else if (m.kind === 'JOIN') out.join += ` ${body}`;
    else if (m.kind === 'ORDER BY') out.orderBy += ` ${body}`;
  });
  return out;
}

/** `c.a.b` → `/a/b`; `c.a[0]` and `c["a"]` are not used by the pack and not recognised. */
function documentPaths(body: string): string[] {
  const paths = [...body.matchAll(/\bc((?:\.[A-Za-z_][A-Za-z0-9_]*)+)/g)].map((m) =>
    (m[1] as string).replace(/\./g, '/'),
  );
  return [...new Set(paths)];
}

function orderItems(body: string): OrderItem[] {
  if (body.trim() === '') return [];
  return body
    .split(',')
    .map((part) => {
      const m = /\bc((?:\.[A-Za-z_][A-Za-z0-9_]*)+)\s*(ASC|DESC)?/i.exec(part);
      if (!m) return undefined;
      return {
        path: (m[1] as string).replace(/\./g, '/'),
        order: (m[2] ?? 'ASC').toUpperCase() === 'DESC' ? 'descending' : 'ascending',
      } satisfies OrderItem;
    })
    .filter((x): x is OrderItem => x !== undefined);
}

/** Included when some included path covers it and no more specific excluded path does. */
export function isIndexed(docPath: string, policy: IndexingPolicy): boolean {
  const best = (list: { path: string }[] | undefined): number =>
    Math.max(-1, ...(list ?? []).filter((p) => covers(p.path, docPath)).map((p) => specificity(p.path)));
  const included = best(policy.includedPaths);
  const excluded = best(policy.excludedPaths);
  return included >= 0 && included > excluded;
}

/** `/a/?` covers `/a`; `/a/*` covers `/a` and below; `/*` covers everything. */
function covers(indexPath: string, docPath: string): boolean {
  if (indexPath.endsWith('/?')) return indexPath.slice(0, -2) === docPath;
  if (indexPath.endsWith('/*')) {
    const prefix = indexPath.slice(0, -2);
    return prefix === '' || docPath === prefix || docPath.startsWith(`${prefix}/`);
  }
  return false;
}

function specificity(indexPath: string): number {
  return indexPath.split('/').length * 2 + (indexPath.endsWith('/?') ? 1 : 0);
}

function hasComposite(order: OrderItem[], policy: IndexingPolicy): boolean {
  return (policy.compositeIndexes ?? []).some((composite) => {
    if (composite.length !== order.length) return false;
    const same = composite.every(
      (c, i) => c.path === order[i]?.path && (c.order ?? 'ascending') === order[i]?.order,
    );
    const reversed = composite.every(
      (c, i) => c.path === order[i]?.path && (c.order ?? 'ascending') !== order[i]?.order,
    );
    return same || reversed;
  });
}

function dedupe(problems: IndexProblem[]): IndexProblem[] {
  const seen = new Set<string>();
  return problems.filter((p) => {
    const key = `${p.clause}|${p.path}|${p.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
