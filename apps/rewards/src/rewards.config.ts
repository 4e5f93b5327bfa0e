import { z } from 'zod';
import { boolean, durationMs, integer, loadConfig, port, url } from '../../../libs/platform/src/config';
import { parseMasterKey } from '../../../libs/personal-data/src/master-key';

const schema = z.object({
  NODE_ENV: z.enum(['production', 'development', 'test']).default('development'),
  HOST: z.string().default('0.0.0.0'),
  PORT: port({ allowEphemeral: true }).default(3004),
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
  /** How often this replica looks for expired points and tier periods that ended; 0 turns the job off. */
  REWARDS_EXPIRY_INTERVAL_MS: durationMs().default(60_000),
  /** A redemption left unfinished this long (its request crashed) is driven to the end by a sweep; 0 turns it off. */
  REWARDS_RECOVERY_AFTER_MS: durationMs().default(30_000),
  SHUTDOWN_DRAIN_MS: durationMs({ max: 120_000 }).default(5000),
  READY_MAX_PROJECTION_LAG_MS: durationMs().default(30_000),
  BODY_LIMIT_BYTES: integer({ min: 1024, max: 10 * 1024 * 1024 }).default(256 * 1024),
  TRUST_PROXY: boolean().default(false),
});

export type RewardsConfig = z.output<typeof schema>;

/** Rewards' configuration, from the environment, validated once at start-up. */
export function loadRewardsConfig(env: Readonly<Record<string, string | undefined>> = process.env): RewardsConfig {
  return loadConfig(schema, env);
}
