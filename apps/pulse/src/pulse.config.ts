import { z } from 'zod';
import { serviceEnvSchema } from '#cqrs';
import { outboundEnv } from '#outbound';
import { integer, loadConfig, url } from '#platform';

const HOUR_MS = 3600 * 1000;

/** Group commits in flight at most, so partition streams per tenant at most (retention removes from every one). */
export const MAX_INGEST_WRITERS = 16;

// Tenants come from register's events: the admin token serves only the parked-events routes, which
// answer 404 without it.
const schema = serviceEnvSchema({ port: 3003 })
  .partial({ ADMIN_TOKEN: true })
  .extend({
    /**
     * What this process runs: `ingest` the tracking API, profile reads and the live feed; `projector`
     * only the profiles projection; `all` both (one process, `npm start`). Deployments split them so
     * that ingest neither shares its CPU with the projection nor leaves rotation while it lags.
     */
    PULSE_ROLE: z.enum(['all', 'ingest', 'projector']).default('all'),
    /** Events waiting for the event store beyond which tracking answers 503 with Retry-After. */
    INGEST_MAX_QUEUED_EVENTS: integer({ min: 100, max: 1_000_000 }).default(50_000),
    /** Events one group commit appends at most. */
    INGEST_MAX_BATCH_EVENTS: integer({ min: 1, max: 20_000 }).default(5_000),
    /** Group commits in flight at once (each appends to its own partition stream). */
    INGEST_WRITERS: integer({ min: 1, max: MAX_INGEST_WRITERS }).default(6),
    /** Events that must be waiting before a group commit starts beside one already in flight. */
    INGEST_EXTRA_WRITER_MIN_EVENTS: integer({ min: 1, max: 20_000 }).default(64),
    /**
     * Events per second one tenant may send to this process (a token bucket per tenant, 429 with
     * Retry-After beyond it); 0, the default, sets no rate: the queue's per-tenant share (see
     * GroupCommit) already keeps a flood from starving the others.
     */
    INGEST_TENANT_EVENTS_PER_SECOND: integer({ min: 0, max: 10_000_000 }).default(0),
    /** Events a quiet tenant may send at once under that rate; defaults to one second's worth. */
    INGEST_TENANT_EVENTS_BURST: integer({ min: 1, max: 10_000_000 }).optional(),
    /**
     * Refused tracking calls (400, 413, 415, 422) per second one tenant may cost this process, and
     * how many at once: past them the tenant gets 429 with Retry-After for every tracking call, for
     * a key sent as HTTP Basic before its body is read, until the budget refills (RefusalBudget).
     * 0 turns it off.
     */
    INGEST_TENANT_REFUSALS_PER_SECOND: integer({ min: 0, max: 1_000_000 }).default(10),
    INGEST_TENANT_REFUSALS_BURST: integer({ min: 1, max: 1_000_000 }).default(50),
    /** How long a call past that budget waits for its 429, and how many calls of one tenant wait at once. */
    INGEST_TENANT_REFUSALS_HOLD_MS: integer({ min: 0, max: 10_000 }).default(1000),
    INGEST_TENANT_REFUSALS_MAX_HELD: integer({ min: 0, max: 100_000 }).default(256),
    /** Body bytes those held calls may keep alive per tenant (keys sent in the body, as analytics.js does). */
    INGEST_TENANT_REFUSALS_MAX_HELD_BYTES: integer({ min: 0, max: 1_073_741_824 }).default(4 * 1024 * 1024),
    /** Profile reads one tenant may have in flight in this process; more answer 429. */
    PROFILES_TENANT_CONCURRENCY: integer({ min: 1, max: 1000 }).default(16),
    /** Live views one tenant may hold open on this process; more answer 429. */
    LIVE_TENANT_MAX_VIEWS: integer({ min: 1, max: 10_000 }).default(20),
    /**
     * Where browsers and SDKs reach pulse: analytics.js's settings (`/v1/projects/{writeKey}/settings`)
     * tell it to send events there. Defaults to http://localhost:$PORT.
     */
    PULSE_PUBLIC_URL: url({ protocols: ['http:', 'https:'] }).optional(),
    /** One shared identifier (a device id, say) attaches to at most this many profiles with userIds. */
    IDENTITY_MAX_PROFILES_PER_IDENTIFIER: integer({ min: 1, max: 1000 }).default(5),
    /**
     * How long a messageId is remembered for dedupe. Segment documents a window of about 24 hours
     * (https://www.twilio.com/docs/segment/guides/duplicate-data); SDK retries fall well inside it.
     */
    PULSE_DEDUPE_WINDOW_MS: integer({ min: 60_000, max: 30 * 24 * HOUR_MS, what: 'a duration in milliseconds' }).default(24 * HOUR_MS),
    /** How often messageIds older than the window are deleted. */
    PULSE_DEDUPE_PRUNE_INTERVAL_MS: integer({ min: 1000, max: 24 * HOUR_MS, what: 'a duration in milliseconds' }).default(10 * 60 * 1000),
    /** How often tenants' retention periods are applied to tracked events (by the processes that keep profiles). */
    PULSE_RETENTION_INTERVAL_MS: integer({ min: 1000, max: 24 * HOUR_MS, what: 'a duration in milliseconds' }).default(HOUR_MS),
    /** How often windowed computed traits drop the events that left their window, and profiles leave audiences for it. */
    AUDIENCE_SWEEP_INTERVAL_MS: integer({ min: 100, max: 24 * HOUR_MS, what: 'a duration in milliseconds' }).default(60_000),
    // Webhook delivery (OUTBOUND_*): the same variables in every service that sends webhooks.
    ...outboundEnv,
  });

export type PulseConfig = z.output<typeof schema>;

/** Pulse's configuration, from the environment, validated once at start-up. */
export function loadPulseConfig(env: Readonly<Record<string, string | undefined>> = process.env): PulseConfig {
  return loadConfig(schema, env);
}
