'use strict';
/**
 * `npm start` (package.json: `exec node scripts/local/start.cjs`): compiles the project unless nothing
 * changed since the last compile that succeeded, then runs the local runner (dist/scripts/local/run.js)
 * in this same process. With `exec`, the shell npm starts becomes this process, so the SIGINT/SIGTERM
 * npm forwards reach the runner itself, which drains its work and stops Azurite and the Cosmos DB
 * stand-in. Plain JavaScript: it has to run before anything is compiled.
 *
 *   node scripts/local/start.cjs [runner options]   (see `npm start -- --help`)
 */
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..', '..');
const TSCONFIG = path.join(ROOT, 'tsconfig.json');
const RUNNER = path.join(ROOT, 'dist', 'scripts', 'local', 'run.js');
/** Touched with the start time of every compile that succeeded. */
const STAMP = path.join(ROOT, 'dist', '.npm-start-compiled');
/** What tsconfig.json compiles. */
const SOURCE_DIRS = ['functions', 'shared', 'scripts'];

/** Newest modification time of a compiled source (or of the compiler's configuration). */
function newestSourceMs() {
  let newest = fs.statSync(TSCONFIG).mtimeMs;
  const walk = (dir) => {
    let entries;
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (/\.(ts|json)$/.test(entry.name)) newest = Math.max(newest, fs.statSync(full).mtimeMs);
    }
  };
  for (const dir of SOURCE_DIRS) walk(path.join(ROOT, dir));
  return newest;
}

/** True when dist holds a successful compile of the current sources. */
function upToDate() {
  try {
    return fs.existsSync(RUNNER) && fs.statSync(STAMP).mtimeMs >= newestSourceMs();
  } catch {
    return false;
  }
}

/** `tsc -p tsconfig.json`; exits with the compiler's code when it fails (type errors are shown). */
function compile() {
  const startedAt = new Date();
  const tsc = require.resolve('typescript/bin/tsc', { paths: [ROOT] });
  const result = spawnSync(process.execPath, [tsc, '-p', TSCONFIG], { cwd: ROOT, stdio: 'inherit' });
  if (result.error) {
    process.stderr.write(`npm start: cannot run the TypeScript compiler: ${result.error.message}\n`);
    process.exit(1);
  }
  if (result.status !== 0) process.exit(result.status ?? 1);
  // The start time, not the end: a source saved while tsc ran is newer than this and compiles next time.
  fs.writeFileSync(STAMP, `${startedAt.toISOString()}\n`);
  fs.utimesSync(STAMP, startedAt, startedAt);
}

/** Compiles unless dist is up to date; test/globalSetup.js calls it too, so tests and npm start share it. */
function ensureCompiled() {
  if (!upToDate()) {
    process.stdout.write('auditfeed: compiling (tsc -p tsconfig.json)…\n');
    compile();
  }
}

if (require.main === module) {
  ensureCompiled();
  require(RUNNER).cli(process.argv.slice(2));
}

module.exports = { ensureCompiled };
