/**
 * Tessera's service platform: the operational edges every NestJS service shares.
 *
 * A service's main.ts:
 *
 * ```ts
 * const env = loadConfig(platformEnvSchema().extend({ DATABASE_URL: url({ protocols: ['postgres:'] }) }));
 * await runService(LoginModule, {
 *   serviceName: 'login',
 *   ...platformOptionsFromEnv(env),
 *   readinessChecks: [EventStoreReadiness, PostgresReadiness], // provider classes, or plain objects
 * });
 * ```
 *
 * The root module (`LoginModule`) imports nothing from here: `createServiceApp` wraps it with a
 * global `PlatformModule`, so any provider may inject `MetricsRegistry` (own metrics),
 * `ReadinessChecks` (register a check in onModuleInit), `ServiceLifecycle` or `SERVICE_LOGGER`.
 *
 * What every app gets:
 * - JSON logs through pino with credentials and e-mails redacted, one line per request
 *   (method, route template, status, duration, request id; never bodies or query strings);
 * - every error answered as RFC 9457 `application/problem+json` (throw `ProblemError`,
 *   validate bodies with `parseBody`);
 * - `GET /metrics` (per-app prom-client registry, HTTP duration histogram, process metrics);
 * - `GET /health/live` and `GET /health/ready` (registered checks; 503 while draining);
 * - on SIGTERM/SIGINT `shutdownService`: readiness 503, drain delay, close the listener and
 *   wait for in-flight requests (bounded), then Nest shutdown hooks, then exit.
 *   Release resources in `onApplicationShutdown` (or `onModuleDestroy`): both run after the
 *   last request. Kubernetes' terminationGracePeriodSeconds must exceed
 *   drain delay + in-flight timeout + the time those hooks take.
 *
 * Tests: `const app = await createServiceApp(TestModule, { serviceName: 't', shutdown: { drainDelayMs: 0 } })`,
 * then supertest against `app.getHttpServer()`, and `await app.close()`.
 */
export { ConfigError, EXAMPLE_SECRETS, boolean, durationMs, integer, loadConfig, nonEmpty, port, url, type ConfigProblem } from './config';
export { HealthController, ReadinessChecks, type ReadinessCheck, type ReadinessResult } from './health';
export {
  NestPinoLogger,
  SERVICE_LOGGER,
  createLogger,
  logFormats,
  logLevels,
  redactPaths,
  type LogFormat,
  type LogLevel,
  type LoggerOptions,
} from './logging';
export { HttpMetrics, MetricsRegistry } from './metrics';
export {
  BRANDING_FIELDS,
  NO_BRANDING,
  brandColors,
  brandLocale,
  brandingProblems,
  completeBranding,
  contrastRatio,
  isBrandColor,
  isBrandEmail,
  isBrandUrl,
  logoOrigin,
  type BrandColors,
  type Branding,
} from './branding';
export { escapeHtml, hostedPage, hostedPageHeaders, siteNameOf, type HostedPage } from './hosted-page';
export { SUPPORTED_LOCALES, fillMessage, isLocale, lookupLocale, negotiateLocale, type Locale, type MessagesOf } from './locales';
export { DocsController, openApiDocument, type ApiAuth, type ApiDescription, type ApiOperation } from './openapi';
export { PlatformModule, type PlatformModuleOptions } from './platform.module';
export { platformEnvSchema, platformOptionsFromEnv, type PlatformEnv } from './platform-env';
export {
  ProblemError,
  RequestValidationError,
  jsonPointer,
  parseBody,
  problemContentType,
  problemDocument,
  problemTypeUri,
  type FieldError,
  type ProblemDocument,
  type ProblemInit,
} from './problem-details';
export { ProblemDetailsFilter } from './problem-details.filter';
export { parseRequestJson } from './request-json';
export { requestIdHeader, requestPath } from './request-telemetry';
export {
  createServiceApp,
  defaultHttpOptions,
  routesOf,
  runService,
  type HttpOptions,
  type ReadinessCheckSource,
  type RunningService,
  type ServiceOptions,
  type TrustProxy,
} from './service-app';
export { ServiceLifecycle, defaultShutdownOptions, shutdownService, type LifecyclePhase, type ShutdownOptions } from './shutdown';
export { ExpiringLruCache } from './expiring-lru-cache';
export {
  BOUNDS,
  EARLIEST_INSTANT,
  FUTURE_TOLERANCE_MS,
  bounded,
  instantProblem,
  isUuid,
  jsonProblems,
  parseIsoInstant,
  textProblem,
  type JsonLimits,
  type TextKind,
} from './input-bounds';
export {
  TenantConcurrencyLimiter,
  TenantRateLimiter,
  tenantRateLimited,
  type RateDecision,
  type TenantRateOptions,
} from './tenant-fairness';
