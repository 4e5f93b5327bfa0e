import { z } from 'zod';
import { serviceEnvSchema } from '#cqrs';
import { outboundEnv } from '#outbound';
import { durationMs, integer, loadConfig, url } from '#platform';

const schema = serviceEnvSchema({ port: 3004, bodyLimitBytes: 256 * 1024 })
  // Every call but the parked-events routes carries the tenant's API key: those answer 404 without an admin token.
  .partial({ ADMIN_TOKEN: true })
  .extend({
    /**
     * What this process runs: `api` the HTTP API with the read models it answers from (tenants,
     * catalog, redemptions); `projector` only the earning projection, which follows every tracked
     * event and sign-up; `all` both (one process, `npm start`). Deployments split them so that a
     * tracking surge neither takes the API's CPU nor takes API pods out of rotation.
     */
    REWARDS_ROLE: z.enum(['all', 'api', 'projector']).default('all'),
    /** How often this replica looks for expired points and tier periods that ended; 0 turns the job off. */
    REWARDS_EXPIRY_INTERVAL_MS: durationMs().default(60_000),
    /** A redemption left unfinished this long (its request crashed) is driven to the end by a sweep; 0 turns it off. */
    REWARDS_RECOVERY_AFTER_MS: durationMs().default(30_000),
    /** Writes (program, catalog, redemptions, adjustments) one tenant may make per second on this replica, sustained. */
    REWARDS_TENANT_WRITES_PER_SECOND: integer({ min: 1, max: 1_000_000 }).default(1000),
    /** Writes one tenant may make at once after a quiet spell. */
    REWARDS_TENANT_WRITE_BURST: integer({ min: 1, max: 1_000_000 }).default(1000),
    /** Calls of one tenant in flight at once on this replica; more answer 429. */
    REWARDS_TENANT_CONCURRENCY: integer({ min: 1, max: 100_000 }).default(64),
    /**
     * Login's issuer base: the member-facing routes (/t/{tenant}/me/...) accept login's access tokens
     * with iss `{LOGIN_PUBLIC_URL}/t/{tenant}` and audience urn:tessera:api; unset, they answer 401.
     */
    LOGIN_PUBLIC_URL: url({ protocols: ['http:', 'https:'] }).optional(),
    /** Where to fetch login's key sets when LOGIN_PUBLIC_URL is not reachable from here (inside a cluster); defaults to it. */
    LOGIN_INTERNAL_URL: url({ protocols: ['http:', 'https:'] }).optional(),
    // Webhook delivery (OUTBOUND_*, as pulse's): where endpoints may point, retries, dead letters.
    ...outboundEnv,
  })
  .superRefine((env, ctx) => {
    if (env.LOGIN_INTERNAL_URL && !env.LOGIN_PUBLIC_URL) {
      ctx.addIssue({ code: 'custom', path: ['LOGIN_INTERNAL_URL'], message: 'needs LOGIN_PUBLIC_URL (the issuer tokens carry)' });
    }
  });

export type RewardsConfig = z.output<typeof schema>;

/** Rewards' configuration, from the environment, validated once at start-up. */
export function loadRewardsConfig(env: Readonly<Record<string, string | undefined>> = process.env): RewardsConfig {
  return loadConfig(schema, env);
}
