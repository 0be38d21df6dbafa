'use strict';
/**
 * Preloaded (`node -r azurite-preload.cjs <azurite entry> ...`) into the Azurite process started by
 * services.ts. Plain CommonJS so it runs from the TypeScript sources and from `dist/` alike.
 *
 * Why: Azurite keeps its metadata (containers, blobs, queue messages) in LokiJS databases that are only
 * written to disk by a 5 s autosave. A plain SIGKILL therefore loses writes Azurite already acknowledged,
 * which real Azure Storage never does. This preload tracks the LokiJS databases and writes them
 * synchronously:
 *  - on SIGUSR2: flush, then SIGKILL itself. This is the "crash" used by restart(): requests in flight
 *    are cut off, but every acknowledged write survives (content extents are already on disk);
 *  - on SIGTERM/SIGINT: flush before Azurite's own graceful shutdown;
 *  - when stdin closes and AUDITFEED_WATCH_STDIN=1: the parent died without stopping us; flush and exit.
 */
const fs = require('fs');
const path = require('path');

const entry = process.argv[1];
const Loki = require(require.resolve('lokijs', { paths: [path.dirname(entry || __dirname)] }));

const databases = new Set();
const originalConfigure = Loki.prototype.configureOptions;
Loki.prototype.configureOptions = function (options, initialConfig) {
  databases.add(this);
  return originalConfigure.call(this, options, initialConfig);
};

function flushSync() {
  for (const db of databases) {
    // An empty database is either in-memory or still loading its file: writing it would erase data.
    if (db.persistenceMethod !== 'fs' || db.collections.length === 0) continue;
    try {
      const tmp = `${db.filename}.flush`;
      fs.writeFileSync(tmp, db.serialize());
      fs.renameSync(tmp, db.filename);
    } catch (err) {
      console.error(`azurite-preload: flushing ${db.filename} failed: ${err.message}`);
    }
  }
}

/** Blocks the event loop so no request is answered while LokiJS's own async saves settle. */
function sleepSync(ms) {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** Flush twice around a pause: an autosave already in flight could rename an older file over ours. */
function flushSettled() {
  flushSync();
  sleepSync(50);
  flushSync();
}

process.on('SIGUSR2', () => {
  flushSettled();
  process.kill(process.pid, 'SIGKILL');
});

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => {
    flushSettled();
    // Before Azurite registered its own shutdown handler nothing else would end the process.
    if (process.listenerCount(signal) === 1) process.exit(0);
  });
}

if (process.env.AUDITFEED_WATCH_STDIN === '1') {
  let done = false;
  const parentGone = () => {
    if (done) return;
    done = true;
    flushSettled();
    process.exit(0);
  };
  process.stdin.on('end', parentGone);
  process.stdin.on('close', parentGone);
  process.stdin.on('error', parentGone);
  process.stdin.resume();
  // Watching must not keep Azurite alive after its own graceful shutdown closed the servers.
  if (typeof process.stdin.unref === 'function') process.stdin.unref();
}
