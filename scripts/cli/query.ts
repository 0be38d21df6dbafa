import type { Container, SqlParameter } from '@azure/cosmos';
import type { Command, Io, Progress } from '../cli';
import { flagSet, flagValue, flagValues, parseFlags, UsageError, wholeNumber } from './args';
import { COSMOS_FLAGS, COSMOS_FLAGS_USAGE, cosmosOptions, withContainer } from './cosmos';
import { formatRows, parseFormat, type Row } from './format';
import { listQueries, runQuery } from '../../shared/hunting';

/** `auditfeed query`: raw Cosmos DB SQL, or a named query of the hunting pack, with parameters. */

export const QUERY_USAGE = `Usage: auditfeed query "SELECT … FROM c …" [--param NAME=VALUE]… [options]
       auditfeed query <name> [--param NAME=VALUE]… [options]    a named query of the hunting pack
       auditfeed query --list                                   the hunting pack's named queries

Runs one Cosmos DB SQL query (a query starts with SELECT; the words after the options are joined) or a
named query of the hunting pack, and prints its rows.

  --param NAME=VALUE   a query parameter, a string: --param @user=alice@contoso.com (the @ is optional)
  --param NAME:=JSON   a query parameter of another type: --param @n:=5, --param @ops:='["Set-Mailbox"]'
  --page-size N        rows per page read from Cosmos DB (default 100)
  --list               list the named queries of the hunting pack
${COSMOS_FLAGS_USAGE}`;

const FLAGS = [
  ...COSMOS_FLAGS,
  { name: 'param', value: 'NAME=VALUE', repeat: true },
  { name: 'page-size', value: 'N' },
  { name: 'list' },
];

const PARAM_NAME = /^@?[A-Za-z_][A-Za-z0-9_]*$/;

/** `--param` values: `name=value` (a string) or `name:=json`; names get their @. */
export function parseParams(values: readonly string[]): SqlParameter[] {
  const params: SqlParameter[] = [];
  for (const v of values) {
    const eq = v.indexOf('=');
    const json = eq > 0 && v[eq - 1] === ':';
    const rawName = eq < 0 ? v : v.slice(0, json ? eq - 1 : eq);
    if (eq < 0 || !PARAM_NAME.test(rawName))
      throw new UsageError(
        `--param needs NAME=VALUE or NAME:=JSON with a name of letters, digits and _ (got ${JSON.stringify(v)})`,
      );
    const name = rawName.startsWith('@') ? rawName : `@${rawName}`;
    const text = v.slice(eq + 1);
    let value: unknown = text;
    if (json) {
      try {
        value = JSON.parse(text);
      } catch {
        throw new UsageError(
          `--param ${name}:= needs a JSON value (got ${JSON.stringify(text)}); for a string use ${name}=…`,
        );
      }
    }
    if (params.some((p) => p.name === name)) throw new UsageError(`--param ${name} is given twice`);
    params.push({ name, value: value as SqlParameter['value'] });
  }
  return params;
}

/** The @names a query uses, outside its string literals. */
export function parametersUsed(sql: string): string[] {
  const code = sql.replace(/'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"/g, "''");
  return [...new Set([...code.matchAll(/@[A-Za-z_][A-Za-z0-9_]*/g)].map((m) => m[0]))];
}

export function isSql(text: string): boolean {
  return /^\s*SELECT\b/i.test(text);
}

/** Reads every page of a query, telling `progress` after each. */
export async function readAll(
  container: Container,
  query: { query: string; parameters: SqlParameter[] },
  pageSize: number,
  progress: Pick<Progress, 'page'>,
): Promise<Row[]> {
  const rows: Row[] = [];
  const iterator = container.items.query<Row>(query, { maxItemCount: pageSize });
  let pages = 0;
  while (iterator.hasMoreResults()) {
    const { resources } = await iterator.fetchNext();
    rows.push(...(resources ?? []));
    progress.page(++pages, rows.length);
  }
  return rows;
}

export const queryCommand: Command = {
  name: 'query',
  summary: 'a Cosmos DB SQL query, or a named query of the hunting pack, with --param',
  usage: QUERY_USAGE,
  async run(argv: readonly string[], io: Io) {
    const p = parseFlags(argv, FLAGS);
    if (p.help) {
      io.out(`${QUERY_USAGE}\n`);
      return 0;
    }
    const text = p.positionals.join(' ').trim();
    const params = parseParams(flagValues(p, 'param'));
    const pageSizeFlag = flagValue(p, 'page-size');
    const pageSize = pageSizeFlag === undefined ? 100 : wholeNumber('page-size', pageSizeFlag);

    if (flagSet(p, 'list')) {
      if (text !== '') throw new UsageError('--list takes no query');
      const format = parseFormat(flagValue(p, 'format'));
      const list = listQueries().map((q) => ({
        name: q.name,
        parameters: q.params.join(' '),
        finds: q.finds,
      }));
      io.out(formatRows(list, format, io.columns));
      return 0;
    }
    if (text === '')
      throw new UsageError('no query given: pass SQL ("SELECT … FROM c") or the name of a query (--list)');

    if (isSql(text)) {
      const used = parametersUsed(text);
      const missing = used.filter((u) => !params.some((x) => x.name === u));
      if (missing.length > 0)
        throw new UsageError(
          `the query uses ${missing.join(', ')}: give ${missing.map((m) => `--param ${m}=VALUE`).join(' ')}`,
        );
      const unused = params.filter((x) => !used.includes(x.name));
      if (unused.length > 0)
        throw new UsageError(`--param ${unused.map((x) => x.name).join(', ')}: the query does not use it`);
      const o = cosmosOptions(p, io);
      return withContainer(io, 'query', o, async (container, progress) => ({
        rows: await readAll(container, { query: text, parameters: params }, pageSize, progress),
      }));
    }

    if (/\s/.test(text))
      throw new UsageError(
        `${JSON.stringify(text)} is neither SQL (a query starts with SELECT) nor the name of a named query`,
      );
    const known = listQueries();
    const named = known.find((q) => q.name === text);
    if (!named)
      throw new UsageError(
        `no named query "${text}" (there are: ${known.map((q) => q.name).join(', ') || 'none'}; see --list)`,
      );
    const missing = named.params.filter((x) => !params.some((q) => q.name === x));
    if (missing.length > 0)
      throw new UsageError(
        `${named.name} needs ${missing.map((m) => `--param ${m}=VALUE`).join(' ')} (it takes ${named.params.join(' ')})`,
      );
    const unused = params.filter((x) => !named.params.includes(x.name));
    if (unused.length > 0)
      throw new UsageError(
        `--param ${unused.map((x) => x.name).join(', ')}: ${named.name} takes ${named.params.join(' ') || 'no parameters'}`,
      );
    const o = cosmosOptions(p, io);
    return withContainer(io, `query ${named.name}`, o, async (container, progress) => {
      const rows: Row[] = [];
      const values = Object.fromEntries(params.map((x) => [x.name, x.value]));
      for await (const row of runQuery(container, named.name, values, {
        onPage: (page) => progress.page(page.page, page.rowsSoFar),
      }))
        rows.push(row);
      return { rows };
    });
  },
};
