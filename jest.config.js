/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: {
    // Type checking runs once in `npm run typecheck`; here we only transpile.
    '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.test.json' }],
  },
  testTimeout: 60000,
  globalSetup: '<rootDir>/test/globalSetup.js',
  // Child servers (simulator, Azurite, Cosmos) are started per test file and stopped in afterAll.
  forceExit: false,
};
