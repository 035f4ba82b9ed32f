// Jest runs in native ESM mode (node --experimental-vm-modules) because
// @kubernetes/client-node 2.x is ESM-only; ts-jest transpiles each file on its own
// (isolatedModules) so tests start fast and `tsc` stays the one type checker.
const transform = { '^.+\\.ts$': ['ts-jest', { useESM: true, isolatedModules: true }] };
const common = {
  // only these folders are crawled: .cluster/ holds the node's containerd snapshots (an image's
  // node_modules and package.json among them), which jest would otherwise index at every start
  roots: ['<rootDir>/src', '<rootDir>/test', '<rootDir>/e2e'],
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform,
  testEnvironment: 'node',
};
export default {
  reporters: ['default', '<rootDir>/test/summary-reporter.cjs'],
  projects: [
    { ...common, displayName: 'unit', testMatch: ['<rootDir>/test/**/*.test.ts'] },
    {
      ...common,
      displayName: 'e2e',
      testMatch: ['<rootDir>/e2e/**/*.test.ts'],
      globalSetup: '<rootDir>/e2e/harness/global-setup.ts',
      setupFilesAfterEnv: ['<rootDir>/e2e/harness/setup-timeout.ts'],
    },
  ],
};
