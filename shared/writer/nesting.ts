/**
 * Nesting depth of JSON values, measured without recursion: a hostile record can nest millions of levels
 * deep within a 16 MiB batch (JSON.parse copes; anything recursive, JSON.stringify included, overflows the
 * stack at a few thousand levels).
 */

/**
 * Cosmos DB's "Maximum level of nesting for embedded objects / arrays" per item
 * (https://learn.microsoft.com/azure/cosmos-db/concepts-limits#per-item-limits). We count the document
 * itself as level 1, which may be one level stricter than Cosmos DB; a record refused for it is kept whole.
 */
export const MAX_DOCUMENT_NESTING = 128;

/**
 * JSON.stringify recurses; on Node 20's default stack it overflows at about 4,000 levels, fewer when
 * called deep in a stack. Values nested deeper than this are serialised with stringifyDeep instead.
 */
export const NATIVE_STRINGIFY_MAX_NESTING = 1000;

/**
 * Levels of objects and arrays on the deepest path: 0 for a scalar, 1 for `{}` or `[1]`, 2 for
 * `{"a":{}}`. Stops counting once past `stopAbove` and returns `stopAbove + 1`.
 */
export function nestingDepth(value: unknown, stopAbove = Number.MAX_SAFE_INTEGER): number {
  if (!isContainer(value)) return 0;
  let max = 1;
  const stack: [object, number][] = [[value, 1]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop()!;
    for (const child of Object.values(node)) {
      if (!isContainer(child)) continue;
      const childDepth = depth + 1;
      if (childDepth > stopAbove) return stopAbove + 1;
      if (childDepth > max) max = childDepth;
      stack.push([child, childDepth]);
    }
  }
  return max;
}

/**
 * JSON.stringify for parsed JSON (plain objects, arrays, strings, finite numbers, booleans, null) at any
 * depth: same output, built with an explicit stack. Only for the rare value too deep for the native one.
 */
export function stringifyDeep(value: unknown): string {
  const out: string[] = [];
  // Each frame: a container, its keys (objects) or length (arrays), and the next position.
  type Frame = { node: object; keys: string[] | undefined; length: number; next: number };
  const stack: Frame[] = [];
  const open = (v: unknown): void => {
    if (!isContainer(v)) {
      out.push(JSON.stringify(v) ?? 'null');
      return;
    }
    const keys = Array.isArray(v) ? undefined : Object.keys(v);
    out.push(keys ? '{' : '[');
    stack.push({ node: v, keys, length: keys ? keys.length : (v as unknown[]).length, next: 0 });
  };
  open(value);
  while (stack.length > 0) {
    const frame = stack[stack.length - 1]!;
    if (frame.next === frame.length) {
      out.push(frame.keys ? '}' : ']');
      stack.pop();
      continue;
    }
    const i = frame.next++;
    if (i > 0) out.push(',');
    if (frame.keys) {
      const key = frame.keys[i]!;
      out.push(JSON.stringify(key), ':');
      open((frame.node as Record<string, unknown>)[key]);
    } else {
      open((frame.node as unknown[])[i]);
    }
  }
  return out.join('');
}

function isContainer(value: unknown): value is object {
  return typeof value === 'object' && value !== null;
}
