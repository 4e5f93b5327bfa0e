import { configProblems, minimalServiceEnv } from '#platform/testing';
import { loadLoginConfig } from './login.config';
import { loginServiceOptions } from './login.runtime';

const valid = minimalServiceEnv();
const problemsOf = (env: Record<string, string>) => configProblems(loadLoginConfig, env);

describe('login configuration', () => {
  test("the common service variables with login's port and its own defaults", () => {
    const config = loadLoginConfig(valid);
    expect(config.PORT).toBe(3001);
    expect(config).toMatchObject({
      LOGIN_PROVIDER_CACHE_SIZE: 200,
      LOGIN_CLIENT_CACHE_SIZE: 10_000,
      LOGIN_UNVERIFIED_EMAIL: 'allow',
      LOGIN_LOCKOUT_THRESHOLD: 5,
      LOGIN_SIGNINS_PER_TENANT: 8,
      LOGIN_OIDC_REQUESTS_PER_TENANT: 32,
    });
    expect(problemsOf({ ...valid, LOGIN_SIGNINS_PER_TENANT: '0', LOGIN_OIDC_REQUESTS_PER_TENANT: 'lots' })).toEqual([
      'LOGIN_OIDC_REQUESTS_PER_TENANT',
      'LOGIN_SIGNINS_PER_TENANT',
    ]);
    expect(config.LOGIN_PUBLIC_URL).toBeUndefined();
    const options = loginServiceOptions(
      loadLoginConfig({ ...valid, TRUST_PROXY: '1', SHUTDOWN_DRAIN_MS: '250', BODY_LIMIT_BYTES: '4096' }),
    );
    expect(options).toMatchObject({
      serviceName: 'login',
      http: { port: 3001, trustProxy: 1, bodyLimitBytes: 4096 },
      shutdown: { drainDelayMs: 250 },
    });
  });

  test('the pages default to English; DEFAULT_LOCALE takes a supported language and names itself otherwise', () => {
    expect(loadLoginConfig(valid).DEFAULT_LOCALE).toBe('en');
    expect(loadLoginConfig({ ...valid, DEFAULT_LOCALE: 'fr' }).DEFAULT_LOCALE).toBe('fr');
    expect(problemsOf({ ...valid, DEFAULT_LOCALE: 'fr-FR' })).toEqual(['DEFAULT_LOCALE']);
  });

  test('per-tenant e-mail policies parse, and every bad variable is named at once', () => {
    expect(loadLoginConfig({ ...valid, LOGIN_UNVERIFIED_EMAIL_TENANTS: 'acme=refuse, demo=allow' }).LOGIN_UNVERIFIED_EMAIL_TENANTS).toEqual(
      { acme: 'refuse', demo: 'allow' },
    );
    const bad = {
      ...valid,
      LOGIN_UNVERIFIED_EMAIL_TENANTS: 'acme:refuse',
      LOGIN_PUBLIC_URL: 'ftp://login',
      ACCESS_TOKEN_TTL_S: '5',
      TRUST_PROXY: 'maybe',
    };
    expect(problemsOf(bad)).toEqual(['ACCESS_TOKEN_TTL_S', 'LOGIN_PUBLIC_URL', 'LOGIN_UNVERIFIED_EMAIL_TENANTS', 'TRUST_PROXY']);
    expect(problemsOf({})).toEqual(['ADMIN_TOKEN', 'DATABASE_URL', 'TESSERA_MASTER_KEY']);
  });
});
