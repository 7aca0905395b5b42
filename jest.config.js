// Jest runs the TypeScript sources directly through ts-jest (CommonJS; see README "Why CommonJS").
// Type errors are caught by `npm run typecheck`, so ts-jest skips them here for speed.
/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json' }] },
  testTimeout: 120000,
};
