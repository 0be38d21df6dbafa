'use strict';
/**
 * Small fixes to @vercel/cosmosdb-server 1.0.1 so that @azure/cosmos 4.9.3 can use it. Applied by
 * cosmos-server.cjs before the stand-in's router captures its handlers. Everything else is left as is:
 * the product targets real Cosmos DB and tests must not lean on the stand-in.
 */
const path = require('path');

exports.apply = function apply(lib) {
  fixTransactionalBatch(lib);
  fixQuadraticQueries(lib);
};

/**
 * `container.items.batch(operations, partitionKey)` sends the partition key once, in the
 * x-ms-documentdb-partitionkey header, while the stand-in reads it from each operation and answers 500
 * ("Failed to parse x-ms-documentdb-partitionkey headers: undefined"). Copy the header into operations
 * that have none. Batches stay non-atomic (a known gap).
 */
function fixTransactionalBatch(lib) {
  const batch = require(path.join(lib, 'handler', 'batch-documents'));
  const json = require(path.join(lib, 'json'));
  const marker = Symbol('batchPartitionKey');
  const originalBatch = batch.default;
  const originalJson = json.default;
  batch.default = (account, req, res, params) => {
    const header = req.headers['x-ms-documentdb-partitionkey'];
    if (typeof header === 'string' && header !== '[{}]') req[marker] = header;
    return originalBatch(account, req, res, params);
  };
  json.default = async (req) => {
    const body = await originalJson(req);
    if (req[marker] !== undefined && Array.isArray(body)) {
      for (const operation of body) {
        if (operation && typeof operation === 'object' && operation.partitionKey === undefined) {
          operation.partitionKey = req[marker];
        }
      }
    }
    return body;
  };
}

/**
 * Every query first copies the whole container with `collection.reduce(($, c) => [...$, { c }], [])`,
 * which copies the accumulator once per document, and strips `undefined` from its result the same way:
 * a query over 20,000 documents took 4-8 s, so checking a local run's store took minutes. The generated
 * code pushes onto the accumulator instead (`($.push({ c }), $)`, a fresh `[]` per reduce) and the
 * result is stripped in one pass; results are the same.
 */
function fixQuadraticQueries(lib) {
  const resolve = (name) => require.resolve(`@zeit/cosmosdb-query/lib/${name}`, { paths: [lib] });
  const transformer = require(resolve('transformer'));
  const original = transformer.default;
  transformer.default = (...args) => pushInsteadOfSpread(original(...args));
  const helpers = require(resolve('helpers'));
  helpers.stripUndefined = function stripUndefined(value) {
    if (Array.isArray(value)) {
      const out = [];
      for (const v of value) if (typeof v !== 'undefined') out.push(stripUndefined(v));
      return out;
    }
    if (value && typeof value === 'object') {
      const out = {};
      for (const [k, v] of Object.entries(value)) if (typeof v !== 'undefined') out[k] = stripUndefined(v);
      return out;
    }
    return value;
  };
}

function pushInsteadOfSpread(node) {
  if (Array.isArray(node)) return node.map(pushInsteadOfSpread);
  if (!node || typeof node !== 'object') return node;
  for (const key of Object.keys(node)) node[key] = pushInsteadOfSpread(node[key]);
  const [first, ...rest] = node.type === 'ArrayExpression' ? node.elements : [];
  if (
    first &&
    first.type === 'SpreadElement' &&
    first.argument.type === 'Identifier' &&
    first.argument.name === '$'
  ) {
    const accumulator = { type: 'Identifier', name: '$' };
    return {
      type: 'SequenceExpression',
      expressions: [
        {
          type: 'CallExpression',
          callee: {
            type: 'MemberExpression',
            object: accumulator,
            property: { type: 'Identifier', name: 'push' },
            computed: false,
          },
          arguments: rest,
        },
        { type: 'Identifier', name: '$' },
      ],
    };
  }
  return node;
}
