import { z } from 'zod';
import { serviceEnvSchema } from '#cqrs';
import { durationMs, integer, loadConfig, url } from '#platform';

/** Per-tenant exceptions to LOGIN_UNVERIFIED_EMAIL: `slug=refuse,other=allow`. */
const unverifiedEmailExceptions = z
  .string()
  .default('')
  .transform((text, ctx) => {
    const policies: Record<string, 'allow' | 'refuse'> = {};
    for (const entry of text
      .split(',')
      .map((e) => e.trim())
      .filter(Boolean)) {
      const match = /^([a-z0-9-]{1,63})=(allow|refuse)$/.exec(entry);
      if (!match) {
        ctx.addIssue({ code: 'custom', message: 'expected slug=allow|refuse, comma-separated' });
        return z.NEVER;
      }
      policies[match[1]!] = match[2] as 'allow' | 'refuse';
    }
    return policies;
  });

const schema = serviceEnvSchema({ port: 3001 }).extend({
  LOGIN_PUBLIC_URL: url({ protocols: ['http:', 'https:'] }).optional(),
  /** Where register's hosted pages are (sign-up, forgot password): the sign-in page links to them. */
  REGISTER_PUBLIC_URL: url({ protocols: ['http:', 'https:'] }).optional(),
  LOGIN_PROVIDER_CACHE_SIZE: integer({ min: 1, max: 100_000 }).default(200),
  /** OAuth clients' metadata held in memory across tenants (invalidated by the client events). */
  LOGIN_CLIENT_CACHE_SIZE: integer({ min: 1, max: 1_000_000 }).default(10_000),
  LOGIN_UNVERIFIED_EMAIL: z.enum(['allow', 'refuse']).default('allow'),
  LOGIN_UNVERIFIED_EMAIL_TENANTS: unverifiedEmailExceptions,
  LOGIN_LOCKOUT_THRESHOLD: integer({ min: 1, max: 1000 }).default(5),
  LOGIN_LOCKOUT_WINDOW_MS: durationMs().default(15 * 60_000),
  LOGIN_LOCKOUT_COOLDOWN_MS: durationMs().default(15 * 60_000),
  LOGIN_IP_FAILURE_LIMIT: integer({ min: 1, max: 1_000_000 }).default(100),
  ACCESS_TOKEN_TTL_S: integer({ min: 30, max: 86_400 }).default(600),
  AUTHORIZATION_CODE_TTL_S: integer({ min: 1, max: 600 }).default(60),
  SESSION_TTL_S: integer({ min: 1, max: 365 * 86_400 }).default(14 * 86_400),
  REFRESH_TOKEN_TTL_S: integer({ min: 60, max: 365 * 86_400 }).default(14 * 86_400),
  /** Sign-in posts (one argon2id verification each) one tenant may have in flight per process; more get 429. */
  LOGIN_SIGNINS_PER_TENANT: integer({ min: 1, max: 1000 }).default(8),
  /** OpenID requests (token, authorization, userinfo, ...) one tenant may have in flight per process; more get 429. */
  LOGIN_OIDC_REQUESTS_PER_TENANT: integer({ min: 1, max: 10_000 }).default(32),
});

export type LoginConfig = z.output<typeof schema>;

/** Login's configuration, from the environment, validated once at start-up. */
export function loadLoginConfig(env: Readonly<Record<string, string | undefined>> = process.env): LoginConfig {
  return loadConfig(schema, env);
}
