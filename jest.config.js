/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: {
    // Type checking runs once in `npm run typecheck`; here we only transpile.
    '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.test.json' }],
  },
  // A safety net, not a measurement: on a busy 2-core machine a test against real servers can take
  // several times its idle time. Deadlines inside tests use counted work, never this clock.
  testTimeout: 180000,
  // Two test files at once: most of their time is spent waiting on the servers they start (simulator,
  // Azurite, Cosmos stand-in), so on the 2-core build machine this cuts the run from ~12 to ~8 minutes.
  maxWorkers: 2,
  globalSetup: '<rootDir>/test/globalSetup.js',
  // Child servers (simulator, Azurite, Cosmos) are started per test file and stopped in afterAll.
  forceExit: false,
};
