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
};
