import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { DIGEST_DIR, digestFileName, type AvmDigest, type AvmParameter } from '../../scripts/avm-digests';
import { declarations, objectProperties, stringValue, type BicepFile, type SyntaxNode } from './bicep';

/**
 * Checks calls of Azure Verified Modules against the digests in infra/avm (scripts/avm-digests.js), in place of
 * the Bicep compiler `npm test` cannot run: parameter names, required parameters, allowed literal values,
 * property names of typed object parameters (two levels deep, through the file's vars), and the outputs read
 * from each module.
 */

export const AVM_TARGET = /^br\/public:(avm\/[a-z0-9-]+(?:\/[a-z0-9-]+)+):(\d+\.\d+\.\d+)$/;

export interface AvmCall {
  symbol: string;
  module: string;
  version: string;
  line: number;
  body: SyntaxNode;
}

const lineOf = (node: SyntaxNode): number => node.startPosition.row + 1;

export function avmCalls(file: BicepFile): AvmCall[] {
  return declarations(file.root, 'module_declaration').flatMap((d) => {
    const match = AVM_TARGET.exec(d.target);
    if (!match) return [];
    let decl: SyntaxNode | null = d.body;
    while (decl && decl.type !== 'module_declaration') decl = decl.parent;
    return [
      { symbol: d.name, module: match[1]!, version: match[2]!, line: lineOf(decl ?? d.body), body: d.body },
    ];
  });
}

export type DigestLookup = (module: string, version: string) => AvmDigest | undefined;

export function readDigest(module: string, version: string, dir: string = DIGEST_DIR): AvmDigest | undefined {
  const file = path.join(dir, digestFileName(module, version));
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as AvmDigest) : undefined;
}

export interface OutputAccess {
  symbol: string;
  output: string;
  line: number;
}

/** `m.outputs.x`, `m!.outputs.x`, `m[i].outputs.x`, `m.outputs['x']` for the given module symbols. */
export function outputAccesses(root: SyntaxNode, symbols: ReadonlySet<string>): OutputAccess[] {
  return root.descendantsOfType('member_expression').flatMap((node) => {
    if (node.childForFieldName('property')?.text !== 'outputs') return [];
    let base = node.childForFieldName('object');
    while (base && (base.type === 'subscript_expression' || base.type === 'parenthesized_expression')) {
      base = base.type === 'subscript_expression' ? base.childForFieldName('object') : base.namedChildren[0]!;
    }
    if (base?.type !== 'identifier' || !symbols.has(base.text)) return [];
    const parent = node.parent;
    if (!parent || parent.childForFieldName('object')?.id !== node.id) return [];
    const key =
      parent.type === 'member_expression'
        ? parent.childForFieldName('property')?.text
        : parent.type === 'subscript_expression'
          ? stringValue(parent.childForFieldName('index')!)
          : undefined;
    return key === undefined ? [] : [{ symbol: base.text, output: key, line: lineOf(node) }];
  });
}

/** A file's top-level `var` declarations: name -> value expression. */
export type Variables = ReadonlyMap<string, SyntaxNode>;

export function fileVariables(root: SyntaxNode): Variables {
  return new Map(
    root.namedChildren
      .filter((n) => n.type === 'variable_declaration')
      .flatMap((n) => {
        const [id, ...rest] = n.namedChildren.filter((c) => c.type !== 'comment');
        const value = rest[rest.length - 1]; // `var x = v` or `var x type = v`
        return id && value ? [[id.text, value] as [string, SyntaxNode]] : [];
      }),
  );
}

/**
 * Follows `x` to the value of `var x` (once per name on a path, so a cycle ends), through parentheses.
 * Anything else is returned as it is.
 */
function deref(node: SyntaxNode, vars: Variables, seen: ReadonlySet<string>): [SyntaxNode, Set<string>] {
  let current = node;
  const path = new Set(seen);
  for (;;) {
    if (current.type === 'parenthesized_expression' && current.namedChildren[0]) {
      current = current.namedChildren[0];
    } else if (current.type === 'identifier' && vars.has(current.text) && !path.has(current.text)) {
      path.add(current.text);
      current = vars.get(current.text)!;
    } else {
      return [current, path];
    }
  }
}

/** Literal values an expression can take: a literal, a var, or both sides of `cond ? 'a' : 'b'`; else undefined. */
function literals(
  node: SyntaxNode,
  vars: Variables,
  seen: ReadonlySet<string> = new Set(),
): (string | number | boolean)[] | undefined {
  const [value, path] = deref(node, vars, seen);
  switch (value.type) {
    case 'string': {
      const s = stringValue(value);
      return s === undefined ? undefined : [s];
    }
    case 'number':
      return [Number(value.text)];
    case 'boolean':
      return [value.text === 'true'];
    case 'ternary_expression': {
      const a = value.childForFieldName('consequence');
      const b = value.childForFieldName('alternative');
      const la = a && literals(a, vars, path);
      const lb = b && literals(b, vars, path);
      return la && lb ? [...la, ...lb] : undefined;
    }
    default:
      return undefined;
  }
}

