'use strict';
/**
 * Small fixes to @vercel/cosmosdb-server 1.0.1 so that @azure/cosmos 4.9.3 can use it. Applied by
 * cosmos-server.cjs before the stand-in's router captures its handlers. Everything else is left as is:
 * the product targets real Cosmos DB and tests must not lean on the stand-in.
 */
const path = require('path');

exports.apply = function apply(lib) {
  fixTransactionalBatch(lib);
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
