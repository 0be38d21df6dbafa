'use strict';
/**
 * Preloaded into the scale bench's Azurite (NODE_OPTIONS=--require, set only while scale.ts starts it).
 * Azurite's blob garbage collector runs a mark-and-sweep every 10 minutes; in memory, after the tens of
 * thousands of small writes 2,500 units make (watermarks, claims, seen sets, claim checks), one sweep held
 * Azurite's event loop for over 10 minutes and every worker stalled (2026-12-03). The bench's stores live
 * for one run, so their garbage is left alone: the first sweep is put off by a day.
 */
const path = require('path');

const entry = process.argv[1] || '';
if (/azurite/.test(entry)) {
  const constants = require(path.join(path.dirname(entry), 'blob', 'utils', 'constants.js'));
  constants.DEFAULT_GC_INTERVAL_MS = 24 * 60 * 60 * 1000;
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
