import { z } from 'zod';
import { integer } from '#platform';
import type { AddressPolicy } from './address-policy';
import { DEFAULT_RETRY, type RetryPolicy } from './retry-policy';
import { SecretBox } from './signing';
import { DEFAULT_SENDER } from './webhook-sender';

const HOUR_MS = 3600 * 1000;

/**
 * The environment variables of a service that sends webhooks (pulse, rewards), for its
 * `*.config.ts` to spread into its schema: the same names and defaults in every service.
 */
export const outboundEnv = {
  /**
   * Hosts (comma-separated, as written in URLs) webhook destinations may reach over http and at
   * private addresses: everything else must be https to a public address (SSRF protection).
   * Empty by default; tests and local set-ups list 127.0.0.1.
   */
  OUTBOUND_ALLOWED_HOSTS: z
    .string()
    .regex(/^[A-Za-z0-9.:\-[\], ]*$/, 'must be host names or addresses separated by commas')
    .default(''),
  /** The first retry's backoff ceiling (doubling, with full jitter, up to an hour). */
  OUTBOUND_RETRY_BASE_MS: integer({ min: 10, max: HOUR_MS, what: 'a duration in milliseconds' }).default(1000),
  /** Attempts after which a delivery is dead-lettered (it is too after three days). */
  OUTBOUND_MAX_ATTEMPTS: integer({ min: 1, max: 100 }).default(12),
  /** How long an endpoint's circuit stays open after five failures in a row (doubling while it keeps failing). */
  OUTBOUND_BREAKER_COOLDOWN_MS: integer({ min: 10, max: HOUR_MS, what: 'a duration in milliseconds' }).default(5000),
  /** How long a claimed delivery is this process's: past it (a crash), another replica sends it again. */
  OUTBOUND_LEASE_MS: integer({ min: 1000, max: HOUR_MS, what: 'a duration in milliseconds' }).default(60_000),
  /** Webhook requests in flight at once from this process. */
  OUTBOUND_CONCURRENCY: integer({ min: 1, max: 1000 }).default(32),
  /** Webhook requests per second a replay sends at most, beside live delivery. */
  OUTBOUND_REPLAY_PER_SECOND: integer({ min: 1, max: 10_000 }).default(20),
  /** How long a webhook request may take, answer included (connecting: at most 5 s of it). */
  OUTBOUND_TIMEOUT_MS: integer({ min: 100, max: 120_000, what: 'a duration in milliseconds' }).default(15_000),
};

export type OutboundConfig = { readonly [K in keyof typeof outboundEnv]: z.output<(typeof outboundEnv)[K]> } & {
  readonly TESSERA_MASTER_KEY: Buffer;
};

/** How webhooks leave a service, from its validated configuration. */
export interface OutboundSettings {
  readonly policy: AddressPolicy;
  readonly retry: RetryPolicy;
  /** Seals signing secrets at rest; derived from the master key, so every replica opens every other's. */
  readonly secrets: SecretBox;
  readonly leaseMs: number;
  readonly concurrency: number;
  readonly replayPerSecond: number;
  readonly connectTimeoutMs: number;
  readonly totalTimeoutMs: number;
  readonly maxResponseBytes: number;
}

export function outboundSettingsOf(config: OutboundConfig): OutboundSettings {
  const hosts = config.OUTBOUND_ALLOWED_HOSTS.split(',')
    .map((host) =>
      host
        .trim()
        .toLowerCase()
        .replace(/^\[(.*)\]$/, '$1'),
    )
    .filter((host) => host !== '');
  return {
    policy: { allowedHosts: new Set(hosts) },
    retry: {
      ...DEFAULT_RETRY,
      baseDelayMs: config.OUTBOUND_RETRY_BASE_MS,
      maxAttempts: config.OUTBOUND_MAX_ATTEMPTS,
      breakerCooldownMs: config.OUTBOUND_BREAKER_COOLDOWN_MS,
    },
    secrets: new SecretBox(config.TESSERA_MASTER_KEY),
    leaseMs: config.OUTBOUND_LEASE_MS,
    concurrency: config.OUTBOUND_CONCURRENCY,
    replayPerSecond: config.OUTBOUND_REPLAY_PER_SECOND,
    connectTimeoutMs: Math.min(DEFAULT_SENDER.connectTimeoutMs, config.OUTBOUND_TIMEOUT_MS),
    totalTimeoutMs: config.OUTBOUND_TIMEOUT_MS,
    maxResponseBytes: DEFAULT_SENDER.maxResponseBytes,
  };
}
