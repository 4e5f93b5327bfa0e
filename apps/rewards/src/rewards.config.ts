import { z } from 'zod';
import { serviceEnvSchema } from '#cqrs';
import { durationMs, loadConfig } from '#platform';

const schema = serviceEnvSchema({ port: 3004, bodyLimitBytes: 256 * 1024 })
  // Every call but the parked-events routes carries the tenant's API key: those answer 404 without an admin token.
  .partial({ ADMIN_TOKEN: true })
  .extend({
    /** How often this replica looks for expired points and tier periods that ended; 0 turns the job off. */
    REWARDS_EXPIRY_INTERVAL_MS: durationMs().default(60_000),
    /** A redemption left unfinished this long (its request crashed) is driven to the end by a sweep; 0 turns it off. */
    REWARDS_RECOVERY_AFTER_MS: durationMs().default(30_000),
  });

export type RewardsConfig = z.output<typeof schema>;

/** Rewards' configuration, from the environment, validated once at start-up. */
export function loadRewardsConfig(env: Readonly<Record<string, string | undefined>> = process.env): RewardsConfig {
  return loadConfig(schema, env);
}
