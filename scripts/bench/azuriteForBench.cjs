'use strict';
/**
 * Preloaded into the scale bench's Azurite (NODE_OPTIONS=--require, set only while scale.ts starts it).
 * Azurite keeps its metadata in LokiJS collections, and some of its lookups cost O(all blobs or messages)
 * per request, which real Storage does not: at 500 tenants (2,500 units: watermarks, claims, seen sets,
 * claim checks, a work queue thousands long) Azurite alone took most of a core and every figure measured
 * Azurite (profile of 2026-12-03: 75% of its time in LokiJS scans — blob create/read, the queue's
 * expired-message sweep on every delete). The bench's stores live for one run, so:
 *
 * - the blob garbage collector (a mark-and-sweep every 10 minutes that held Azurite for over 10 minutes
 *   once) is put off by a day;
 * - point lookups (a query naming a blob, message or extent) filter by that name first, so LokiJS's index
 *   on it does the work instead of a scan from the account (which every document matches) — the same
 *   documents are found;
 * - the sweep of expired queue messages runs at most every 30 s per queue instead of on every message
 *   operation (nothing the bench sends expires within a run: batches never, tasks after 7 days).
 */
const path = require('path');

const entry = process.argv[1] || '';
if (/azurite/.test(entry)) {
  const src = path.dirname(entry);
  const constants = require(path.join(src, 'blob', 'utils', 'constants.js'));
  constants.DEFAULT_GC_INTERVAL_MS = 24 * 60 * 60 * 1000;

  const loki = require(require.resolve('lokijs', { paths: [src] }));
  const SELECTIVE = ['name', 'messageId', 'blobName', 'id'];
  const find = loki.Resultset.prototype.find;
  loki.Resultset.prototype.find = function (query, firstOnly) {
    if (query && typeof query === 'object' && !Array.isArray(query)) {
      const keys = Object.keys(query);
      const first = SELECTIVE.find((k) => keys.includes(k));
      if (keys.length > 1 && first && keys[0] !== first) {
        const reordered = { [first]: query[first] };
        for (const k of keys) if (k !== first) reordered[k] = query[k];
        return find.call(this, reordered, firstOnly);
      }
    }
    return find.call(this, query, firstOnly);
  };

  const store = require(path.join(src, 'queue', 'persistence', 'LokiQueueMetadataStore.js')).default;
  const clear = store.prototype.clearExpiredMessages;
  const lastCleared = new Map();
  store.prototype.clearExpiredMessages = function (account, queue, context) {
    const key = `${account}/${queue}`;
    const now = Date.now();
    if (now - (lastCleared.get(key) ?? 0) < 30_000) return Promise.resolve();
    lastCleared.set(key, now);
    return clear.call(this, account, queue, context);
  };
}

// AUDITFEED_BENCH_AZURITE_PROFILE=<dir>: a CPU profile of this Azurite, written when it exits (NODE_OPTIONS
// cannot carry --cpu-prof), to see which storage operations the bench's load costs it.
const profileDir = process.env.AUDITFEED_BENCH_AZURITE_PROFILE;
if (profileDir && /azurite/.test(entry)) {
  const inspector = require('inspector');
  const fs = require('fs');
  const session = new inspector.Session();
  session.connect();
  session.post('Profiler.enable');
  session.post('Profiler.setSamplingInterval', { interval: 1000 });
  session.post('Profiler.start');
  let written = false;
  const write = () => {
    if (written) return;
    written = true;
    // An in-process session answers synchronously, so this works inside 'exit'.
    session.post('Profiler.stop', (err, result) => {
      if (err) return;
      fs.mkdirSync(profileDir, { recursive: true });
      fs.writeFileSync(
        path.join(profileDir, `azurite-${process.pid}.cpuprofile`),
        JSON.stringify(result.profile),
      );
    });
  };
  process.on('exit', write);
  process.prependListener('SIGTERM', write);
}
