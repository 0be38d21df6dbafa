import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import Parser from 'web-tree-sitter';

/**
 * Reads infra/*.bicep with the tree-sitter grammar shipped in tree-sitter-bicep (WebAssembly, no native
 * build), and turns the parts the tests look at into plain values.
 */

export type SyntaxNode = Parser.SyntaxNode;

export const REPO_ROOT = path.resolve(__dirname, '..', '..');
export const INFRA_DIR = path.join(REPO_ROOT, 'infra');

let language: Promise<Parser.Language> | undefined;

export async function parseBicep(source: string): Promise<Parser.Tree> {
  // Bytes, not a path: under jest the library's own fs lookup fails, and a Buffer is from another realm.
  language ??= Parser.init().then(() =>
    Parser.Language.load(
      new Uint8Array(readFileSync(require.resolve('tree-sitter-bicep/tree-sitter-bicep.wasm'))),
    ),
  );
  const loaded = await language; // Parser objects need init() to have finished
  const parser = new Parser();
  parser.setLanguage(loaded);
  return parser.parse(source);
}

/** ERROR and MISSING nodes, as `line:column kind text`. */
export function syntaxProblems(tree: Parser.Tree): string[] {
  const problems: string[] = [];
  const visit = (node: SyntaxNode): void => {
    if (node.isError || node.isMissing) {
      const { row, column } = node.startPosition;
      const kind = node.isMissing ? `MISSING ${node.type}` : 'ERROR';
      problems.push(`${row + 1}:${column + 1} ${kind} ${JSON.stringify(node.text.slice(0, 60))}`);
    }
    for (const child of node.children) visit(child);
  };
  visit(tree.rootNode);
  return problems;
}

export function bicepFiles(dir: string = INFRA_DIR): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .flatMap((entry) => {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) return bicepFiles(full);
      return entry.name.endsWith('.bicep') ? [full] : [];
    })
    .sort();
}

export interface BicepFile {
  file: string;
  /** Path relative to the repository, with forward slashes. */
  name: string;
  source: string;
  root: SyntaxNode;
}

export async function loadBicep(file: string): Promise<BicepFile> {
  const source = readFileSync(file, 'utf8');
  const tree = await parseBicep(source);
  return {
    file,
    name: path.relative(REPO_ROOT, file).split(path.sep).join('/'),
    source,
    root: tree.rootNode,
  };
}

export async function loadAllBicep(): Promise<BicepFile[]> {
  return Promise.all(bicepFiles().map(loadBicep));
}

/** An expression that is not a literal (a reference, a call, an interpolated string...), kept as source text. */
export class Expr {
  constructor(readonly text: string) {}
}

export type Value = string | number | boolean | null | Expr | Value[] | { [key: string]: Value };

/** The literal value of a node; anything computed becomes an Expr with its source text. */
export function valueOf(node: SyntaxNode): Value {
  switch (node.type) {
    case 'string': {
      const s = stringValue(node);
      return s ?? new Expr(node.text);
    }
    case 'number':
      return Number(node.text);
    case 'boolean':
      return node.text === 'true';
    case 'null':
      return null;
    case 'array':
      return node.namedChildren.filter((c) => c.type !== 'decorators').map(valueOf);
    case 'object':
      return Object.fromEntries(objectProperties(node).map(([key, value]) => [key, valueOf(value)]));
    default:
      return new Expr(node.text);
  }
}

/** A string literal's value; undefined when it interpolates. */
export function stringValue(node: SyntaxNode): string | undefined {
  if (node.type !== 'string' || node.namedChildren.some((c) => c.type === 'interpolation')) return undefined;
  if (node.text.startsWith("'''")) return node.text.slice(3, -3).replace(/^\r?\n/, '');
  return node.text
    .slice(1, -1)
    .replace(/\\(u\{[0-9a-fA-F]+\}|.)/g, (_, c: string) =>
      c.startsWith('u{')
        ? String.fromCodePoint(parseInt(c.slice(2, -1), 16))
        : (({ n: '\n', r: '\r', t: '\t' } as Record<string, string>)[c] ?? c),
    );
}

