const { ensureCompiled } = require('../scripts/local/start.cjs');

/**
 * Tests that run the product in child processes (collector, runner, simulator CLI) use the compiled JS.
 * The same up-to-date check as `npm start`, so neither compiles again what the other just compiled.
 */
module.exports = async function globalSetup() {
  ensureCompiled();
};
