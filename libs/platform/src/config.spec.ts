import { z } from 'zod';
import { ConfigError, EXAMPLE_SECRETS, boolean, durationMs, loadConfig, nonEmpty, port, url } from './config';
import { platformEnvSchema, platformOptionsFromEnv } from './platform-env';

const serviceSchema = platformEnvSchema().extend({
  DATABASE_URL: url({ protocols: ['postgres:', 'postgresql:'] }),
  JWT_SIGNING_KEY: nonEmpty(),
  PROJECTIONS_ENABLED: boolean().default(true),
});

describe('loadConfig', () => {
  test('returns typed values with defaults applied', () => {
    const config = loadConfig(serviceSchema, {
      PORT: '8080',
      TRUST_PROXY: '1',
      SHUTDOWN_DRAIN_MS: '0',
      DATABASE_URL: 'postgres://tessera@db:5432/accounts',
      JWT_SIGNING_KEY: 'k',
      PROJECTIONS_ENABLED: '0',
    });
    expect(config).toMatchObject({
      PORT: 8080,
      HOST: '0.0.0.0',
      LOG_LEVEL: 'info',
      TRUST_PROXY: 1,
      SHUTDOWN_DRAIN_MS: 0,
      SHUTDOWN_IN_FLIGHT_TIMEOUT_MS: 20000,
      PROJECTIONS_ENABLED: false,
    });
    expect(platformOptionsFromEnv(config)).toMatchObject({
      logLevel: 'info',
      http: { host: '0.0.0.0', port: 8080, bodyLimitBytes: 65536, trustProxy: 1 },
      shutdown: { drainDelayMs: 0, inFlightTimeoutMs: 20000 },
    });
  });

  test('throws one error naming every bad variable and why, without echoing values', () => {
    const secretish = 'postgres-password-in-port';
    let caught: unknown;
    try {
      loadConfig(serviceSchema, {
        PORT: secretish,
        LOG_LEVEL: 'loud',
        TRUST_PROXY: 'everyone',
        SHUTDOWN_DRAIN_MS: '-5',
        DATABASE_URL: 'mysql://root:s3cr3t@db/accounts',
        PROJECTIONS_ENABLED: 'yes',
      });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    const error = caught as ConfigError;
    expect(error.message).toContain('PORT: expected an integer between 0 and 65535');
    expect(error.message).toContain('DATABASE_URL: expected a URL with scheme postgres: or postgresql:');
    expect(error.message).toContain('JWT_SIGNING_KEY: required but not set');
    expect(error.message).toContain('PROJECTIONS_ENABLED: expected one of true, false, 1, 0');
    expect(error.message).toContain('SHUTDOWN_DRAIN_MS: expected a duration in milliseconds');
    expect(error.problems.map((p) => p.variable).sort()).toEqual(
      ['DATABASE_URL', 'JWT_SIGNING_KEY', 'LOG_LEVEL', 'PORT', 'PROJECTIONS_ENABLED', 'SHUTDOWN_DRAIN_MS', 'TRUST_PROXY'].sort(),
    );
    expect(error.message).not.toContain(secretish);
    expect(error.message).not.toContain('s3cr3t');
    expect(error.message).not.toContain('everyone');
  });

  test('helpers accept exactly the documented forms', () => {
    expect(port().safeParse('65535').data).toBe(65535);
    expect(port().safeParse('0').success).toBe(false);
    expect(port({ allowEphemeral: true }).safeParse('0').data).toBe(0);
    expect(port().safeParse('80.5').success).toBe(false);
    expect(durationMs().safeParse('1500').data).toBe(1500);
    expect(durationMs().safeParse('1.5s').success).toBe(false);
    expect(['true', '1', 'false', '0'].map((v) => boolean().safeParse(v).data)).toEqual([true, true, false, false]);
    expect(boolean().safeParse('on').success).toBe(false);
    expect(url().safeParse('not a url').success).toBe(false);
    expect(z.object({ X: url() }).safeParse({ X: 'https://tessera.dev/x' }).data).toEqual({ X: 'https://tessera.dev/x' });
  });

  describe('secrets published as examples', () => {
    const schema = z.object({ NODE_ENV: z.string().optional(), ADMIN_TOKEN: nonEmpty(), TESSERA_MASTER_KEY: nonEmpty() });
    const own = {
      ADMIN_TOKEN: 'a-token-nobody-has-seen-0123456789abcdef',
      TESSERA_MASTER_KEY: 'c2VjcmV0LW9mLW91ci1vd24tMzItYnl0ZXMtbG9uZyE=',
    };
    const [exampleToken] = EXAMPLE_SECRETS.ADMIN_TOKEN;
    const [exampleKey] = EXAMPLE_SECRETS.TESSERA_MASTER_KEY;
    const problemsOf = (env: Record<string, string>) => {
      try {
        loadConfig(schema, env);
        return [];
      } catch (error) {
        if (!(error instanceof ConfigError)) throw error;
        expect(error.message).not.toContain(exampleToken);
        expect(error.message).not.toContain(exampleKey);
        return error.problems.map((problem) => problem.variable).sort();
      }
    };

    test('are refused in production, each named, never echoed', () => {
      expect(problemsOf({ NODE_ENV: 'production', ...own, ADMIN_TOKEN: exampleToken })).toEqual(['ADMIN_TOKEN']);
      expect(problemsOf({ NODE_ENV: 'production', ...own, TESSERA_MASTER_KEY: exampleKey })).toEqual(['TESSERA_MASTER_KEY']);
      expect(problemsOf({ NODE_ENV: 'production', ADMIN_TOKEN: ` ${exampleToken}\n`, TESSERA_MASTER_KEY: exampleKey })).toEqual([
        'ADMIN_TOKEN',
        'TESSERA_MASTER_KEY',
      ]);
    });

    test('a master key is recognised by its bytes, however it is spelt', () => {
      const bytes = Buffer.from(exampleKey, 'base64');
      for (const spelling of [bytes.toString('hex'), bytes.toString('hex').toUpperCase(), bytes.toString('base64url'), `${exampleKey}\n`]) {
        expect(problemsOf({ NODE_ENV: 'production', ...own, TESSERA_MASTER_KEY: spelling })).toEqual(['TESSERA_MASTER_KEY']);
      }
    });

    test('are accepted outside production, and secrets of your own are accepted in production', () => {
      expect(problemsOf({ NODE_ENV: 'development', ADMIN_TOKEN: exampleToken, TESSERA_MASTER_KEY: exampleKey })).toEqual([]);
      expect(problemsOf({ ADMIN_TOKEN: exampleToken, TESSERA_MASTER_KEY: exampleKey })).toEqual([]);
      expect(problemsOf({ NODE_ENV: 'production', ...own })).toEqual([]);
    });

    test('are named together with the other problems, and only for variables the service reads', () => {
      const withoutToken = z.object({ NODE_ENV: z.string().optional(), TESSERA_MASTER_KEY: nonEmpty(), PORT: port() });
      let caught: unknown;
      try {
        loadConfig(withoutToken, { NODE_ENV: 'production', ADMIN_TOKEN: exampleToken, TESSERA_MASTER_KEY: exampleKey, PORT: 'x' });
      } catch (error) {
        caught = error;
      }
      expect((caught as ConfigError).problems.map((problem) => problem.variable).sort()).toEqual(['PORT', 'TESSERA_MASTER_KEY']);
    });
  });
});
