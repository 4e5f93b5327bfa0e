import { z } from 'zod';
import { durationMs, integer, nonEmpty, platformEnvSchema, url } from '#platform';
import { parseMasterKey } from '#personal-data';

/**
 * The environment every event-sourced Tessera service reads: the platform's (HTTP, logs,
 * shutdown) plus the stores, the master key and the admin token. A service extends it with its
 * own variables and the default port it listens on.
 */
export function serviceEnvSchema(defaults: { port: number; bodyLimitBytes?: number }) {
  return platformEnvSchema(defaults).extend({
    NODE_ENV: z.enum(['production', 'development', 'test']).default('development'),
    DATABASE_URL: url({ protocols: ['postgres:', 'postgresql:'] }),
    // One pool per process for read models, keys and (on PostgreSQL) the event store.
    DATABASE_POOL_SIZE: integer({ min: 2, max: 500, what: 'a number of connections' }).default(40),
    // EventStoreDB, or a PostgreSQL database of the log's own (restored apart from the read models).
    EVENTSTORE_URL: url({ protocols: ['esdb:', 'esdb+discover:', 'postgres:', 'postgresql:'] }).optional(),
    TESSERA_MASTER_KEY: z.string().transform((text, ctx) => {
      try {
        return parseMasterKey(text);
      } catch (error) {
        ctx.addIssue({ code: 'custom', message: (error as Error).message.replace(/^TESSERA_MASTER_KEY /, '') });
        return z.NEVER;
      }
    }),
    ADMIN_TOKEN: nonEmpty().refine((token) => token.length >= 32, { message: 'must be at least 32 characters' }),
    READY_MAX_PROJECTION_LAG_MS: durationMs().default(30_000),
    /**
     * When the service's schema migrations run: `on-start` (every start, under a lock: `npm start`,
     * compose, tests); `off` (never: a migrations Job ran them before the release rolled out; the
     * service refuses to start while one of its migrations is pending); `only` (run them and exit
     * 0: the Job's command).
     */
    MIGRATE: z.enum(['on-start', 'off', 'only']).default('on-start'),
    /**
     * How subscriptions on the PostgreSQL event store learn of other processes' appends: `poll`
     * (within 50 ms of idle) or `notify` (a coalesced NOTIFY after each commit, see AppendBroadcast):
     * faster for one event at a time, but in the rewards bench it raised earning lag's p99 at
     * 1,000 events/s from 50 to 150-240 ms, so it is not the default.
     */
    EVENTSTORE_WAKE: z.enum(['poll', 'notify']).default('poll'),
  });
}
