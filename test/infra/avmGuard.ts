import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { DIGEST_DIR, digestFileName, type AvmDigest, type AvmParameter } from '../../scripts/avm-digests';
import { declarations, objectProperties, stringValue, type BicepFile, type SyntaxNode } from './bicep';

/**
 * Checks calls of Azure Verified Modules against the digests in infra/avm (scripts/avm-digests.js), in place of
 * the Bicep compiler `npm test` cannot run: parameter names, required parameters, allowed literal values,
 * property names of typed object parameters, and the outputs read from each module.
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

/** Literal values an expression can take: a literal, or both sides of `cond ? 'a' : 'b'`; else undefined. */
function literals(node: SyntaxNode): (string | number | boolean)[] | undefined {
  switch (node.type) {
    case 'string': {
      const s = stringValue(node);
      return s === undefined ? undefined : [s];
    }
    case 'number':
      return [Number(node.text)];
    case 'boolean':
      return [node.text === 'true'];
    case 'parenthesized_expression':
      return node.namedChildren[0] ? literals(node.namedChildren[0]) : undefined;
    case 'ternary_expression': {
      const a = node.childForFieldName('consequence');
      const b = node.childForFieldName('alternative');
      const la = a && literals(a);
      const lb = b && literals(b);
      return la && lb ? [...la, ...lb] : undefined;
    }
    default:
      return undefined;
  }
}

/** The object literal(s) an expression is: an object, or the body of `[for ...: {...}]`. */
function objectsIn(node: SyntaxNode): SyntaxNode[] {
  if (node.type === 'object') return [node];
  if (node.type === 'for_statement') {
    let body = node.childForFieldName('body');
    if (body?.type === 'if_statement') body = body.namedChildren.find((c) => c.type === 'object') ?? null;
    return body?.type === 'object' ? [body] : [];
  }
  return [];
}

/** `at(node)` prefixes a message with the file, the node's line and the module call. */
function checkValue(
  name: string,
  spec: AvmParameter,
  value: SyntaxNode,
  at: (node: SyntaxNode) => string,
): string[] {
  const problems: string[] = [];
  if (spec.allowed) {
    for (const v of literals(value) ?? []) {
      if (!spec.allowed.includes(v)) {
        problems.push(
          `${at(value)}: ${name}: ${JSON.stringify(v)} is not one of ${JSON.stringify(spec.allowed)}`,
        );
      }
    }
  }
  const nested = (objects: SyntaxNode[], allowed: string[], label: string): void => {
    for (const object of objects) {
      for (const [key, node] of objectProperties(object)) {
        if (!allowed.includes(key)) problems.push(`${at(node)}: ${label}: unknown property '${key}'`);
      }
    }
  };
  if (spec.properties) nested(objectsIn(value), spec.properties, name);
  if (spec.itemProperties && value.type === 'array') {
    const items = value.namedChildren.filter((c) => c.type !== 'comment' && c.type !== 'decorators');
    nested(items.flatMap(objectsIn), spec.itemProperties, `${name}[]`);
  }
  if (spec.itemProperties && value.type === 'for_statement')
    nested(objectsIn(value), spec.itemProperties, `${name}[]`);
  return problems;
}

/** Problems with every AVM call in a file, as `file:line: message`; none when all match their digests. */
export function checkAvmCalls(file: BicepFile, lookup: DigestLookup = readDigest): string[] {
  const problems: string[] = [];
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
      problems.push(...checkValue(name, spec, value, (node) => `${file.name}:${lineOf(node)}: ${label}`));
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
