/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/apps', '<rootDir>/libs', '<rootDir>/test'],
  testMatch: ['**/*.spec.ts'],
  // The libraries' entry points (package.json "imports"), from their TypeScript sources.
  moduleNameMapper: {
    '^#(access|contracts|cqrs|eventstore|outbound|password-hashes|personal-data|platform|tenant-keys)$': '<rootDir>/libs/$1/src/index.ts',
    '^#(cqrs|eventstore|platform)/testing$': '<rootDir>/libs/$1/testing/index.ts',
    '^#platform/embedded-postgres$': '<rootDir>/libs/platform/src/embedded-postgres.ts',
    '^#eventstore/postgres$': '<rootDir>/libs/eventstore/src/postgres/index.ts',
  },
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.jest.json' }] },
  globalSetup: '<rootDir>/test/support/global-setup.ts',
  globalTeardown: '<rootDir>/test/support/global-teardown.ts',
  testTimeout: 60000,
  // One worker, as the 2 cores allow beside the servers the tests start, but a worker and not the
  // main process: some suites leave memory behind (Nest apps, providers' caches), and a single
  // process reached its 4 GB heap after about 160 files. Past this the worker is replaced between files.
  maxWorkers: 1,
  workerIdleMemoryLimit: '1500MB',
};
