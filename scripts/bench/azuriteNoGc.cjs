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