/** The object literals an object-typed expression can be: an object, a var holding one, either side of `?:`. */
function objectsOf(node: SyntaxNode, vars: Variables, seen: ReadonlySet<string> = new Set()): SyntaxNode[] {
  const [value, path] = deref(node, vars, seen);
  if (value.type === 'object') return [value];
  if (value.type === 'ternary_expression') {
    return ['consequence', 'alternative'].flatMap((f) => {
      const branch = value.childForFieldName(f);
      return branch ? objectsOf(branch, vars, path) : [];
    });
  }
  return [];
}

/**
 * The object literals that can be items of an array-typed expression: the items of `[...]` (vars included),
 * the body of `[for ...: {...}]`, `concat(...)` of such arrays, either side of `c ? [...] : []`, a var holding one.
 */
function itemsOf(node: SyntaxNode, vars: Variables, seen: ReadonlySet<string> = new Set()): SyntaxNode[] {
  const [value, path] = deref(node, vars, seen);
  switch (value.type) {
    case 'array':
      return value.namedChildren
        .filter((c) => c.type !== 'comment' && c.type !== 'decorators')
        .flatMap((item) => objectsOf(item, vars, path));
    case 'for_statement': {
      let body = value.childForFieldName('body');
      if (body?.type === 'if_statement') body = body.namedChildren[body.namedChildren.length - 1] ?? null;
      return body ? objectsOf(body, vars, path) : [];
    }
    case 'ternary_expression':
      return ['consequence', 'alternative'].flatMap((f) => {
        const branch = value.childForFieldName(f);
        return branch ? itemsOf(branch, vars, path) : [];
      });
    case 'call_expression': {
      if (value.childForFieldName('function')?.text !== 'concat') return [];
      const args = value.childForFieldName('arguments')?.namedChildren ?? [];
      return args.filter((a) => a.type !== 'comment').flatMap((a) => itemsOf(a, vars, path));
    }
    default:
      return [];
  }
}

/** `at(node)` prefixes a message with the file, the node's line and the module call. */
function checkValue(
  name: string,
  spec: AvmParameter,
  value: SyntaxNode,
  vars: Variables,
  at: (node: SyntaxNode) => string,
): string[] {
  const problems: string[] = [];
  if (spec.allowed) {
    for (const v of literals(value, vars) ?? []) {
      if (!spec.allowed.includes(v)) {
        problems.push(
          `${at(value)}: ${name}: ${JSON.stringify(v)} is not one of ${JSON.stringify(spec.allowed)}`,
        );
      }
    }
  }
  /** Keys of each object against `allowed`, and one level down against spec.nested (`key` or `key[]`). */
  const check = (objects: SyntaxNode[], allowed: string[], label: string, nested = spec.nested): void => {
    for (const object of objects) {
      for (const [key, node] of objectProperties(object)) {
        if (!allowed.includes(key)) {
          problems.push(`${at(node)}: ${label}: unknown property '${key}'`);
          continue;
        }
        const own = nested?.[key];
        if (own) check(objectsOf(node, vars), own, `${label}.${key}`, undefined);
        const items = nested?.[`${key}[]`];
        if (items) check(itemsOf(node, vars), items, `${label}.${key}[]`, undefined);
      }
    }
  };
  if (spec.properties) check(objectsOf(value, vars), spec.properties, name);
  if (spec.itemProperties) check(itemsOf(value, vars), spec.itemProperties, `${name}[]`);
  return problems;
}

/** Problems with every AVM call in a file, as `file:line: message`; none when all match their digests. */
export function checkAvmCalls(file: BicepFile, lookup: DigestLookup = readDigest): string[] {
  const problems: string[] = [];
  const vars = fileVariables(file.root);
  const calls = avmCalls(file);
  const digests = new Map<string, AvmDigest | undefined>();
  for (const call of calls) {
    const where = `${file.name}:${call.line}`;
    const label = `${call.symbol} (${call.module}:${call.version})`;
    const digest = lookup(call.module, call.version);
    digests.set(call.symbol, digest);
    if (!digest) {
      problems.push(
        `${where}: ${label}: no digest infra/avm/${digestFileName(call.module, call.version)}; run npm run avm:refresh`,
      );
      continue;
    }
    const paramsNode = objectProperties(call.body).find(([k]) => k === 'params')?.[1];
    if (paramsNode && paramsNode.type !== 'object') continue; // computed: nothing to compare by name
    const given = paramsNode ? objectProperties(paramsNode) : [];
    for (const [name, value] of given) {
      const spec = digest.parameters[name];
      if (!spec) {
        problems.push(`${file.name}:${lineOf(value)}: ${label}: unknown parameter '${name}'`);
        continue;
      }
      problems.push(
        ...checkValue(name, spec, value, vars, (node) => `${file.name}:${lineOf(node)}: ${label}`),
      );
    }
    const names = new Set(given.map(([k]) => k));
    for (const [name, spec] of Object.entries(digest.parameters)) {
      if (spec.required && !names.has(name))
        problems.push(`${where}: ${label}: required parameter '${name}' missing`);
    }
  }
  for (const access of outputAccesses(file.root, new Set(digests.keys()))) {
    const digest = digests.get(access.symbol);
    if (digest && !(access.output in digest.outputs)) {
      const call = calls.find((c) => c.symbol === access.symbol)!;
      problems.push(
        `${file.name}:${access.line}: ${access.symbol} (${call.module}:${call.version}): unknown output '${access.output}'`,
      );
    }
  }
  return problems;
}
