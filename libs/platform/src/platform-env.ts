import { z } from 'zod';
import { durationMs, integer, port } from './config';
import { logFormats, logLevels } from './logging';
import type { ServiceOptions, TrustProxy } from './service-app';

/**
 * The environment variables every service reads, with the default port and body limit of the
 * service. Services extend it with their own:
 * `loadConfig(platformEnvSchema({ port: 3002 }).extend({ DATABASE_URL: url() }))`.
 */
export function platformEnvSchema(defaults: { port?: number; bodyLimitBytes?: number } = {}) {
  return z.object({
    LOG_LEVEL: z.enum(logLevels).default('info'),
    LOG_FORMAT: z.enum(logFormats).default('json'),
    HOST: z.string().trim().min(1).default('0.0.0.0'),
    // 0 lets the kernel pick a port: the tests and the bench start services that way.
    PORT: port({ allowEphemeral: true }).default(defaults.port ?? 3000),
    BODY_LIMIT_BYTES: integer({ min: 1024, max: 100 * 1024 * 1024, what: 'a size in bytes' }).default(defaults.bodyLimitBytes ?? 64 * 1024),
    TRUST_PROXY: z
      .string()
      .transform((raw, ctx) => parseTrustProxy(raw, ctx))
      .default(false),
    SHUTDOWN_DRAIN_MS: durationMs({ max: 120_000 }).default(5000),
    SHUTDOWN_IN_FLIGHT_TIMEOUT_MS: durationMs().default(20000),
    READINESS_CHECK_TIMEOUT_MS: durationMs().default(2000),
  });
}

export type PlatformEnv = z.output<ReturnType<typeof platformEnvSchema>>;

/** The part of `ServiceOptions` that comes from the environment. */
export function platformOptionsFromEnv(env: PlatformEnv): Omit<ServiceOptions, 'serviceName'> {
  return {
    logLevel: env.LOG_LEVEL,
    logFormat: env.LOG_FORMAT,
    http: { host: env.HOST, port: env.PORT, bodyLimitBytes: env.BODY_LIMIT_BYTES, trustProxy: env.TRUST_PROXY },
    shutdown: { drainDelayMs: env.SHUTDOWN_DRAIN_MS, inFlightTimeoutMs: env.SHUTDOWN_IN_FLIGHT_TIMEOUT_MS },
    readinessCheckTimeoutMs: env.READINESS_CHECK_TIMEOUT_MS,
  };
}

const trustProxyExpectation = 'expected true, false, a hop count, or a comma-separated list of proxy addresses/CIDRs';

// Digits mean a hop count here, not a boolean: "1" trusting one proxy and "1" trusting every
// proxy are very different, and the hop count is the one operators reach for.
function parseTrustProxy(raw: string, ctx: z.RefinementCtx): TrustProxy {
  const text = raw.trim();
  if (text === 'true' || text === 'false') return text === 'true';
  if (/^\d+$/.test(text)) return Number(text);
  const addresses = text
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry.length > 0);
  if (
    addresses.length === 0 ||
    addresses.some((entry) => !/^[0-9A-Fa-f.:/]+$/.test(entry) && entry !== 'loopback' && entry !== 'linklocal' && entry !== 'uniquelocal')
  ) {
    ctx.addIssue({ code: 'custom', message: trustProxyExpectation });
    return z.NEVER;
  }
  return addresses;
}
