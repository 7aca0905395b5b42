// Jest runs the TypeScript sources directly through ts-jest (CommonJS; see README "Why CommonJS").
// Type errors are caught by `npm run typecheck`, so ts-jest skips them here for speed.
/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json' }] },
  testTimeout: 120000,
  // jest's default is one worker per core minus one: a single worker on CI's two cores. Many suites
  // wait on child processes (the real CLI, chromium, gpu.js), so two workers use the machine better.
  maxWorkers: 2,
};
