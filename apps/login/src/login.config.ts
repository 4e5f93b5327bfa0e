import { z } from 'zod';
import { boolean, durationMs, integer, loadConfig, nonEmpty, port, url } from '../../../libs/platform/src/config';
import { parseMasterKey } from '../../../libs/personal-data/src/master-key';

const schema = z.object({
  NODE_ENV: z.enum(['production', 'development', 'test']).default('development'),
  HOST: z.string().default('0.0.0.0'),
  PORT: port({ allowEphemeral: true }).default(3001),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  DATABASE_URL: url({ protocols: ['postgres:', 'postgresql:'] }),
  EVENTSTORE_URL: url({ protocols: ['esdb:', 'esdb+discover:'] }).optional(),
  TESSERA_MASTER_KEY: z.string().transform((text, ctx) => {
    try {
      return parseMasterKey(text);
    } catch (error) {
      ctx.addIssue({ code: 'custom', message: (error as Error).message.replace(/^TESSERA_MASTER_KEY /, '') });
      return z.NEVER;
    }
  }),
  ADMIN_TOKEN: nonEmpty().refine((token) => token.length >= 32, { message: 'must be at least 32 characters' }),
  LOGIN_PUBLIC_URL: url({ protocols: ['http:', 'https:'] }).optional(),
  LOGIN_PROVIDER_CACHE_SIZE: integer({ min: 1, max: 100_000 }).default(200),
  LOGIN_UNVERIFIED_EMAIL: z.enum(['allow', 'refuse']).default('allow'),
  /** Per-tenant exceptions to LOGIN_UNVERIFIED_EMAIL: `slug=refuse,other=allow`. */
  LOGIN_UNVERIFIED_EMAIL_TENANTS: z
    .string()
    .default('')
    .transform((text, ctx) => {
      const policies: Record<string, 'allow' | 'refuse'> = {};
      for (const entry of text.split(',').map((e) => e.trim()).filter(Boolean)) {
        const match = /^([a-z0-9-]{1,63})=(allow|refuse)$/.exec(entry);
        if (!match) {
          ctx.addIssue({ code: 'custom', message: 'expected slug=allow|refuse, comma-separated' });
          return z.NEVER;
        }
        policies[match[1]!] = match[2] as 'allow' | 'refuse';
      }
      return policies;
    }),
  LOGIN_LOCKOUT_THRESHOLD: integer({ min: 1, max: 1000 }).default(5),
  LOGIN_LOCKOUT_WINDOW_MS: durationMs().default(15 * 60_000),
  LOGIN_LOCKOUT_COOLDOWN_MS: durationMs().default(15 * 60_000),
  LOGIN_IP_FAILURE_LIMIT: integer({ min: 1, max: 1_000_000 }).default(100),
  ACCESS_TOKEN_TTL_S: integer({ min: 30, max: 86_400 }).default(600),
  AUTHORIZATION_CODE_TTL_S: integer({ min: 1, max: 600 }).default(60),
  SESSION_TTL_S: integer({ min: 1, max: 365 * 86_400 }).default(14 * 86_400),
  REFRESH_TOKEN_TTL_S: integer({ min: 60, max: 365 * 86_400 }).default(14 * 86_400),
  SHUTDOWN_DRAIN_MS: durationMs({ max: 120_000 }).default(5000),
  READY_MAX_PROJECTION_LAG_MS: durationMs().default(30_000),
  BODY_LIMIT_BYTES: integer({ min: 1024, max: 10 * 1024 * 1024 }).default(64 * 1024),
  TRUST_PROXY: boolean().default(false),
});

export type LoginConfig = z.output<typeof schema>;

/** Login's configuration, from the environment, validated once at start-up. */
export function loadLoginConfig(env: Readonly<Record<string, string | undefined>> = process.env): LoginConfig {
  return loadConfig(schema, env);
}
