import { z } from 'zod';
import { boolean, durationMs, integer, nonEmpty, port, url } from '../../platform/src/config';
import { parseMasterKey } from '../../personal-data/src/master-key';

/**
 * The environment every event-sourced Tessera service reads; a service extends it with its own
 * variables and the default port it listens on.
 */
export function serviceEnvSchema(defaults: { port: number; bodyLimitBytes?: number }) {
  return z.object({
    NODE_ENV: z.enum(['production', 'development', 'test']).default('development'),
    HOST: z.string().default('0.0.0.0'),
    PORT: port({ allowEphemeral: true }).default(defaults.port),
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
    SHUTDOWN_DRAIN_MS: durationMs({ max: 120_000 }).default(5000),
    READY_MAX_PROJECTION_LAG_MS: durationMs().default(30_000),
    BODY_LIMIT_BYTES: integer({ min: 1024, max: 10 * 1024 * 1024 }).default(defaults.bodyLimitBytes ?? 64 * 1024),
    TRUST_PROXY: boolean().default(false),
  });
}

export type ServiceEnv = z.output<ReturnType<typeof serviceEnvSchema>>;