/** [key, value node] of an object literal's properties. */
export function objectProperties(node: SyntaxNode): [string, SyntaxNode][] {
  return node.namedChildren
    .filter((c) => c.type === 'object_property')
    .flatMap((p) => {
      const key = p.namedChildren[0];
      const value = p.namedChildren[p.namedChildren.length - 1];
      if (!key || !value || key === value) return [];
      const name = key.type === 'string' ? stringValue(key) : key.text;
      return name === undefined ? [] : [[name, value] as [string, SyntaxNode]];
    });
}

export function property(node: SyntaxNode, key: string): SyntaxNode | undefined {
  return objectProperties(node).find(([k]) => k === key)?.[1];
}

/** Follows a path of keys through nested object literals. */
export function propertyPath(node: SyntaxNode, ...keys: string[]): SyntaxNode | undefined {
  let current: SyntaxNode | undefined = node;
  for (const key of keys) {
    if (current?.type !== 'object') return undefined;
    current = property(current, key);
  }
  return current;
}

/** The decorators right before a top-level declaration. */
function decoratorsOf(node: SyntaxNode): SyntaxNode[] {
  let previous = node.previousNamedSibling;
  while (previous?.type === 'comment') previous = previous.previousNamedSibling;
  return previous?.type === 'decorators' ? previous.namedChildren : [];
}

/** Names of a declaration's decorators, e.g. ['description', 'allowed']. */
export function decoratorNames(node: SyntaxNode): string[] {
  return decoratorsOf(node).map((d) => d.namedChildren[0]?.childForFieldName('function')?.text ?? '');
}

/** The argument of a decorator such as @allowed([...]) as a value. */
export function decoratorArgument(node: SyntaxNode, name: string): Value | undefined {
  const call = decoratorsOf(node)
    .map((d) => d.namedChildren[0])
    .find((c) => c?.childForFieldName('function')?.text === name);
  const arg = call?.childForFieldName('arguments')?.namedChildren[0];
  return arg ? valueOf(arg) : undefined;
}

export interface Param {
  name: string;
  type: string;
  node: SyntaxNode;
  default?: SyntaxNode;
}

export function params(root: SyntaxNode): Map<string, Param> {
  return new Map(
    root.namedChildren
      .filter((n) => n.type === 'parameter_declaration')
      .map((n) => {
        const [id, type, value] = n.namedChildren;
        return [
          id!.text,
          { name: id!.text, type: type!.text, node: n, ...(value ? { default: value } : {}) },
        ];
      }),
  );
}

export function variable(root: SyntaxNode, name: string): SyntaxNode | undefined {
  const decl = root.namedChildren.find(
    (n) => n.type === 'variable_declaration' && n.namedChildren[0]?.text === name,
  );
  return decl?.namedChildren[1];
}

export interface Declaration {
  name: string;
  /** Module path or resource type. */
  target: string;
  /** The object literal (inside `if (...)` or `[for ...]` when there is one). */
  body: SyntaxNode;
  conditional: boolean;
  loop: boolean;
}

/** Module and resource declarations, nested resources included. */
export function declarations(
  root: SyntaxNode,
  type: 'module_declaration' | 'resource_declaration',
): Declaration[] {
  return root.descendantsOfType(type).flatMap((n) => {
    const [id, target, value] = n.namedChildren.filter((c) => c.type !== 'existing');
    if (!id || !target || !value) return [];
    let body: SyntaxNode | undefined = value;
    let loop = false;
    if (body.type === 'for_statement') {
      loop = true;
      body = body.childForFieldName('body') ?? undefined;
    }
    const conditional = body?.type === 'if_statement';
    if (conditional) body = body!.namedChildren.find((c) => c.type === 'object');
    return body
      ? [{ name: id.text, target: stringValue(target) ?? target.text, body, conditional, loop }]
      : [];
  });
}

export function outputs(root: SyntaxNode): { name: string; node: SyntaxNode; value: SyntaxNode }[] {
  return root.namedChildren
    .filter((n) => n.type === 'output_declaration')
    .map((n) => ({ name: n.namedChildren[0]!.text, node: n, value: n.namedChildren[2]! }));
}

/** Every object property in the file, wherever it is: [key, value node]. */
export function allProperties(root: SyntaxNode): [string, SyntaxNode][] {
  return root.descendantsOfType('object').flatMap(objectProperties);
}
