import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const LIBS = 'access|contracts|cqrs|eventstore|outbound|password-hashes|personal-data|platform|tenant-keys';
const SERVICES = ['login', 'register', 'pulse', 'rewards'];
/** The entry points below a library's own (package.json "imports"). */
const SUB_ENTRIES = ['cqrs/testing', 'eventstore/testing', 'platform/testing', 'platform/embedded-postgres', 'eventstore/postgres'];

/** Libraries are entered through their entry points (package.json "imports"), never by path. */
const libraryBoundaries = [
  { regex: `^\\.{1,2}/(.*/)?libs/`, message: 'enter a library through its entry point (#cqrs, #platform, ...), not by a path into libs/' },
  {
    regex: `^#(?!(${SUB_ENTRIES.join('|')})$)(${LIBS})/`,
    message: "a library's internals are not its API: import from its entry point (#lib or #lib/testing)",
  },
];

/**
 * A service knows the EventStore port and the capabilities a store declares on it, never an
 * adapter: the store is composed by connectEventStore, and code asks `store.transactional`
 * rather than `instanceof PostgresEventStore`.
 */
const noStoreAdapters = {
  regex: '^#eventstore/postgres$',
  message: 'services use the EventStore port and its capabilities (store.transactional, store.readStreams), never the PostgreSQL adapter',
};

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', '.data/**', 'coverage/**', '**/*.js', '**/*.mjs'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' },
      ],
      'no-console': 'error',
      eqeqeq: ['error', 'always'],
      'no-duplicate-imports': 'error',
      'no-restricted-imports': ['error', { patterns: libraryBoundaries }],
    },
  },
  {
    // One library reaches another only through its entry point, like the apps do.
    files: ['libs/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            ...libraryBoundaries,
            { regex: `^(\\.\\./){2,}(${LIBS})/`, message: 'enter another library through its entry point (#cqrs, #platform, ...)' },
          ],
        },
      ],
    },
  },
  // Four services ship as four containers: one never compiles against another's source. What they
  // share is in libs/contracts (events, stream names, key hashing); cross-service tests live in test/.
  ...SERVICES.map((service) => ({
    files: [`apps/${service}/**`],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            ...libraryBoundaries,
            noStoreAdapters,
            {
              regex: `^(\\.\\./)+(apps/)?(${SERVICES.filter((other) => other !== service).join('|')})/`,
              message: `${service} must not import another service's code: share it through libs/contracts`,
            },
          ],
        },
      ],
    },
  })),
  {
    files: ['**/*.spec.ts', 'test/**', '**/testing/**', 'bench/**'],
    rules: { '@typescript-eslint/no-non-null-assertion': 'off', '@typescript-eslint/no-explicit-any': 'off' },
  },
);
