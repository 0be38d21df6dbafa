const { execFileSync } = require('node:child_process');
const { join } = require('node:path');

/** Tests that run the product in child processes (collector, runner, simulator CLI) use the compiled JS. */
module.exports = async function globalSetup() {
  const root = join(__dirname, '..');
  execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', join(root, 'tsconfig.json')], {
    cwd: root,
    stdio: 'inherit',
  });
};
