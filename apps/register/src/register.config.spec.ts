import { configProblems, minimalServiceEnv } from '#platform/testing';
import { loadRegisterConfig } from './register.config';

const valid = minimalServiceEnv();
const problemsOf = (env: Record<string, string>) => configProblems(loadRegisterConfig, env);

describe('register configuration', () => {
  test('the defaults start register on port 3002 with the dev mailbox', () => {
    const config = loadRegisterConfig(valid);
    expect(config.PORT).toBe(3002);
    expect(config.SMTP_URL).toBeUndefined();
    expect(config.TESSERA_MASTER_KEY).toHaveLength(32);
  });

  test('every missing or bad variable is named at once, and no secret value is echoed', () => {
    expect(problemsOf({})).toEqual(['ADMIN_TOKEN', 'DATABASE_URL', 'TESSERA_MASTER_KEY']);
    const env = { ...valid, PORT: 'eighty', TESSERA_MASTER_KEY: 'too-short-secret', EVENTSTORE_URL: 'http://x' };
    expect(problemsOf(env)).toEqual(['EVENTSTORE_URL', 'PORT', 'TESSERA_MASTER_KEY']);
    expect(() => loadRegisterConfig(env)).toThrow(expect.objectContaining({ message: expect.not.stringContaining('too-short-secret') }));
  });

  test("EVENTSTORE_URL names EventStoreDB or a PostgreSQL database of the log's own", () => {
    for (const url of ['esdb://eventstore:2113?tls=false', 'postgres://tessera@events:5432/tessera_events'])
      expect(loadRegisterConfig({ ...valid, EVENTSTORE_URL: url }).EVENTSTORE_URL).toBe(url);
    expect(problemsOf({ ...valid, EVENTSTORE_URL: 'mysql://events/tessera' })).toEqual(['EVENTSTORE_URL']);
  });

  test('the recovery step (RECOVER=only) needs the erasure ledger it re-applies; RECOVER takes only `only`', () => {
    expect(loadRegisterConfig(valid).ERASURE_LEDGER_DIR).toBeUndefined();
    expect(problemsOf({ ...valid, RECOVER: 'only' })).toEqual(['ERASURE_LEDGER_DIR']);
    expect(problemsOf({ ...valid, RECOVER: 'yes', ERASURE_LEDGER_DIR: '/ledger' })).toEqual(['RECOVER']);
    expect(loadRegisterConfig({ ...valid, RECOVER: 'only', ERASURE_LEDGER_DIR: '/ledger' })).toMatchObject({
      RECOVER: 'only',
      ERASURE_LEDGER_DIR: '/ledger',
    });
  });

  test('pages and mails default to English; DEFAULT_LOCALE takes a supported language and names itself otherwise', () => {
    expect(loadRegisterConfig(valid).DEFAULT_LOCALE).toBe('en');
    expect(loadRegisterConfig({ ...valid, DEFAULT_LOCALE: 'fr' }).DEFAULT_LOCALE).toBe('fr');
    expect(problemsOf({ ...valid, DEFAULT_LOCALE: 'de' })).toEqual(['DEFAULT_LOCALE']);
  });

  test('test tokens are refused in production', () => {
    expect(
      problemsOf({ ...valid, NODE_ENV: 'production', SMTP_URL: 'smtp://mail:25', REGISTER_TEST_TOKEN_SECRET: 's'.repeat(40) }),
    ).toEqual(['REGISTER_TEST_TOKEN_SECRET']);
  });

  test('production needs SMTP: the dev mailbox would serve every verification link at /dev/mailbox', () => {
    expect(problemsOf({ ...valid, NODE_ENV: 'production' })).toEqual(['SMTP_URL']);
    expect(problemsOf({ ...valid, NODE_ENV: 'production', SMTP_URL: 'smtp://mail:25' })).toEqual([]);
  });

  test("login's issuer base and internal address: optional, URLs, the internal one only beside the public one, and no test tokens beside them", () => {
    expect(loadRegisterConfig(valid).LOGIN_PUBLIC_URL).toBeUndefined();
    const config = loadRegisterConfig({ ...valid, LOGIN_PUBLIC_URL: 'https://login.example.com', LOGIN_INTERNAL_URL: 'http://login:3001' });
    expect(config.LOGIN_PUBLIC_URL).toMatch(/^https:\/\/login\.example\.com\/?$/);
    expect(config.LOGIN_INTERNAL_URL).toMatch(/^http:\/\/login:3001\/?$/);
    expect(problemsOf({ ...valid, LOGIN_PUBLIC_URL: 'login.example.com', LOGIN_INTERNAL_URL: 'ftp://login' })).toEqual([
      'LOGIN_INTERNAL_URL',
      'LOGIN_PUBLIC_URL',
    ]);
    expect(problemsOf({ ...valid, LOGIN_INTERNAL_URL: 'http://login:3001' })).toEqual(['LOGIN_INTERNAL_URL']);
    expect(problemsOf({ ...valid, LOGIN_PUBLIC_URL: 'http://localhost:3001', REGISTER_TEST_TOKEN_SECRET: 's'.repeat(40) })).toEqual([
      'REGISTER_TEST_TOKEN_SECRET',
    ]);
  });

  test('request limits and the per-tenant hash budget have defaults, and a bad one is named', () => {
    expect(loadRegisterConfig(valid)).toMatchObject({
      REGISTER_LIMIT_WINDOW_MS: 15 * 60 * 1000,
      REGISTER_SIGNUPS_PER_ADDRESS: 50,
      REGISTER_SIGNUPS_PER_EMAIL: 5,
      REGISTER_RESETS_PER_ADDRESS: 20,
      REGISTER_RESETS_PER_EMAIL: 3,
      REGISTER_TOKEN_ATTEMPTS_PER_ADDRESS: 30,
      REGISTER_TOKEN_ATTEMPTS_PER_ACCOUNT: 10,
      REGISTER_HASHES_PER_TENANT: 8,
    });
    expect(
      problemsOf({ ...valid, REGISTER_LIMIT_WINDOW_MS: '0', REGISTER_SIGNUPS_PER_ADDRESS: 'many', REGISTER_HASHES_PER_TENANT: '0' }),
    ).toEqual(['REGISTER_HASHES_PER_TENANT', 'REGISTER_LIMIT_WINDOW_MS', 'REGISTER_SIGNUPS_PER_ADDRESS']);
  });
});
