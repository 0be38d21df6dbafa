#!/usr/bin/env node
'use strict';
/**
 * The `auditfeed` command (package.json bin; `npm run auditfeed -- …`, `npm run status`, `npm run
 * replay-poison`): compiles the project only when a source changed since the last successful compile
 * (the same check as `npm start`, scripts/local/start.cjs), then runs dist/scripts/cli/main.js in this
 * process. Plain JavaScript: it has to run before anything is compiled.
 */
const path = require('node:path');
const fs = require('node:fs');

const ROOT = path.resolve(__dirname, '..', '..');
const MAIN = path.join(ROOT, 'dist', 'scripts', 'cli', 'main.js');

function run() {
  const { ensureCompiled } = require(path.join(ROOT, 'scripts', 'local', 'start.cjs'));
  // Compiler notes go to stderr: stdout is the command's output (CSV, JSON) and may be piped.
  const write = process.stdout.write;
  process.stdout.write = process.stderr.write.bind(process.stderr);
  try {
    ensureCompiled();
  } finally {
    process.stdout.write = write;
  }
  if (!fs.existsSync(MAIN)) {
    process.stderr.write(
      `auditfeed: ${MAIN} is missing after compiling; run \`npm run build\` and look at its errors\n`,
    );
    process.exit(1);
  }
  const { main } = require(MAIN);
  const { processIo } = require(path.join(ROOT, 'dist', 'scripts', 'cli.js'));
  main(process.argv.slice(2), processIo()).then(
    (code) => (process.exitCode = code),
    (e) => {
      process.stderr.write(`auditfeed failed: ${e instanceof Error ? e.message : String(e)}\n`);
      process.exitCode = 1;
    },
  );
}

run();
