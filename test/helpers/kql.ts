/**
 * A small evaluator for the subset of KQL the alert and workbook queries use, so tests can run each
 * query over the exact trace lines the code writes. Anything outside the subset throws KqlUnsupported:
 * a query that uses more fails its test loudly instead of passing by accident. Semantics follow the
 * Kusto documentation where the subset touches them: string operators other than == are
 * case-insensitive, `has` matches whole terms, null compares as false, `order by` defaults to desc.
 *
 * Supported: a table name, then | where, extend, project, summarize (count, countif, sum, min, max,
 * avg, dcount, arg_max, arg_min) ... by, order/sort by, top N by, take/limit. Functions: parse_json,
 * substring, indexof, strlen, tostring, todouble, toreal, toint, tolong, isnull, isnotnull, isempty,
 * isnotempty, iff, not, bin, round.
 */

export class KqlUnsupported extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KqlUnsupported';
  }
}

export class Timespan {
  constructor(readonly ms: number) {}
}

export type KqlValue =
  null | string | number | boolean | Date | Timespan | KqlValue[] | { [key: string]: KqlValue };

export type Row = Record<string, KqlValue>;

export interface Table {
  columns: string[];
  rows: Row[];
}

export type Tables = Record<string, Row[]>;

// ---------------------------------------------------------------------------------------------------
// Tokens

type Token =
  | { kind: 'id'; text: string; pos: number }
  | { kind: 'string'; value: string; pos: number }
  | { kind: 'number'; value: number; pos: number }
  | { kind: 'timespan'; value: number; pos: number }
  | { kind: 'op'; text: string; pos: number }
  | { kind: 'end'; pos: number };

const TIMESPAN_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const OPERATORS = [
  '==',
  '!=',
  '<=',
  '>=',
  '=~',
  '|',
  ',',
  '(',
  ')',
  '.',
  '[',
  ']',
  '=',
  '<',
  '>',
  '+',
  '-',
  '*',
  '/',
  '%',
];

function tokenize(query: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < query.length) {
    const c = query[i]!;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c === '/' && query[i + 1] === '/') {
      while (i < query.length && query[i] !== '\n') i++;
      continue;
    }
    if (c === '"' || c === "'") {
      let value = '';
      let j = i + 1;
      while (j < query.length && query[j] !== c) {
        if (query[j] === '\\') {
          const e = query[j + 1];
          value += e === 'n' ? '\n' : e === 't' ? '\t' : (e ?? '');
          j += 2;
        } else value += query[j++];
      }
      if (j >= query.length) throw new KqlUnsupported(`unterminated string at ${i}`);
      tokens.push({ kind: 'string', value, pos: i });
      i = j + 1;
      continue;
    }
    const num = /^\d+(\.\d+)?(ms|d|h|m|s)?(?![A-Za-z0-9_])/.exec(query.slice(i));
    if (num) {
      const value = Number(num[0].replace(/[a-z]+$/, ''));
      if (num[2]) tokens.push({ kind: 'timespan', value: value * TIMESPAN_UNITS[num[2]]!, pos: i });
      else tokens.push({ kind: 'number', value, pos: i });
      i += num[0].length;
      continue;
    }
    const id = /^!?[A-Za-z_][A-Za-z0-9_]*/.exec(query.slice(i));
    if (id) {
      tokens.push({ kind: 'id', text: id[0], pos: i });
      i += id[0].length;
      continue;
    }
    const op = OPERATORS.find((o) => query.startsWith(o, i));
    if (!op) throw new KqlUnsupported(`unexpected character ${JSON.stringify(c)} at ${i}`);
    tokens.push({ kind: 'op', text: op, pos: i });
    i += op.length;
  }
  tokens.push({ kind: 'end', pos: query.length });
  return tokens;
}

// ---------------------------------------------------------------------------------------------------
// Expressions

type Expr =
  | { type: 'literal'; value: KqlValue }
  | { type: 'column'; name: string }
  | { type: 'member'; object: Expr; key: string }
  | { type: 'call'; name: string; args: Expr[] }
  | { type: 'star' }
  | { type: 'unary'; op: string; operand: Expr }
  | { type: 'binary'; op: string; left: Expr; right: Expr };

const STRING_OPERATORS = new Set([
  'startswith',
  '!startswith',
  'startswith_cs',
  'endswith',
  'contains',
  '!contains',
  'contains_cs',
  'has',
  '!has',
  'has_cs',
]);

