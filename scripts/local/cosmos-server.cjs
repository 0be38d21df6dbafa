'use strict';
/**
 * Launcher for the local Cosmos DB stand-in (@vercel/cosmosdb-server) over plain HTTP.
 *
 * Plain CommonJS on purpose: services.ts spawns it with `process.execPath` both from the TypeScript
 * sources (jest / ts-jest) and from the compiled `dist/` tree, so it must run without a build step.
 *
 *   node cosmos-server.cjs --port <n> [--host 127.0.0.1] [--state <file>] [--watch-stdin]
 *
 * Prints one line `cosmos-server ready http://HOST:PORT` once it accepts requests.
 *
 * --state <file>: the stand-in only keeps its account in memory. With --state every change to the
 *   account's in-memory collections (databases, containers, documents, UDFs) is appended to <file>
 *   synchronously *before* it is applied, so before the HTTP answer leaves the process: a SIGKILL'd
 *   server never loses an acknowledged write. At start the log is replayed (exact `_rid`, `_etag`, `_ts`)
 *   and compacted into a snapshot.
 * --watch-stdin: exit when stdin closes, i.e. when the parent process died without stopping us.
 */
const fs = require('fs');
const path = require('path');

const args = parseArgs(process.argv.slice(2));
const lib = path.dirname(require.resolve('@vercel/cosmosdb-server'));
const accountModule = require(path.join(lib, 'account'));
const Items = require(path.join(lib, 'account', 'items')).default;

// Patch a few stand-in defects through the SDK's eyes before the router captures the handlers.
require('./cosmos-fixes.cjs').apply(lib);

// createHttpServer() keeps its Account private; capture it so the state log can be replayed into it.
let account;
const BaseAccount = accountModule.default;
accountModule.default = class CapturedAccount extends BaseAccount {
  constructor(host, port) {
    super(host, port);
    account = this;
  }
};

const { createHttpServer } = require('@vercel/cosmosdb-server');

// Names of the Items collections below an account / database / collection that hold user state.
// partitionKeyRanges is rebuilt by the Collection constructor, so it is never logged.
const KINDS = ['databases', 'collections', 'documents', 'userDefinedFunctions'];
let stateFd = null;

function kindOf(items) {
  const parent = items._parent;
  return KINDS.find((k) => parent[k] === items);
}

function parentSelf(items) {
  const data = items._parent.read();
  return data ? data._self : undefined;
}

function logEvent(event) {
  fs.writeSync(stateFd, JSON.stringify(event) + '\n');
}

function installStateLog() {
  const originalSet = Items.prototype._set;
  const originalDelete = Items.prototype.delete;
  Items.prototype._set = function (data) {
    const k = stateFd === null ? undefined : kindOf(this);
    if (k) logEvent({ o: 'set', p: parentSelf(this), k, n: this._ridCount, d: data });
    return originalSet.call(this, data);
  };
  Items.prototype.delete = function (idOrRid, partition) {
    const k = stateFd === null ? undefined : kindOf(this);
    if (k) {
      const existing = this._item('/id', idOrRid, partition).read();
      if (existing) logEvent({ o: 'del', p: parentSelf(this), k, r: existing._rid });
    }
    return originalDelete.call(this, idOrRid, partition);
  };
}

/** Finds the account / database / collection whose `_self` is `self` ('' is the account). */
function resolveParent(self) {
  if (!self) return account;
  const parts = self.split('/').filter(Boolean); // dbs, <rid>, colls, <rid>
  let node = account.database(parts[1]);
  if (parts.length >= 4) node = node.collection(parts[3]);
  return node.read() ? node : undefined;
}

function defineUdf(body) {
  return new Function(`"use strict";return (${body})`)();
}

function applyEvent(event) {
  const parent = resolveParent(event.p);
  if (!parent || !KINDS.includes(event.k)) return;
  const items = parent[event.k];
  if (event.o === 'set') {
    items._set(event.d);
    if (event.k === 'userDefinedFunctions') items.functions[event.d.id] = defineUdf(event.d.body);
  } else if (event.o === 'del') {
    if (items._data.has(event.r)) items.delete(event.r, undefined);
  }
  if (typeof event.n === 'number') items._ridCount = Math.max(items._ridCount, event.n);
}

function replay(file) {
  if (!fs.existsSync(file)) return 0;
  const lines = fs.readFileSync(file, 'utf8').split('\n');
  let applied = 0;
  for (const line of lines) {
    if (!line) continue;
    let event;
    try {
      event = JSON.parse(line);
    } catch {
      continue; // a line torn by a crash mid-write was never acknowledged
    }
    applyEvent(event);
    applied += 1;
  }
  return applied;
}

/** Rewrites the log as a snapshot of the current account so it does not grow without bound. */
function compact(file) {
  const events = [];
  const walk = (node) => {
    for (const k of KINDS) {
      const items = node[k];
      if (!items) continue;
      const p = parentSelf(items);
      for (const child of items._data.values()) {
        events.push({ o: 'set', p, k, d: child.read() });
        walk(child);
      }
      events.push({ o: 'n', p, k, n: items._ridCount });
    }
  };
  walk(account);
  const tmp = `${file}.tmp`;
  const fd = fs.openSync(tmp, 'w');
  fs.writeSync(fd, events.map((e) => JSON.stringify(e) + '\n').join(''));
  fs.fsyncSync(fd);
  fs.closeSync(fd);
  fs.renameSync(tmp, file);
}

function parseArgs(argv) {
  const out = { host: '127.0.0.1', port: 0, state: undefined, watchStdin: false };
  for (let i = 0; i < argv.length; i += 1) {
    const a = argv[i];
    if (a === '--port') out.port = Number(argv[++i]);
    else if (a === '--host') out.host = argv[++i];
    else if (a === '--state') out.state = argv[++i];
    else if (a === '--watch-stdin') out.watchStdin = true;
    else throw new Error(`cosmos-server: unknown argument ${a}`);
  }
  if (!Number.isInteger(out.port) || out.port < 0 || out.port > 65535) {
    throw new Error(`cosmos-server: bad --port`);
  }
  return out;
}

if (args.state) installStateLog();

const server = createHttpServer();
server.on('error', (err) => {
  console.error(`cosmos-server: ${err.message}`);
  process.exit(1);
});
server.listen(args.port, args.host, () => {
  // The 'listening' handler of createHttpServer ran first, so `account` exists; no request has been
  // handled yet because this runs synchronously before the event loop turns.
  let replayed = 0;
  if (args.state) {
    fs.mkdirSync(path.dirname(path.resolve(args.state)), { recursive: true });
    replayed = replay(args.state);
    compact(args.state);
    stateFd = fs.openSync(args.state, 'a');
  }
  const { port } = server.address();
  console.log(
    `cosmos-server ready http://${args.host}:${port}` +
      (args.state ? ` (state: ${replayed} events replayed)` : ''),
  );
});

function shutdown() {
  if (stateFd !== null) fs.closeSync(stateFd);
  stateFd = null;
  process.exit(0);
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
if (args.watchStdin) {
  process.stdin.on('end', shutdown);
  process.stdin.on('close', shutdown);
  process.stdin.on('error', shutdown);
  process.stdin.resume();
}
