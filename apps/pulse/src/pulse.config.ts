import { z } from 'zod';
import { boolean, durationMs, integer, loadConfig, port, url } from '../../../libs/platform/src/config';
import { parseMasterKey } from '../../../libs/personal-data/src/master-key';

const schema = z.object({
  NODE_ENV: z.enum(['production', 'development', 'test']).default('development'),
  HOST: z.string().default('0.0.0.0'),
  PORT: port({ allowEphemeral: true }).default(3003),
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
  SHUTDOWN_DRAIN_MS: durationMs({ max: 120_000 }).default(5000),
  READY_MAX_PROJECTION_LAG_MS: durationMs().default(30_000),
  /** Non-tracking endpoints (profiles API); tracking bodies have their own Segment limits. */
  BODY_LIMIT_BYTES: integer({ min: 1024, max: 10 * 1024 * 1024 }).default(64 * 1024),
  TRUST_PROXY: boolean().default(false),
  /** Events waiting for the event store beyond which tracking answers 503 with Retry-After. */
  INGEST_MAX_QUEUED_EVENTS: integer({ min: 100, max: 1_000_000 }).default(50_000),
  /** Events one group commit appends at most. */
  INGEST_MAX_BATCH_EVENTS: integer({ min: 1, max: 20_000 }).default(5_000),
  /** Group commits in flight at once (each appends to its own partition stream). */
  INGEST_WRITERS: integer({ min: 1, max: 16 }).default(2),
  /** One shared identifier (a device id, say) attaches to at most this many profiles with userIds. */
  IDENTITY_MAX_PROFILES_PER_IDENTIFIER: integer({ min: 1, max: 1000 }).default(5),
});

export type PulseConfig = z.output<typeof schema>;

/** Pulse's configuration, from the environment, validated once at start-up. */
export function loadPulseConfig(env: Readonly<Record<string, string | undefined>> = process.env): PulseConfig {
  return loadConfig(schema, env);
}