class Parser {
  private i = 0;
  constructor(private readonly tokens: Token[]) {}

  peek(offset = 0): Token {
    return this.tokens[Math.min(this.i + offset, this.tokens.length - 1)]!;
  }

  next(): Token {
    return this.tokens[this.i++]!;
  }

  isOp(text: string, offset = 0): boolean {
    const t = this.peek(offset);
    return t.kind === 'op' && t.text === text;
  }

  isId(text: string, offset = 0): boolean {
    const t = this.peek(offset);
    return t.kind === 'id' && t.text === text;
  }

  expectOp(text: string): void {
    if (!this.isOp(text)) throw new KqlUnsupported(`expected ${text} at ${this.peek().pos}`);
    this.i++;
  }

  expectId(text?: string): string {
    const t = this.next();
    if (t.kind !== 'id' || (text !== undefined && t.text !== text))
      throw new KqlUnsupported(`expected ${text ?? 'a name'} at ${t.pos}`);
    return t.text;
  }

  atEnd(): boolean {
    return this.peek().kind === 'end' || this.isOp('|');
  }

  expression(): Expr {
    return this.or();
  }

  private or(): Expr {
    let left = this.and();
    while (this.isId('or')) {
      this.i++;
      left = { type: 'binary', op: 'or', left, right: this.and() };
    }
    return left;
  }

  private and(): Expr {
    let left = this.comparison();
    while (this.isId('and')) {
      this.i++;
      left = { type: 'binary', op: 'and', left, right: this.comparison() };
    }
    return left;
  }

  private comparison(): Expr {
    const left = this.additive();
    const t = this.peek();
    if (t.kind === 'op' && ['==', '!=', '<', '>', '<=', '>=', '=~'].includes(t.text)) {
      this.i++;
      return { type: 'binary', op: t.text, left, right: this.additive() };
    }
    if (t.kind === 'id' && STRING_OPERATORS.has(t.text)) {
      this.i++;
      return { type: 'binary', op: t.text, left, right: this.additive() };
    }
    // A name right after an operand is an operator this evaluator does not know (in, matches regex...).
    if (t.kind === 'id' && !['by', 'asc', 'desc', 'and', 'or'].includes(t.text))
      throw new KqlUnsupported(`unsupported operator ${t.text} at ${t.pos}`);
    return left;
  }

  private additive(): Expr {
    let left = this.multiplicative();
    while (this.isOp('+') || this.isOp('-')) {
      const op = (this.next() as { text: string }).text;
      left = { type: 'binary', op, left, right: this.multiplicative() };
    }
    return left;
  }

  private multiplicative(): Expr {
    let left = this.unary();
    while (this.isOp('*') || this.isOp('/') || this.isOp('%')) {
      const op = (this.next() as { text: string }).text;
      left = { type: 'binary', op, left, right: this.unary() };
    }
    return left;
  }

  private unary(): Expr {
    if (this.isOp('-')) {
      this.i++;
      return { type: 'unary', op: '-', operand: this.unary() };
    }
    return this.postfix();
  }

  private postfix(): Expr {
    let e = this.primary();
    for (;;) {
      if (this.isOp('.')) {
        this.i++;
        e = { type: 'member', object: e, key: this.expectId() };
      } else if (this.isOp('[')) {
        this.i++;
        const key = this.next();
        if (key.kind !== 'string') throw new KqlUnsupported(`only ["name"] indexing at ${key.pos}`);
        this.expectOp(']');
        e = { type: 'member', object: e, key: key.value };
      } else return e;
    }
  }

  private primary(): Expr {
    const t = this.next();
    switch (t.kind) {
      case 'string':
        return { type: 'literal', value: t.value };
      case 'number':
        return { type: 'literal', value: t.value };
      case 'timespan':
        return { type: 'literal', value: new Timespan(t.value) };
      case 'op':
        if (t.text === '(') {
          const e = this.expression();
          this.expectOp(')');
          return e;
        }
        if (t.text === '*') return { type: 'star' };
        throw new KqlUnsupported(`unexpected ${t.text} at ${t.pos}`);
      case 'id': {
        if (t.text === 'true' || t.text === 'false') return { type: 'literal', value: t.text === 'true' };
        if (this.isOp('(')) {
          this.i++;
          const args: Expr[] = [];
          while (!this.isOp(')')) {
            args.push(this.expression());
            if (!this.isOp(')')) this.expectOp(',');
          }
          this.i++;
          return { type: 'call', name: t.text, args };
        }
        return { type: 'column', name: t.text };
      }
      default:
        throw new KqlUnsupported(`unexpected end of query`);
    }
  }
}

