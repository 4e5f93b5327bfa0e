import { z } from 'zod';
import { boolean, durationMs, integer, loadConfig, nonEmpty, port, url } from '../../../libs/platform/src/config';
import { parseMasterKey } from '../../../libs/personal-data/src/master-key';

const schema = z
  .object({
    NODE_ENV: z.enum(['production', 'development', 'test']).default('development'),
    HOST: z.string().default('0.0.0.0'),
    PORT: port({ allowEphemeral: true }).default(3002),
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
    SMTP_URL: url({ protocols: ['smtp:', 'smtps:'] }).optional(),
    MAIL_FROM: z.string().default('Tessera <no-reply@tessera.local>'),
    REGISTER_PUBLIC_URL: url({ protocols: ['http:', 'https:'] }).optional(),
    REGISTER_TEST_TOKEN_SECRET: z.string().min(32, { message: 'must be at least 32 characters' }).optional(),
    VERIFICATION_TOKEN_TTL_MS: durationMs({ max: 30 * 24 * 3600 * 1000 }).default(48 * 3600 * 1000),
    RESET_TOKEN_TTL_MS: durationMs({ max: 24 * 3600 * 1000 }).default(3600 * 1000),
    SHUTDOWN_DRAIN_MS: durationMs({ max: 120_000 }).default(5000),
    READY_MAX_PROJECTION_LAG_MS: durationMs().default(30_000),
    BODY_LIMIT_BYTES: integer({ min: 1024, max: 10 * 1024 * 1024 }).default(64 * 1024),
    TRUST_PROXY: boolean().default(false),
  })
  .superRefine((env, ctx) => {
    if (env.NODE_ENV === 'production' && env.REGISTER_TEST_TOKEN_SECRET) {
      ctx.addIssue({ code: 'custom', path: ['REGISTER_TEST_TOKEN_SECRET'], message: 'test tokens are refused in production: unset it' });
    }
  });

export type RegisterConfig = z.output<typeof schema>;

/** Register's configuration, from the environment, validated once at start-up. */
export function loadRegisterConfig(env: Readonly<Record<string, string | undefined>> = process.env): RegisterConfig {
  return loadConfig(schema, env);
}
