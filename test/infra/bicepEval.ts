import { params, stringValue, variable, type SyntaxNode } from './bicep';

/**
 * Evaluates the Bicep expressions the alert rules are built from (string literals and interpolation,
 * arrays, objects, references to params and variables, member access, join, replace, arithmetic),
 * with the params given as the test's input. Anything else throws, so a rule that needs more is noticed.
 */

export type BicepValue = string | number | boolean | null | BicepValue[] | { [key: string]: BicepValue };

export class BicepUnsupported extends Error {
  constructor(node: SyntaxNode, what: string) {
    super(
      `${what} at ${node.startPosition.row + 1}:${node.startPosition.column + 1}: ${node.text.slice(0, 80)}`,
    );
    this.name = 'BicepUnsupported';
  }
}

export interface Scope {
  root: SyntaxNode;
  /** Param values; a param missing here takes its default. */
  params: Record<string, BicepValue>;
  /** Loop variables and the like. */
  locals?: Record<string, BicepValue>;
}

function decodeEscape(text: string): string {
  const c = text.slice(1);
  if (c.startsWith('u{')) return String.fromCodePoint(parseInt(c.slice(2, -1), 16));
  return ({ n: '\n', r: '\r', t: '\t' } as Record<string, string>)[c] ?? c;
}

function lookup(name: string, node: SyntaxNode, scope: Scope): BicepValue {
  if (scope.locals && name in scope.locals) return scope.locals[name]!;
  if (name in scope.params) return scope.params[name]!;
  const param = params(scope.root).get(name);
  if (param) {
    if (!param.default) throw new BicepUnsupported(node, `param ${name} has no default and no test value`);
    return evaluateBicep(param.default, { ...scope, locals: {} });
  }
  const v = variable(scope.root, name);
  if (v) return evaluateBicep(v, { ...scope, locals: {} });
  throw new BicepUnsupported(node, `unknown name ${name}`);
}

function asString(v: BicepValue, node: SyntaxNode): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  throw new BicepUnsupported(node, 'interpolating a non-scalar');
}

export function evaluateBicep(node: SyntaxNode, scope: Scope): BicepValue {
  switch (node.type) {
    case 'string': {
      const literal = stringValue(node);
      if (literal !== undefined) return literal;
      return node.namedChildren
        .map((c) => {
          if (c.type === 'string_content') return c.text;
          if (c.type === 'escape_sequence') return decodeEscape(c.text);
          if (c.type === 'interpolation') return asString(evaluateBicep(c.namedChildren[0]!, scope), c);
          throw new BicepUnsupported(c, `string part ${c.type}`);
        })
        .join('');
    }
    case 'number':
      return Number(node.text);
    case 'boolean':
      return node.text === 'true';
    case 'null':
      return null;
    case 'array':
      return node.namedChildren.filter((c) => c.type !== 'comment').map((c) => evaluateBicep(c, scope));
    case 'object': {
      const out: Record<string, BicepValue> = {};
      for (const p of node.namedChildren.filter((c) => c.type === 'object_property')) {
        const key = p.namedChildren[0]!;
        const name = key.type === 'string' ? stringValue(key) : key.text;
        if (name === undefined) throw new BicepUnsupported(key, 'computed key');
        out[name] = evaluateBicep(p.namedChildren[p.namedChildren.length - 1]!, scope);
      }
      return out;
    }
    case 'identifier':
      return lookup(node.text, node, scope);
    case 'parenthesized_expression':
      return evaluateBicep(node.namedChildren[0]!, scope);
    case 'member_expression': {
      const object = evaluateBicep(node.childForFieldName('object')!, scope);
      const key = node.childForFieldName('property')!.text;
      if (typeof object !== 'object' || object === null || Array.isArray(object) || !(key in object))
        throw new BicepUnsupported(node, `no property ${key}`);
      return object[key]!;
    }
    case 'binary_expression': {
      const left = evaluateBicep(node.childForFieldName('left')!, scope);
      const right = evaluateBicep(node.childForFieldName('right')!, scope);
      const op = node.children.find((c) => !c.isNamed)?.text;
      if (typeof left !== 'number' || typeof right !== 'number')
        throw new BicepUnsupported(node, 'arithmetic on non-numbers');
      if (op === '*') return left * right;
      if (op === '+') return left + right;
      if (op === '-') return left - right;
      throw new BicepUnsupported(node, `operator ${op}`);
    }
    case 'call_expression': {
      const fn = node.childForFieldName('function')!.text;
      const args = node
        .childForFieldName('arguments')!
        .namedChildren.filter((c) => c.type !== 'comment')
        .map((a) => evaluateBicep(a, scope));
      if (fn === 'join' && Array.isArray(args[0]) && typeof args[1] === 'string')
        return args[0].map((v) => asString(v, node)).join(args[1]);
      if (fn === 'replace' && args.every((a) => typeof a === 'string'))
        return (args[0] as string).split(args[1] as string).join(args[2]);
      if (fn === 'max' && args.every((a) => typeof a === 'number')) return Math.max(...args);
      if (fn === 'string' && args.length === 1) return asString(args[0]!, node);
      throw new BicepUnsupported(node, `function ${fn}`);
    }
    default:
      throw new BicepUnsupported(node, `expression ${node.type}`);
  }
}