// ---------------------------------------------------------------------------------------------------
// Values

function isDynamicObject(v: KqlValue): v is { [key: string]: KqlValue } {
  return (
    typeof v === 'object' &&
    v !== null &&
    !(v instanceof Date) &&
    !(v instanceof Timespan) &&
    !Array.isArray(v)
  );
}

function toStringValue(v: KqlValue): string {
  if (v === null) return '';
  if (typeof v === 'string') return v;
  if (v instanceof Date) return v.toISOString();
  if (v instanceof Timespan) throw new KqlUnsupported('tostring(timespan)');
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

function toNumber(v: KqlValue): number | null {
  if (v === null) return null;
  if (typeof v === 'number') return Number.isFinite(v) ? v : null;
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (typeof v === 'string') {
    const n = Number(v.trim());
    return v.trim() === '' || Number.isNaN(n) ? null : n;
  }
  return null;
}

function truthy(v: KqlValue): boolean {
  if (typeof v !== 'boolean' && v !== null) throw new KqlUnsupported(`a condition gave ${JSON.stringify(v)}`);
  return v === true;
}

function compare(a: KqlValue, b: KqlValue): number | null {
  if (a === null || b === null) return null;
  if (a instanceof Date && b instanceof Date) return a.getTime() - b.getTime();
  if (a instanceof Timespan && b instanceof Timespan) return a.ms - b.ms;
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (typeof a === 'string' && typeof b === 'string') return a < b ? -1 : a > b ? 1 : 0;
  if (typeof a === 'boolean' && typeof b === 'boolean') return Number(a) - Number(b);
  throw new KqlUnsupported(`comparing ${JSON.stringify(a)} with ${JSON.stringify(b)}`);
}

const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

function stringOperator(op: string, left: KqlValue, right: KqlValue): boolean {
  const cs = op.endsWith('_cs');
  const negate = op.startsWith('!');
  const name = op.replace(/^!/, '').replace(/_cs$/, '');
  let l = toStringValue(left);
  let r = toStringValue(right);
  if (!cs) {
    l = l.toLowerCase();
    r = r.toLowerCase();
  }
  let result: boolean;
  switch (name) {
    case 'startswith':
      result = l.startsWith(r);
      break;
    case 'endswith':
      result = l.endsWith(r);
      break;
    case 'contains':
      result = l.includes(r);
      break;
    case 'has':
      // A whole term: not inside a longer run of letters and digits.
      result = new RegExp(`(^|[^a-z0-9])${escape(r)}($|[^a-z0-9])`, cs ? '' : 'i').test(l);
      break;
    default:
      throw new KqlUnsupported(`string operator ${op}`);
  }
  return negate ? !result : result;
}

function binary(op: string, left: KqlValue, right: KqlValue): KqlValue {
  if (STRING_OPERATORS.has(op)) return stringOperator(op, left, right);
  if (op === '=~') return toStringValue(left).toLowerCase() === toStringValue(right).toLowerCase();
  if (['==', '!=', '<', '>', '<=', '>='].includes(op)) {
    const c = compare(left, right);
    if (c === null) return null;
    return { '==': c === 0, '!=': c !== 0, '<': c < 0, '>': c > 0, '<=': c <= 0, '>=': c >= 0 }[op]!;
  }
  if (left === null || right === null) return null;
  if (left instanceof Date && right instanceof Timespan) {
    if (op === '+') return new Date(left.getTime() + right.ms);
    if (op === '-') return new Date(left.getTime() - right.ms);
  }
  if (left instanceof Date && right instanceof Date && op === '-')
    return new Timespan(left.getTime() - right.getTime());
  const a = toNumber(left);
  const b = toNumber(right);
  if (typeof left !== 'number' || typeof right !== 'number' || a === null || b === null)
    throw new KqlUnsupported(`${op} on ${JSON.stringify(left)} and ${JSON.stringify(right)}`);
  switch (op) {
    case '+':
      return a + b;
    case '-':
      return a - b;
    case '*':
      return a * b;
    case '/':
      return b === 0 ? null : a / b;
    case '%':
      return b === 0 ? null : a % b;
    default:
      throw new KqlUnsupported(`operator ${op}`);
  }
}

function callScalar(name: string, args: KqlValue[]): KqlValue {
  const arity = (n: number, max = n): void => {
    if (args.length < n || args.length > max)
      throw new KqlUnsupported(`${name} takes ${n}..${max} arguments`);
  };
  switch (name) {
    case 'parse_json':
    case 'todynamic': {
      arity(1);
      const v = args[0]!;
      if (typeof v !== 'string') return v;
      try {
        return JSON.parse(v) as KqlValue;
      } catch {
        return v;
      }
    }
    case 'substring': {
      arity(2, 3);
      const s = toStringValue(args[0]!);
      const start = Math.max(0, toNumber(args[1]!) ?? 0);
      const length = args[2] === undefined ? undefined : (toNumber(args[2]) ?? 0);
      return length === undefined ? s.substring(start) : s.substr(start, length);
    }
    case 'indexof':
      arity(2);
      return toStringValue(args[0]!).indexOf(toStringValue(args[1]!));
    case 'strlen':
      arity(1);
      return toStringValue(args[0]!).length;
    case 'tostring':
      arity(1);
      return toStringValue(args[0]!);
    case 'todouble':
    case 'toreal':
      arity(1);
      return toNumber(args[0]!);
    case 'toint':
    case 'tolong': {
      arity(1);
      const n = toNumber(args[0]!);
      return n === null ? null : Math.trunc(n);
    }
    case 'round': {
      arity(1, 2);
      const n = toNumber(args[0]!);
      const digits = toNumber(args[1] ?? 0) ?? 0;
      return n === null ? null : Math.round(n * 10 ** digits) / 10 ** digits;
    }
    case 'isnull':
      arity(1);
      return args[0] === null;
    case 'isnotnull':
      arity(1);
      return args[0] !== null;
    case 'isempty':
      arity(1);
      return args[0] === null || args[0] === '';
    case 'isnotempty':
      arity(1);
      return !(args[0] === null || args[0] === '');
    case 'not':
      arity(1);
      return args[0] === null ? null : !truthy(args[0]!);
    case 'iff':
    case 'iif':
      arity(3);
      return args[0] === true ? args[1]! : args[2]!;
    case 'bin': {
      arity(2);
      const [v, size] = args;
      if (v === null || v === undefined) return null;
      if (v instanceof Date && size instanceof Timespan)
        return new Date(Math.floor(v.getTime() / size.ms) * size.ms);
      if (typeof v === 'number' && typeof size === 'number') return Math.floor(v / size) * size;
      throw new KqlUnsupported(`bin(${JSON.stringify(v)}, ${JSON.stringify(size)})`);
    }
    default:
      throw new KqlUnsupported(`function ${name}`);
  }
}

const AGGREGATES = new Set(['count', 'countif', 'sum', 'min', 'max', 'avg', 'dcount', 'arg_max', 'arg_min']);

function evaluate(e: Expr, row: Row): KqlValue {
  switch (e.type) {
    case 'literal':
      return e.value;
    case 'column':
      if (!(e.name in row)) throw new KqlUnsupported(`unknown column ${e.name}`);
      return row[e.name]!;
    case 'member': {
      const o = evaluate(e.object, row);
      if (isDynamicObject(o)) return o[e.key] ?? null;
      return null;
    }
    case 'unary': {
      const v = toNumber(evaluate(e.operand, row));
      return v === null ? null : -v;
    }
    case 'binary': {
      if (e.op === 'and' || e.op === 'or') {
        const l = truthy(evaluate(e.left, row));
        if (e.op === 'and' ? !l : l) return l;
        return truthy(evaluate(e.right, row));
      }
      return binary(e.op, evaluate(e.left, row), evaluate(e.right, row));
    }
    case 'call':
      if (AGGREGATES.has(e.name)) throw new KqlUnsupported(`${e.name}() outside summarize`);
      return callScalar(
        e.name,
        e.args.map((a) => evaluate(a, row)),
      );
    case 'star':
      throw new KqlUnsupported('* outside arg_max/arg_min');
  }
}

/** The column name KQL gives an unnamed expression; only the simple cases, the rest must be named. */
function defaultName(e: Expr): string {
  if (e.type === 'column') return e.name;
  if (e.type === 'member' && e.object.type === 'column') return `${e.object.name}_${e.key}`;
  if (e.type === 'call' && e.name === 'bin' && e.args[0]?.type === 'column') return e.args[0].name;
  throw new KqlUnsupported('name this expression (name = ...): its default column name is not modelled');
}

// ---------------------------------------------------------------------------------------------------
// Operators

interface Named {
  name: string | undefined;
  expr: Expr;
}

function namedList(p: Parser, stopAt: string[] = []): Named[] {
  const items: Named[] = [];
  for (;;) {
    let name: string | undefined;
    if (p.peek().kind === 'id' && p.isOp('=', 1)) {
      name = p.expectId();
      p.expectOp('=');
    }
    items.push({ name, expr: p.expression() });
    if (!p.isOp(',')) break;
    p.next();
  }
  if (!p.atEnd() && !stopAt.some((s) => p.isId(s)))
    throw new KqlUnsupported(`unexpected ${JSON.stringify(p.peek())} in a column list`);
  return items;
}

function columnsOf(rows: Row[], previous: string[]): string[] {
  return rows.length > 0 ? Object.keys(rows[0]!) : previous;
}

function aggregate(e: Expr, rows: Row[]): Row | KqlValue {
  if (e.type !== 'call' || !AGGREGATES.has(e.name)) {
    // e.g. round(avg(x), 1): a scalar function over aggregates.
    if (e.type === 'call')
      return callScalar(
        e.name,
        e.args.map((a) => aggregate(a, rows)),
      );
    if (e.type === 'literal') return e.value;
    throw new KqlUnsupported('a summarize column must be an aggregate');
  }
  const values = (i = 0): KqlValue[] => rows.map((r) => evaluate(e.args[i]!, r));
  const numbers = (): number[] => values().flatMap((v) => (toNumber(v) === null ? [] : [toNumber(v)!]));
  switch (e.name) {
    case 'count':
      if (e.args.length > 0) throw new KqlUnsupported('count() takes no argument here');
      return rows.length;
    case 'countif':
      return values().filter((v) => v === true).length;
    case 'sum':
      return numbers().reduce((s, n) => s + n, 0);
    case 'avg': {
      const ns = numbers();
      return ns.length === 0 ? null : ns.reduce((s, n) => s + n, 0) / ns.length;
    }
    case 'min':
    case 'max': {
      const vs = values().filter((v) => v !== null);
      if (vs.length === 0) return null;
      const sign = e.name === 'max' ? 1 : -1;
      return vs.reduce((best, v) => (sign * compare(v, best)! > 0 ? v : best));
    }
    case 'dcount':
      return new Set(values().map((v) => JSON.stringify(v))).size;
    case 'arg_max':
    case 'arg_min': {
      const sign = e.name === 'arg_max' ? 1 : -1;
      let best: Row | undefined;
      let bestValue: KqlValue = null;
      for (const r of rows) {
        const v = evaluate(e.args[0]!, r);
        if (v === null) continue;
        if (best === undefined || sign * compare(v, bestValue)! > 0) {
          best = r;
          bestValue = v;
        }
      }
      const out: Row = {};
      const target = e.args[0]!;
      out[defaultName(target)] = bestValue;
      for (const a of e.args.slice(1)) {
        if (a.type === 'star') {
          for (const [k, v] of Object.entries(best ?? {})) if (!(k in out)) out[k] = v;
        } else out[defaultName(a)] = best ? evaluate(a, best) : null;
      }
      return out;
    }
    default:
      throw new KqlUnsupported(`aggregate ${e.name}`);
  }
}

function aggregateName(e: Expr): string {
  if (e.type === 'call' && e.name === 'count' && e.args.length === 0) return 'count_';
  const arg = e.type === 'call' && e.args.length === 1 ? e.args[0] : undefined;
  if (e.type === 'call' && AGGREGATES.has(e.name) && arg?.type === 'column') return `${e.name}_${arg.name}`;
  throw new KqlUnsupported('name this aggregate (name = ...)');
}

function summarize(p: Parser, input: Row[]): Row[] {
  const aggregates = namedList(p, ['by']);
  let by: Named[] = [];
  if (p.isId('by')) {
    p.next();
    by = namedList(p);
  }
  const groups = new Map<string, { key: Row; rows: Row[] }>();
  for (const row of input) {
    const key: Row = {};
    for (const b of by) key[b.name ?? defaultName(b.expr)] = evaluate(b.expr, row);
    const id = JSON.stringify(Object.values(key).map((v) => (v instanceof Date ? v.getTime() : v)));
    const group = groups.get(id) ?? { key, rows: [] };
    group.rows.push(row);
    groups.set(id, group);
  }
  // Without `by`, summarize returns one row even over no input (count() = 0).
  if (by.length === 0 && groups.size === 0) groups.set('', { key: {}, rows: [] });
  return [...groups.values()].map(({ key, rows }) => {
    const out: Row = { ...key };
    for (const a of aggregates) {
      const value = aggregate(a.expr, rows);
      const isArg = a.expr.type === 'call' && (a.expr.name === 'arg_max' || a.expr.name === 'arg_min');
      if (isArg) {
        if (a.name !== undefined) throw new KqlUnsupported('name arg_max columns one by one');
        for (const [k, v] of Object.entries(value as Row)) if (!(k in key)) out[k] = v;
      } else out[a.name ?? aggregateName(a.expr)] = value;
    }
    return out;
  });
}

function sortKeys(p: Parser): { expr: Expr; desc: boolean }[] {
  const keys: { expr: Expr; desc: boolean }[] = [];
  for (;;) {
    const expr = p.expression();
    let desc = true; // KQL sorts descending unless told
    if (p.isId('asc') || p.isId('desc')) desc = (p.next() as { text: string }).text === 'desc';
    keys.push({ expr, desc });
    if (!p.isOp(',')) break;
    p.next();
  }
  return keys;
}

function sortRows(rows: Row[], keys: { expr: Expr; desc: boolean }[]): Row[] {
  return [...rows].sort((a, b) => {
    for (const k of keys) {
      const x = evaluate(k.expr, a);
      const y = evaluate(k.expr, b);
      // Nulls last in descending order, first in ascending, as Kusto does by default.
      if (x === null || y === null) {
        if (x === y) continue;
        return (x === null ? 1 : -1) * (k.desc ? 1 : -1);
      }
      const c = compare(x, y)!;
      if (c !== 0) return k.desc ? -c : c;
    }
    return 0;
  });
}

/** Runs a query over the given tables; returns the result's columns and rows. */
export function runKql(query: string, tables: Tables): Table {
  const p = new Parser(tokenize(query));
  const source = p.expectId();
  const table = tables[source];
  if (!table) throw new KqlUnsupported(`unknown table ${source}`);
  let rows: Row[] = table;
  let columns = columnsOf(rows, []);
  while (p.peek().kind !== 'end') {
    p.expectOp('|');
    const op = p.expectId();
    switch (op) {
      case 'where': {
        const condition = p.expression();
        if (!p.atEnd()) throw new KqlUnsupported(`unexpected token after where at ${p.peek().pos}`);
        rows = rows.filter((r) => truthy(evaluate(condition, r)));
        break;
      }
      case 'extend': {
        const items = namedList(p);
        rows = rows.map((r) => {
          const out = { ...r };
          for (const it of items) out[it.name ?? defaultName(it.expr)] = evaluate(it.expr, out);
          return out;
        });
        columns = [...new Set([...columns, ...items.map((it) => it.name ?? defaultName(it.expr))])];
        break;
      }
      case 'project': {
        const items = namedList(p);
        rows = rows.map((r) =>
          Object.fromEntries(items.map((it) => [it.name ?? defaultName(it.expr), evaluate(it.expr, r)])),
        );
        columns = items.map((it) => it.name ?? defaultName(it.expr));
        break;
      }
      case 'summarize':
        rows = summarize(p, rows);
        columns = columnsOf(rows, columns);
        break;
      case 'order':
      case 'sort':
        p.expectId('by');
        rows = sortRows(rows, sortKeys(p));
        break;
      case 'top': {
        const n = p.next();
        if (n.kind !== 'number') throw new KqlUnsupported('top needs a count');
        p.expectId('by');
        rows = sortRows(rows, sortKeys(p)).slice(0, n.value);
        break;
      }
      case 'take':
      case 'limit': {
        const n = p.next();
        if (n.kind !== 'number') throw new KqlUnsupported(`${op} needs a count`);
        rows = rows.slice(0, n.value);
        break;
      }
      default:
        throw new KqlUnsupported(`operator ${op}`);
    }
    if (!p.atEnd()) throw new KqlUnsupported(`unexpected token at ${p.peek().pos} after ${op}`);
  }
  return { columns, rows };
}
